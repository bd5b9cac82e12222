import type { Embed } from '../protocol.js';
import type { SerializerName } from '../codec.js';
import type { ExceptionInfo } from '../errors.js';
import type { TaskRequest } from '../context.js';

/** One task execution handed to a pool: the raw body (decoded in the child) plus what the headers said. */
export interface Job {
  seq: number;
  task: string;
  body: Uint8Array;
  /** The body's content type (application/json or application/x-msgpack); JSON when absent. */
  contentType?: string;
  /** msgpack: the child encodes the result as msgpack (resultMsgpack) instead of JSON, for result_serializer msgpack. */
  resultSerializer?: SerializerName;
  request: Omit<TaskRequest, 'args' | 'kwargs'>;
  /** Seconds. Soft: the task's signal aborts. Hard: the pool kills the child (TimeLimitExceeded). */
  softTimeLimit: number | null;
  hardTimeLimit: number | null;
}

export type JobOutcome =
  /** repr: Python-style and bounded (1 KiB), made where the value lives, for the worker's "succeeded" log line. */
  | { kind: 'success'; resultJson: string; resultMsgpack?: Uint8Array; runtimeMs: number; embed: Embed | null; repr?: string }
  | { kind: 'failure'; exc: ExceptionInfo; traceback: string | null; runtimeMs: number; embed: Embed | null; malformed?: boolean }
  | { kind: 'retry'; exc: ExceptionInfo | null; countdown: number; eta: string | null; runtimeMs: number }
  /** The child died or was killed while running the job. */
  | { kind: 'lost'; exc: ExceptionInfo; runtimeMs: number }
  /** Its expiry passed while it waited for a slot: not run (Celery revokes it then too). */
  | { kind: 'expired'; runtimeMs: 0 };

/** Has the job's expiry passed? Checked when a slot takes it, the last moment before it would run. */
export function expiredJob(job: Job, now = Date.now()): boolean {
  return job.request.expires !== null && Date.parse(job.request.expires) <= now;
}

export type PoolKind = 'prefork' | 'threads' | 'async';

export const POOL_KINDS: readonly PoolKind[] = ['prefork', 'threads', 'async'];

export interface Pool {
  readonly kind: PoolKind;
  readonly concurrency: number;
  /** Start the children and load the task modules in each; rejects with the first load error. */
  start(): Promise<void>;
  /**
   * Run a job on the next free slot (queued in order if all are busy). Never rejects: failures are outcomes.
   * `onStart` is called when a slot takes the job — the moment Celery acks a task (not when it merely arrives).
   */
  run(job: Job, onStart?: (pid: number | null) => void): Promise<JobOutcome>;
  /** Jobs running or waiting for a slot. */
  readonly active: number;
  /** Stop the children. force = do not wait for running jobs. */
  close(force?: boolean): Promise<void>;
  /**
   * revoke --terminate of a running job: prefork sends the signal to its child, threads terminate the thread (the
   * job ends as a 'lost' outcome with exc_type Terminated); the async pool can only abort the task's AbortSignal.
   */
  terminate(seq: number, signal: NodeJS.Signals): 'terminated' | 'signalled' | 'unknown';
  /** pool_grow / pool_shrink (shrink returns how many leave; one child always stays). */
  grow(n: number): Promise<void>;
  shrink(n: number): number;
  on(event: 'error', listener: (err: Error) => void): this;
}
