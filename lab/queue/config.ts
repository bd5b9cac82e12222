/**
 * App configuration with Celery's names. `configFromObject` accepts the new lowercase names (broker_url),
 * the old uppercase ones the book uses (BROKER_URL, CELERY_RESULT_BACKEND, CELERY_ROUTES) and camelCase.
 */
import { ConfigError } from '../errors.js';
import { RATE_LIMIT_FORMS, rateLimitPerSecond } from './rate-limit.js';
import type { RateLimit } from './rate-limit.js';
import { isSerializerName } from './codec.js';
import type { SerializerName } from './codec.js';

export interface RouteSpec {
  queue: string;
  exchange?: string;
  routingKey?: string;
  priority?: number;
}

export interface AppConfig {
  brokerUrl: string;
  resultBackend: string | null;
  taskRoutes: Record<string, RouteSpec>;
  taskDefaultQueue: string;
  /** Task message bodies: json (default) or msgpack. pickle and yaml are refused. */
  taskSerializer: SerializerName;
  /** How workers store results (the meta in the backend); readers tell by the stored bytes. */
  resultSerializer: SerializerName;
  /** What workers decode besides JSON (serializer names or content types); pickle and yaml never are. */
  acceptContent: string[];
  taskAcksLate: boolean;
  taskRejectOnWorkerLost: boolean;
  workerPrefetchMultiplier: number;
  resultExpires: number;
  taskIgnoreResult: boolean;
  taskTimeLimit: number | null;
  taskSoftTimeLimit: number | null;
  taskQueueMaxPriority: number | null;
  taskDefaultRetryDelay: number;
  taskMaxRetries: number;
  /** Modules the worker pool imports to find tasks (Celery's `include`). Paths or file: URLs. */
  include: string[];
  /** Celery's broker_transport_options; lab reads confirm_publish (AMQP publisher confirms, default true). */
  brokerTransportOptions: Record<string, unknown>;
  /** -E: workers send task events (celeryev). */
  workerSendTaskEvents: boolean;
  /** Clients send a task-sent event per task. */
  taskSendSentEvent: boolean;
  /** Workers join the `celery` remote-control mailbox. */
  workerEnableRemoteControl: boolean;
  /** The rate limit of tasks that set none ("10/m"…; null: none). */
  taskDefaultRateLimit: RateLimit;
  /** Workers ignore every rate limit. */
  workerDisableRateLimits: boolean;
  /** Workers also consume their own queue `<node>.dq2` on exchange C.dq2 (Celery's worker_direct). */
  workerDirect: boolean;
}

export function defaultConfig(): AppConfig {
  return {
    brokerUrl: 'memory://',
    resultBackend: 'memory://',
    taskRoutes: {},
    taskDefaultQueue: 'celery',
    taskSerializer: 'json',
    resultSerializer: 'json',
    // Celery accepts only json by default (pickle's danger); msgpack is data only, so lab's workers read it too.
    acceptContent: ['json', 'msgpack'],
    taskAcksLate: false,
    taskRejectOnWorkerLost: false,
    workerPrefetchMultiplier: 4,
    resultExpires: 86_400,
    taskIgnoreResult: false,
    taskTimeLimit: null,
    taskSoftTimeLimit: null,
    taskQueueMaxPriority: null,
    taskDefaultRetryDelay: 180,
    taskMaxRetries: 3,
    include: [],
    brokerTransportOptions: {},
    workerSendTaskEvents: false,
    taskSendSentEvent: false,
    workerEnableRemoteControl: true,
    taskDefaultRateLimit: null,
    workerDisableRateLimits: false,
    workerDirect: false,
  };
}

type Kind = 'string' | 'nullable-string' | 'boolean' | 'int' | 'nullable-number' | 'routes' | 'string-list' | 'object' | 'rate';

/** Every accepted spelling → [config field, kind]. */
const KEYS: Record<string, [keyof AppConfig, Kind]> = {};
function alias(field: keyof AppConfig, kind: Kind, ...names: string[]): void {
  for (const n of [field, ...names]) KEYS[n] = [field, kind];
}
alias('brokerUrl', 'string', 'broker_url', 'BROKER_URL', 'broker', 'CELERY_BROKER_URL');
alias('resultBackend', 'nullable-string', 'result_backend', 'CELERY_RESULT_BACKEND', 'backend');
alias('taskRoutes', 'routes', 'task_routes', 'CELERY_ROUTES');
alias('taskDefaultQueue', 'string', 'task_default_queue', 'CELERY_DEFAULT_QUEUE');
alias('taskSerializer', 'string', 'task_serializer', 'CELERY_TASK_SERIALIZER');
alias('resultSerializer', 'string', 'result_serializer', 'CELERY_RESULT_SERIALIZER');
alias('acceptContent', 'string-list', 'accept_content', 'CELERY_ACCEPT_CONTENT');
alias('taskAcksLate', 'boolean', 'task_acks_late', 'CELERY_ACKS_LATE');
alias('taskRejectOnWorkerLost', 'boolean', 'task_reject_on_worker_lost', 'CELERY_REJECT_ON_WORKER_LOST');
alias('workerPrefetchMultiplier', 'int', 'worker_prefetch_multiplier', 'CELERYD_PREFETCH_MULTIPLIER');
alias('resultExpires', 'int', 'result_expires', 'CELERY_TASK_RESULT_EXPIRES');
alias('taskIgnoreResult', 'boolean', 'task_ignore_result', 'CELERY_IGNORE_RESULT');
alias('taskTimeLimit', 'nullable-number', 'task_time_limit', 'CELERYD_TASK_TIME_LIMIT');
alias('taskSoftTimeLimit', 'nullable-number', 'task_soft_time_limit', 'CELERYD_TASK_SOFT_TIME_LIMIT');
alias('taskQueueMaxPriority', 'nullable-number', 'task_queue_max_priority');
alias('taskDefaultRetryDelay', 'int', 'task_default_retry_delay', 'CELERY_DEFAULT_RETRY_DELAY');
alias('taskMaxRetries', 'int', 'task_max_retries');
alias('include', 'string-list', 'CELERY_INCLUDE', 'imports', 'CELERY_IMPORTS');
alias('brokerTransportOptions', 'object', 'broker_transport_options', 'BROKER_TRANSPORT_OPTIONS');
alias('workerSendTaskEvents', 'boolean', 'worker_send_task_events', 'CELERY_SEND_EVENTS', 'CELERYD_SEND_EVENTS');
alias('taskSendSentEvent', 'boolean', 'task_send_sent_event', 'CELERY_SEND_TASK_SENT_EVENT');
alias('workerEnableRemoteControl', 'boolean', 'worker_enable_remote_control', 'CELERY_ENABLE_REMOTE_CONTROL');
alias('taskDefaultRateLimit', 'rate', 'task_default_rate_limit', 'CELERY_DEFAULT_RATE_LIMIT');
alias('workerDisableRateLimits', 'boolean', 'worker_disable_rate_limits', 'CELERY_DISABLE_RATE_LIMITS');
alias('workerDirect', 'boolean', 'worker_direct', 'CELERY_WORKER_DIRECT');

function bad(key: string, expected: string, value: unknown, source: string | undefined): ConfigError {
  return new ConfigError(`expected ${expected}, got ${JSON.stringify(value) ?? String(value)}`, { file: source, field: key });
}

function coerce(key: string, kind: Kind, value: unknown, source?: string): unknown {
  switch (kind) {
    case 'string':
      if (typeof value !== 'string' || !value) throw bad(key, 'a non-empty string', value, source);
      return value;
    case 'nullable-string':
      if (value === null || value === undefined || value === '') return null;
      if (typeof value !== 'string') throw bad(key, 'a string or null', value, source);
      return value;
    case 'boolean':
      if (typeof value !== 'boolean') throw bad(key, 'true or false', value, source);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw bad(key, 'a non-negative integer', value, source);
      return value;
    case 'nullable-number':
      if (value === null || value === undefined) return null;
      if (typeof value !== 'number' || !(value > 0)) throw bad(key, 'a positive number or null', value, source);
      return value;
    case 'string-list':
      if (typeof value === 'string') return [value];
      if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) throw bad(key, 'a list of strings', value, source);
      return value;
    case 'rate':
      if (rateLimitPerSecond(value) === null) throw bad(key, RATE_LIMIT_FORMS, value, source);
      return value === '' || value === undefined ? null : value;
    case 'object':
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(key, 'a mapping', value, source);
      return { ...(value as Record<string, unknown>) };
    case 'routes': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw bad(key, 'a mapping of task name to {queue}', value, source);
      const out: Record<string, RouteSpec> = {};
      for (const [task, spec] of Object.entries(value)) {
        const s = typeof spec === 'string' ? { queue: spec } : (spec as Record<string, unknown>);
        if (typeof s !== 'object' || s === null || typeof s.queue !== 'string' || !s.queue) throw bad(`${key}.${task}`, '{queue: <name>}', spec, source);
        const r: RouteSpec = { queue: s.queue };
        if (typeof s.exchange === 'string') r.exchange = s.exchange;
        const rk = s.routing_key ?? s.routingKey;
        if (typeof rk === 'string') r.routingKey = rk;
        if (typeof s.priority === 'number') r.priority = s.priority;
        out[task] = r;
      }
      return out;
    }
  }
}

/**
 * Merge a configuration object into `base`. Unknown keys are rejected (a typo in a config module must not pass
 * silently); `source` names the file in errors.
 */
export function applyConfig(base: AppConfig, obj: Record<string, unknown>, source?: string): AppConfig {
  const out = { ...base };
  for (const [key, value] of Object.entries(obj)) {
    if (value === undefined) continue;
    const spec = KEYS[key];
    if (!spec) throw new ConfigError(`unknown setting (known: broker_url, result_backend, task_routes, task_acks_late, worker_prefetch_multiplier, result_expires, …)`, { file: source, field: key });
    const [field, kind] = spec;
    (out as Record<string, unknown>)[field] = coerce(key, kind, value, source);
  }
  for (const [field, name] of [
    ['taskSerializer', 'task_serializer'],
    ['resultSerializer', 'result_serializer'],
  ] as const) {
    const v: unknown = out[field];
    if (!isSerializerName(v)) throw new ConfigError(`only "json" and "msgpack" are supported, got ${JSON.stringify(v)} (pickle and yaml are never accepted)`, { file: source, field: name });
  }
  return out;
}
