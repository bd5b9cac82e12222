/**
 * The worker node (Celery's MainProcess): consumes task messages from the broker with a prefetch window, decides
 * what Celery decides before running (content type, registration, expiry, ETA), hands the job to a pool, stores
 * the outcome in the result backend, and acks — on receipt by default, after the outcome with acks_late.
 * Canvas continuations (chains, callbacks, chords) and retries are sent from here, as Celery's worker does.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { nodeName } from './node-name.js';
import { App, moduleUrl } from './app.js';
import { findTask } from './shared-registry.js';
import { dateDone, failureMeta } from './backend.js';
import type { ResultBackend, TaskMeta, TaskState } from './backend.js';
import type { Broker, Consumer, Delivery, QueueDeclaration } from './broker.js';
import { signatureFromDict } from './canvas.js';
import { celeryException, excRepr, formatExcMessage, toExceptionInfo } from './errors.js';
import type { ExceptionInfo } from './errors.js';
import { ProtocolError, isoWithOffset, readHeaders } from './protocol.js';
import { JSON_CONTENT_TYPE, acceptedContentTypes, codecForContentType } from './codec.js';
import { realClock, setLongTimeout } from './long-timer.js';
import { Permits } from './permits.js';
import type { Clock, LongTimer } from './long-timer.js';
import { EncodedResult, decodeJson } from './json-codec.js';
import { encodeMsgpack } from './msgpack-codec.js';
import type { Embed, ReceivedHeaders, SignatureDict } from './protocol.js';
import { pyRepr, silentLogger } from './worker-log.js';
import type { WorkerLogger } from './worker-log.js';
import { ChildPool } from './pool/child-pool.js';
import { hop } from './hops.js';
import { InlinePool } from './pool/inline-pool.js';
import { loadTaskModules } from './pool/executor.js';
import type { Job, JobOutcome, Pool, PoolKind } from './pool/job.js';
import { WorkerMonitoring } from './control/worker-monitoring.js';
import { TaskRateLimits } from './worker-rate-limits.js';
import { rateLimitPerSecond } from './rate-limit.js';
import { workerDirectDeclaration } from './worker-direct.js';
import type { RateLimit } from './rate-limit.js';

export interface WorkerOptions {
  queues?: string[];
  concurrency?: number;
  pool?: PoolKind;
  /** Modules the pool children import to find tasks (default: the app's include). */
  include?: (string | URL)[];
  prefetchMultiplier?: number;
  /** Celery's node name, e.g. celery@HOST3. */
  hostname?: string;
  logger?: WorkerLogger;
  /** The clock ETA tasks and rate limits wait on (tests pass a fake one). */
  clock?: Clock;
  /** Ignore tasks' rate limits (default: the app's worker_disable_rate_limits). */
  disableRateLimits?: boolean;
  /**
   * Tasks this worker keeps in hand at most — running, or done with their result not yet stored. While the result
   * backend is away, results wait to be stored (and are, once it is back); when this many wait, the worker takes no
   * more tasks: they stay in the broker. Default 1000.
   */
  maxPendingResults?: number;
  /** How long a result store may wait before the worker says, once per outage, that results are delayed. Default 10 s. */
  storeDelayWarningMs?: number;
  /** -E: send task events (default: the app's worker_send_task_events). */
  sendTaskEvents?: boolean;
  /** Join the `celery` remote-control mailbox (default: worker_enable_remote_control, true). */
  remoteControl?: boolean;
  /** Serializer names or content types this worker decodes (default: the app's accept_content); JSON always. */
  acceptContent?: string[];
  /** Also consume this node's own queue `<node>.dq2` on C.dq2 (default: the app's worker_direct). */
  workerDirect?: boolean;
}

export interface WorkerStats {
  received: number;
  succeeded: number;
  failed: number;
  retried: number;
  rejected: number;
  active: number;
}

export class Worker extends EventEmitter {
  readonly queues: string[];
  readonly concurrency: number;
  readonly poolKind: PoolKind;
  readonly hostname: string;
  /** The task consumer's window; pool_grow / pool_shrink change it (Celery's _update_prefetch_count). */
  prefetch: number;
  readonly stats: WorkerStats = { received: 0, succeeded: 0, failed: 0, retried: 0, rejected: 0, active: 0 };
  private readonly include: string[];
  private readonly log: WorkerLogger;
  private pool: Pool | null = null;
  private broker: Broker | null = null;
  private backend: ResultBackend | null = null;
  private consumer: Consumer | null = null;
  private readonly held = new Map<Delivery, LongTimer>();
  private readonly clock: Clock;
  /** Tasks over their type's rate limit wait here, unacked, for a token (Celery's task_buckets). */
  private readonly rateLimits: TaskRateLimits<{ d: Delivery; h: ReceivedHeaders }>;
  /** One per task in hand, from before the pool takes it until its result is stored (see maxPendingResults). */
  private readonly inHand: Permits;
  private readonly storeDelayWarningMs: number;
  /** Stores that have waited longer than storeDelayWarningMs and not finished yet; said once per outage. */
  private delayedStores = 0;
  private delayedTotal = 0;
  private readonly inflight = new Set<Promise<void>>();
  private stopping = false;
  private onConnectionError: ((err: Error) => void) | null = null;
  /** Set by a cold stop: outcomes that arrive afterwards are dropped (their messages went back to the queue). */
  private cold = false;
  /** Remote control and events (control/worker-monitoring.ts); null until started. */
  private monitoring: WorkerMonitoring | null = null;
  private readonly monitoringOptions: { taskEvents: boolean; remoteControl: boolean };
  /** accept_content as content types. */
  private readonly accepted: Set<string>;
  /** This node's worker-direct queue, when it has one (worker_direct). */
  readonly directQueue: QueueDeclaration | null;

  constructor(
    readonly app: App,
    options: WorkerOptions = {},
  ) {
    super();
    this.queues = options.queues?.length ? options.queues : [app.config.taskDefaultQueue];
    this.concurrency = Math.max(1, options.concurrency ?? availableParallelism());
    this.poolKind = options.pool ?? 'prefork';
    this.hostname = nodeName(options.hostname);
    this.prefetch = this.concurrency * (options.prefetchMultiplier ?? app.config.workerPrefetchMultiplier);
    this.include = (options.include ?? app.config.include).map(moduleUrl);
    this.log = options.logger ?? silentLogger;
    this.clock = options.clock ?? realClock;
    this.rateLimits = new TaskRateLimits({
      // A task's rate_limit, else its app's task_default_rate_limit; both were checked when they were set.
      rateOf: (name) => rateLimitPerSecond(this.rateLimitOf(name)) ?? 0,
      release: ({ d, h }) => this.track(this.process(d, h).catch((err: Error) => this.report(err))),
      clock: options.clock,
      enabled: !(options.disableRateLimits ?? app.config.workerDisableRateLimits),
    });
    this.inHand = new Permits(Math.max(1, options.maxPendingResults ?? 1000));
    this.storeDelayWarningMs = options.storeDelayWarningMs ?? 10_000;
    this.accepted = acceptedContentTypes(options.acceptContent ?? app.config.acceptContent);
    this.monitoringOptions = { taskEvents: options.sendTaskEvents ?? app.config.workerSendTaskEvents, remoteControl: options.remoteControl ?? app.config.workerEnableRemoteControl };
    this.directQueue = (options.workerDirect ?? app.config.workerDirect) ? workerDirectDeclaration(this.hostname, app.config.taskQueueMaxPriority ?? undefined) : null;
  }

  /** Pids of prefork pool children (empty for other pools). */
  get childPids(): number[] {
    return this.pool instanceof ChildPool ? this.pool.pids : [];
  }

  async start(): Promise<void> {
    // The main process knows the tasks too (names, acks_late, time limits), as Celery's MainProcess does.
    await loadTaskModules(this.include);
    this.pool = this.poolKind === 'async' ? new InlinePool(this.concurrency, this.include) : new ChildPool(this.poolKind, this.concurrency, this.include);
    this.pool.on('error', (err) => this.report(err));
    let broker: Broker;
    let backend: ResultBackend | null;
    try {
      const started = await Promise.allSettled([this.app.getBroker(), this.app.config.resultBackend ? this.app.getBackend() : Promise.resolve(null), this.pool.start()]);
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      broker = (started[0] as PromiseFulfilledResult<Broker>).value;
      backend = (started[1] as PromiseFulfilledResult<ResultBackend | null>).value;
    } catch (err) {
      // A worker that cannot start leaves nothing running: no pool children keep the process alive.
      await this.pool.close(true).catch(() => undefined);
      this.pool = null;
      throw err;
    }
    this.broker = broker;
    this.backend = backend;
    // Connection trouble (lost, reconnecting, refused) is one warning line each; the adapters keep trying.
    this.onConnectionError = (err: Error) => this.log.log('warning', oneLine(err.message));
    broker.on('error', this.onConnectionError);
    backend?.on('error', this.onConnectionError);
    try {
      for (const q of this.queues) await this.app.ensureQueue(broker, q);
      if (this.directQueue) await broker.declare(this.directQueue);
      const consumed = this.directQueue ? [...this.queues, this.directQueue.name] : this.queues;
      this.consumer = await broker.consume(consumed, { prefetch: this.prefetch, tag: this.hostname }, (d) => this.onDelivery(d));
      this.monitoring = await this.startMonitoring(broker, this.pool);
    } catch (err) {
      await this.pool.close(true).catch(() => undefined);
      this.pool = null;
      throw err;
    }
    this.log.log('info', `${this.hostname} ready. (${this.poolKind} pool, concurrency ${this.concurrency}, queues ${this.queues.join(', ')}${this.directQueue ? `, direct ${this.directQueue.name}` : ''})`);
  }

  /** Remote control and events, if the broker can carry them; hooks into this worker through WorkerInternals. */
  private async startMonitoring(broker: Broker, pool: Pool): Promise<WorkerMonitoring | null> {
    const { taskEvents, remoteControl } = this.monitoringOptions;
    if (!taskEvents && !remoteControl) return null;
    const multiplier = Math.max(1, Math.round(this.prefetch / this.concurrency));
    const m = new WorkerMonitoring(
      {
        hostname: this.hostname,
        app: this.app,
        broker,
        pool,
        queues: this.queues,
        directQueue: this.directQueue,
        prefetch: () => this.prefetch,
        resizePrefetch: async (delta) => {
          this.prefetch = Math.max(multiplier, this.prefetch + delta * multiplier);
          await this.consumer?.setPrefetch(this.prefetch + this.held.size);
        },
        consume: async (queue) => {
          await this.app.ensureQueue(broker, queue);
          return broker.consume([queue], { prefetch: this.prefetch, tag: this.hostname }, (d) => this.onDelivery(d));
        },
        requestShutdown: (reason) => this.emit('shutdown', reason),
        rateLimitsEnabled: this.rateLimits.enabled,
        resetRateLimit: (task) => this.rateLimits.reset(task),
        rateLimitOf: (task) => this.rateLimitOf(task),
      },
      { taskEvents, remoteControl, version: LAB_VERSION },
    );
    m.on('warning', (msg) => this.log.log('warning', msg));
    m.on('info', (msg) => this.log.log('info', msg));
    await m.start();
    return m;
  }

  /** A task revoked before it ran: REVOKED in the backend, acked, not run (Celery's "Discarding revoked task"). */
  private discardRevoked(d: Delivery, h: ReceivedHeaders): void {
    this.log.log('info', `Discarding revoked task: ${h.task}[${h.id}]`);
    this.monitoring?.discarded(h, false);
    this.track(this.store(h, 'REVOKED', toExceptionInfo(celeryException('TaskRevokedError', 'revoked')), null).finally(() => d.ack()));
  }

  private report(err: Error): void {
    this.log.log('error', err.message);
    if (this.listenerCount('error')) this.emit('error', err);
  }

  private onDelivery(d: Delivery): void {
    if (this.stopping) {
      d.reject(true);
      return;
    }
    this.stats.received++;
    let h: ReceivedHeaders;
    try {
      h = readHeaders(d.properties.headers);
    } catch (err) {
      let id = err instanceof ProtocolError ? err.taskId : null;
      let why = (err as Error).message;
      const v1 = id ? null : protocolOneIds(d.body);
      if (v1) {
        id = v1.id;
        why = `task ${v1.task}[${v1.id}] is a Celery protocol 1 message (task_protocol=1); this worker reads protocol 2`;
      }
      this.log.log('error', `Received invalid task message: ${oneLine(why)}. The message has been acknowledged and discarded.`);
      if (id) this.track(this.storeFailure(id, celeryException('InvalidTaskError', why), null));
      this.stats.rejected++;
      d.ack();
      return;
    }
    const contentType = (d.properties.contentType || '').toLowerCase();
    // JSON is always read (lab's own default); msgpack when accept_content names it; pickle and yaml never, whatever
    // accept_content says — there is no codec for them here.
    if (!codecForContentType(contentType) || (contentType !== JSON_CONTENT_TYPE && !this.accepted.has(contentType))) {
      // Never deserialize what we do not accept (pickle, yaml): log, store the failure, drop.
      this.log.log('error', `Refusing to deserialize untrusted content of type ${contentType || '(none)'} for task ${h.task}[${h.id}]`);
      this.track(this.storeFailure(h.id, celeryException('ContentDisallowed', `Refusing to deserialize untrusted content of type ${contentType || '(none)'}`), null));
      this.stats.rejected++;
      d.ack();
      return;
    }
    if (!findTask(h.task)) {
      this.log.log('error', `Received unregistered task of type '${h.task}'. The message has been ignored and discarded.`);
      this.track(this.storeFailure(h.id, celeryException('NotRegistered', `'${h.task}'`), null));
      this.stats.rejected++;
      d.reject(false);
      return;
    }
    const now = this.clock.now();
    if (this.monitoring?.received(h, d, h.eta !== null && h.eta.getTime() > now)) {
      this.discardRevoked(d, h);
      return;
    }
    hop('received', h.id);
    if (h.eta && h.eta.getTime() > now) {
      this.log.log('info', `Received task: ${h.task}[${h.id}]  ETA:[${isoWithOffset(h.eta)}]`);
      // Held unacked until due; widen the window so held tasks do not starve the others (Celery does the same).
      // Any distance: a plain setTimeout would run a task due in more than 24.8 days at once.
      const timer = setLongTimeout(() => {
        this.held.delete(d);
        void this.consumer?.setPrefetch(this.prefetch + this.held.size).catch((e: Error) => this.report(e));
        this.run(d, h);
      }, h.eta.getTime(), this.clock);
      this.held.set(d, timer);
      void this.consumer?.setPrefetch(this.prefetch + this.held.size).catch((e: Error) => this.report(e));
      return;
    }
    this.log.log('info', `Received task: ${h.task}[${h.id}]`);
    this.run(d, h);
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  /** Run it, once its type's rate limit lets it (at once without one). */
  private run(d: Delivery, h: ReceivedHeaders): void {
    this.rateLimits.admit(h.task, { d, h });
  }

  private async process(d: Delivery, h: ReceivedHeaders): Promise<void> {
    // Waiting here leaves the delivery unacked: with every permit out, the broker keeps the rest of the queue.
    await this.inHand.take();
    try {
      await this.processInHand(d, h);
    } finally {
      this.inHand.give();
    }
  }

  private async processInHand(d: Delivery, h: ReceivedHeaders): Promise<void> {
    const task = findTask(h.task)!;
    if (h.expires && h.expires.getTime() <= Date.now()) {
      this.log.log('info', `Discarding revoked task: ${h.task}[${h.id}] (expired)`);
      await this.store(h, 'REVOKED', toExceptionInfo(celeryException('TaskRevokedError', 'expired')), null);
      this.monitoring?.discarded(h, true);
      d.ack();
      return;
    }
    // Revoked while it waited (for its ETA, or for room in hand): not run.
    if (this.monitoring?.revoked.has(h.id)) return this.discardRevoked(d, h);
    const acksLate = task.options.acksLate ?? this.app.config.taskAcksLate;
    const job: Job = {
      seq: 0,
      task: h.task,
      body: d.body,
      contentType: d.properties.contentType,
      resultSerializer: this.app.config.resultSerializer,
      request: {
        id: h.id,
        task: h.task,
        retries: h.retries,
        eta: h.eta ? isoWithOffset(h.eta) : null,
        expires: h.expires ? isoWithOffset(h.expires) : null,
        group: h.group,
        groupIndex: h.groupIndex,
        rootId: h.rootId,
        parentId: h.parentId,
        hostname: this.hostname,
        deliveryInfo: { queue: d.queue, redelivered: d.redelivered },
      },
      hardTimeLimit: h.timeLimit[0] ?? task.options.timeLimit ?? this.app.config.taskTimeLimit,
      softTimeLimit: h.timeLimit[1] ?? task.options.softTimeLimit ?? this.app.config.taskSoftTimeLimit,
    };
    job.seq = nextSeq++;
    this.stats.active++;
    let outcome: JobOutcome;
    try {
      // Acked when a pool slot takes it, as Celery does — not on arrival: the prefetch window then really bounds what
      // this worker holds, and a task still waiting for a slot goes back to the queue if the worker dies.
      const ack = acksLate ? undefined : () => d.ack();
      outcome = await this.pool!.run(job, this.monitoring ? this.monitoring.starting(h, job, ack) : ack);
      hop('ran', h.id);
    } finally {
      this.stats.active--;
    }
    if (this.cold) return;
    this.monitoring?.finished(h, outcome);
    // When the task ran, by this host's clock (epoch seconds, like Python's time.time()): kept in the result so a
    // master can tell queue wait, compute and result transfer apart. Python peers ignore the extra keys.
    const finished = Date.now();
    const timing = { lab_started: (finished - outcome.runtimeMs) / 1000, lab_finished: finished / 1000, worker: this.hostname };
    const ignore = h.ignoreResult || (task.options.ignoreResult ?? this.app.config.taskIgnoreResult);
    switch (outcome.kind) {
      case 'success': {
        this.stats.succeeded++;
        if (this.log.enabled('info')) {
          const shown = outcome.repr ?? (outcome.resultJson.length < 4096 ? pyRepr(new EncodedResult(outcome.resultJson, outcome.resultMsgpack).value()) : `${outcome.resultJson.slice(0, 1021)}...`);
          this.log.log('info', `Task ${h.task}[${h.id}] succeeded in ${(outcome.runtimeMs / 1000).toPrecision(6)}s: ${shown}`);
        }
        const encoded = new EncodedResult(outcome.resultJson, outcome.resultMsgpack);
        if (!ignore) {
          await this.store(h, 'SUCCESS', encoded, null, timing);
          hop('stored', h.id);
        }
        await this.continueCanvas(h, outcome.embed, encoded);
        break;
      }
      case 'failure': {
        this.stats.failed++;
        this.log.log('error', `Task ${h.task}[${h.id}] raised unexpected: ${excRepr(outcome.exc)}${outcome.traceback ? `\n${outcome.traceback}` : ''}`);
        await this.store(h, 'FAILURE', outcome.exc, outcome.traceback, timing);
        await this.failCanvas(h, outcome.embed, outcome.exc);
        break;
      }
      case 'retry': {
        this.stats.retried++;
        const eta = outcome.eta ? new Date(outcome.eta) : new Date(Date.now() + outcome.countdown * 1000);
        this.log.log('info', `Task ${h.task}[${h.id}] retry: Retry in ${outcome.countdown}s${outcome.exc ? `: ${excRepr(outcome.exc)}` : ''}`);
        await this.republishForRetry(d, h, eta);
        await this.store(h, 'RETRY', outcome.exc ?? toExceptionInfo(celeryException('Retry', `Retry in ${outcome.countdown}s`)), null);
        break;
      }
      case 'expired': {
        // It expired while waiting for a slot (prefetched behind busy ones): revoked, as on arrival.
        this.log.log('info', `Discarding revoked task: ${h.task}[${h.id}] (expired)`);
        await this.store(h, 'REVOKED', toExceptionInfo(celeryException('TaskRevokedError', 'expired')), null);
        break;
      }
      case 'lost': {
        const signal = this.monitoring?.terminatedBy(h.id);
        if (signal) {
          // revoke --terminate: REVOKED, as Celery marks a terminated task.
          this.log.log('info', `Task ${h.task}[${h.id}] terminated (${signal})`);
          await this.store(h, 'REVOKED', toExceptionInfo(celeryException('TaskRevokedError', 'terminated')), null);
          break;
        }
        if (acksLate && (task.options.rejectOnWorkerLost ?? this.app.config.taskRejectOnWorkerLost)) {
          this.log.log('warning', `Task ${h.task}[${h.id}]: ${outcome.exc.exc_type}; returned to the queue`);
          d.reject(true);
          return;
        }
        this.stats.failed++;
        this.log.log('error', `Task handler raised error: ${excRepr(outcome.exc)}`);
        await this.store(h, 'FAILURE', outcome.exc, null);
        break;
      }
    }
    if (acksLate) d.ack();
  }

  private async store(h: ReceivedHeaders, status: TaskState, result: unknown, traceback: string | null, extra: Record<string, unknown> = {}): Promise<void> {
    if (!this.backend) return;
    const meta: TaskMeta = { status, result, traceback, children: [], date_done: status === 'RETRY' ? null : dateDone(), task_id: h.id, ...extra };
    if (h.group) meta.group_id = h.group;
    if (h.parentId) meta.parent_id = h.parentId;
    try {
      await this.waitingForBackend(this.backend.store(meta, { expiresSeconds: this.appOf(h.task).config.resultExpires, untilStored: true, serializer: this.app.config.resultSerializer }));
    } catch (err) {
      this.report(new Error(`could not store the ${status} result of ${h.task}[${h.id}]: ${(err as Error).message}`));
    }
  }

  /**
   * A result store that takes long is not an error — the backend is away and the write is kept until it is back —
   * so it is said once per outage (a warning with what waits), and once more when the delayed results got through.
   */
  private async waitingForBackend<T>(store: Promise<T>): Promise<T> {
    let delayed = false;
    const timer = setTimeout(() => {
      delayed = true;
      if (this.delayedStores++ === 0) {
        this.log.log('warning', `the result backend has not answered for ${Math.round(this.storeDelayWarningMs / 1000)} s: results wait to be stored and will be when it is back (${this.inHand.used} tasks in hand; at ${this.inHand.size} the worker takes no new ones)`);
      }
    }, this.storeDelayWarningMs);
    timer.unref();
    try {
      return await store;
    } finally {
      clearTimeout(timer);
      if (delayed) {
        this.delayedTotal++;
        if (--this.delayedStores === 0) {
          this.log.log('warning', `the result backend is back: ${this.delayedTotal} delayed result${this.delayedTotal === 1 ? '' : 's'} stored`);
          this.delayedTotal = 0;
        }
      }
    }
  }

  private async storeFailure(id: string, err: Error, traceback: string | null, taskName: string | null = null): Promise<void> {
    if (!this.backend) return;
    try {
      await this.waitingForBackend(this.backend.store(failureMeta(id, toExceptionInfo(err), traceback), { expiresSeconds: this.appOf(taskName).config.resultExpires, untilStored: true, serializer: this.app.config.resultSerializer }));
    } catch (e) {
      this.report(new Error(`could not store the failure of task ${id}: ${(e as Error).message}`));
    }
  }

  /** Same id, retries + 1, new ETA, same queue and priority (Celery's Task.retry). */
  private async republishForRetry(d: Delivery, h: ReceivedHeaders, eta: Date): Promise<void> {
    const headers = { ...h.raw, retries: h.retries + 1, eta: isoWithOffset(eta) };
    const properties = { ...d.properties, headers };
    // The per-message TTL counts from this publish: what is left of the task's expiry, not the original span again.
    if (h.expires) properties.expiration = String(Math.max(0, h.expires.getTime() - Date.now()));
    else delete properties.expiration;
    await this.app.publish({ body: d.body, properties }, { queue: d.queue, exchange: '', routingKey: d.queue });
  }

  /** Send a continuation; `prepend` is the parent's result, given to a mutable signature as its first argument. */
  private async send(sig: SignatureDict, prepend: EncodedResult | null, h: ReceivedHeaders, extra: { chain?: SignatureDict[] | null } = {}): Promise<void> {
    const s = signatureFromDict(this.app, sig);
    const args = s.immutable || prepend === null ? s.args : [prepend.value(), ...s.args];
    const options = { ...s.options, parentId: h.id, rootId: h.rootId };
    const route = this.routerFor(s.task, h.task).route(s.task, options);
    const { message } = this.app.buildMessage(s.task, args, s.kwargs, { ...options, priority: route.priority }, { chain: extra.chain ?? null });
    await this.app.publish(message, route);
  }

  /**
   * Whose routing settings place a continuation (chain link, callback, chord body): the app that registered that
   * task, else the app of the task that just ran, else the worker's own — as a Celery worker routes with the
   * configuration of the app it was started with (-A), which is where a -A module's task_default_queue lives.
   */
  private routerFor(next: string, current: string): App {
    const owner = findTask(next)?.sender ?? findTask(current)?.sender;
    return owner instanceof App ? owner : this.app;
  }

  /** A task's rate_limit, else its app's task_default_rate_limit (both were checked when they were set). */
  private rateLimitOf(name: string): RateLimit {
    return findTask(name)?.options.rateLimit ?? this.appOf(name).config.taskDefaultRateLimit;
  }

  /** The app that registered a task (its result_expires applies to the task's results), else the worker's. */
  private appOf(taskName: string | null): App {
    const owner = taskName ? findTask(taskName)?.sender : undefined;
    return owner instanceof App ? owner : this.app;
  }

  private async continueCanvas(h: ReceivedHeaders, embed: Embed | null, result: EncodedResult): Promise<void> {
    try {
      if (embed?.callbacks) for (const cb of embed.callbacks) await this.send(cb, result, h);
      if (embed?.chain?.length) {
        const chain = [...embed.chain];
        const next = chain.pop()!;
        await this.send(next, result, h, { chain: chain.length ? chain : null });
      }
      if (embed?.chord && h.group) await this.joinChord(h, embed.chord, 'SUCCESS', result.value());
    } catch (err) {
      this.report(new Error(`could not continue the canvas after ${h.task}[${h.id}]: ${(err as Error).message}`));
    }
  }

  private async failCanvas(h: ReceivedHeaders, embed: Embed | null, exc: ExceptionInfo): Promise<void> {
    try {
      if (embed?.errbacks) for (const eb of embed.errbacks) await this.send({ ...eb, args: [h.id, ...(eb.args ?? [])], immutable: true }, null, h);
      // A failed link in a chain fails every later task of it, as in Celery.
      if (embed?.chain?.length) {
        for (const s of embed.chain) {
          const id = typeof s.options?.task_id === 'string' ? s.options.task_id : null;
          if (id) await this.storeFailure(id, celeryException('ChainError', `Dependency ${h.id} raised ${exc.exc_type}: ${formatExcMessage(exc.exc_message)}`), null, s.task);
        }
      }
      if (embed?.chord && h.group) await this.joinChord(h, embed.chord, 'FAILURE', exc);
    } catch (err) {
      this.report(new Error(`could not propagate the failure of ${h.task}[${h.id}]: ${(err as Error).message}`));
    }
  }

  private async joinChord(h: ReceivedHeaders, body: SignatureDict, state: TaskState, result: unknown): Promise<void> {
    if (!this.backend) return;
    const parts = await this.backend.chordJoin(h.group!, { index: h.groupIndex ?? 0, taskId: h.id, state, result }, { expiresSeconds: this.appOf(h.task).config.resultExpires, serializer: this.app.config.resultSerializer });
    if (!parts) return;
    const bodyId = typeof body.options?.task_id === 'string' ? body.options.task_id : null;
    const failed = parts.find((p) => p.state !== 'SUCCESS');
    if (failed) {
      const exc = failed.result as ExceptionInfo;
      const why = exc && typeof exc === 'object' && 'exc_type' in exc ? excRepr(exc) : failed.state;
      if (bodyId) await this.storeFailure(bodyId, celeryException('ChordError', `Dependency ${failed.taskId} raised ${why}`), null, body.task);
      return;
    }
    // msgpack carries every value a part may hold (bytes, NaN) unchanged to the body's first argument.
    await this.send(body, new EncodedResult('', encodeMsgpack(parts.map((p) => p.result))), h);
  }

  /**
   * Warm shutdown (default): stop taking messages, return held ETA tasks to the queue, finish what runs, then close.
   * Cold (warm=false): let go of the broker first — every unacked message (acks_late tasks, held ETA tasks) goes
   * back to the queue for another worker — then kill the pool; nothing more is stored or acked by this worker.
   */
  async stop({ warm = true }: { warm?: boolean } = {}): Promise<void> {
    if (this.stopping && warm) return;
    this.stopping = true;
    const monitoring = this.monitoring;
    this.monitoring = null;
    await monitoring?.stop();
    for (const timer of this.held.values()) timer.clear();
    if (warm) {
      // No new deliveries; what this worker holds stays its own to finish (or, for ETA tasks, to hand back).
      await this.consumer?.pause().catch((e: Error) => this.report(e));
      for (const d of this.held.keys()) d.reject(true);
      this.held.clear();
      for (const { d } of this.rateLimits.drain()) d.reject(true);
      while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
      await this.pool?.close(false);
      await this.consumer?.cancel().catch((e: Error) => this.report(e));
    } else {
      this.cold = true;
      this.held.clear();
      this.rateLimits.drain();
      await this.consumer?.cancel().catch((e: Error) => this.report(e));
      await this.pool?.close(true);
    }
    this.consumer = null;
    if (this.onConnectionError) {
      this.broker?.off('error', this.onConnectionError);
      this.backend?.off('error', this.onConnectionError);
      this.onConnectionError = null;
    }
    this.log.log('info', `${this.hostname} stopped (${warm ? 'warm' : 'cold'} shutdown).`);
  }
}

let nextSeq = 1;
/** For worker events' sw_ver and `report`. */
const LAB_VERSION = '0.1.0';

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

/** A protocol 1 message keeps task and id in a JSON body: {"task": …, "id": …, "args": …}. Small bodies only. */
function protocolOneIds(body: Buffer): { task: string; id: string } | null {
  if (body.length > 1_000_000 || body[0] !== 0x7b) return null;
  try {
    const v = decodeJson(body.toString('utf8')) as { task?: unknown; id?: unknown } | null;
    return v && typeof v.task === 'string' && typeof v.id === 'string' ? { task: v.task, id: v.id } : null;
  } catch {
    return null;
  }
}
