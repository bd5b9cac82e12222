/**
 * The ledger: a crash-safe journal of everything `lab up` creates, so `lab down` can undo exactly that, in
 * reverse order, even after `lab up` was killed with -9 half-way.
 *
 * Protocol for a creator:
 *     const e = await ledger.record('namespace', 'ns:HOST1', { name });   // fsync'd BEFORE creating
 *     await createNamespace(name);
 *     await ledger.markDone(e, { ... });                                  // data learnt while creating (a pid…)
 * An entry still in state `intent` means "may or may not exist": undo must tolerate absence.
 *
 * File: <stateDir>/ledger.jsonl, append-only JSON lines, each `{v, seq, op, key, kind?, data?, at}` with
 * op intent | done | remove; every append is fsync'd. A torn last line (crash mid-write) is dropped on open.
 * `entries()` is the latest state per key, in the order the keys were (last) recorded.
 */
import { mkdir, open, readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { syncParentDir, writeFileAtomic } from '../atomic-write.js';
import { LabError } from '../errors.js';

/** What a ledger entry stands for. Free-form strings are allowed for things not listed yet. */
export type LedgerKind =
  | 'namespace'
  | 'veth'
  | 'bridge'
  | 'process'
  | 'remote-process'
  | 'file'
  | 'directory'
  | 'hosts-block'
  | 'container'
  | 'network'
  | 'image'
  | 'user'
  | 'vhost'
  | 'firewall-rule'
  | (string & {});

export type EntryState = 'intent' | 'done';

export interface LedgerEntry<D extends object = Record<string, unknown>> {
  /** Sequence number of the (latest) intent line: replay order. */
  seq: number;
  kind: LedgerKind;
  /** Stable identity, unique within the ledger (e.g. `ns:lab-book-HOST1`, `proc:HOST3:worker-1`). */
  key: string;
  data: D;
  state: EntryState;
  /** ISO time of the intent. */
  at: string;
  doneAt?: string;
}

export interface ReplayFailure {
  entry: LedgerEntry;
  error: unknown;
}

interface Line {
  v: 1;
  seq: number;
  op: 'intent' | 'done' | 'remove';
  key: string;
  kind?: string;
  data?: Record<string, unknown>;
  at: string;
}

/** A journal line, or null for text that is not JSON or not shaped like one (skipped with a warning, never fatal). */
function parseLine(raw: string): Line | null {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return null;
  }
  const l = v as Partial<Line> | null;
  const ok = typeof l === 'object' && l !== null && typeof l.key === 'string' && typeof l.seq === 'number' && ['intent', 'done', 'remove'].includes(l.op as string);
  return ok ? (l as Line) : null;
}

export const LEDGER_FILE = 'ledger.jsonl';

export class LedgerError extends LabError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('E_LEDGER', message, options);
  }
}

export class Ledger {
  /** Problems found while reading (a torn last line, an unreadable line): for `lab status`/logs, never fatal. */
  readonly warnings: string[] = [];
  private readonly live = new Map<string, LedgerEntry>();
  private seq = 0;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly path: string) {}

  /** Open (creating if needed) the ledger in `stateDir` (created with mode 0700). */
  static async open(stateDir: string, options: { repair?: boolean } = {}): Promise<Ledger> {
    await mkdir(stateDir, { recursive: true, mode: 0o700 });
    const ledger = new Ledger(join(stateDir, LEDGER_FILE));
    await ledger.load(options.repair ?? true);
    return ledger;
  }

  /**
   * `repair` cuts a torn last line off the file. Only a command holding the lab's lock may (up, down): a reader
   * without it could cut a line that a running `lab up` is still writing; it just ignores the torn tail.
   */
  private async load(repair: boolean): Promise<void> {
    let buf: Buffer;
    try {
      buf = await readFile(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new LedgerError(`cannot read ${this.path}: ${String(err)}`, { cause: err });
      const fh = await open(this.path, 'a', 0o600);
      await fh.sync();
      await fh.close();
      await syncParentDir(this.path);
      return;
    }
    // a torn tail: everything after the last newline was being written when we died
    const lastNl = buf.lastIndexOf(0x0a);
    const goodLength = lastNl + 1;
    if (goodLength < buf.length && repair) {
      this.warnings.push(`${this.path}: dropped a torn last line (${buf.length - goodLength} bytes) left by an interrupted write`);
      await truncate(this.path, goodLength);
    }
    const text = buf.subarray(0, goodLength).toString('utf8');
    let lineNo = 0;
    for (const raw of text.split('\n')) {
      lineNo++;
      if (raw.trim() === '') continue;
      const line = parseLine(raw);
      if (!line) {
        this.warnings.push(`${this.path}:${lineNo}: skipped an unreadable line`);
        continue;
      }
      this.apply(line);
      this.seq = Math.max(this.seq, line.seq);
    }
  }

  private apply(line: Line): void {
    if (line.op === 'intent') {
      this.live.delete(line.key); // re-recorded: moves to the end
      this.live.set(line.key, { seq: line.seq, kind: line.kind ?? 'unknown', key: line.key, data: line.data ?? {}, state: 'intent', at: line.at });
    } else if (line.op === 'done') {
      const e = this.live.get(line.key);
      if (e) {
        e.state = 'done';
        e.doneAt = line.at;
        if (line.data) e.data = { ...e.data, ...line.data };
      }
    } else {
      this.live.delete(line.key);
    }
  }

  /** Append one line and fsync it; appends are serialized. */
  private append(line: Omit<Line, 'v' | 'seq' | 'at'>): Promise<Line> {
    const run = async (): Promise<Line> => {
      const full: Line = { v: 1, seq: ++this.seq, at: new Date().toISOString(), ...line };
      const fh = await open(this.path, 'a', 0o600);
      try {
        await fh.write(`${JSON.stringify(full)}\n`);
        await fh.sync();
      } finally {
        await fh.close();
      }
      this.apply(full);
      return full;
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /**
   * Record the intent to create something — durable when this resolves, so call it BEFORE creating.
   * Recording a key that is already live replaces it (and moves it to the end of the replay order).
   */
  async record<D extends object = Record<string, unknown>>(kind: LedgerKind, key: string, data: D = {} as D): Promise<LedgerEntry<D>> {
    if (typeof key !== 'string' || key === '') throw new LedgerError('a ledger key must be a non-empty string');
    await this.append({ op: 'intent', kind, key, data: { ...(data as Record<string, unknown>) } });
    return this.get(key) as unknown as LedgerEntry<D>;
  }

  /** Mark an entry created; `patch` merges into its data (what was learnt while creating: a pid, an id). */
  async markDone<D extends object = Record<string, unknown>>(entryOrKey: LedgerEntry<D> | string, patch?: Partial<D> & Record<string, unknown>): Promise<LedgerEntry<D>> {
    const key = typeof entryOrKey === 'string' ? entryOrKey : entryOrKey.key;
    if (!this.live.has(key)) throw new LedgerError(`ledger has no entry ${JSON.stringify(key)} to mark done`);
    await this.append({ op: 'done', key, ...(patch ? { data: { ...(patch as Record<string, unknown>) } } : {}) });
    return this.get(key) as unknown as LedgerEntry<D>;
  }

  /** Forget an entry after it was successfully undone. Removing an unknown key is a no-op. */
  async remove(key: string): Promise<void> {
    if (!this.live.has(key)) return;
    await this.append({ op: 'remove', key });
  }

  /** Latest state per key, in replay order (oldest first). Copies: mutating them changes nothing. */
  entries(): LedgerEntry[] {
    return [...this.live.values()].sort((a, b) => a.seq - b.seq).map((e) => structuredClone(e));
  }

  get(key: string): LedgerEntry | undefined {
    const e = this.live.get(key);
    return e ? structuredClone(e) : undefined;
  }

  get size(): number {
    return this.live.size;
  }

  /**
   * Undo every live entry, newest first. An entry whose undo resolves is removed; one whose undo throws is kept
   * and reported. Never throws half-way: returns the failures (empty when everything was undone), and compacts
   * the file to nothing when no entry is left.
   */
  async replayReverse(undo: (entry: LedgerEntry) => Promise<void>): Promise<ReplayFailure[]> {
    const failures: ReplayFailure[] = [];
    for (const entry of this.entries().reverse()) {
      try {
        await undo(entry);
      } catch (error) {
        failures.push({ entry, error });
        continue;
      }
      try {
        await this.remove(entry.key);
      } catch (error) {
        failures.push({ entry, error });
      }
    }
    if (failures.length === 0 && this.live.size === 0) {
      try {
        await this.compact();
      } catch {
        // the journal just keeps its remove lines; harmless
      }
    }
    return failures;
  }

  /** Rewrite the journal with only the live entries, atomically (lab/atomic-write.ts). */
  async compact(): Promise<void> {
    const run = async (): Promise<void> => {
      const lines: string[] = [];
      for (const e of this.entries()) {
        lines.push(JSON.stringify({ v: 1, seq: e.seq, op: 'intent', key: e.key, kind: e.kind, data: e.data, at: e.at } satisfies Line));
        if (e.state === 'done') lines.push(JSON.stringify({ v: 1, seq: e.seq, op: 'done', key: e.key, at: e.doneAt ?? e.at } satisfies Line));
      }
      await writeFileAtomic(this.path, lines.map((l) => `${l}\n`).join(''), { mode: 0o600 });
    };
    const p = this.queue.then(run, run);
    this.queue = p.catch(() => undefined);
    return p;
  }
}
