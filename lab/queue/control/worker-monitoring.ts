/**
 * A worker's part in Celery's monitoring protocols: its mailbox node (remote control), its event dispatcher
 * (task-* and worker-* events, heartbeats every 2 s), and the bookkeeping both read (requests held, revoked ids,
 * totals). The worker calls the hooks below at the points Celery's worker sends its events; everything here is
 * off the hot path when nobody asked for it (no -E: the event calls return at the first check).
 */
import { EventEmitter } from 'node:events';
import { loadavg, type as osType } from 'node:os';
import type { Broker, Delivery, QueueDeclaration } from '../broker.js';
import type { ReceivedHeaders } from '../protocol.js';
import type { App } from '../app.js';
import { allApps, findTask } from '../shared-registry.js';
import type { Job, JobOutcome, Pool } from '../pool/job.js';
import { excRepr } from '../errors.js';
import { maskUrl } from '../../errors.js';
import { EventDispatcher } from '../events/event-dispatcher.js';
import { HEARTBEAT_INTERVAL_S } from '../events/event-protocol.js';
import { LamportClock } from './lamport-clock.js';
import { MailboxNode } from './mailbox-node.js';
import { RevokedSet } from './revoked-set.js';
import { WorkerRequests } from './worker-requests.js';
import type { ControlTarget } from './control-commands.js';
import type { RateLimit } from '../rate-limit.js';

/** What monitoring may see and change of its worker (built by the worker, which keeps its fields private). */
export interface WorkerInternals {
  readonly hostname: string;
  readonly app: App;
  readonly broker: Broker;
  readonly pool: Pool;
  readonly queues: readonly string[];
  /** The node's worker-direct queue (worker_direct), consumed beside `queues`. */
  readonly directQueue: QueueDeclaration | null;
  prefetch(): number;
  /** Change the task consumer's window by this many slots × the prefetch multiplier (pool_grow / pool_shrink). */
  resizePrefetch(deltaConcurrency: number): Promise<void>;
  /** Start consuming one more queue with the worker's handler; returns a way to stop. */
  consume(queue: string): Promise<{ cancel(): Promise<void> }>;
  requestShutdown(reason: string): void;
  /** false under worker_disable_rate_limits. */
  readonly rateLimitsEnabled: boolean;
  /** A task type's rate limit changed: its bucket starts again at the new rate. */
  resetRateLimit(task: string): void;
  /** A task type's rate limit as written: its own, else its app's task_default_rate_limit. */
  rateLimitOf(task: string): RateLimit;
}

export interface MonitoringOptions {
  /** -E / worker_send_task_events. */
  taskEvents: boolean;
  /** worker_enable_remote_control (default true). */
  remoteControl: boolean;
  heartbeatIntervalS?: number;
  /** Package version, for worker events' sw_ver and `report`. */
  version?: string;
}

export interface MonitoringEvents {
  warning: [message: string];
  info: [message: string];
}

const SW_IDENT = 'lab';

export class WorkerMonitoring extends EventEmitter<MonitoringEvents> implements ControlTarget {
  readonly clock = new LamportClock();
  readonly requests: WorkerRequests;
  readonly revoked = new RevokedSet();
  readonly startedAt = Date.now();
  readonly hostname: string;
  readonly dispatcher: EventDispatcher;
  private node: MailboxNode | null = null;
  private heartbeatTimer: NodeJS.Timeout | null = null;
  private readonly added = new Map<string, { cancel(): Promise<void> }>();
  /** Task ids terminated by revoke, with the signal (their 'lost' outcome is a REVOKED result). */
  private readonly terminatedIds = new Map<string, string>();
  private readonly heartbeatS: number;
  private readonly version: string;

  constructor(
    private readonly w: WorkerInternals,
    private readonly options: MonitoringOptions,
  ) {
    super();
    this.hostname = w.hostname;
    this.requests = new WorkerRequests(w.hostname);
    this.heartbeatS = options.heartbeatIntervalS ?? HEARTBEAT_INTERVAL_S;
    this.version = options.version ?? '0';
    this.dispatcher = new EventDispatcher(w.broker, { hostname: w.hostname, clock: this.clock, groups: options.taskEvents ? ['task', 'worker'] : [] });
    this.dispatcher.on('error', (err: Error) => this.emit('warning', err.message));
  }

  /** Whether the broker can carry the monitoring protocols at all (AMQP and Redis; not the embedded lab's memory broker). */
  get supported(): boolean {
    return typeof this.w.broker.declareExchange === 'function';
  }

  async start(): Promise<void> {
    if (!this.supported) {
      // Remote control is on by default: only an explicit -E is worth a warning.
      if (this.options.taskEvents) this.emit('warning', `remote control and events are not available on a ${this.w.broker.kind} broker (lab speaks them over RabbitMQ and Redis)`);
      return;
    }
    if (this.options.remoteControl) {
      this.node = new MailboxNode(this.w.broker, this);
      this.node.on('warning', (m) => this.emit('warning', m));
      await this.node.start();
    }
    if (this.dispatcher.groups.has('worker')) this.startHeartbeats();
  }

  async stop(): Promise<void> {
    this.stopHeartbeats(true);
    await this.node?.stop().catch((err: Error) => this.emit('warning', `could not leave the mailbox: ${err.message}`));
    this.node = null;
    for (const c of this.added.values()) await c.cancel().catch(() => undefined);
    this.added.clear();
  }

  private heartbeatFields(): Record<string, unknown> {
    return {
      freq: this.heartbeatS,
      active: this.requests.activeCount,
      processed: this.requests.processed,
      loadavg: loadavg().map((l) => Math.ceil(l * 100) / 100),
      sw_ident: SW_IDENT,
      sw_ver: this.version,
      sw_sys: osType(),
    };
  }

  private startHeartbeats(): void {
    if (this.heartbeatTimer) return;
    void this.dispatcher.send('worker-online', this.heartbeatFields());
    this.heartbeatTimer = setInterval(() => void this.dispatcher.send('worker-heartbeat', this.heartbeatFields()), this.heartbeatS * 1000);
    this.heartbeatTimer.unref();
  }

  private stopHeartbeats(offline: boolean): void {
    if (!this.heartbeatTimer) return;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = null;
    if (offline) void this.dispatcher.send('worker-offline', this.heartbeatFields());
  }

  // ------------------------------------------------------------ hooks the worker calls

  /** A valid task message arrived. True = it was revoked before it came: the worker discards it. */
  received(h: ReceivedHeaders, d: Delivery, scheduled: boolean): boolean {
    if (this.revoked.has(h.id)) return true;
    this.requests.received(h, d, scheduled);
    if (this.dispatcher.enabled('task-received')) {
      const raw = h.raw;
      void this.dispatcher.send('task-received', {
        uuid: h.id,
        name: h.task,
        args: typeof raw.argsrepr === 'string' ? raw.argsrepr : '',
        kwargs: typeof raw.kwargsrepr === 'string' ? raw.kwargsrepr : '',
        root_id: h.rootId,
        parent_id: h.parentId,
        retries: h.retries,
        eta: h.eta ? h.eta.toISOString() : null,
        expires: h.expires ? h.expires.toISOString() : null,
      });
    }
    return false;
  }

  /** A revoked task was discarded (before running, or expired). */
  discarded(h: ReceivedHeaders, expired: boolean): void {
    this.requests.done(h.id, false);
    void this.dispatcher.send('task-revoked', { uuid: h.id, terminated: false, signum: null, expired });
  }

  /** The pool's onStart for this job, wrapping the worker's own (the ack). */
  starting(h: ReceivedHeaders, job: Job, ack: (() => void) | undefined): (pid: number | null) => void {
    return (pid) => {
      ack?.();
      // A revoke that came while it waited for a slot: it still runs (the pool has it), as with Celery's prefork
      // once the request is accepted; the revoke is kept.
      this.requests.started(h.id, job.seq, pid, ack !== undefined);
      void this.dispatcher.send('task-started', { uuid: h.id, pid: pid ?? process.pid });
    };
  }

  /** Was this task terminated by a revoke (its 'lost' outcome is then REVOKED)? */
  terminatedBy(id: string): string | null {
    const signal = this.terminatedIds.get(id) ?? null;
    this.terminatedIds.delete(id);
    return signal;
  }

  finished(h: ReceivedHeaders, outcome: JobOutcome): void {
    const ran = outcome.kind !== 'expired';
    this.requests.done(h.id, ran);
    const signal = this.terminatedIds.get(h.id);
    // A 'lost' outcome's entry stays for the worker's terminatedBy(), which takes it.
    if (outcome.kind !== 'lost') this.terminatedIds.delete(h.id);
    if (!this.dispatcher.enabled('task-succeeded')) return;
    const runtime = outcome.runtimeMs / 1000;
    switch (outcome.kind) {
      case 'success':
        void this.dispatcher.send('task-succeeded', { uuid: h.id, result: outcome.repr ?? outcome.resultJson, runtime });
        break;
      case 'failure':
        void this.dispatcher.send('task-failed', { uuid: h.id, exception: excRepr(outcome.exc), traceback: outcome.traceback ?? '' });
        break;
      case 'retry':
        void this.dispatcher.send('task-retried', { uuid: h.id, exception: outcome.exc ? excRepr(outcome.exc) : 'Retry', traceback: '' });
        break;
      case 'expired':
        void this.dispatcher.send('task-revoked', { uuid: h.id, terminated: false, signum: null, expired: true });
        break;
      case 'lost':
        if (signal) void this.dispatcher.send('task-revoked', { uuid: h.id, terminated: true, signum: signal, expired: false });
        else void this.dispatcher.send('task-failed', { uuid: h.id, exception: excRepr(outcome.exc), traceback: '' });
        break;
    }
  }

  rejected(h: ReceivedHeaders, requeue: boolean): void {
    this.requests.done(h.id, false);
    void this.dispatcher.send('task-rejected', { uuid: h.id, requeue });
  }

  // ------------------------------------------------------------ ControlTarget

  poolInfo(): { kind: string; concurrency: number; processes: number[] } {
    const pool = this.w.pool as Pool & { pids?: number[] };
    return { kind: pool.kind, concurrency: pool.concurrency, processes: pool.pids ?? [] };
  }

  brokerInfo(): Record<string, unknown> {
    // kombu's Connection.info() without the password; lab knows the masked URL and the transport.
    let url: URL | null = null;
    try {
      url = new URL(this.w.broker.displayUrl);
    } catch {
      url = null;
    }
    return {
      hostname: url?.hostname ?? null,
      userid: url?.username || null,
      virtual_host: url ? decodeURIComponent(url.pathname.replace(/^\//, '')) || '/' : null,
      port: url?.port ? Number(url.port) : null,
      transport: this.w.broker.kind === 'amqp' ? 'amqp' : this.w.broker.kind,
      uri_prefix: null,
    };
  }

  prefetchCount(): number {
    return this.w.prefetch();
  }

  taskNames(): string[] {
    const names = new Set<string>();
    for (const app of allApps()) for (const n of app.tasks.keys()) names.add(n);
    return [...names];
  }

  setTimeLimits(task: string, soft: number | null, hard: number | null): boolean {
    const t = findTask(task);
    if (!t) return false;
    // Read by the worker for every job it starts (task.options), so the next run of the task has them.
    const o = t.options as { softTimeLimit?: number; timeLimit?: number };
    if (soft === null) delete o.softTimeLimit;
    else o.softTimeLimit = soft;
    if (hard === null) delete o.timeLimit;
    else o.timeLimit = hard;
    this.emit('info', `New time limits for tasks of type ${task}: soft=${soft ?? 'None'} hard=${hard ?? 'None'}`);
    return true;
  }

  setRateLimit(task: string, rate: RateLimit, perSecond: number): boolean {
    const t = findTask(task);
    if (!t) return false;
    // Stored as given, as Celery sets task.rate_limit: "0" keeps meaning "none" even with a task_default_rate_limit.
    t.options.rateLimit = rate;
    this.w.resetRateLimit(task);
    const off = this.w.rateLimitsEnabled ? '' : ' (not applied: this worker has worker_disable_rate_limits)';
    this.emit('info', perSecond > 0 ? `New rate limit for tasks of type ${task}: ${String(rate)}.${off}` : `Rate limits disabled for tasks of type ${task}`);
    return true;
  }

  taskAttributes(task: string): Record<string, unknown> {
    const t = findTask(task);
    if (!t) return {};
    const o = t.options;
    // As a Celery Task's attributes read (a rate limit the task does not set is its app's default).
    return {
      rate_limit: this.w.rateLimitOf(task),
      queue: o.queue ?? null,
      time_limit: o.timeLimit ?? null,
      soft_time_limit: o.softTimeLimit ?? null,
      acks_late: o.acksLate ?? null,
      ignore_result: o.ignoreResult ?? null,
      max_retries: o.maxRetries ?? null,
      default_retry_delay: o.defaultRetryDelay ?? null,
    };
  }

  queues(): { name: string; exchange: string; routingKey: string }[] {
    const own = [...this.w.queues, ...this.added.keys()].map((q) => ({ name: q, exchange: q, routingKey: q }));
    const d = this.w.directQueue;
    return d ? [...own, { name: d.name, exchange: d.exchange ?? d.name, routingKey: d.routingKey ?? d.name }] : own;
  }

  async addConsumer(queue: string): Promise<void> {
    if (this.w.queues.includes(queue) || this.w.directQueue?.name === queue || this.added.has(queue)) return;
    this.added.set(queue, await this.w.consume(queue));
    this.emit('info', `Started consuming from ${queue}`);
  }

  async cancelConsumer(queue: string): Promise<boolean> {
    const c = this.added.get(queue);
    if (!c) return false;
    this.added.delete(queue);
    await c.cancel();
    this.emit('info', `Stopped consuming from ${queue}`);
    return true;
  }

  terminate(id: string, signal: NodeJS.Signals): 'terminated' | 'signalled' | 'unknown' {
    const r = this.requests.get(id);
    if (!r || r.state !== 'active' || r.seq === null) return 'unknown';
    this.emit('info', `Terminating ${id} (${signal})`);
    const what = this.w.pool.terminate(r.seq, signal);
    if (what === 'terminated') this.terminatedIds.set(id, signal);
    return what;
  }

  /** Replies at once ("pool will grow", as Celery): new prefork children take a moment to start. */
  async poolGrow(n: number): Promise<void> {
    void this.w.pool
      .grow(n)
      .then(() => this.w.resizePrefetch(n))
      .catch((err: Error) => this.emit('warning', `pool_grow: ${err.message}`));
  }

  poolShrink(n: number): number {
    const gone = this.w.pool.shrink(n);
    void this.w.resizePrefetch(-gone).catch((err: Error) => this.emit('warning', err.message));
    return gone;
  }

  readonly events = {
    enableTask: (): boolean => {
      if (this.dispatcher.groups.has('task')) return false;
      this.dispatcher.groups.add('task');
      this.dispatcher.groups.add('worker');
      this.startHeartbeats();
      this.emit('info', 'Events of group {task} enabled by remote.');
      return true;
    },
    disableTask: (): boolean => {
      if (!this.dispatcher.groups.has('task')) return false;
      this.dispatcher.groups.delete('task');
      this.emit('info', 'Events of group {task} disabled by remote.');
      return true;
    },
    heartbeat: (): void => {
      void this.dispatcher.send('worker-heartbeat', this.heartbeatFields());
    },
  };

  conf(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(this.w.app.config)) {
      const snake = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      // Never a password: URLs are shown masked.
      out[snake] = typeof v === 'string' && /^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? maskUrl(v) : v;
    }
    return out;
  }

  report(): string {
    return [`software -> lab:${this.version} node:${process.version}`, `platform -> system:${osType()} arch:${process.arch}`, `broker -> ${this.w.broker.displayUrl}`, `pool -> ${this.w.pool.kind} (${this.w.pool.concurrency})`].join('\n');
  }

  shutdown(reason: string): void {
    this.emit('warning', reason);
    this.w.requestShutdown(reason);
  }
}

