/**
 * The Redis broker adapter: kombu's Redis transport (the envelope, lists and ack emulation in redis-envelope.ts), so
 * Python Celery with broker='redis://…' and lab clients and workers serve each other. Nothing ioredis-typed leaves
 * brokers/: beside this file, redis-consumer.ts (one consumer's blocking connection and its unacked messages).
 *
 * What Redis does not do, said in `features`: no per-message TTL (the worker revokes an expired task instead), no
 * consumer counts, priorities served 0 first (kombu's order), no declaration checks. An unacked message of a
 * consumer that vanished (a killed worker) comes back after the visibility timeout (kombu's default 1 h; the
 * transport option `visibility_timeout`), restored by any consumer of the same Redis.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from '../../vendor/ioredis.js';
import type { RedisOptions } from 'ioredis';
import { maskUrl } from '../../errors.js';
import { backoffDelay, backoffPolicy } from '../../backoff.js';
import type { BackoffPolicy } from '../../backoff.js';
import { BrokerError } from '../errors.js';
import { ConnectionBase } from '../connection.js';
import type { Broker, BrokerFeatures, ConsumeOptions, Consumer, DeliveryHandler, ExchangeDeclaration, QueueDeclaration, QueueStats, Route } from '../broker.js';
import { RedisFanoutConsumer, fanoutTopic, subscribeTopic } from './redis-fanout.js';
import type { Message } from '../protocol.js';
import { parseRedisUrl } from '../backends/redis-url.js';
import type { RedisTarget } from '../backends/redis-url.js';
import {
  DEFAULT_VISIBILITY_TIMEOUT_S,
  UNACKED,
  UNACKED_INDEX,
  UNACKED_MUTEX,
  bindingKey,
  bindingMember,
  listFor,
  listsOf,
  markRedelivered,
  parseEnvelope,
  routeDirect,
  toEnvelope,
} from './redis-envelope.js';
import type { Envelope } from './redis-envelope.js';
import { RedisConsumer } from './redis-consumer.js';
import type { ConsumerHost } from './redis-consumer.js';

export interface RedisBrokerOptions {
  /** Seconds before an unacked message of a vanished consumer is restored (kombu's visibility_timeout; 3600). */
  visibilityTimeoutS?: number;
  /** Bound on the first connect. Default 5 s, or the URL's ?socket_connect_timeout=. */
  connectTimeoutMs?: number;
  /** How long a publish or queue operation may wait through an outage before E_BROKER_UNAVAILABLE. Default 10 s. */
  commandWaitMs?: number;
  backoff?: Partial<BackoffPolicy>;
}

const REDIS_FEATURES: BrokerFeatures = { messageTtl: false, consumerCount: false, priority: 'low-first', strictDeclare: false };

/**
 * Requeue one unacked message exactly once: only the caller that removes it from `unacked` pushes it back (a
 * consumer's reject and another consumer's visibility restore may race for it).
 * KEYS[1] unacked hash, KEYS[2] unacked_index zset, KEYS[3..] the lists to push to.
 * ARGV[1] delivery tag, ARGV[2] the envelope JSON, ARGV[3] 'left' (LPUSH: the back of the queue) or 'right' (RPUSH: its head).
 */
const REQUEUE_LUA = `
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
for i = 3, #KEYS do
  if ARGV[3] == 'left' then redis.call('LPUSH', KEYS[i], ARGV[2]) else redis.call('RPUSH', KEYS[i], ARGV[2]) end
end
return 1`;

interface RedisBrokerCommands {
  labRequeue(...args: string[]): Promise<number>;
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

export class RedisBroker extends ConnectionBase implements Broker {
  readonly kind = 'redis';
  readonly features = REDIS_FEATURES;
  readonly displayUrl: string;
  readonly #target: RedisTarget;
  readonly #connectTimeoutMs: number;
  readonly #commandWaitMs: number;
  readonly #backoff: BackoffPolicy;
  readonly #visibilityTimeoutS: number;
  readonly #name = `lab-broker-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  #cmd: (Redis & RedisBrokerCommands) | null = null;
  #connecting: Promise<void> | null = null;
  #everReady = false;
  #closing = false;
  #closed: Promise<void> | null = null;
  #outageReported = false;
  readonly #consumers = new Set<RedisConsumer>();
  readonly #fanoutConsumers = new Set<RedisFanoutConsumer>();
  /** Exchanges routed by PUBLISH (fanout; topic too, as Celery makes celeryev fanout on Redis). */
  readonly #fanout = new Set<string>();
  /** Queues bound to such an exchange: what they subscribe to. */
  readonly #fanoutQueues = new Map<string, { exchange: string; routingKey: string }>();
  /** Queues bound to a shared direct exchange (reply.celery.pidbox, C.dq2): their binding goes with them. */
  readonly #directBindings = new Map<string, { exchange: string; routingKey: string }>();
  #restoreTimer: NodeJS.Timeout | null = null;

  constructor(url: string, options: RedisBrokerOptions = {}) {
    super();
    this.displayUrl = maskUrl(url);
    this.#target = parseRedisUrl(url);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? this.#target.connectTimeoutMs ?? 5_000;
    this.#commandWaitMs = options.commandWaitMs ?? this.#target.socketTimeoutMs ?? 10_000;
    this.#backoff = backoffPolicy(options.backoff);
    this.#visibilityTimeoutS = options.visibilityTimeoutS ?? DEFAULT_VISIBILITY_TIMEOUT_S;
  }

  // ---------------------------------------------------------------- lifecycle

  ready(): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError());
    if (this.#everReady) return Promise.resolve();
    this.#connecting ??= this.#firstConnect();
    return this.#connecting;
  }

  /** A new connection to the same Redis (the command connection; each consumer's blocking one). */
  #client(name: string, autoPipeline: boolean): Redis {
    const t = this.#target;
    const options: RedisOptions = {
      host: t.host,
      port: t.port,
      db: t.db,
      lazyConnect: true,
      connectTimeout: this.#connectTimeoutMs,
      connectionName: name,
      enableOfflineQueue: true,
      disconnectTimeout: 300,
      maxRetriesPerRequest: null,
      retryStrategy: (times: number) => (this.#everReady && !this.#closing ? backoffDelay(times - 1, this.#backoff) : null),
    };
    if (autoPipeline) options.enableAutoPipelining = true;
    if (t.username !== undefined) options.username = t.username;
    if (t.password !== undefined) options.password = t.password;
    if (t.tls) options.tls = { servername: t.host };
    return new Redis(options);
  }

  async #firstConnect(): Promise<void> {
    this.setStatus('connecting');
    const cmd = this.#client(this.#name, true) as Redis & RedisBrokerCommands;
    cmd.defineCommand('labRequeue', { lua: REQUEUE_LUA });
    const errors: Error[] = [];
    const collect = (err: Error): void => void errors.push(err);
    cmd.on('error', collect);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        cmd.connect(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs + 250))),
      ]);
      if (this.#closing) throw this.#closedError();
    } catch (err) {
      cmd.disconnect();
      this.#connecting = null;
      if (!this.#closing) this.setStatus('idle');
      throw this.#connectError(errors.find((e) => /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(e.message)) ?? errors[0] ?? err);
    } finally {
      clearTimeout(timer);
      cmd.off('error', collect);
    }
    this.#cmd = cmd;
    this.#everReady = true;
    this.#connecting = null;
    cmd.on('error', (err: Error) => {
      if (this.#closing || this.#outageReported) return;
      this.#outageReported = true;
      this.reportError(new BrokerError(`${this.displayUrl}: ${errorText(err)}`, { code: 'E_BROKER_UNAVAILABLE', cause: err }));
    });
    cmd.on('close', () => {
      if (!this.#closing && this.status === 'ready') this.setStatus('reconnecting');
    });
    cmd.on('ready', () => {
      this.#outageReported = false;
      if (!this.#closing) this.setStatus('ready');
    });
    this.setStatus('ready');
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#restoreTimer) clearInterval(this.#restoreTimer);
    if (this.status === 'idle') {
      this.setStatus('closed');
      return;
    }
    this.setStatus('closing');
    if (this.#connecting) await this.#connecting.catch(() => undefined);
    // Consumers give back what they hold (as kombu restores at shutdown) while the command connection still runs.
    await Promise.all([...this.#consumers, ...this.#fanoutConsumers].map((c) => c.cancel().catch(() => undefined)));
    const cmd = this.#cmd;
    if (cmd) {
      let timer: NodeJS.Timeout | undefined;
      if (cmd.status === 'ready') await Promise.race([cmd.quit().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
      clearTimeout(timer);
      cmd.disconnect();
    }
    this.setStatus('closed');
  }

  // ---------------------------------------------------------------- queues

  async declareExchange(x: ExchangeDeclaration): Promise<void> {
    if (x.type !== 'direct') this.#fanout.add(x.name);
  }

  async declare(queue: QueueDeclaration): Promise<void> {
    const exchange = queue.exchange ?? queue.name;
    if (exchange === '') return; // the default exchange routes by queue name: nothing to bind
    if (queue.exchangeType === 'fanout' || queue.exchangeType === 'topic') {
      this.#fanout.add(exchange);
      this.#fanoutQueues.set(queue.name, { exchange, routingKey: queue.routingKey ?? '' });
    } else if (queue.exchangeType === 'direct' || exchange !== queue.name) {
      // bound to a shared direct exchange (reply.celery.pidbox, the worker-direct C.dq2): deleteQueue unbinds it there
      this.#directBindings.set(queue.name, { exchange, routingKey: queue.routingKey ?? queue.name });
    }
    const cmd = await this.#command();
    await this.#run(`declare ${queue.name}`, cmd.sadd(bindingKey(exchange), bindingMember(queue.routingKey ?? queue.name, queue.name)));
  }

  async publish(message: Message, route: Route): Promise<void> {
    const exchange = route.exchange ?? '';
    const routingKey = route.routingKey ?? route.queue;
    const cmd = await this.#command();
    if (this.#fanout.has(exchange)) {
      const topic = fanoutTopic(this.#target.db, exchange, routingKey);
      await this.#run(`publish to ${topic}`, cmd.publish(topic, JSON.stringify(toEnvelope(message, exchange, routingKey))));
      return;
    }
    // Celery's named-queue route (the queue's own exchange and key) needs no lookup: declare() bound it so.
    const queues = exchange === '' ? [routingKey] : exchange === route.queue && routingKey === route.queue ? [route.queue] : await this.#lookup(exchange, routingKey);
    if (queues.length === 0) return; // unroutable: dropped, as RabbitMQ drops what no binding matches
    const text = JSON.stringify(toEnvelope(message, exchange, routingKey));
    await this.#run(`publish to ${queues.join(', ')}`, Promise.all(queues.map((q) => cmd.lpush(listFor(q, message.properties.priority), text))));
  }

  async consume(queues: string[], options: ConsumeOptions, handler: DeliveryHandler): Promise<Consumer> {
    await this.ready();
    if (queues.length > 0 && queues.every((q) => this.#fanoutQueues.has(q))) return this.#consumeFanout(queues, handler);
    const consumer = new RedisConsumer(this.#consumerHost(), queues, options.prefetch, handler);
    this.#consumers.add(consumer);
    try {
      await consumer.start();
    } catch (err) {
      this.#consumers.delete(consumer);
      throw err;
    }
    this.#startRestoring();
    return consumer;
  }

  async #consumeFanout(queues: string[], handler: DeliveryHandler): Promise<Consumer> {
    const topics = new Map<string, string>();
    for (const q of queues) {
      const b = this.#fanoutQueues.get(q)!;
      topics.set(subscribeTopic(this.#target.db, b.exchange, b.routingKey), q);
    }
    const consumer = new RedisFanoutConsumer(this.#client(`${this.#name}-fanout`, false), topics, handler, (err) => this.reportError(err));
    await consumer.start();
    this.#fanoutConsumers.add(consumer);
    return consumer;
  }

  async purge(queue: string): Promise<number> {
    const cmd = await this.#command();
    const lists = listsOf(queue);
    const tx = cmd.multi();
    for (const l of lists) tx.llen(l).del(l);
    const replies = await this.#run(`purge ${queue}`, tx.exec());
    return (replies ?? []).filter((_, i) => i % 2 === 0).reduce((n, [, v]) => n + Number(v ?? 0), 0);
  }

  async stats(queue: string): Promise<QueueStats> {
    const cmd = await this.#command();
    const lengths = await this.#run(`stats of ${queue}`, Promise.all(listsOf(queue).map((l) => cmd.llen(l))));
    return { name: queue, messages: lengths.reduce((n, x) => n + x, 0), consumers: null };
  }

  async deleteQueue(queue: string): Promise<void> {
    const cmd = await this.#command();
    const fan = this.#fanoutQueues.get(queue);
    if (fan) {
      this.#fanoutQueues.delete(queue);
      await this.#run(`delete ${queue}`, cmd.srem(bindingKey(fan.exchange), bindingMember(fan.routingKey, queue)));
      return;
    }
    const direct = this.#directBindings.get(queue);
    if (direct) {
      this.#directBindings.delete(queue);
      await this.#run(`delete ${queue}`, Promise.all([cmd.srem(bindingKey(direct.exchange), bindingMember(direct.routingKey, queue)), cmd.del(...listsOf(queue))]));
      return;
    }
    await this.#run(`delete ${queue}`, Promise.all([cmd.srem(bindingKey(queue), bindingMember(queue, queue)), cmd.del(...listsOf(queue))]));
  }

  // ---------------------------------------------------------------- ack emulation

  #consumerHost(): ConsumerHost {
    return {
      displayUrl: this.displayUrl,
      blockingClient: (name) => this.#client(`${this.#name}-${name}`, false),
      backoff: this.#backoff,
      record: async (e) => {
        const cmd = await this.#command();
        const entry = JSON.stringify([e, e.properties.delivery_info.exchange, e.properties.delivery_info.routing_key]);
        await this.#run('record an unacked message', cmd.multi().zadd(UNACKED_INDEX, Date.now() / 1000, e.properties.delivery_tag).hset(UNACKED, e.properties.delivery_tag, entry).exec());
      },
      ack: async (tag) => {
        const cmd = await this.#command();
        await this.#run('ack', cmd.multi().zrem(UNACKED_INDEX, tag).hdel(UNACKED, tag).exec());
      },
      requeue: (e, lists, where) => this.#requeue(e, lists, where),
      putBack: async (list, raw) => {
        const cmd = await this.#command();
        await this.#run('put back a message', cmd.rpush(list, raw));
      },
      reportError: (err) => this.reportError(err),
      closed: (c) => void this.#consumers.delete(c),
    };
  }

  async #requeue(e: Envelope, queues: string[], where: 'left' | 'right'): Promise<boolean> {
    const cmd = await this.#command();
    const text = JSON.stringify(markRedelivered(e));
    const lists = queues.map((q) => listFor(q, e.properties.priority));
    const n = await this.#run('requeue', cmd.labRequeue(String(2 + lists.length), UNACKED, UNACKED_INDEX, ...lists, e.properties.delivery_tag, text, where));
    return n === 1;
  }

  /** Queues of a direct exchange for a routing key (kombu's _lookup over the binding set). */
  async #lookup(exchange: string, routingKey: string): Promise<string[]> {
    if (exchange === '') return [routingKey];
    const cmd = await this.#command();
    return routeDirect(await this.#run(`look up bindings of ${exchange}`, cmd.smembers(bindingKey(exchange))), routingKey);
  }

  /** While anything consumes, restore messages unacked for longer than the visibility timeout (kombu's restore_visible). */
  #startRestoring(): void {
    if (this.#restoreTimer) return;
    const every = Math.min(60_000, Math.max(500, (this.#visibilityTimeoutS * 1000) / 4));
    const tick = (): void => void this.restoreVisible().catch((err: unknown) => this.reportError(err instanceof Error ? err : new Error(String(err))));
    this.#restoreTimer = setInterval(tick, every);
    this.#restoreTimer.unref();
    tick();
  }

  /** Restore what a vanished consumer left unacked; returns how many came back. One restorer at a time (the mutex). */
  async restoreVisible(limit = 100): Promise<number> {
    if (this.#consumers.size === 0 || this.#closing) return 0;
    const cmd = await this.#command();
    const token = randomUUID();
    if ((await this.#run('take the unacked mutex', cmd.set(UNACKED_MUTEX, token, 'EX', 300, 'NX'))) !== 'OK') return 0;
    let restored = 0;
    try {
      const ceil = Date.now() / 1000 - this.#visibilityTimeoutS;
      const tags = await this.#run('find stale unacked messages', cmd.zrangebyscore(UNACKED_INDEX, '-inf', ceil, 'LIMIT', 0, limit));
      for (const tag of tags) {
        // A tag this process's own consumers hold is not stale, however long its task runs.
        if ([...this.#consumers].some((c) => c.holds(tag))) continue;
        const raw = await this.#run('read an unacked message', cmd.hget(UNACKED, tag));
        if (raw === null) {
          await this.#run('drop a dangling index entry', cmd.zrem(UNACKED_INDEX, tag));
          continue;
        }
        let entry: [unknown, string, string];
        try {
          entry = JSON.parse(raw) as [unknown, string, string];
          const e = parseEnvelope(JSON.stringify(entry[0]));
          const queues = await this.#lookup(entry[1] ?? '', entry[2] ?? '');
          if (await this.#requeue(e, queues, 'right')) restored++;
        } catch (err) {
          this.reportError(new BrokerError(`${this.displayUrl}: cannot restore unacked message ${tag}: ${errorText(err)}`, { cause: err }));
        }
      }
    } finally {
      const held = await cmd.get(UNACKED_MUTEX).catch(() => null);
      if (held === token) await cmd.del(UNACKED_MUTEX).catch(() => undefined);
    }
    return restored;
  }

  // ---------------------------------------------------------------- helpers

  async #command(): Promise<Redis & RedisBrokerCommands> {
    await this.ready();
    if (!this.#cmd || this.#closing) throw this.#closedError();
    return this.#cmd;
  }

  /** A reply, or E_BROKER_UNAVAILABLE once the command waited commandWaitMs (ioredis would queue it forever). */
  #run<T>(what: string, p: Promise<T>): Promise<T> {
    const ms = this.#commandWaitMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(new BrokerError(`${this.displayUrl}: ${what}: Redis ${this.status === 'ready' ? 'gave no reply' : 'unreachable'} for ${ms} ms`, { code: 'E_BROKER_UNAVAILABLE' })), ms);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err instanceof BrokerError ? err : new BrokerError(`${this.displayUrl}: ${what}: ${errorText(err)}`, { code: /NOAUTH|WRONGPASS|NOPERM/.test(errorText(err)) ? 'E_BROKER_AUTH' : 'E_BROKER', cause: err }));
        },
      );
    });
  }

  #closedError(): BrokerError {
    return new BrokerError(`${this.displayUrl}: broker connection is closed`, { code: 'E_BROKER_CLOSED' });
  }

  #connectError(err: unknown): BrokerError {
    const text = errorText(err);
    if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(text)) return new BrokerError(`${this.displayUrl}: ${text}`, { code: 'E_BROKER_AUTH', cause: err });
    return new BrokerError(`${this.displayUrl}: ${text}`, { code: 'E_BROKER_UNAVAILABLE', cause: err });
  }
}
