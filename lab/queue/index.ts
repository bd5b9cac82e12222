/**
 * The bundled queue runtime's public API (Celery-shaped): what users' task modules import as `lab`, and the one
 * module of lab/queue that the rest of lab (CLI, harness, services, orchestrator) and scenarios/ import.
 */
export { App } from './app.js';
export type { AppOptions } from './app.js';
export { allApps } from './shared-registry.js';
export { Task } from './task.js';
export type { TaskOptions } from './task.js';
export { RATE_LIMIT_FORMS, rateLimitPerSecond } from './rate-limit.js';
export type { RateLimit } from './rate-limit.js';
export { AsyncResult, GroupResult } from './result.js';
export type { GetOptions } from './result.js';
export { Signature, Group, Chain, Chord, group, chain, chord } from './canvas.js';
export type { SendOptions } from './send-options.js';
export { currentTask } from './context.js';
export type { TaskContext, TaskRequest, RetryOptions } from './context.js';
export { defaultConfig } from './config.js';

export { Worker } from './worker.js';
export { WORKER_DIRECT_EXCHANGE, workerDirect, workerDirectQueue } from './worker-direct.js';
export type { WorkerOptions, WorkerStats } from './worker.js';
export { POOL_KINDS } from './pool/job.js';
export { HOPS, HOPS_CHANNEL } from './hops.js';
export type { Hop, HopEvent } from './hops.js';
export type { PoolKind } from './pool/job.js';
// A worker's pool of children on its own, for tools and benchmarks (bench/pool): jobs in, outcomes out, no broker.
export { ChildPool } from './pool/child-pool.js';
export type { Job, JobOutcome } from './pool/job.js';
export type { SerializerName } from './codec.js';
export { SERIALIZERS, JSON_CONTENT_TYPE, MSGPACK_CONTENT_TYPE, codecFor, codecForContentType } from './codec.js';
// The wire encoding itself, for tools and benchmarks (bench/serializers): task bodies, results, stored metas.
export { buildTaskMessage, decodeBody } from './protocol.js';
export { encodeMeta, decodeStored, dateDone } from './backend.js';
export { EncodedResult, encodeJson } from './json-codec.js';
export { encodeMsgpack, decodeMsgpack } from './msgpack-codec.js';
export { celeryLogger, parseLogLevel } from './worker-log.js';
export type { LogLevel, WorkerLogger } from './worker-log.js';

export { TaskTimeoutError, TaskFailedError, TaskRevokedError, BrokerError, BackendError, MaxRetriesExceededError } from './errors.js';
export type { ExceptionInfo } from './errors.js';

// Transports: the embedded lab's memory hub, and adapters by URL (readiness checks and `lab status` log in with them).
export { MemoryTransports } from './memory-transports.js';
export { createBroker, createBackend, preloadTransports } from './transports.js';
export type { Connection } from './connection.js';
export type { Broker, Delivery, QueueDeclaration } from './broker.js';
export type { ResultBackend, TaskMeta, TaskState } from './backend.js';

// Celery's monitoring protocols: remote control (kombu's pidbox) and events.
export { MailboxClient, MailboxUnavailableError } from './control/mailbox-client.js';
export type { BroadcastOptions, NodeReply } from './control/mailbox-client.js';
export { EventReceiver } from './events/event-receiver.js';
export type { CeleryEvent } from './events/event-protocol.js';
export { surveyWorkers } from './control/cluster-survey.js';
export type { WorkerNode } from './control/cluster-survey.js';
