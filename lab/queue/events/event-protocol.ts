/**
 * Celery's events on the wire (celery/events/event.py, dispatcher.py, receiver.py): JSON bodies published to the
 * `celeryev` topic exchange with routing key = the type with '-' → '.', each carrying hostname, utcoffset, pid,
 * clock (the sender's Lamport clock) and timestamp; a receiver adds local_received.
 */
import type { ExchangeDeclaration, QueueDeclaration } from '../broker.js';

export const EVENT_EXCHANGE = 'celeryev';
/** kombu's Exchange default: durable. Celery declares it topic (fanout on Redis: the Redis adapter publishes it so). */
export const eventExchange: ExchangeDeclaration = { name: EVENT_EXCHANGE, type: 'topic', durable: true };
/** Celery's event_queue_ttl (5 s) and event_queue_expires (60 s). */
export const EVENT_QUEUE_TTL_MS = 5_000;
export const EVENT_QUEUE_EXPIRES_MS = 60_000;
/** Celery's worker heartbeat interval (worker-heartbeat every 2 s by default). */
export const HEARTBEAT_INTERVAL_S = 2;

/** An event as received: its type, the sender's fields, and local_received (epoch seconds) added on receipt. */
export interface CeleryEvent {
  type: string;
  hostname: string;
  timestamp: number;
  utcoffset: number;
  pid: number;
  clock: number;
  local_received?: number;
  uuid?: string;
  [field: string]: unknown;
}

export function routingKeyOf(type: string): string {
  return type.replace(/-/g, '.');
}

/** The group of an event type: 'task' of 'task-sent' (celery.events.event.group_from). */
export function groupOf(type: string): string {
  return type.split('-', 1)[0];
}

/** Python's utcoffset(): hours *west* of UTC, floored (time.timezone // 3600). */
export function utcoffset(now = new Date()): number {
  return Math.floor(now.getTimezoneOffset() / 60);
}

/** A receiver's own queue (EventReceiver: `celeryev.<uuid>`, auto-delete, bound with '#' or a narrower key). */
export function receiverQueue(id: string, routingKey = '#'): QueueDeclaration {
  return {
    name: `${EVENT_EXCHANGE}.${id}`,
    exchange: EVENT_EXCHANGE,
    exchangeType: 'topic',
    exchangeDurable: true,
    routingKey,
    durable: false,
    autoDelete: true,
    expiresMs: EVENT_QUEUE_EXPIRES_MS,
    messageTtlMs: EVENT_QUEUE_TTL_MS,
  };
}
