/**
 * The AMQP 0-9-1 broker adapter (RabbitMQ), on amqplib. Nothing amqplib-typed leaves brokers/: beside this file,
 * amqp-consumer.ts (one consumer's channel), amqp-errors.ts (failures → BrokerError codes), amqp-headers.ts and
 * amqp-codec.ts (header tables py-amqp reads and writes), fifo.ts (the publish queues).
 *
 * One cohesive thing, a little over 600 lines: the connection's lifecycle and the publish pipeline share their state
 * (a reconnect installs a new publish channel and re-sends what the old one never confirmed; an outage sweep fails
 * what waited too long), and splitting them would pass that state back and forth through an interface.
 *
 * - One connection per broker: a confirm channel for publishing, one channel per consumer, and short-lived channels
 *   for declarations and queue operations (a 406/404 closes only that throwaway channel, never the shared ones).
 * - Publishing is pipelined: up to `maxInFlight` unconfirmed messages on the confirm channel, honouring the socket's
 *   backpressure ('drain'). A publish resolves on the broker's ack and rejects on a nack.
 * - On connection loss the adapter reconnects with capped, jittered backoff, re-declares the topology it declared,
 *   re-opens every consumer with its handler and prefetch, and re-sends publishes that were not confirmed (at least
 *   once: a message confirmed by the broker whose ack was lost may arrive twice). Publishes made during the outage
 *   wait up to `publishTimeoutMs`, then reject with BrokerError E_BROKER_UNAVAILABLE.
 * - Declarations are exactly Celery/kombu's: direct exchange durable and not auto-delete; queue durable, not exclusive,
 *   not auto-delete, `x-max-priority` only when asked for.
 * - Prefetch is set with global QoS on the consumer's own channel (what Celery does on RabbitMQ), so the window is
 *   per Consumer across all its queues and `setPrefetch` takes effect at once for the running consumers.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
// First: teaches amqplib's header decoder py-amqp's 'L' before amqplib's protocol definitions capture it.
import './amqp-codec.js';
import { connect } from 'amqplib';
import type { Channel, ChannelModel, ConfirmChannel, Options, SocketOptions } from 'amqplib';
import { maskUrl } from '../../errors.js';
import { BrokerError } from '../errors.js';
import { ConnectionBase } from '../connection.js';
import { backoffDelay, backoffPolicy } from '../../backoff.js';
import type { BackoffPolicy } from '../../backoff.js';
import { FULL_FEATURES } from '../broker.js';
import type { Broker, ConsumeOptions, ExchangeDeclaration, Consumer, DeliveryHandler, QueueDeclaration, QueueStats, Route } from '../broker.js';
import type { Message } from '../protocol.js';
import { Fifo } from './fifo.js';
import { amqpCode, connectError, isConnectionLoss, operationError, reasonOf } from './amqp-errors.js';
import { toAmqpOptions } from './amqp-headers.js';
import { AmqpConsumer } from './amqp-consumer.js';
import type { ConsumerHost } from './amqp-consumer.js';

export interface AmqpBrokerOptions {
  /** How long a publish (or declare/purge/stats) waits for the broker during an outage before it rejects. Default 10 s. */
  publishTimeoutMs?: number;
  /** Bound on the TCP connect + AMQP handshake of one attempt. Default 5 s. */
  connectTimeoutMs?: number;
  /** Unconfirmed publishes allowed on the wire at once. Default 1000. */
  maxInFlight?: number;
  /** The `connection_name` client property (shown by rabbitmqctl and the management UI). */
  connectionName?: string;
  /** Reconnect and consumer re-attach backoff (lab/backoff.ts; default base 100 ms, cap 5 s). */
  backoff?: Partial<BackoffPolicy>;
  /** AMQP heartbeat in seconds; default: the server's suggestion. */
  heartbeatSeconds?: number;
  /**
   * Publisher confirms (default true): a publish resolves on the broker's ack, rejects on a nack, and is re-sent
   * after a reconnect. false = kombu's default: a publish resolves once written to the socket — faster (RabbitMQ
   * delivers a persistent message sooner and spends less CPU on it), but a message the broker never took is lost
   * without a word. Celery's setting: broker_transport_options = {confirm_publish: …}.
   */
  confirmPublish?: boolean;
}

interface PublishJob {
  exchange: string;
  routingKey: string;
  body: Buffer;
  options: Options.Publish;
  createdAt: number;
  settled: boolean;
  resolve(): void;
  reject(err: Error): void;
}

/** A connection and whether it has gone away (events from a replaced connection are ignored). */
interface ConnState {
  conn: ChannelModel;
  closed: boolean;
}

interface PubState {
  ch: ConfirmChannel | Channel;
  closed: boolean;
  /** Set when the server closed the channel with an error (a channel-level problem, the connection is fine). */
  error: Error | null;
  waitingDrain: boolean;
}

const DEFAULT_PUBLISH_TIMEOUT_MS = 10_000;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_MAX_IN_FLIGHT = 1000;
const NACKED = 'message nacked';

/** Celery spells the py-amqp transport `pyamqp://`; on the wire it is plain AMQP. */
function amqpUrl(url: string): string {
  return url.replace(/^pyamqp:\/\//i, 'amqp://').replace(/^pyamqps:\/\//i, 'amqps://');
}

/**
 * amqplib's multiplexer writes every frame chunk to the socket with its own write(): on a fast link each is a
 * syscall — one per publish and one per ack, which is most of a busy worker's CPU. Corking the socket while the
 * multiplexer drains its channels turns a burst into one writev. (amqplib internals, checked at run time: if they
 * are not what we expect, nothing changes.)
 */
function coalesceWrites(model: ChannelModel): void {
  const connection = (model as unknown as { connection?: { muxer?: { _readIncoming?: () => void }; stream?: { cork?: () => void; uncork?: () => void } } }).connection;
  const mux = connection?.muxer;
  const stream = connection?.stream;
  if (!mux || typeof mux._readIncoming !== 'function' || typeof stream?.cork !== 'function' || typeof stream.uncork !== 'function') return;
  const readIncoming = mux._readIncoming.bind(mux);
  mux._readIncoming = () => {
    stream.cork!();
    try {
      readIncoming();
    } finally {
      stream.uncork!();
    }
  };
}

export class AmqpBroker extends ConnectionBase implements Broker, ConsumerHost {
  readonly kind = 'amqp';
  readonly features = FULL_FEATURES;
  readonly displayUrl: string;
  readonly connectionName: string;
  readonly #url: string;
  readonly #publishTimeoutMs: number;
  readonly #connectTimeoutMs: number;
  readonly #maxInFlight: number;
  /** Reconnect backoff; consumers re-attach with it too. */
  readonly backoff: BackoffPolicy;
  readonly #heartbeat: number | undefined;
  readonly #confirm: boolean;

  #conn: ConnState | null = null;
  #pub: PubState | null = null;
  #connecting: Promise<void> | null = null;
  #everReady = false;
  #closing = false;
  #closed: Promise<void> | null = null;
  #reconnectLoop: Promise<void> | null = null;
  #sleepTimer: NodeJS.Timeout | null = null;
  #wakeSleep: (() => void) | null = null;
  #reopeningPub = false;

  /** Declarations made through this broker, re-declared after a reconnect (keyed by queue/exchange/key). */
  readonly #topology = new Map<string, QueueDeclaration>();
  readonly #consumers = new Set<AmqpConsumer>();
  /** Exchanges declared on their own (monitoring), re-declared after a reconnect: a broker restart loses transient ones. */
  readonly #exchanges = new Map<string, ExchangeDeclaration>();

  /** Publishes not yet written: re-sends (older) first, then new ones. */
  readonly #retry = new Fifo<PublishJob>();
  readonly #pending = new Fifo<PublishJob>();
  readonly #inFlight = new Set<PublishJob>();
  #outageSince: number | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;

  constructor(url: string, options: AmqpBrokerOptions = {}) {
    super();
    this.displayUrl = maskUrl(url);
    this.#url = amqpUrl(url);
    this.#publishTimeoutMs = options.publishTimeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
    this.#connectTimeoutMs = options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#maxInFlight = Math.max(1, options.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT);
    this.backoff = backoffPolicy(options.backoff);
    this.#heartbeat = options.heartbeatSeconds;
    this.#confirm = options.confirmPublish ?? true;
    this.connectionName = options.connectionName ?? `lab-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  }

  // ---------------------------------------------------------------- lifecycle

  ready(): Promise<void> {
    if (this.status === 'ready') return Promise.resolve();
    if (this.#closing) return Promise.reject(this.#closedError());
    if (this.#everReady) return this.#whenReady(this.#publishTimeoutMs, 'wait for the broker');
    this.#connecting ??= this.#firstConnect();
    return this.#connecting;
  }

  async #firstConnect(): Promise<void> {
    this.setStatus('connecting');
    try {
      await this.#open();
    } catch (err) {
      this.#connecting = null;
      const error = this.#connectError(err);
      if (!this.#closing) this.setStatus('idle');
      this.#failQueued(error);
      throw error;
    }
    this.#everReady = true;
    this.#connecting = null;
    this.setStatus('ready');
    this.#pump();
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.status === 'idle') {
      this.setStatus('closed');
      return;
    }
    this.setStatus('closing');
    this.#wakeSleep?.();
    this.#stopSweep();
    if (this.#connecting) await this.#connecting.catch(() => undefined);
    // Queued publishes never reached the broker: tell their callers. Those on the wire get a short grace to confirm.
    this.#failQueued(this.#closedError());
    const pub = this.#pub;
    if (pub && !pub.closed && this.#inFlight.size > 0 && 'waitForConfirms' in pub.ch) {
      await Promise.race([pub.ch.waitForConfirms().catch(() => undefined), new Promise((r) => setTimeout(r, 2_000).unref())]);
    }
    for (const c of [...this.#consumers]) await c.cancel().catch(() => undefined);
    const st = this.#conn;
    this.#conn = null;
    this.#pub = null;
    if (st && !st.closed) {
      st.closed = true;
      await st.conn.close().catch(() => undefined);
    }
    for (const job of [...this.#inFlight]) this.#settle(job, this.#closedError());
    this.#inFlight.clear();
    if (this.#reconnectLoop) await this.#reconnectLoop.catch(() => undefined);
    this.setStatus('closed');
  }

  /** Open a connection, the publish channel, re-declare topology, re-attach consumers; install it all at once. */
  async #open(): Promise<void> {
    const socketOptions: SocketOptions = {
      timeout: this.#connectTimeoutMs,
      // amqplib leaves Nagle's algorithm on: an ack or a small publish would wait for the previous segment's ACK.
      noDelay: true,
      clientProperties: { connection_name: this.connectionName },
    };
    // amqplib reads the heartbeat of a string URL from its query only.
    const url = this.#heartbeat === undefined ? this.#url : `${this.#url}${this.#url.includes('?') ? '&' : '?'}heartbeat=${this.#heartbeat}`;
    const conn = await connect(url, socketOptions);
    coalesceWrites(conn);
    const st: ConnState = { conn, closed: false };
    let lastError: Error | null = null;
    conn.on('error', (err: Error) => {
      lastError = err;
    });
    conn.on('close', (err?: Error) => {
      st.closed = true;
      this.#onConnectionClosed(st, err ?? lastError);
    });
    conn.on('blocked', (reason: string) => this.reportError(new BrokerError(`${this.displayUrl}: broker blocked publishing (${reason})`, { code: 'E_BROKER_BLOCKED' })));
    try {
      if (this.#closing) throw this.#closedError();
      const pub = await this.#openPublishChannel(conn);
      for (const x of this.#exchanges.values()) await this.#declareExchangeOn(conn, x);
      for (const decl of this.#topology.values()) await this.#declareOn(conn, decl);
      for (const c of [...this.#consumers]) {
        try {
          await c.attach(conn);
        } catch (err) {
          // Connection trouble: this attempt failed, the next one re-attaches everything.
          if (st.closed || amqpCode(err) === null) throw err;
          // The broker answered no (queue gone, access refused): this consumer cannot resume. Say so; keep the others.
          this.#consumers.delete(c);
          c.markDead();
          this.reportError(this.#opError(`resume consumer on ${c.queues.join(', ')}`, err));
        }
      }
      if (st.closed) throw lastError ?? new Error('connection closed during setup');
      if (this.#closing) throw this.#closedError();
      this.#conn = st;
      this.#pub = pub;
      this.#outageSince = null;
      this.#stopSweep();
    } catch (err) {
      st.closed = true;
      await conn.close().catch(() => undefined);
      throw err;
    }
  }

  async #openPublishChannel(conn: ChannelModel): Promise<PubState> {
    const ch = this.#confirm ? await conn.createConfirmChannel() : await conn.createChannel();
    const pub: PubState = { ch, closed: false, error: null, waitingDrain: false };
    ch.on('error', (err: Error) => {
      pub.error = err;
    });
    ch.on('close', () => {
      pub.closed = true;
      this.#onPublishChannelClosed(pub);
    });
    return pub;
  }

  #onConnectionClosed(st: ConnState, err: Error | null): void {
    if (this.#conn !== st) return;
    this.#conn = null;
    this.#pub = null;
    for (const c of this.#consumers) c.detach();
    if (this.#closing) return;
    this.#outageSince = Date.now();
    this.setStatus('reconnecting');
    this.reportError(
      new BrokerError(`${this.displayUrl}: connection lost (${err ? reasonOf(err) : 'closed'}); reconnecting`, { code: 'E_BROKER_UNAVAILABLE', cause: err ?? undefined }),
    );
    this.#armSweep();
    this.#startReconnect();
  }

  /** The publish channel died while the connection lives (e.g. a publish to a missing exchange): open another. */
  #onPublishChannelClosed(pub: PubState): void {
    if (this.#pub !== pub || this.#closing) return;
    if (!pub.error) return; // connection-level: #onConnectionClosed handles it
    this.#pub = null;
    this.reportError(this.#opError('publish channel closed by the broker', pub.error));
    const st = this.#conn;
    if (!st || st.closed || this.#reopeningPub) return;
    this.#reopeningPub = true;
    this.#openPublishChannel(st.conn)
      .then(
        (next) => {
          if (this.#conn === st && !st.closed && !this.#closing) {
            this.#pub = next;
            this.#pump();
          } else {
            next.ch.close().catch(() => undefined);
          }
        },
        (err: unknown) => {
          this.reportError(this.#opError('reopen publish channel', err));
          // Force the full reconnect path: the connection is not usable for publishing.
          if (this.#conn === st && !st.closed) st.conn.close().catch(() => undefined);
        },
      )
      .finally(() => {
        this.#reopeningPub = false;
      });
  }

  #startReconnect(): void {
    if (this.#reconnectLoop) return;
    this.#reconnectLoop = (async () => {
      for (let attempt = 0; !this.#closing; attempt++) {
        await this.#sleep(backoffDelay(attempt, this.backoff));
        if (this.#closing) return;
        try {
          await this.#open();
          this.setStatus('ready');
          this.#pump();
          return;
        } catch (err) {
          if (this.#closing) return;
          this.reportError(new BrokerError(`${this.displayUrl}: reconnect attempt ${attempt + 1} failed: ${reasonOf(err)}`, { code: 'E_BROKER_UNAVAILABLE', cause: err }));
        }
      }
    })().finally(() => {
      this.#reconnectLoop = null;
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        if (this.#sleepTimer) clearTimeout(this.#sleepTimer);
        this.#sleepTimer = null;
        this.#wakeSleep = null;
        resolve();
      };
      this.#wakeSleep = done;
      this.#sleepTimer = setTimeout(done, ms);
    });
  }

  /** Resolve when the broker is (again) ready; reject after timeoutMs or when it closes. */
  #whenReady(timeoutMs: number, what: string): Promise<void> {
    if (this.status === 'ready') return Promise.resolve();
    if (this.#closing) return Promise.reject(this.#closedError());
    if (!this.#everReady) return this.ready();
    return new Promise<void>((resolve, reject) => {
      const onStatus = (s: string): void => {
        if (s === 'ready') {
          cleanup();
          resolve();
        } else if (s === 'closing' || s === 'closed') {
          cleanup();
          reject(this.#closedError());
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new BrokerError(`${this.displayUrl}: ${what}: broker unavailable for ${timeoutMs} ms`, { code: 'E_BROKER_UNAVAILABLE' }));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('status', onStatus);
      };
      this.on('status', onStatus);
    });
  }

  // ---------------------------------------------------------------- publishing

  publish(message: Message, route: Route): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError());
    return new Promise<void>((resolve, reject) => {
      const job: PublishJob = {
        exchange: route.exchange ?? '',
        routingKey: route.routingKey ?? route.queue,
        body: message.body,
        options: toAmqpOptions(message.properties),
        createdAt: Date.now(),
        settled: false,
        resolve,
        reject,
      };
      this.#pending.push(job);
      if (this.status === 'idle') {
        this.ready().catch(() => undefined); // a failed first connect rejects the queued publishes itself
      } else if (this.status === 'reconnecting') {
        this.#armSweep();
      } else {
        this.#pump();
      }
    });
  }

  #pump(): void {
    const pub = this.#pub;
    if (!pub || pub.closed || pub.waitingDrain || this.status !== 'ready') return;
    while (this.#inFlight.size < this.#maxInFlight) {
      const job = this.#retry.shift() ?? this.#pending.shift();
      if (!job) return;
      if (job.settled) continue;
      let writable: boolean;
      try {
        writable = this.#confirm
          ? (pub.ch as ConfirmChannel).publish(job.exchange, job.routingKey, job.body, job.options, (err: unknown) => this.#onConfirm(job, pub, err))
          : pub.ch.publish(job.exchange, job.routingKey, job.body, job.options);
      } catch (err) {
        if ((err as Error)?.name === 'IllegalOperationError') {
          // The channel is closing under us; the job goes back and waits for the next channel.
          this.#retry.unshift(job);
          return;
        }
        // Something about this message (e.g. a headers table over 64 KiB): only this publish fails.
        this.#settle(job, new BrokerError(`${this.displayUrl}: cannot publish to ${job.exchange || '(default)'}/${job.routingKey}: ${reasonOf(err)}`, { cause: err }));
        continue;
      }
      if (this.#confirm) this.#inFlight.add(job);
      else this.#settle(job, null); // written: all a publish without confirms can know
      if (!writable) {
        pub.waitingDrain = true;
        pub.ch.once('drain', () => {
          pub.waitingDrain = false;
          this.#pump();
        });
        return;
      }
    }
  }

  #onConfirm(job: PublishJob, pub: PubState, err: unknown): void {
    this.#inFlight.delete(job);
    if (!err) {
      this.#settle(job, null);
    } else if (err instanceof Error && err.message === NACKED) {
      this.#settle(job, new BrokerError(`${this.displayUrl}: the broker refused the message (basic.nack) for ${job.exchange || '(default)'}/${job.routingKey}`, { code: 'E_BROKER_NACK' }));
    } else if (pub.error) {
      // The server closed the channel over something we sent: the messages on the wire share the verdict.
      this.#settle(job, this.#opError(`publish to ${job.exchange || '(default)'}/${job.routingKey}`, pub.error));
    } else if (this.#closing) {
      this.#settle(job, this.#closedError());
    } else {
      // The connection went away before the confirm: send it again once we are back (at least once).
      this.#retry.push(job);
      this.#armSweep();
    }
    this.#pump();
  }

  #settle(job: PublishJob, err: Error | null): void {
    if (job.settled) return;
    job.settled = true;
    if (err) job.reject(err);
    else job.resolve();
  }

  #failQueued(err: Error): void {
    for (const job of [...this.#retry.clear(), ...this.#pending.clear()]) this.#settle(job, err);
  }

  /** While disconnected, reject queued publishes that have waited publishTimeoutMs of outage. */
  #armSweep(): void {
    if (this.#sweepTimer || this.status === 'ready' || this.#outageSince === null) return;
    const since = (j: PublishJob): number => Math.max(j.createdAt, this.#outageSince ?? j.createdAt);
    let earliest = Infinity;
    for (const j of [...this.#retry.toArray(), ...this.#pending.toArray()]) if (!j.settled) earliest = Math.min(earliest, since(j));
    if (earliest === Infinity) return;
    const next = earliest + this.#publishTimeoutMs;
    this.#sweepTimer = setTimeout(() => {
      this.#sweepTimer = null;
      if (this.status === 'ready') return;
      const now = Date.now();
      const expired = (j: PublishJob): boolean => !j.settled && now - since(j) >= this.#publishTimeoutMs;
      const err = (): BrokerError =>
        new BrokerError(`${this.displayUrl}: publish failed: broker unavailable for ${this.#publishTimeoutMs} ms`, { code: 'E_BROKER_UNAVAILABLE' });
      for (const j of [...this.#retry.toArray(), ...this.#pending.toArray()]) if (expired(j)) this.#settle(j, err());
      this.#retry.retain((j) => !j.settled);
      this.#pending.retain((j) => !j.settled);
      this.#armSweep();
    }, Math.max(0, next - Date.now()));
  }

  #stopSweep(): void {
    if (this.#sweepTimer) clearTimeout(this.#sweepTimer);
    this.#sweepTimer = null;
  }

  // ---------------------------------------------------------------- topology and queue operations

  async declare(decl: QueueDeclaration): Promise<void> {
    const exchange = decl.exchange ?? decl.name;
    const routingKey = decl.routingKey ?? decl.name;
    const normalized: QueueDeclaration = { ...decl, exchange, routingKey };
    await this.#operate(`declare queue ${decl.name}`, (conn) => this.#declareOn(conn, normalized));
    this.#topology.set(`${decl.name}\u0000${exchange}\u0000${routingKey}`, normalized);
  }

  async #declareOn(conn: ChannelModel, decl: QueueDeclaration): Promise<void> {
    await this.#withChannel(conn, async (ch) => {
      const exchange = decl.exchange ?? decl.name;
      if (exchange) await ch.assertExchange(exchange, decl.exchangeType ?? 'direct', { durable: decl.exchangeDurable ?? true, autoDelete: false });
      const args: Record<string, number> = {};
      if (decl.maxPriority) args['x-max-priority'] = decl.maxPriority;
      if (decl.expiresMs) args['x-expires'] = Math.round(decl.expiresMs);
      if (decl.messageTtlMs) args['x-message-ttl'] = Math.round(decl.messageTtlMs);
      await ch.assertQueue(decl.name, {
        durable: decl.durable ?? true,
        exclusive: false,
        autoDelete: decl.autoDelete ?? false,
        arguments: Object.keys(args).length ? args : undefined,
      });
      if (exchange) await ch.bindQueue(decl.name, exchange, decl.routingKey ?? decl.name);
    });
  }

  async declareExchange(x: ExchangeDeclaration): Promise<void> {
    await this.#operate(`declare exchange ${x.name}`, (conn) => this.#declareExchangeOn(conn, x));
    this.#exchanges.set(x.name, x);
  }

  async #declareExchangeOn(conn: ChannelModel, x: ExchangeDeclaration): Promise<void> {
    await this.#withChannel(conn, async (ch) => void (await ch.assertExchange(x.name, x.type, { durable: x.durable, autoDelete: false })));
  }

  async purge(queue: string): Promise<number> {
    return this.#operate(`purge queue ${queue}`, (conn) => this.#withChannel(conn, async (ch) => (await ch.purgeQueue(queue)).messageCount));
  }

  async stats(queue: string): Promise<QueueStats> {
    return this.#operate(`check queue ${queue}`, (conn) =>
      this.#withChannel(conn, async (ch) => {
        const ok = await ch.checkQueue(queue);
        return { name: queue, messages: ok.messageCount, consumers: ok.consumerCount };
      }),
    );
  }

  async deleteQueue(queue: string, options: { ifUnused?: boolean } = {}): Promise<void> {
    const exchanges = new Set<string>();
    for (const [k, d] of this.#topology) {
      if (d.name !== queue) continue;
      this.#topology.delete(k);
      // Only the queue's own exchange (Celery's, of the queue's name): a shared one (celery.pidbox, celeryev, the
      // worker-direct C.dq2) has other queues bound to it.
      if (d.exchange === d.name && !d.exchangeType) exchanges.add(d.exchange);
    }
    await this.#operate(`delete queue ${queue}`, (conn) => this.#withChannel(conn, async (ch) => void (await ch.deleteQueue(queue, options.ifUnused ? { ifUnused: true } : {}))));
    for (const x of exchanges) await this.#deleteExchange(x);
  }

  async #deleteExchange(exchange: string): Promise<void> {
    for (const [k, d] of this.#topology) if (d.exchange === exchange) this.#topology.delete(k);
    await this.#operate(`delete exchange ${exchange}`, (conn) => this.#withChannel(conn, async (ch) => void (await ch.deleteExchange(exchange))));
  }

  /** Run an operation on the current connection; during an outage wait (bounded) and try again on the next one. */
  async #operate<T>(what: string, fn: (conn: ChannelModel) => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.#publishTimeoutMs;
    for (;;) {
      await this.#whenReady(Math.max(0, deadline - Date.now()), what);
      const st = this.#conn;
      if (!st || st.closed) throw new BrokerError(`${this.displayUrl}: ${what}: broker unavailable`, { code: 'E_BROKER_UNAVAILABLE' });
      try {
        return await fn(st.conn);
      } catch (err) {
        if (this.#closing) throw this.#closedError();
        if ((st.closed || this.#conn !== st) && isConnectionLoss(err) && Date.now() < deadline) continue;
        throw this.#opError(what, err);
      }
    }
  }

  /** A short-lived channel: a channel error (404, 406) closes it, not the shared ones. */
  async #withChannel<T>(conn: ChannelModel, fn: (ch: Channel) => Promise<T>): Promise<T> {
    const ch = await conn.createChannel();
    ch.on('error', () => undefined); // the operation's promise carries the error
    try {
      return await fn(ch);
    } finally {
      ch.close().catch(() => undefined);
    }
  }

  // ---------------------------------------------------------------- consuming

  async consume(queues: string[], options: ConsumeOptions, handler: DeliveryHandler): Promise<Consumer> {
    const consumer = new AmqpConsumer(this, [...queues], options.prefetch, handler, (err) => this.reportError(err));
    await this.#operate(`consume from ${queues.join(', ')}`, (conn) => consumer.attach(conn));
    if (this.#closing) {
      await consumer.cancel();
      throw this.#closedError();
    }
    this.#consumers.add(consumer);
    return consumer;
  }

  /** Called by a consumer that cancelled itself. */
  forgetConsumer(c: AmqpConsumer): void {
    this.#consumers.delete(c);
  }

  /** The current connection, if it is up (consumers re-open their channel on it after a channel error). */
  currentConnection(): ChannelModel | null {
    const st = this.#conn;
    return st && !st.closed ? st.conn : null;
  }

  // ---------------------------------------------------------------- errors

  #closedError(): BrokerError {
    return new BrokerError(`${this.displayUrl}: broker connection is closed`, { code: 'E_BROKER_CLOSED' });
  }

  #opError(what: string, err: unknown): BrokerError {
    return operationError(this.displayUrl, what, err);
  }

  #connectError(err: unknown): BrokerError {
    return connectError(err, { displayUrl: this.displayUrl, url: this.#url, connectTimeoutMs: this.#connectTimeoutMs });
  }
}
