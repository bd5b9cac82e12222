/**
 * The ledger scenario's bookkeeping, apart from any lab: what was sent (and when), every execution the workers
 * recorded, and from those — sent, refused (the client got an error: not the system's loss), done, lost,
 * duplicated, late — in total and per second, and the verdict against the guarantee the acks give:
 *   acks late   at-least-once: every task the broker accepted ran (lost = 0); duplicates are allowed, and counted
 *   acks early  at-most-once: no task ran twice (duplicated = 0); a task in flight on a killed worker is lost
 */
import type { SecondCounts } from '../../lab/faults/windows.js';

export type { SecondCounts };

export type Acks = 'late' | 'early';

export interface Send {
  seq: number;
  /** Epoch ms the send started. */
  at: number;
  /** The broker accepted it (false: the send failed and the client was told). */
  ok: boolean;
}

export interface Execution {
  seq: number;
  worker: string;
  /** Epoch ms the task finished its work and recorded itself. */
  at: number;
  /** The broker had delivered it before (AMQP's redelivered flag). */
  redelivered: boolean;
}

export interface LedgerCounts {
  sent: number;
  refused: number;
  /** Tasks that ran at least once. */
  done: number;
  /** Accepted tasks that never ran. */
  lost: number;
  /** Executions beyond the first, over all tasks. */
  duplicated: number;
  /** Tasks that ran more than once. */
  duplicatedTasks: number;
  /** Tasks whose first execution ended more than lateMs after they were sent. */
  late: number;
  /** Executions the broker marked redelivered. */
  redelivered: number;
  /** Executions per worker node. */
  workers: Record<string, number>;
  perSecond: SecondCounts[];
}

export function count(sends: readonly Send[], executions: readonly Execution[], lateMs: number): LedgerCounts {
  const bySeq = new Map<number, Execution[]>();
  for (const e of executions) bySeq.set(e.seq, [...(bySeq.get(e.seq) ?? []), e]);
  const seconds = new Map<number, SecondCounts>();
  const sec = (ms: number): SecondCounts => {
    const s = Math.floor(ms / 1000);
    let c = seconds.get(s);
    if (!c) seconds.set(s, (c = { second: s, sent: 0, done: 0, duplicated: 0, lost: 0, late: 0 }));
    return c;
  };
  const out: LedgerCounts = { sent: 0, refused: 0, done: 0, lost: 0, duplicated: 0, duplicatedTasks: 0, late: 0, redelivered: 0, workers: {}, perSecond: [] };
  const sentSeqs = new Set<number>();
  for (const s of sends) {
    sentSeqs.add(s.seq);
    const runs = (bySeq.get(s.seq) ?? []).slice().sort((a, b) => a.at - b.at);
    if (!s.ok && runs.length === 0) {
      out.refused++;
      continue;
    }
    // a send that reported an error but ran anyway (the broker had it): counted as sent
    out.sent++;
    sec(s.at).sent++;
    if (runs.length === 0) {
      out.lost++;
      sec(s.at).lost++;
      continue;
    }
    out.done++;
    sec(runs[0]!.at).done++;
    if (runs[0]!.at - s.at > lateMs) {
      out.late++;
      sec(s.at).late++;
    }
    if (runs.length > 1) {
      out.duplicatedTasks++;
      out.duplicated += runs.length - 1;
      for (const r of runs.slice(1)) sec(r.at).duplicated++;
    }
  }
  for (const e of executions) {
    if (!sentSeqs.has(e.seq)) continue;
    out.workers[e.worker] = (out.workers[e.worker] ?? 0) + 1;
    if (e.redelivered) out.redelivered++;
  }
  out.perSecond = [...seconds.values()].sort((a, b) => a.second - b.second);
  return out;
}

/** The guarantee the acks promise, held or not. */
export function guarantee(acks: Acks, c: Pick<LedgerCounts, 'lost' | 'duplicated' | 'sent' | 'done' | 'duplicatedTasks' | 'refused'>): { name: string; ok: boolean; detail: string } {
  const name = acks === 'late' ? 'at-least-once (acks_late)' : 'at-most-once (early acks)';
  const ok = acks === 'late' ? c.lost === 0 : c.duplicated === 0;
  const figures = `sent ${c.sent}, done ${c.done}, lost ${c.lost}, duplicated ${c.duplicated} (${c.duplicatedTasks} tasks)${c.refused ? `, refused at send ${c.refused}` : ''}`;
  const why = ok ? 'held' : acks === 'late' ? `BROKEN: ${c.lost} accepted task${c.lost === 1 ? '' : 's'} never ran` : `BROKEN: ${c.duplicatedTasks} task${c.duplicatedTasks === 1 ? '' : 's'} ran more than once`;
  return { name, ok, detail: `${name} ${why}: ${figures}` };
}

/** Parse the workers' record lines of one run (other runs' lines and torn lines skipped). */
export function parseExecutions(text: string, run: string): Execution[] {
  const out: Execution[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(run)) continue;
    try {
      const v = JSON.parse(line) as { run?: unknown; seq?: unknown; worker?: unknown; at?: unknown; redelivered?: unknown };
      if (v.run !== run || typeof v.seq !== 'number' || typeof v.at !== 'number') continue;
      out.push({ seq: v.seq, worker: String(v.worker ?? '?'), at: v.at, redelivered: v.redelivered === true });
    } catch {
      // a line torn by a kill mid-write: not an execution that finished recording
    }
  }
  return out;
}
