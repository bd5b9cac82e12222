/** The bundled queue runtime's public API (Celery-shaped). */
export { App } from './app.js';
export { allApps, findTask } from './shared-registry.js';
export type { AppOptions } from './app.js';
export { Task } from './task.js';
export type { TaskOptions } from './task.js';
export { AsyncResult, GroupResult } from './result.js';
export type { GetOptions } from './result.js';
export { Signature, Group, Chain, Chord, group, chain, chord } from './canvas.js';
export type { SendOptions } from './send-options.js';
export { currentTask } from './context.js';
export type { TaskContext, TaskRequest, RetryOptions } from './context.js';
export { Worker } from './worker.js';
export type { WorkerOptions, WorkerStats } from './worker.js';
export { celeryLogger, silentLogger, parseLogLevel } from './worker-log.js';
export {
  TaskTimeoutError,
  TaskFailedError,
  TaskRevokedError,
  BrokerError,
  BackendError,
  NotRegisteredError,
  MaxRetriesExceededError,
} from './errors.js';
export type { ExceptionInfo } from './errors.js';
export type { Broker, Delivery, QueueDeclaration } from './broker.js';
export type { ResultBackend, TaskMeta, TaskState } from './backend.js';
export type { PoolKind } from './pool/job.js';
export { MemoryTransports } from './memory-transports.js';
