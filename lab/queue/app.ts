/**
 * The Celery-shaped application: a name, a configuration, a task registry, and the client side of sending.
 * Constructing an App connects nothing; the broker and backend are opened on first use.
 */
import { pathToFileURL } from 'node:url';
import { performance } from 'node:perf_hooks';
import { isAbsolute, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { applyConfig, defaultConfig } from './config.js';
import type { AppConfig, RouteSpec } from './config.js';
import { buildTaskMessage, newTaskId } from './protocol.js';
import type { Message, SignatureDict } from './protocol.js';
import { AsyncResult, GroupResult } from './result.js';
import { Task } from './task.js';
import type { TaskFn, TaskOptions } from './task.js';
import type { Signature } from './canvas.js';
import type { SendOptions, Sender } from './send-options.js';
import type { Broker, Route } from './broker.js';
import type { ResultBackend } from './backend.js';
import { createBackend, createBroker } from './transports.js';
import type { MemoryTransports } from './memory-transports.js';
import { findTask, registerApp } from './shared-registry.js';
import { sendSentEvent } from './events/sent-event.js';
import { workerDirectOf } from './worker-direct.js';

export interface AppOptions {
  broker?: string;
  backend?: string | null;
  /** Modules a worker pool imports to find this app's tasks (paths or file: URLs). */
  include?: (string | URL)[];
  /** Celery settings by any of their names (broker_url, CELERY_ROUTES, taskAcksLate…). */
  config?: Record<string, unknown>;
  /** The embedded lab's transports, where this app's memory:// URLs live (see useMemoryTransports). */
  memory?: MemoryTransports;
}

/** How a group was sent, for phase breakdowns: encoding time, the whole send, when each member left (epoch ms). */
export interface SendTimings {
  encodeMs: number;
  /** From the first encode to the last publisher confirm. */
  sendMs: number;
  handedAt: number[];
}
/** Above this body size a group member is handed to the broker before the next member is encoded. */
const LARGE_MESSAGE_BYTES = 64 * 1024;
/**
 * Group members sent but not yet confirmed, at most: the next one is encoded once the oldest is confirmed, so a
 * group of 100,000 never holds 100,000 encoded messages at once (the client's memory grew with the group's size).
 * Twice the AMQP adapter's confirm window, so the broker connection always has the next ones ready.
 */
const GROUP_SEND_WINDOW = 2_000;

const noop = (): void => undefined;

function isMemoryUrl(url: string): boolean {
  return /^memory:/i.test(url);
}

export function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (/^file:/.test(m)) return m;
  return pathToFileURL(isAbsolute(m) ? m : resolve(m)).href;
}

export class App implements Sender {
  readonly main: string;
  config: AppConfig;
  readonly tasks = new Map<string, Task>();
  #broker: Promise<Broker> | null = null;
  #backend: Promise<ResultBackend> | null = null;
  #declared = new Map<string, Promise<void>>();
  #memory: MemoryTransports | null = null;

  constructor(main: string, options: AppOptions = {}) {
    this.main = main;
    let config = defaultConfig();
    if (options.config) config = applyConfig(config, options.config);
    if (options.broker !== undefined) config.brokerUrl = options.broker;
    if (options.backend !== undefined) config.resultBackend = options.backend;
    if (options.include) config.include = options.include.map(moduleUrl);
    this.config = config;
    this.#memory = options.memory ?? null;
    registerApp(this);
  }

  /**
   * Bind the embedded lab's transports: this app's memory:// URLs name that hub's broker and backend (without a hub,
   * memory:// is a UrlError). Binding another hub (a new embedded lab in this process) lets go of the memory
   * connections of the previous one; they belong to their hub, which closes them.
   */
  useMemoryTransports(hub: MemoryTransports): this {
    if (hub === this.#memory) return this;
    this.#memory = hub;
    if (isMemoryUrl(this.config.brokerUrl)) {
      this.#broker = null;
      this.#declared.clear();
    }
    if (this.config.resultBackend && isMemoryUrl(this.config.resultBackend)) this.#backend = null;
    return this;
  }

  /** Celery's config_from_object: settings from an object (any of Celery's spellings). Call before first use. */
  configFromObject(obj: Record<string, unknown>, source?: string): this {
    const next = applyConfig(this.config, obj, source);
    const moved = next.brokerUrl !== this.config.brokerUrl || next.resultBackend !== this.config.resultBackend;
    if (moved && (this.#broker || this.#backend)) throw new ConfigError('change the broker or backend URL before the app sends or receives (its connections are open)', { field: 'configFromObject' });
    this.config = next;
    return this;
  }

  /**
   * The book's `app.config_from_object('config')`: settings from a module of yours — its default export when it
   * has an object one, else its named exports (`export const BROKER_URL = 'amqp://HOST1'`). Errors name the file.
   */
  async configFromModule(specifier: string | URL): Promise<this> {
    const url = moduleUrl(specifier);
    let mod: Record<string, unknown>;
    try {
      mod = (await import(url)) as Record<string, unknown>;
    } catch (err) {
      throw new ConfigError(`cannot load the config module: ${(err as Error).message.split('\n')[0]}`, { file: url });
    }
    const def = mod.default;
    const settings = def && typeof def === 'object' && !Array.isArray(def) ? (def as Record<string, unknown>) : Object.fromEntries(Object.entries(mod).filter(([k]) => k !== 'default'));
    return this.configFromObject(settings, url);
  }

  /** Register a task under a string name (the name Python peers use: "mergesort.sort"). */
  task<F extends TaskFn>(name: string, fn: F, options: TaskOptions = {}): Task<F> {
    if (!name || typeof name !== 'string') throw new ConfigError('a task needs a non-empty string name', { field: 'task' });
    const t = new Task<F>(this, name, fn, options);
    this.tasks.set(name, t as unknown as Task);
    return t;
  }

  getBroker(): Promise<Broker> {
    this.#broker ??= (async () => {
      const b = await createBroker(this.config.brokerUrl, { memory: this.#memory, transportOptions: this.config.brokerTransportOptions });
      await b.ready();
      return b;
    })();
    // A failed connect is not cached: the next call tries again.
    this.#broker.catch(() => {
      this.#broker = null;
    });
    return this.#broker;
  }

  getBackend(): Promise<ResultBackend> {
    const url = this.config.resultBackend;
    if (!url) return Promise.reject(new ConfigError('this app has no result backend; results cannot be read', { field: 'result_backend' }));
    this.#backend ??= (async () => {
      const b = await createBackend(url, { memory: this.#memory });
      await b.ready();
      return b;
    })();
    this.#backend.catch(() => {
      this.#backend = null;
    });
    return this.#backend;
  }

  /** Close the connections this app opened (memory transports belong to their hub and stay open). */
  async close(): Promise<void> {
    const [broker, backend] = [this.#broker, this.#backend];
    this.#broker = this.#backend = null;
    this.#declared.clear();
    const closing: Promise<void>[] = [];
    for (const p of [broker, backend]) {
      if (!p) continue;
      closing.push(
        p.then(
          (c) => (c.kind === 'memory' ? undefined : c.close()),
          () => undefined,
        ),
      );
    }
    await Promise.all(closing);
  }

  /** Where a task goes: explicit options, then the task's own queue, then task_routes, then the default queue. */
  route(name: string, options: SendOptions = {}): Route & { priority?: number } {
    const fromRoutes: RouteSpec | undefined = this.config.taskRoutes[name] ?? this.matchGlobRoute(name);
    const queue = options.queue ?? this.tasks.get(name)?.options.queue ?? fromRoutes?.queue ?? this.config.taskDefaultQueue;
    const exchange = options.exchange ?? (options.queue ? undefined : fromRoutes?.exchange);
    const routingKey = options.routingKey ?? (options.queue ? undefined : fromRoutes?.routingKey);
    return { queue, exchange: exchange ?? '', routingKey: routingKey ?? queue, priority: options.priority ?? fromRoutes?.priority };
  }

  private matchGlobRoute(name: string): RouteSpec | undefined {
    for (const [pattern, spec] of Object.entries(this.config.taskRoutes)) {
      if (!pattern.includes('*')) continue;
      const re = new RegExp(`^${pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
      if (re.test(name)) return spec;
    }
    return undefined;
  }

  /**
   * Declare a queue the way Celery does (durable, bound to a direct exchange of its name; a worker-direct queue to
   * C.dq2), once per connection.
   */
  ensureQueue(broker: Broker, queue: string, route?: Route): Promise<void> {
    let p = this.#declared.get(queue);
    if (!p) {
      const maxPriority = this.config.taskQueueMaxPriority ?? undefined;
      // a task sent to one worker (worker_direct): its queue is bound to C.dq2, as that worker declares it
      const direct = route ? workerDirectOf(route, maxPriority) : null;
      p = broker.declare(direct ?? { name: queue, exchange: queue, routingKey: queue, maxPriority });
      this.#declared.set(queue, p);
      p.catch(() => this.#declared.delete(queue));
    }
    return p;
  }

  /** A task's definition: this app's, else any app's in the process (a worker's tasks live in the -A modules' apps). */
  private definition(name: string): Task | undefined {
    return this.tasks.get(name) ?? findTask(name);
  }

  private wantsResult(name: string, options: SendOptions): boolean {
    if (!this.config.resultBackend) return false;
    return !(options.ignoreResult ?? this.definition(name)?.options.ignoreResult ?? this.config.taskIgnoreResult);
  }

  /** Build the protocol message for one task send. */
  buildMessage(name: string, args: unknown[], kwargs: Record<string, unknown>, options: SendOptions, extra: { chord?: SignatureDict | null; chain?: SignatureDict[] | null } = {}): { id: string; message: Message } {
    const id = options.taskId ?? newTaskId();
    const task = this.definition(name);
    const hard = options.timeLimit ?? task?.options.timeLimit ?? null;
    const soft = options.softTimeLimit ?? task?.options.softTimeLimit ?? null;
    const expires = options.expires === undefined ? null : options.expires instanceof Date ? options.expires : new Date(Date.now() + options.expires * 1000);
    const message = buildTaskMessage(name, {
      id,
      args,
      kwargs,
      eta: options.eta ?? null,
      countdownSeconds: options.countdown,
      expires,
      retries: options.retries,
      timeLimit: [hard, soft],
      group: options.groupId ?? null,
      groupIndex: options.groupIndex ?? null,
      rootId: options.rootId ?? null,
      parentId: options.parentId ?? null,
      priority: options.priority,
      ignoreResult: !this.wantsResult(name, options),
      extraHeaders: options.headers,
      serializer: options.serializer ?? task?.options.serializer ?? this.config.taskSerializer,
      embed: {
        callbacks: options.link?.length ? options.link.map((s) => s.toDict()) : null,
        errbacks: options.linkError?.length ? options.linkError.map((s) => s.toDict()) : null,
        chord: extra.chord ?? null,
        chain: extra.chain ?? null,
      },
    });
    return { id, message };
  }

  /**
   * Hand a built message to the broker (connecting and declaring its queue first). Resolves once the broker
   * connection has it; `confirmed` settles with the broker's publisher confirm (or the reason it never came).
   */
  async dispatch(message: Message, route: Route): Promise<{ confirmed: Promise<void> }> {
    const broker = await this.getBroker();
    await this.ensureQueue(broker, route.queue, route);
    const confirmed = broker.publish(message, route);
    confirmed.catch(() => undefined); // observed by whoever holds it (AsyncResult.sent, publish())
    if (this.config.taskSendSentEvent) void sendSentEvent(broker, message, route);
    return { confirmed };
  }

  /** Publish a built message on its route and wait for the broker's confirm. */
  async publish(message: Message, route: Route): Promise<void> {
    await (await this.dispatch(message, route)).confirmed;
  }

  /**
   * Send a task. Resolves once the broker has taken responsibility for it (its publisher confirm): a task whose
   * send failed is an error here, never a silent loss — even for a caller that never asks for the result.
   * (Resolving before the confirm would save about 0.5 ms per call on RabbitMQ; bench/runtime.ts measures both.)
   */
  async sendTask<R = unknown>(name: string, args: unknown[] = [], kwargs: Record<string, unknown> = {}, options: SendOptions = {}): Promise<AsyncResult<R>> {
    const { id, confirmed } = await this.sendRaw(name, args, kwargs, options);
    await confirmed;
    return new AsyncResult<R>(id, this, name, null, confirmed);
  }

  private async sendRaw(name: string, args: unknown[], kwargs: Record<string, unknown>, options: SendOptions, extra: { chord?: SignatureDict | null; chain?: SignatureDict[] | null } = {}, watch = true): Promise<{ id: string; confirmed: Promise<void> }> {
    const route = this.route(name, options);
    const { id, message } = this.buildMessage(name, args, kwargs, { ...options, priority: route.priority }, extra);
    if (watch && this.wantsResult(name, options)) {
      const backend = await this.getBackend();
      // Not awaited: wait() makes sure the subscription is active and then reads the key once, so a result stored
      // before the SUBSCRIBE took effect is found all the same — and the SUBSCRIBE overlaps the publish.
      const subscribed = backend.watch([id]);
      if (subscribed) subscribed.catch(() => undefined);
    }
    const { confirmed } = await this.dispatch(message, route);
    return { id, confirmed };
  }

  async sendGroup<R>(tasks: Signature<R>[], options: SendOptions = {}): Promise<GroupResult<R>> {
    const groupId = options.groupId ?? newTaskId();
    const frozen = tasks.map((t) => t.freeze());
    const ids = frozen.map((t) => t.options.taskId as string);
    const watched = !!this.config.resultBackend;
    if (watched) await (await this.getBackend()).watch(ids);
    // Small messages are published all at once (the adapter pipelines them: a window of publisher confirms).
    // After a large one the event loop gets a turn before the next is encoded, so the transport moves it (and a
    // worker starts on it) while the master encodes the rest — without waiting for its publisher confirm.
    const sent: Promise<unknown>[] = [];
    let oldest = 0;
    const timings: SendTimings = { encodeMs: 0, sendMs: 0, handedAt: [] };
    const t0 = performance.now();
    for (const [i, t] of frozen.entries()) {
      // Settled is enough here (a failure is reported by Promise.all below, as for any member).
      if (i - oldest >= GROUP_SEND_WINDOW) await sent[oldest++].then(noop, noop);
      const o: SendOptions = { ...t.options, ...options, taskId: ids[i], groupId, groupIndex: i };
      const route = this.route(t.task, o);
      const e0 = performance.now();
      const { message } = this.buildMessage(t.task, t.args, t.kwargs, { ...o, priority: route.priority });
      timings.encodeMs += performance.now() - e0;
      const p = this.publish(message, route);
      // Observed now: if a later member fails to encode, the ones already sent must not reject unheard.
      p.catch(() => undefined);
      sent.push(p);
      if (message.body.length >= LARGE_MESSAGE_BYTES) await new Promise<void>((r) => setImmediate(r));
      timings.handedAt.push(Date.now());
    }
    await Promise.all(sent);
    timings.sendMs = performance.now() - t0;
    return new GroupResult<R>(
      groupId,
      frozen.map((t, i) => new AsyncResult<R>(ids[i], this, t.task, null, undefined, watched)),
      this,
      null,
      timings,
    );
  }

  async sendChain<R>(tasks: Signature[], args: unknown[] = [], options: SendOptions = {}): Promise<AsyncResult<R>> {
    const frozen = tasks.map((t) => t.freeze());
    const [first, ...rest] = frozen;
    const last = frozen[frozen.length - 1];
    const rootId = first.options.taskId as string;
    const chainDicts = rest.map((s) => ({ ...s.toDict(), options: { ...s.toDict().options, root_id: rootId } })).reverse();
    const lastId = last.options.taskId as string;
    if (this.wantsResult(last.task, last.options)) await (await this.getBackend()).watch([lastId]);
    const firstArgs = first.immutable ? first.args : [...args, ...first.args];
    const { confirmed } = await this.sendRaw(first.task, firstArgs, first.kwargs, { ...first.options, ...options, taskId: rootId, rootId }, { chain: chainDicts.length ? chainDicts : null }, false);
    await confirmed; // as sendTask: resolved means the broker has it
    return new AsyncResult<R>(lastId, this, last.task, null, confirmed);
  }

  async sendChord<R>(header: Signature[], body: Signature<R>, options: SendOptions = {}): Promise<AsyncResult<R>> {
    const groupId = options.groupId ?? newTaskId();
    const frozenBody = body.freeze();
    const bodyId = frozenBody.options.taskId as string;
    const backend = await this.getBackend();
    await backend.watch([bodyId]);
    // The size goes in before any header task can finish, so the last one to finish always sees it.
    await backend.chordSetSize(groupId, header.length, { expiresSeconds: this.config.resultExpires });
    const bodyDict = frozenBody.toDict();
    const sends = await Promise.all(
      header.map((h, i) => {
        const f = h.freeze();
        return this.sendRaw(f.task, f.args, f.kwargs, { ...f.options, ...options, groupId, groupIndex: i }, { chord: bodyDict }, false);
      }),
    );
    const confirmed = Promise.all(sends.map((x) => x.confirmed)).then(() => undefined);
    await confirmed; // as sendTask: resolved means the broker has every header task
    return new AsyncResult<R>(bodyId, this, frozenBody.task, null, confirmed);
  }

  asyncResult<R = unknown>(id: string): AsyncResult<R> {
    return new AsyncResult<R>(id, this);
  }
}
