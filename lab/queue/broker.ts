import type { Connection } from './connection.js';
import type { Message, MessageProperties } from './protocol.js';

/** A queue as Celery declares it: durable, bound to a direct exchange of the same name with the same key. */
export interface QueueDeclaration {
  name: string;
  /** Direct exchange to bind to ('' = only the default exchange). Celery's default: same as the queue name. */
  exchange?: string;
  routingKey?: string;
  /** x-max-priority; only then does the broker honour message priorities (as RabbitMQ does). */
  maxPriority?: number;
  /**
   * The rest is for the monitoring protocols' queues (kombu's pidbox and event queues), which differ from task
   * queues: defaults are Celery's task-queue declaration (durable, not auto-delete, a durable direct exchange).
   */
  exchangeType?: ExchangeType;
  exchangeDurable?: boolean;
  durable?: boolean;
  autoDelete?: boolean;
  /** x-expires: the queue is deleted after this long unused (ms). */
  expiresMs?: number;
  /** x-message-ttl: messages older than this are dropped (ms). */
  messageTtlMs?: number;
}

export type ExchangeType = 'direct' | 'fanout' | 'topic';

/** An exchange published to without a queue of lab's own behind it (remote-control replies, events). */
export interface ExchangeDeclaration {
  name: string;
  type: ExchangeType;
  durable: boolean;
}

export interface Route {
  /** Queue the message is meant for (declared before publishing). */
  queue: string;
  /** Exchange to publish to; '' (the default exchange) routes by queue name. */
  exchange?: string;
  routingKey?: string;
}

export interface Delivery {
  readonly body: Buffer;
  readonly properties: MessageProperties;
  readonly queue: string;
  /** True when this message was delivered before and not acked (a consumer died or rejected it with requeue). */
  readonly redelivered: boolean;
  ack(): void;
  /** requeue=false drops the message (or dead-letters it where the broker is configured to). */
  reject(requeue: boolean): void;
}

export type DeliveryHandler = (delivery: Delivery) => void;

export interface ConsumeOptions {
  /** Unacked messages this consumer may hold at once (concurrency × prefetch multiplier). */
  prefetch: number;
  /** Tag for logs and status output. */
  tag?: string;
}

export interface Consumer {
  /** Change the prefetch window (the worker widens it while it holds ETA tasks, as Celery does). */
  setPrefetch(prefetch: number): Promise<void>;
  /**
   * Stop receiving new messages; those already delivered stay with this consumer until it acks or rejects them
   * (AMQP basic.cancel on an open channel). A warm shutdown pauses, finishes what it holds, then cancels.
   */
  pause(): Promise<void>;
  /** Stop receiving. Messages delivered but not yet acked are returned to their queues (redelivered=true). */
  cancel(): Promise<void>;
}

export interface QueueStats {
  name: string;
  messages: number;
  /** null when the broker cannot tell (Redis keeps no consumer registry). */
  consumers: number | null;
}

/**
 * What a broker does that another may not, so callers (and the conformance suite) say which behaviour to expect
 * instead of guessing: RabbitMQ and the memory broker do all of it; kombu's Redis transport does less.
 */
export interface BrokerFeatures {
  /** Drops a message whose per-message TTL (expiration) passed while it waited. */
  messageTtl: boolean;
  /** Knows how many consumers a queue has. */
  consumerCount: boolean;
  /** 'high-first': 9 before 0 (RabbitMQ, with x-max-priority); 'low-first': 0 before 9 (kombu's Redis transport). */
  priority: 'high-first' | 'low-first';
  /** A re-declare with other arguments fails, and consuming an undeclared queue fails (AMQP); Redis declares nothing. */
  strictDeclare: boolean;
}

/** RabbitMQ's behaviour, which the memory broker reproduces. */
export const FULL_FEATURES: BrokerFeatures = { messageTtl: true, consumerCount: true, priority: 'high-first', strictDeclare: true };

/**
 * A message broker. Adapters (memory, AMQP) own their connections; no transport type leaks past this interface.
 * Publishing resolves only once the broker has taken responsibility for the message (publisher confirm for AMQP);
 * during an outage it waits (bounded) and then rejects with BrokerError — a message never silently vanishes.
 */
export interface Broker extends Connection {
  readonly kind: string;
  /** The URL with its password masked, for messages. */
  readonly displayUrl: string;
  readonly features: BrokerFeatures;
  declare(queue: QueueDeclaration): Promise<void>;
  publish(message: Message, route: Route): Promise<void>;
  consume(queues: string[], options: ConsumeOptions, handler: DeliveryHandler): Promise<Consumer>;
  /** Drop all ready messages of a queue; resolves with how many were dropped. */
  purge(queue: string): Promise<number>;
  stats(queue: string): Promise<QueueStats>;
  /**
   * Remove a queue declared with `declare`, and the exchange of its name if declare made one. `ifUnused`: only when
   * no one else consumes it (AMQP's if-unused: a refused delete rejects) — a worker's mailbox shared by another worker
   * of the same name must outlive the first.
   */
  deleteQueue(queue: string, options?: { ifUnused?: boolean }): Promise<void>;
  /**
   * Declare an exchange (fanout, topic) for Celery's monitoring protocols — remote control and events: AMQP natively,
   * Redis as kombu emulates fanout (PUBLISH/PSUBSCRIBE). Absent where the adapter cannot route that way (memory):
   * callers then say remote control / events are unavailable.
   */
  declareExchange?(exchange: ExchangeDeclaration): Promise<void>;
}
