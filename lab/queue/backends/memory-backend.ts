/**
 * The embedded lab's result backend: Celery's meta records in a Map, waiters woken on store (no polling).
 * Values are kept encoded, as Redis keeps them (JSON text, or msgpack bytes with result_serializer msgpack), so both
 * backends behave the same (a caller never gets an object another caller can mutate).
 */
import { ConnectionBase } from '../connection.js';
import { BackendError, TaskTimeoutError } from '../errors.js';
import { decodeStored, encodeMeta, isReady } from '../backend.js';
import { EncodedResult, decodeJson, encodeJson } from '../json-codec.js';
import type { ChordPart, ResultBackend, StoreOptions, TaskMeta } from '../backend.js';

interface Entry {
  text: string | Buffer;
  status: TaskMeta['status'];
  expiresAt: number;
}

const DEFAULT_EXPIRES_S = 86_400;

interface Waiter {
  wake(meta: TaskMeta): void;
  fail(err: Error): void;
}

export class MemoryBackend extends ConnectionBase implements ResultBackend {
  readonly kind = 'memory';
  readonly displayUrl: string;
  private readonly results = new Map<string, Entry>();
  private readonly waiters = new Map<string, Set<Waiter>>();
  private readonly groups = new Map<string, string[]>();
  /** Parts keyed like Redis's sorted-set members (json([1, id, state, result])), so a redelivered part counts once. */
  private readonly chords = new Map<string, { size: number | null; parts: Map<string, ChordPart> }>();

  constructor(readonly name = 'default') {
    super();
    this.displayUrl = `memory://${name === 'default' ? '' : name}`;
  }

  async ready(): Promise<void> {
    if (this.status === 'closed') throw new BackendError(`${this.displayUrl}: backend is closed`);
    this.setStatus('ready');
  }

  async close(): Promise<void> {
    this.setStatus('closed');
    // Nobody will store into a closed backend: waiters learn it now instead of hanging until their timeout.
    const closed = new BackendError(`${this.displayUrl}: backend is closed`, { code: 'E_BACKEND_CLOSED' });
    for (const set of [...this.waiters.values()]) for (const w of [...set]) w.fail(closed);
    this.waiters.clear();
  }

  watch(): void {
    // Stores wake waiters synchronously in this process; nothing to subscribe to.
  }

  unwatch(): void {}

  async store(meta: TaskMeta, options: StoreOptions = {}): Promise<void> {
    const existing = this.live(meta.task_id);
    if (existing?.status === 'SUCCESS') return; // Celery never overwrites a stored success
    const text = encodeMeta(meta, options.serializer);
    this.results.set(meta.task_id, { text, status: meta.status, expiresAt: Date.now() + (options.expiresSeconds ?? DEFAULT_EXPIRES_S) * 1000 });
    if (isReady(meta.status)) {
      const set = this.waiters.get(meta.task_id);
      if (set) {
        this.waiters.delete(meta.task_id);
        for (const w of set) w.wake(decodeStored(text) as TaskMeta);
      }
    }
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    const e = this.live(taskId);
    return e ? (decodeStored(e.text) as TaskMeta) : null;
  }

  wait(taskId: string, timeoutMs: number | null, signal?: AbortSignal): Promise<TaskMeta> {
    const e = this.live(taskId);
    if (this.status === 'closed') return Promise.reject(new BackendError(`${this.displayUrl}: backend is closed`, { code: 'E_BACKEND_CLOSED' }));
    if (e && isReady(e.status)) return Promise.resolve(decodeStored(e.text) as TaskMeta);
    return new Promise<TaskMeta>((resolve, reject) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const waiters = set;
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        waiters.delete(waiter);
        if (waiters.size === 0 && this.waiters.get(taskId) === waiters) this.waiters.delete(taskId);
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
      };
      const wake = (meta: TaskMeta): void => {
        done();
        resolve(meta);
      };
      const onAbort = (): void => {
        done();
        reject(signal?.reason ?? new Error('aborted'));
      };
      const waiter: Waiter = {
        wake,
        fail: (err) => {
          done();
          reject(err);
        },
      };
      waiters.add(waiter);
      if (timeoutMs !== null) {
        timer = setTimeout(() => {
          done();
          reject(new TaskTimeoutError(taskId, timeoutMs));
        }, timeoutMs);
      }
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  async forget(taskId: string): Promise<void> {
    this.results.delete(taskId);
  }

  async forgetMany(taskIds: readonly string[]): Promise<void> {
    for (const id of taskIds) this.results.delete(id);
  }

  async saveGroup(groupId: string, taskIds: readonly string[]): Promise<void> {
    this.groups.set(groupId, [...taskIds]);
  }

  async restoreGroup(groupId: string): Promise<string[] | null> {
    const ids = this.groups.get(groupId);
    return ids ? [...ids] : null;
  }

  async chordSetSize(groupId: string, size: number): Promise<void> {
    const c = this.chords.get(groupId);
    if (c) c.size = size;
    else this.chords.set(groupId, { size, parts: new Map() });
  }

  async chordJoin(groupId: string, part: ChordPart): Promise<ChordPart[] | null> {
    let c = this.chords.get(groupId);
    if (!c) this.chords.set(groupId, (c = { size: null, parts: new Map() }));
    // A copy through JSON (as Redis stores it); an EncodedResult is the JSON already. The index stays a number
    // (Infinity for a part without group_index, as Redis scores it +inf).
    const resultJson = part.result instanceof EncodedResult ? part.result.json : encodeJson(part.result);
    const member = `[1,${encodeJson(part.taskId)},${encodeJson(part.state)},${resultJson}]`;
    if (!c.parts.has(member)) c.parts.set(member, { index: part.index, taskId: part.taskId, state: part.state, result: decodeJson(resultJson) });
    if (c.size === null || c.parts.size !== c.size) return null;
    this.chords.delete(groupId);
    return [...c.parts.values()].sort((a, b) => a.index - b.index);
  }

  private live(taskId: string): Entry | undefined {
    const e = this.results.get(taskId);
    if (e && e.expiresAt <= Date.now()) {
      this.results.delete(taskId);
      return undefined;
    }
    return e;
  }
}
