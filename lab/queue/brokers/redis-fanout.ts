/**
 * kombu's fanout emulation on Redis (kombu/transport/redis.py: _put_fanout, _subscribe, _receive_one): a message
 * to a fanout exchange is PUBLISHed on the channel `/{db}.<exchange>` (with `/<routing key>` appended when there is
 * one, fanout_patterns), and a queue bound to it is a PSUBSCRIBE on that topic ('#' read as '*'). What Celery's
 * remote control (celery.pidbox) and events (celeryev, fanout on Redis) ride on. Nothing is stored: a message with no
 * subscriber is gone, and there is nothing to ack.
 */
import type { Redis } from 'ioredis';
import type { Consumer, DeliveryHandler } from '../broker.js';
import { bodyOf, parseEnvelope, propertiesOf } from './redis-envelope.js';

export function fanoutTopic(db: number, exchange: string, routingKey: string): string {
  return `/${db}.${exchange}${routingKey ? `/${routingKey}` : ''}`;
}

/** The topic a queue bound to a fanout exchange subscribes to (kombu: routing key '#' → pattern '*'). */
export function subscribeTopic(db: number, exchange: string, routingKey: string): string {
  return fanoutTopic(db, exchange, routingKey.replace(/#/g, '*'));
}

export class RedisFanoutConsumer implements Consumer {
  #closed = false;

  constructor(
    private readonly client: Redis,
    /** topic → queue name */
    private readonly topics: Map<string, string>,
    private readonly handler: DeliveryHandler,
    private readonly report: (err: Error) => void,
  ) {}

  async start(): Promise<void> {
    this.client.on('pmessageBuffer', (pattern: Buffer, _channel: Buffer, data: Buffer) => {
      const queue = this.topics.get(pattern.toString());
      if (!queue || this.#closed) return;
      let e;
      try {
        e = parseEnvelope(data.toString('utf8'));
      } catch (err) {
        this.report(new Error(`dropped a message on ${queue}: ${(err as Error).message}`));
        return;
      }
      this.handler({ body: bodyOf(e), properties: propertiesOf(e), queue, redelivered: false, ack: () => undefined, reject: () => undefined });
    });
    this.client.on('error', () => undefined); // reconnects by itself; PSUBSCRIBE is renewed by ioredis
    await this.client.connect();
    await this.client.psubscribe(...this.topics.keys());
  }

  async setPrefetch(): Promise<void> {
    // Pub/sub has no window.
  }

  async pause(): Promise<void> {
    await this.cancel();
  }

  async cancel(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.client.punsubscribe().catch(() => undefined);
    this.client.disconnect();
  }
}
