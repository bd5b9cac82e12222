/**
 * One consumer of the AMQP adapter: its own channel (global QoS on it = one prefetch window across its queues,
 * changeable at once), a consume per queue, deliveries with ack / reject. The broker re-attaches it to each new
 * connection after a reconnect; after a channel-level error (the connection is fine) it re-opens its channel itself,
 * waiting with the broker's configured backoff, unless the queue is gone.
 */
import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib';
import { backoffDelay } from '../../backoff.js';
import type { BackoffPolicy } from '../../backoff.js';
import { BrokerError } from '../errors.js';
import type { Consumer, Delivery, DeliveryHandler } from '../broker.js';
import { operationError } from './amqp-errors.js';
import { fromAmqpProperties } from './amqp-headers.js';

/** What a consumer needs from its broker. */
export interface ConsumerHost {
  /** The broker URL with its password masked, for messages. */
  readonly displayUrl: string;
  /** The broker's reconnect backoff; a re-attach after a channel error waits the same way. */
  readonly backoff: BackoffPolicy;
  /** The connection, if it is up (a consumer re-opens its channel on it after a channel error). */
  currentConnection(): ChannelModel | null;
  /** The consumer is gone for good (cancelled, or its queue was deleted): no re-attach after a reconnect. */
  forgetConsumer(consumer: AmqpConsumer): void;
}

interface ConsumerChannel {
  ch: Channel;
  closed: boolean;
  error: Error | null;
  tags: string[];
}

export class AmqpConsumer implements Consumer {
  #state: ConsumerChannel | null = null;
  #cancelled = false;
  /** Paused: no new deliveries (consumers cancelled), the channel kept so held messages can still be acked. */
  #paused = false;
  #dead = false;
  #reattachAttempt = 0;
  #reattachTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly broker: ConsumerHost,
    readonly queues: string[],
    private prefetch: number,
    private readonly handler: DeliveryHandler,
    private readonly report: (err: Error) => void,
  ) {}

  /** Open a channel on `conn`, set the window, start consuming every queue. Replaces any previous channel. */
  async attach(conn: ChannelModel): Promise<void> {
    const old = this.#state;
    this.#state = null;
    if (old && !old.closed) old.ch.close().catch(() => undefined);
    const ch = await conn.createChannel();
    const st: ConsumerChannel = { ch, closed: false, error: null, tags: [] };
    ch.on('error', (err: Error) => {
      st.error = err;
    });
    ch.on('close', () => {
      st.closed = true;
      this.#onChannelClosed(st);
    });
    try {
      // Global QoS on a channel of our own: one window for this consumer across its queues, changeable at once.
      await ch.prefetch(this.prefetch, true);
      // A paused consumer that reconnects holds nothing any more (the old channel's messages went back): it stays quiet.
      for (const queue of this.#paused ? [] : this.queues) {
        const ok = await ch.consume(queue, (msg) => this.#onMessage(st, queue, msg), { noAck: false });
        st.tags.push(ok.consumerTag);
      }
    } catch (err) {
      st.closed = true;
      ch.close().catch(() => undefined);
      throw err;
    }
    if (this.#cancelled) {
      st.closed = true;
      await ch.close().catch(() => undefined);
      return;
    }
    this.#state = st;
    this.#reattachAttempt = 0;
  }

  /** The connection went away: forget the channel (its unacked messages are back in the queue). */
  detach(): void {
    if (this.#state) this.#state.closed = true;
    this.#state = null;
  }

  markDead(): void {
    this.#dead = true;
    this.detach();
  }

  async setPrefetch(prefetch: number): Promise<void> {
    this.prefetch = prefetch;
    const st = this.#state;
    if (!st || st.closed) return; // applied when the channel is re-opened
    try {
      await st.ch.prefetch(prefetch, true);
    } catch (err) {
      if (!st.closed) throw operationError(this.broker.displayUrl, `set prefetch ${prefetch}`, err);
    }
  }

  async pause(): Promise<void> {
    if (this.#paused || this.#cancelled) return;
    this.#paused = true;
    const st = this.#state;
    if (!st || st.closed) return;
    try {
      for (const tag of st.tags) await st.ch.cancel(tag);
    } catch (err) {
      if (!st.closed) throw operationError(this.broker.displayUrl, 'pause consuming', err);
    }
  }

  async cancel(): Promise<void> {
    if (this.#cancelled) return;
    this.#cancelled = true;
    if (this.#reattachTimer) clearTimeout(this.#reattachTimer);
    this.broker.forgetConsumer(this);
    const st = this.#state;
    this.#state = null;
    if (!st || st.closed) return;
    try {
      for (const tag of st.tags) await st.ch.cancel(tag);
    } catch {
      // the channel close below returns everything anyway
    }
    st.closed = true;
    // Closing the channel returns every unacked message to its queue (redelivered=true).
    await st.ch.close().catch(() => undefined);
  }

  #onMessage(st: ConsumerChannel, queue: string, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // basic.cancel from the server: the queue was deleted (or failed over).
      this.report(new BrokerError(`consumer on queue ${queue} was cancelled by the broker (queue deleted?)`, { code: 'E_BROKER_CONSUMER_CANCELLED' }));
      return;
    }
    if (this.#cancelled || st.closed) return; // arrives after cancel: the channel close requeues it
    let settled = false;
    const delivery: Delivery = {
      body: msg.content,
      properties: fromAmqpProperties(msg.properties),
      queue,
      redelivered: msg.fields.redelivered,
      ack: () => {
        if (settled || st.closed) return; // after the channel died the broker redelivers it; acking is a no-op
        settled = true;
        try {
          st.ch.ack(msg);
        } catch {
          // channel closing: same as above
        }
      },
      reject: (requeue: boolean) => {
        if (settled || st.closed) return;
        settled = true;
        try {
          st.ch.nack(msg, false, requeue);
        } catch {
          // channel closing
        }
      },
    };
    try {
      this.handler(delivery);
    } catch (err) {
      this.report(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** A channel-level error (the connection is fine): re-open the channel with backoff, unless the queue is gone. */
  #onChannelClosed(st: ConsumerChannel): void {
    if (this.#cancelled || this.#dead || this.#state !== st) return;
    this.#state = null;
    if (!st.error) return; // connection-level: the broker re-attaches us after reconnecting
    this.#failed(operationError(this.broker.displayUrl, `consumer channel on ${this.queues.join(', ')} closed by the broker`, st.error));
  }

  #failed(err: BrokerError): void {
    this.report(err);
    if (err.code === 'E_BROKER_NOT_FOUND') {
      this.markDead();
      this.broker.forgetConsumer(this);
      return;
    }
    if (this.#reattachTimer || this.#cancelled) return;
    const delay = backoffDelay(this.#reattachAttempt++, this.broker.backoff);
    this.#reattachTimer = setTimeout(() => {
      this.#reattachTimer = null;
      const conn = this.broker.currentConnection();
      if (!conn || this.#cancelled || this.#dead || this.#state) return; // no connection: the reconnect re-attaches us
      this.attach(conn).catch((e: unknown) => {
        if (!this.#cancelled && !this.#state) this.#failed(operationError(this.broker.displayUrl, `re-open consumer on ${this.queues.join(', ')}`, e));
      });
    }, delay);
  }
}
