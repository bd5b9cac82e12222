import { LabError } from '../errors.js';
import type { LabErrorCode } from '../errors.js';
import { pyRepr, pyTupleRepr } from './worker-log.js';

/** Celery's serialized exception: what a FAILURE result carries on the wire. */
export interface ExceptionInfo {
  exc_type: string;
  exc_message: unknown[];
  exc_module: string | null;
}

export class QueueError extends LabError {}

/** `AsyncResult.get({ timeout })` ran out of time (Celery's celery.exceptions.TimeoutError). */
export class TaskTimeoutError extends QueueError {
  constructor(
    readonly taskId: string,
    readonly timeoutMs: number,
  ) {
    super('E_TASK_TIMEOUT', `task ${taskId} did not finish within ${timeoutMs} ms`);
  }
}

/** A task raised: the remote exception's type, message, module and traceback, as the worker stored them. */
export class TaskFailedError extends QueueError {
  readonly taskId: string;
  readonly excType: string;
  readonly excMessage: string;
  readonly excModule: string | null;
  readonly remoteTraceback: string | null;

  constructor(taskId: string, info: ExceptionInfo, traceback: string | null) {
    const message = formatExcMessage(info.exc_message);
    super('E_TASK_FAILED', `${info.exc_type}: ${message}`);
    this.taskId = taskId;
    this.excType = info.exc_type;
    this.excMessage = message;
    this.excModule = info.exc_module;
    this.remoteTraceback = traceback;
  }
}

/** The task was revoked (or expired before a worker ran it). */
export class TaskRevokedError extends QueueError {
  constructor(
    readonly taskId: string,
    readonly reason: string,
  ) {
    super('E_TASK_REVOKED', `task ${taskId} was revoked: ${reason}`);
  }
}

/** Refused credentials or a vhost the user may not use: the URL is wrong, a configuration mistake (exit 2). */
const CONFIG_CODES: ReadonlySet<LabErrorCode> = new Set(['E_BROKER_AUTH', 'E_BROKER_VHOST', 'E_BACKEND_AUTH']);

/** A broker could not be reached, refused us, or lost a publish. The URL is always masked. */
export class BrokerError extends QueueError {
  constructor(message: string, options: { cause?: unknown; code?: LabErrorCode } = {}) {
    const code = options.code ?? 'E_BROKER';
    super(code, message, { cause: options.cause, exitCode: CONFIG_CODES.has(code) ? 2 : 1 });
  }
}

/** The result backend could not be reached or refused us. */
export class BackendError extends QueueError {
  constructor(message: string, options: { cause?: unknown; code?: LabErrorCode } = {}) {
    const code = options.code ?? 'E_BACKEND';
    super(code, message, { cause: options.cause, exitCode: CONFIG_CODES.has(code) ? 2 : 1 });
  }
}

/** A URL whose scheme we do not know or whose form is wrong; a usage error. */
export class UrlError extends QueueError {
  constructor(message: string) {
    super('E_URL', message, { exitCode: 2 });
  }
}

/**
 * Thrown inside a task by `currentTask().retry()`: the worker republishes the message with the same id.
 * It is a signal, not a failure, so it does not extend LabError.
 */
export class Retry extends Error {
  constructor(
    readonly countdownSeconds: number,
    readonly exc: ExceptionInfo | null,
    readonly eta: Date | null,
  ) {
    super(`Retry in ${countdownSeconds}s${exc ? `: ${exc.exc_type}: ${formatExcMessage(exc.exc_message)}` : ''}`);
    this.name = 'Retry';
  }
}

/** Raised in a task when `retry()` is called past max_retries and no exception was given (Celery's name). */
export class MaxRetriesExceededError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MaxRetriesExceededError';
  }
}

const MESSAGE_LIMIT = 100_000;

/**
 * The text of a serialized exception, as Python's str(exc) gives it: exc_message is the exception's args — none
 * gives '', one gives that argument (a string as-is, anything else as its repr), several give the tuple's repr.
 * Peers also store a bare string or a dict (one argument, as Python rebuilds it with cls(exc_message)).
 */
export function formatExcMessage(excMessage: unknown): string {
  if (Array.isArray(excMessage)) {
    if (excMessage.length === 0) return '';
    if (excMessage.length === 1) return strOf(excMessage[0]);
    return pyTupleRepr(excMessage, MESSAGE_LIMIT);
  }
  if (excMessage === null || excMessage === undefined) return '';
  return strOf(excMessage);
}

function strOf(v: unknown): string {
  return typeof v === 'string' ? v : pyRepr(v, MESSAGE_LIMIT);
}

/** Python's repr of the exception: TypeError('bad'), OSError(2, 'No such file'), ChordError(). */
export function excRepr(info: { exc_type: string; exc_message: unknown }): string {
  const m = info.exc_message;
  const args = Array.isArray(m) ? m : m === null || m === undefined ? [] : [m];
  return `${info.exc_type}(${args.map((a) => pyRepr(a)).join(', ')})`;
}

/** Celery module names for the exception types a lab worker itself raises, so Python rebuilds the right class. */
const KNOWN_MODULES: Record<string, string> = {
  NotRegistered: 'celery.exceptions',
  TimeLimitExceeded: 'billiard.exceptions',
  SoftTimeLimitExceeded: 'billiard.exceptions',
  WorkerLostError: 'billiard.exceptions',
  MaxRetriesExceededError: 'celery.exceptions',
  TaskRevokedError: 'celery.exceptions',
  ChordError: 'celery.exceptions',
  InvalidTaskError: 'celery.exceptions',
  ContentDisallowed: 'kombu.exceptions',
  DecodeError: 'kombu.exceptions',
  TypeError: 'builtins',
  ValueError: 'builtins',
  KeyError: 'builtins',
  ZeroDivisionError: 'builtins',
  Exception: 'builtins',
  RuntimeError: 'builtins',
};

/** Serialize a thrown value the way Celery stores exceptions. JS error names map to Python builtins where one fits. */
export function toExceptionInfo(err: unknown): ExceptionInfo {
  if (err instanceof Error) {
    const declared = (err as { excType?: unknown }).excType;
    const type = typeof declared === 'string' ? declared : err.name === 'Error' ? 'Exception' : err.name || 'Exception';
    const declaredModule = (err as { excModule?: unknown }).excModule;
    const module = typeof declaredModule === 'string' ? declaredModule : (KNOWN_MODULES[type] ?? null);
    return { exc_type: type, exc_message: [err.message], exc_module: module };
  }
  return { exc_type: 'Exception', exc_message: [typeof err === 'string' ? err : JSON.stringify(err) ?? String(err)], exc_module: 'builtins' };
}

/** An Error carrying an explicit Celery exception type (used by the worker for NotRegistered, WorkerLostError…). */
export function celeryException(type: string, message: string): Error & { excType: string; excModule: string | null } {
  const err = new Error(message) as Error & { excType: string; excModule: string | null };
  err.name = type;
  err.excType = type;
  err.excModule = KNOWN_MODULES[type] ?? null;
  return err;
}

export function isExceptionInfo(v: unknown): v is ExceptionInfo {
  return typeof v === 'object' && v !== null && typeof (v as ExceptionInfo).exc_type === 'string';
}
