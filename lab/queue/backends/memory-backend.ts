/**
 * The embedded lab's result backend: Celery's meta records in a Map, waiters woken on store (no polling).
 * Values are kept as their encoded JSON text, as Redis keeps them, so both backends behave the same
 * (a caller never gets an object another caller can mutate).
 */
import { ConnectionBase } from '../connection.js';
import { BackendError, TaskTimeoutError } from '../errors.js';
import { encodeMeta, isReady } from '../backend.js';
import type { ChordPart, ResultBackend, StoreOptions, TaskMeta } from '../backend.js';

interface Entry {
  text: string;
  status: TaskMeta['status'];
  expiresAt: number;
}

const DEFAULT_EXPIRES_S = 86_400;

export class MemoryBackend extends ConnectionBase implements ResultBackend {
  readonly kind = 'memory';
  readonly displayUrl: string;
  private readonly results = new Map<string, Entry>();
  private readonly waiters = new Map<string, Set<(meta: TaskMeta) => void>>();
  private readonly groups = new Map<string, string[]>();
  private readonly chords = new Map<string, { size: number | null; parts: ChordPart[] }>();

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
  }

  watch(): void {
    // Stores wake waiters synchronously in this process; nothing to subscribe to.
  }

  unwatch(): void {}

  async store(meta: TaskMeta, options: StoreOptions = {}): Promise<void> {
    const existing = this.live(meta.task_id);
    if (existing?.status === 'SUCCESS') return; // Celery never overwrites a stored success
    const text = encodeMeta(meta);
    this.results.set(meta.task_id, { text, status: meta.status, expiresAt: Date.now() + (options.expiresSeconds ?? DEFAULT_EXPIRES_S) * 1000 });
    if (isReady(meta.status)) {
      const set = this.waiters.get(meta.task_id);
      if (set) {
        this.waiters.delete(meta.task_id);
        for (const wake of set) wake(JSON.parse(text) as TaskMeta);
      }
    }
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    const e = this.live(taskId);
    return e ? (JSON.parse(e.text) as TaskMeta) : null;
  }

  wait(taskId: string, timeoutMs: number | null, signal?: AbortSignal): Promise<TaskMeta> {
    const e = this.live(taskId);
    if (e && isReady(e.status)) return Promise.resolve(JSON.parse(e.text) as TaskMeta);
    return new Promise<TaskMeta>((resolve, reject) => {
      let set = this.waiters.get(taskId);
      if (!set) this.waiters.set(taskId, (set = new Set()));
      const waiters = set;
      let timer: NodeJS.Timeout | undefined;
      const done = (): void => {
        waiters.delete(wake);
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
      waiters.add(wake);
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
    else this.chords.set(groupId, { size, parts: [] });
  }

  async chordJoin(groupId: string, part: ChordPart): Promise<ChordPart[] | null> {
    let c = this.chords.get(groupId);
    if (!c) this.chords.set(groupId, (c = { size: null, parts: [] }));
    c.parts.push(JSON.parse(JSON.stringify(part)) as ChordPart);
    if (c.size === null || c.parts.length < c.size) return null;
    this.chords.delete(groupId);
    return c.parts.sort((a, b) => a.index - b.index);
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
