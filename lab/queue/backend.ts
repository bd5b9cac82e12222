import type { Connection } from './connection.js';
import type { ExceptionInfo } from './errors.js';
import { pythonIsoformat } from './protocol.js';
import { EncodedResult, decodeJson } from './json-codec.js';
import { codecFor, storedCodec } from './codec.js';
import type { SerializerName } from './codec.js';

export type TaskState = 'PENDING' | 'RECEIVED' | 'STARTED' | 'RETRY' | 'SUCCESS' | 'FAILURE' | 'REVOKED';

const READY_STATES: ReadonlySet<TaskState> = new Set<TaskState>(['SUCCESS', 'FAILURE', 'REVOKED']);

/** Celery's result meta, exactly as the Redis backend stores it under celery-task-meta-<id>. */
export interface TaskMeta {
  status: TaskState;
  /** The return value, or an ExceptionInfo for FAILURE / RETRY / REVOKED. */
  result: unknown;
  traceback: string | null;
  children: unknown[];
  /** Naive UTC ISO string; null while not ready. */
  date_done: string | null;
  task_id: string;
  group_id?: string | null;
  parent_id?: string | null;
  [extra: string]: unknown;
}

export interface WaitOptions {
  /**
   * The caller awaited watch() for this task before sending it: the subscription was listening before any result
   * could be stored, so the backend need not also read the key (a group of 20,000 saves 20,000 GETs).
   */
  subscribedFirst?: boolean;
}

export interface StoreOptions {
  /** Seconds until the result expires (Celery's result_expires; default 86400). */
  expiresSeconds?: number;
  /**
   * Wait for the backend however long it is away (a worker's results: the write is kept and sent on reconnect),
   * instead of failing after the backend's command wait. The caller bounds how many such writes it keeps.
   */
  untilStored?: boolean;
  /** How the value is stored (Celery's result_serializer); default json. Reading always tells by the bytes. */
  serializer?: SerializerName;
}

/** One finished header task of a chord, as the backend keeps it until the chord completes. */
export interface ChordPart {
  index: number;
  taskId: string;
  state: TaskState;
  result: unknown;
}

/**
 * A result backend. `watch` must be called before the task is published (subscribe-before-publish), so a result
 * stored before `wait` starts is never missed; waiting never polls.
 */
export interface ResultBackend extends Connection {
  readonly kind: string;
  readonly displayUrl: string;
  /** Start listening for these tasks' results. Resolves once the subscription is active. */
  watch(taskIds: readonly string[]): void | Promise<void>;
  /** Stop listening (after a result arrived, or when the caller gives up). */
  unwatch(taskIds: readonly string[]): void;
  /** Store a state. A stored SUCCESS is never overwritten. `result` may be an EncodedResult. */
  store(meta: TaskMeta, options?: StoreOptions): Promise<void>;
  get(taskId: string): Promise<TaskMeta | null>;
  /** Resolve with the meta once the task is in a READY state; reject with TaskTimeoutError after timeoutMs. */
  wait(taskId: string, timeoutMs: number | null, signal?: AbortSignal, options?: WaitOptions): Promise<TaskMeta>;
  forget(taskId: string): Promise<void>;
  /** Forget many at once (a group's results): a few round trips, not one per task (100k DELs each bounded by a timeout did not finish). */
  forgetMany(taskIds: readonly string[]): Promise<void>;
  saveGroup(groupId: string, taskIds: readonly string[], options?: StoreOptions): Promise<void>;
  restoreGroup(groupId: string): Promise<string[] | null>;
  /** Record the header size of a chord before its last header task is published. */
  chordSetSize(groupId: string, size: number, options?: StoreOptions): Promise<void>;
  /**
   * Record one finished header task. Resolves with every part, ordered by index, once the chord is complete
   * (exactly once across all workers), else null.
   */
  chordJoin(groupId: string, part: ChordPart, options?: StoreOptions): Promise<ChordPart[] | null>;
}

export function isReady(state: TaskState): boolean {
  return READY_STATES.has(state);
}

/** Naive UTC ISO time, the form Celery stores in date_done. */
export function dateDone(d = new Date()): string {
  return pythonIsoformat(d, false);
}

export function failureMeta(taskId: string, exc: ExceptionInfo, traceback: string | null, state: TaskState = 'FAILURE'): TaskMeta {
  return { status: state, result: exc, traceback, children: [], date_done: state === 'RETRY' ? null : dateDone(), task_id: taskId };
}

/**
 * Encode a meta as it is stored: JSON text (an EncodedResult spliced in place), or msgpack bytes — as Celery's
 * backend encodes it with result_serializer. An EncodedResult is JSON from a pool child, read back for msgpack.
 */
export function encodeMeta(meta: TaskMeta, serializer: SerializerName = 'json'): string | Buffer {
  if (serializer === 'json') {
    if (meta.result instanceof EncodedResult && !meta.result.msgpack) {
      const { result, ...rest } = meta;
      const tail = JSON.stringify(rest);
      return `{"result":${result.json},${tail.slice(1)}`;
    }
    return JSON.stringify(meta);
  }
  const codec = codecFor(serializer);
  if (meta.result instanceof EncodedResult && meta.result.msgpack) {
    // Splice the child's bytes in: a fixmap head for the rest's entries + 1, "result", the bytes, the rest's entries.
    const { result, ...rest } = meta;
    const tail = codec.encode(rest);
    if (tail[0] >= 0x80 && tail[0] < 0x8f) return Buffer.concat([Buffer.of(tail[0] + 1), codec.encode('result'), result.msgpack!, tail.subarray(1)]);
  }
  const plain = meta.result instanceof EncodedResult ? { ...meta, result: meta.result.value() } : meta;
  return codec.encode(plain);
}

/** A stored value (meta, group, chord part) back: JSON text, or bytes in whichever serializer wrote them. */
export function decodeStored(value: string | Uint8Array): unknown {
  return typeof value === 'string' ? decodeJson(value) : storedCodec(value).decode(value);
}
