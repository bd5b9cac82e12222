/**
 * The running task's request, reachable from inside a task function as `currentTask()` (Celery's bound `self`).
 * The storage is shared-registry.ts's, so two copies of lab (a user's node_modules/lab and ours) still agree.
 */
import { MaxRetriesExceededError, Retry, toExceptionInfo } from './errors.js';
import { taskContextStorage } from './shared-registry.js';

export interface TaskRequest {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  retries: number;
  eta: string | null;
  expires: string | null;
  group: string | null;
  groupIndex: number | null;
  rootId: string;
  parentId: string | null;
  hostname: string;
  deliveryInfo: { queue: string; redelivered: boolean };
}

export interface RetryOptions {
  /** Seconds until the retry runs (default: the task's defaultRetryDelay, Celery's 180). */
  countdown?: number;
  eta?: Date;
  /** The error that caused the retry; re-thrown as-is once retries are exhausted. */
  exc?: unknown;
  maxRetries?: number | null;
}

export interface TaskContext {
  readonly request: TaskRequest;
  /** Aborted when the soft time limit passes or the worker shuts down cold. */
  readonly signal: AbortSignal;
  /** Throws a Retry signal (or the exc / MaxRetriesExceededError once retries are exhausted). Never returns. */
  retry(options?: RetryOptions): never;
}

export interface TaskRetryDefaults {
  maxRetries: number | null;
  defaultRetryDelay: number;
}

const storage = taskContextStorage();

export function currentTask(): TaskContext {
  const ctx = storage.getStore();
  if (!ctx) throw new Error('currentTask() called outside a running task');
  return ctx;
}

/** `signal` undefined: nothing can abort this task, and a signal that never aborts is made only if the task asks. */
export function runInTaskContext<T>(request: TaskRequest, defaults: TaskRetryDefaults, signal: AbortSignal | undefined, fn: () => T): T {
  let own = signal;
  const ctx: TaskContext = {
    request,
    get signal(): AbortSignal {
      return (own ??= new AbortController().signal);
    },
    retry(options: RetryOptions = {}): never {
      const max = options.maxRetries !== undefined ? options.maxRetries : defaults.maxRetries;
      if (max !== null && request.retries >= max) {
        if (options.exc !== undefined) throw options.exc;
        throw new MaxRetriesExceededError(`Can't retry ${request.task}[${request.id}] args:${JSON.stringify(request.args)} kwargs:${JSON.stringify(request.kwargs)}`);
      }
      const countdown = options.countdown ?? defaults.defaultRetryDelay;
      throw new Retry(countdown, options.exc === undefined ? null : toExceptionInfo(options.exc), options.eta ?? null);
    },
  };
  return storage.run(ctx, fn);
}
