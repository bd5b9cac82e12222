/**
 * The remote-control commands a lab worker answers, with the reply shapes of Celery's own (celery/worker/control.py):
 * `{ok: …}` / `{error: …}` for control commands, plain values for inspect commands. A command lab does not know
 * throws UnknownCommandError, which the mailbox answers as Python's Node.dispatch does: {error: "KeyError('x')"}.
 */
import { constants as osConstants } from 'node:os';
import { LabError } from '../../errors.js';
import type { RevokedSet } from './revoked-set.js';
import type { WorkerRequests } from './worker-requests.js';
import type { LamportClock } from './lamport-clock.js';
import { RATE_LIMIT_FORMS, rateLimitPerSecond } from '../rate-limit.js';
import type { RateLimit } from '../rate-limit.js';

/** What the commands read and change in a worker (the worker's side implements it: worker-monitoring.ts). */
export interface ControlTarget {
  readonly hostname: string;
  readonly clock: LamportClock;
  readonly requests: WorkerRequests;
  readonly revoked: RevokedSet;
  readonly startedAt: number;
  /** {kind, concurrency, processes?} of the pool now. */
  poolInfo(): { kind: string; concurrency: number; processes: number[] };
  brokerInfo(): Record<string, unknown>;
  prefetchCount(): number;
  /** Task names registered in this worker's process. */
  taskNames(): string[];
  setTimeLimits(task: string, soft: number | null, hard: number | null): boolean;
  /** Set a task type's rate limit (as given; `perSecond` is it parsed, 0: none); false if the task is unknown. */
  setRateLimit(task: string, rate: RateLimit, perSecond: number): boolean;
  /** A task's attributes by Celery's names (rate_limit, queue, time_limit…), for `registered <items>`. */
  taskAttributes(task: string): Record<string, unknown>;
  queues(): { name: string; exchange: string; routingKey: string }[];
  addConsumer(queue: string): Promise<void>;
  cancelConsumer(queue: string): Promise<boolean>;
  /** Terminate the running task with this id; what the pool could do. */
  terminate(id: string, signal: NodeJS.Signals): 'terminated' | 'signalled' | 'unknown';
  poolGrow(n: number): Promise<void>;
  poolShrink(n: number): number;
  events: { enableTask(): boolean; disableTask(): boolean; heartbeat(): void };
  conf(): Record<string, unknown>;
  report(): string;
  shutdown(reason: string): void;
}

export class UnknownCommandError extends LabError {
  constructor(readonly method: string) {
    super('E_USAGE', `unknown control command: ${method}`);
  }
}

type Handler = (t: ControlTarget, args: Record<string, unknown>) => unknown | Promise<unknown>;

const ok = (value: unknown) => ({ ok: value });
const nok = (value: unknown) => ({ error: value });

/** maybe_list: one id or a list of them. */
function idList(v: unknown): string[] {
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return typeof v === 'string' ? [v] : [];
}

function positiveInt(v: unknown, fallback: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n > 0 ? n : fallback;
}

function seconds(v: unknown): number | null {
  if (v === null || v === undefined || v === '') return null;
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : null;
}

/** celery.platforms.signals.signum: 'TERM', 'SIGTERM', 15 → SIGTERM (a name Node can send). */
export function signalName(v: unknown): NodeJS.Signals | null {
  if (v === null || v === undefined || v === '') return 'SIGTERM';
  const signals = osConstants.signals as Record<string, number>;
  if (typeof v === 'number' || (typeof v === 'string' && /^\d+$/.test(v))) {
    const n = Number(v);
    const name = Object.keys(signals).find((k) => signals[k] === n);
    return (name as NodeJS.Signals | undefined) ?? null;
  }
  if (typeof v !== 'string') return null;
  const up = v.toUpperCase();
  const name = up.startsWith('SIG') ? up : `SIG${up}`;
  return name in signals ? (name as NodeJS.Signals) : null;
}

function revoke(t: ControlTarget, args: Record<string, unknown>): unknown {
  const ids = [...new Set(idList(args.task_id))];
  for (const id of ids) t.revoked.add(id);
  if (args.terminate === true || args.terminate === 'true' || args.terminate === 1) {
    const signal = signalName(args.signal);
    if (!signal) return nok(`unknown signal: ${String(args.signal)}`);
    const done: string[] = [];
    const signalled: string[] = [];
    for (const id of ids) {
      const what = t.terminate(id, signal);
      if (what === 'terminated') done.push(id);
      else if (what === 'signalled') signalled.push(id);
    }
    if (!done.length && !signalled.length) return ok('terminate: tasks unknown');
    const parts: string[] = [];
    if (done.length) parts.push(`terminate: ${done.join(', ')}`);
    // The async pool runs tasks on the worker's own loop: it cannot kill one, only abort its signal.
    if (signalled.length) parts.push(`signalled (async pool: a task can only be aborted, not killed): ${signalled.join(', ')}`);
    return ok(parts.join('; '));
  }
  return ok(`tasks ${ids.join(', ')} flagged as revoked`);
}

/** Python's str() of an attribute value. */
function pyStr(v: unknown): string {
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  return typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Celery's registered: names, each with the attributes asked for that it has ("t [rate_limit=5/s]"). */
function registered(t: ControlTarget, args: Record<string, unknown>): string[] {
  const builtins = args.builtins === true;
  const asked = idList(args.taskinfoitems);
  const items = asked.length ? asked : DEFAULT_TASK_INFO_ITEMS;
  return t
    .taskNames()
    .filter((n) => builtins || !n.startsWith('celery.'))
    .sort()
    .map((name) => {
      const attrs = t.taskAttributes(name);
      const fields = [...new Set(items)].filter((f) => Object.hasOwn(attrs, f) && attrs[f] !== null && attrs[f] !== undefined).map((f) => `${f}=${pyStr(attrs[f])}`);
      return fields.length ? `${name} [${fields.join(' ')}]` : name;
    });
}

/** celery/worker/control.py's DEFAULT_TASK_INFO_ITEMS (lab's tasks have no exchange or routing_key attribute). */
const DEFAULT_TASK_INFO_ITEMS = ['exchange', 'routing_key', 'rate_limit'];

/**
 * Celery's replies: the rate is checked first, then the task. Which "ok" follows Python's truthiness of the value as
 * given, as Celery's does: "0" (a string) is "new rate limit set" — though it means no limit — and 0 or "" "disabled".
 */
function rateLimit(t: ControlTarget, a: Record<string, unknown>): unknown {
  const rate = a.rate_limit as RateLimit;
  const perSecond = rateLimitPerSecond(rate);
  if (perSecond === null) return nok(`Invalid rate limit string: expected ${RATE_LIMIT_FORMS}, got ${JSON.stringify(rate) ?? String(rate)}`);
  const name = typeof a.task_name === 'string' ? a.task_name : '';
  if (!t.setRateLimit(name, rate ?? null, perSecond)) return nok('unknown task');
  return ok(rate === undefined || rate === null || rate === '' || rate === 0 ? 'rate limit disabled successfully' : 'new rate limit set successfully');
}

function stats(t: ControlTarget): Record<string, unknown> {
  const pool = t.poolInfo();
  const total: Record<string, number> = {};
  for (const [name, n] of t.requests.total) total[name] = n;
  const out: Record<string, unknown> = {
    total,
    pid: process.pid,
    clock: String(t.clock.value),
    uptime: Math.round((Date.now() - t.startedAt) / 1000),
    pool: { 'max-concurrency': pool.concurrency, ...(pool.kind === 'prefork' ? { processes: pool.processes } : {}), implementation: `lab:${pool.kind}` },
    broker: t.brokerInfo(),
    prefetch_count: t.prefetchCount(),
  };
  const r = process.resourceUsage();
  // Python's rusage: seconds for times, KiB for maxrss — the fields Node can tell.
  out.rusage = { utime: r.userCPUTime / 1e6, stime: r.systemCPUTime / 1e6, maxrss: r.maxRSS, minflt: r.minorPageFault, majflt: r.majorPageFault, inblock: r.fsRead, oublock: r.fsWrite, nvcsw: r.voluntaryContextSwitches, nivcsw: r.involuntaryContextSwitches };
  return out;
}

export const COMMANDS: Record<string, Handler> = {
  ping: () => ok('pong'),
  stats,
  clock: (t) => ({ clock: t.clock.value }),
  active: (t, a) => t.requests.list('active').map((r) => t.requests.info(r, a.safe === true)),
  reserved: (t) => t.requests.list('reserved').map((r) => t.requests.info(r)),
  scheduled: (t) => t.requests.list('scheduled').map((r) => ({ eta: r.h.eta ? r.h.eta.toISOString() : null, priority: r.d.properties.priority ?? 0, request: t.requests.info(r) })),
  revoked: (t) => t.revoked.ids(),
  registered,
  query_task: (t, a) => {
    const out: Record<string, unknown> = {};
    for (const id of idList(a.ids)) {
      const r = t.requests.get(id);
      if (r) out[id] = [r.state === 'scheduled' ? 'reserved' : r.state, t.requests.info(r)];
    }
    return out;
  },
  active_queues: (t) =>
    t.queues().map((q) => ({
      name: q.name,
      exchange: { name: q.exchange, type: 'direct', arguments: null, durable: true, passive: false, auto_delete: false, delivery_mode: null, no_declare: false },
      routing_key: q.routingKey,
      queue_arguments: null,
      binding_arguments: null,
      consumer_arguments: null,
      durable: true,
      exclusive: false,
      auto_delete: false,
      no_ack: false,
      alias: null,
      bindings: [],
      no_declare: null,
      expires: null,
      message_ttl: null,
      max_length: null,
      max_length_bytes: null,
      max_priority: null,
    })),
  conf: (t) => t.conf(),
  report: (t) => ok(t.report()),
  revoke,
  terminate: (t, a) => revoke(t, { task_id: a.task_id, terminate: true, signal: a.signal }),
  rate_limit: rateLimit,
  time_limit: (t, a) => {
    const name = typeof a.task_name === 'string' ? a.task_name : '';
    return t.setTimeLimits(name, seconds(a.soft), seconds(a.hard)) ? ok('time limits set successfully') : nok('unknown task');
  },
  pool_grow: async (t, a) => {
    await t.poolGrow(positiveInt(a.n, 1));
    return ok('pool will grow');
  },
  pool_shrink: (t, a) => {
    t.poolShrink(positiveInt(a.n, 1));
    return ok('pool will shrink');
  },
  add_consumer: async (t, a) => {
    if (typeof a.queue !== 'string' || !a.queue) return nok('add_consumer needs a queue name');
    await t.addConsumer(a.queue);
    return ok(`add consumer ${a.queue}`);
  },
  cancel_consumer: async (t, a) => {
    if (typeof a.queue !== 'string' || !a.queue) return nok('cancel_consumer needs a queue name');
    // lab's task consumer reads its -Q queues together: only a queue add_consumer added can be let go of alone.
    if (!(await t.cancelConsumer(a.queue))) return nok(`not consuming from ${a.queue} by add_consumer (lab cannot stop one of the queues a worker was started with)`);
    return ok(`no longer consuming from ${a.queue}`);
  },
  enable_events: (t) => ok(t.events.enableTask() ? 'task events enabled' : 'task events already enabled'),
  disable_events: (t) => ok(t.events.disableTask() ? 'task events disabled' : 'task events already disabled'),
  heartbeat: (t) => {
    t.events.heartbeat();
    return null;
  },
  /** mingle's sync: a Python worker starting next to lab's asks every node for its revoked ids and clock. */
  hello: (t, a) => {
    if (a.from_node === t.hostname) return null;
    if (a.revoked && typeof a.revoked === 'object') for (const id of Object.keys(a.revoked as object)) t.revoked.add(id);
    return { revoked: t.revoked.asData(), clock: t.clock.forward() };
  },
  shutdown: (t, a) => {
    t.shutdown(typeof a.msg === 'string' ? a.msg : 'Got shutdown from remote');
    return null;
  },
};

// Celery's aliases (dump_active, dump_conf, …).
for (const [alias, name] of Object.entries({ dump_conf: 'conf', dump_schedule: 'scheduled', dump_reserved: 'reserved', dump_active: 'active', dump_revoked: 'revoked', dump_tasks: 'registered' })) {
  COMMANDS[alias] = COMMANDS[name];
}

export async function runCommand(t: ControlTarget, method: string, args: Record<string, unknown>): Promise<unknown> {
  const handler = Object.hasOwn(COMMANDS, method) ? COMMANDS[method] : undefined;
  if (!handler) throw new UnknownCommandError(method);
  return handler(t, args);
}
