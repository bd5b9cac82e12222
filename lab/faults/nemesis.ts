/**
 * The nemesis: runs a fault schedule beside a workload. start() sets the clock (a fault's `at` counts from it);
 * each fault is applied at its time and healed at its end; stop() — the run ended, failed or was interrupted —
 * cancels what has not started, heals what is still applied, and waits (bounded) for the recoveries it measures.
 * A background loop: it never throws; what fails is in the timeline (`error`) and emitted as an event.
 */
import { EventEmitter } from 'node:events';
import { applyFault, healEntry } from './apply.js';
import type { AppliedFault, FaultContext } from './apply.js';
import type { Fault, FaultEvent } from './fault.js';

export interface NemesisEvents {
  /** A fault applied, healed, recovered from, or failed: one line for people. */
  line: [text: string];
}

export class Nemesis extends EventEmitter<NemesisEvents> {
  private t0 = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly events: FaultEvent[] = [];
  private readonly active = new Map<string, { applied: AppliedFault; event: FaultEvent }>();
  private readonly pending = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  private stopped = false;

  constructor(
    private readonly ctx: FaultContext,
    private readonly faults: readonly Fault[],
  ) {
    super();
  }

  /** Start the clock now (epoch ms of the run's start, for the record). */
  start(): number {
    this.t0 = Date.now();
    for (const f of this.faults) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.track(this.apply(f));
      }, f.atMs);
      this.timers.add(t);
    }
    return this.t0;
  }

  get startedAt(): number {
    return this.t0;
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private ms(): number {
    return Date.now() - this.t0;
  }

  private async apply(f: Fault): Promise<void> {
    if (this.stopped) return;
    const event: FaultEvent = { id: '', kind: f.kind, text: f.text, applied: [], mechanism: '', startedAt: new Date().toISOString(), healedAt: null, atMs: f.atMs, startMs: this.ms(), endMs: null };
    this.events.push(event);
    let applied: AppliedFault;
    try {
      applied = await applyFault(this.ctx, f, { signal: this.abort.signal });
    } catch (err) {
      event.error = err instanceof Error ? err.message : String(err);
      event.endMs = event.startMs;
      this.emit('line', `fault ${f.text}: not applied: ${event.error}`);
      return;
    }
    // in effect now (applying takes a moment on a busy machine): the window starts here
    Object.assign(event, { id: applied.record.id, applied: applied.applied, mechanism: applied.record.mechanism, startedAt: new Date().toISOString(), startMs: this.ms() });
    this.emit('line', `fault ${f.text}: applied at ${(event.startMs / 1000).toFixed(1)} s (${applied.applied.length} action${applied.applied.length === 1 ? '' : 's'}, ${applied.record.mechanism})`);
    if (applied.recovery) {
      // an instant: it ends when applied; the time to recover is measured beside the run
      event.endMs = event.startMs;
      event.recoveryMs = await applied.recovery.catch((err: unknown) => {
        this.emit('line', `fault ${f.text}: ${err instanceof Error ? err.message : String(err)}`);
        return null;
      });
      if (event.recoveryMs !== null) event.healedAt = new Date(Date.parse(event.startedAt) + event.recoveryMs).toISOString();
      this.emit('line', event.recoveryMs === null ? `fault ${f.text}: no recovery seen (unsupervised, or not back within the wait)` : `fault ${f.text}: recovered in ${(event.recoveryMs / 1000).toFixed(2)} s`);
      return;
    }
    this.active.set(applied.record.id, { applied, event });
    if (this.stopped) return this.heal(applied.record.id);
    if (f.forMs !== undefined) {
      const t = setTimeout(() => {
        this.timers.delete(t);
        this.track(this.heal(applied.record.id));
      }, f.forMs);
      this.timers.add(t);
    }
  }

  private async heal(id: string): Promise<void> {
    const a = this.active.get(id);
    if (!a) return;
    this.active.delete(id);
    try {
      await healEntry(this.ctx, a.applied.record);
      a.event.healedAt = new Date().toISOString();
      a.event.endMs = this.ms();
      this.emit('line', `fault ${a.event.text}: healed at ${(a.event.endMs / 1000).toFixed(1)} s`);
    } catch (err) {
      a.event.error = err instanceof Error ? err.message : String(err);
      this.emit('line', `fault ${a.event.text}: ${a.event.error}`);
    }
  }

  /**
   * Cancel what has not started, heal everything applied, wait for the recoveries being measured (at most
   * `waitMs`, then they are cut short and recorded as not seen). The timeline, in schedule order.
   */
  async stop(waitMs = 60_000): Promise<FaultEvent[]> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all([...this.active.keys()].map((id) => this.heal(id)));
    const cut = setTimeout(() => this.abort.abort(), waitMs);
    try {
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
      // a fault that was being applied when stop() came is healed by its own apply (stopped is set)
      await Promise.all([...this.active.keys()].map((id) => this.heal(id)));
    } finally {
      clearTimeout(cut);
    }
    return this.events.slice().sort((a, b) => a.atMs - b.atMs || a.startMs - b.startMs);
  }
}
