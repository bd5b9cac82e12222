/**
 * kombu's Redis transport on the wire (kombu 5.2 kombu/transport/redis.py and virtual/base.py), so Python Celery
 * with broker='redis://…' and lab meet on the same lists:
 *
 * - A message is a JSON envelope: {"body": base64(body), "content-encoding", "content-type", "headers": {…protocol v2
 *   headers…}, "properties": {"correlation_id", "reply_to", "delivery_mode", "delivery_info": {"exchange",
 *   "routing_key"}, "priority", "body_encoding": "base64", "delivery_tag": <uuid>, ["expiration"]}}.
 * - A queue is a list; producers LPUSH, consumers BRPOP (so the right end is the head). Priorities go to one list per
 *   step of [0, 3, 6, 9] — the step is the largest ≤ the priority; step 0 is the queue's own name, the others
 *   `<queue>\x06\x16<step>` — and BRPOP lists the steps in that order, so on Redis **0 is served first** (kombu's
 *   Redis priorities run the other way from RabbitMQ's).
 * - Bindings: set `_kombu.binding.<exchange>` of `<routing_key>\x06\x16<pattern>\x06\x16<queue>`.
 * - Ack emulation: a delivered message is kept in the hash `unacked` (tag → JSON [envelope, exchange, routing_key])
 *   and the sorted set `unacked_index` (tag scored by delivery time) until it is acked; entries older than the
 *   visibility timeout are restored to their queue by any consumer, under the `unacked_mutex` lock.
 */
import { randomUUID } from 'node:crypto';
import { LabError } from '../../errors.js';
import type { Message, MessageProperties } from '../protocol.js';

export const SEP = '\x06\x16';
export const PRIORITY_STEPS = [0, 3, 6, 9] as const;
export const UNACKED = 'unacked';
export const UNACKED_INDEX = 'unacked_index';
export const UNACKED_MUTEX = 'unacked_mutex';
/** kombu's default: an unacked message of a consumer that vanished comes back after an hour. */
export const DEFAULT_VISIBILITY_TIMEOUT_S = 3600;

export interface Envelope {
  body: string;
  'content-encoding': string;
  'content-type': string;
  headers: Record<string, unknown>;
  properties: {
    correlation_id?: string;
    reply_to?: string;
    delivery_mode?: number;
    delivery_info: { exchange: string; routing_key: string; redelivered?: boolean };
    priority?: number;
    body_encoding: string;
    delivery_tag: string;
    expiration?: string;
    [other: string]: unknown;
  };
}

/** The list a message of this priority goes to (kombu's _q_for_pri). */
export function listFor(queue: string, priority: number | undefined): string {
  const p = Math.max(0, Math.min(9, Math.trunc(priority ?? 0)));
  let step = 0;
  for (const s of PRIORITY_STEPS) if (s <= p) step = s;
  return step === 0 ? queue : `${queue}${SEP}${step}`;
}

/** Every list of a queue, in the order BRPOP serves them. */
export function listsOf(queue: string): string[] {
  return PRIORITY_STEPS.map((s) => (s === 0 ? queue : `${queue}${SEP}${s}`));
}

/** The queue a list belongs to (BRPOP names the list it popped from). */
export function queueOfList(list: string): string {
  const i = list.lastIndexOf(SEP);
  return i < 0 ? list : list.slice(0, i);
}

export function bindingKey(exchange: string): string {
  return `_kombu.binding.${exchange}`;
}

export function bindingMember(routingKey: string, queue: string, pattern = ''): string {
  return [routingKey, pattern, queue].join(SEP);
}

/** Queues a direct exchange routes `routingKey` to, from its binding set's members. */
export function routeDirect(members: string[], routingKey: string): string[] {
  const out: string[] = [];
  for (const m of members) {
    const [rk, , queue] = m.split(SEP);
    if (rk === routingKey && queue && !out.includes(queue)) out.push(queue);
  }
  return out;
}

export function toEnvelope(message: Message, exchange: string, routingKey: string): Envelope {
  const p = message.properties;
  const properties: Envelope['properties'] = {
    delivery_mode: p.deliveryMode,
    delivery_info: { exchange, routing_key: routingKey },
    priority: p.priority ?? 0,
    body_encoding: 'base64',
    delivery_tag: randomUUID(),
  };
  if (p.correlationId !== undefined) properties.correlation_id = p.correlationId;
  if (p.replyTo !== undefined) properties.reply_to = p.replyTo;
  if (p.expiration !== undefined) properties.expiration = p.expiration;
  return {
    body: message.body.toString('base64'),
    'content-encoding': p.contentEncoding,
    'content-type': p.contentType,
    headers: p.headers,
    properties,
  };
}

/** A list entry that is not a kombu envelope: the consumer drops it and says so. */
export class EnvelopeError extends LabError {
  constructor(message: string) {
    super('E_PROTOCOL', message);
  }
}

/** Read an envelope; anything that is not one is an EnvelopeError (the consumer drops it with a log line). */
export function parseEnvelope(text: string): Envelope {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new EnvelopeError(`not JSON (${(err as Error).message})`);
  }
  const e = v as Partial<Envelope> | null;
  if (!e || typeof e !== 'object' || typeof e.body !== 'string' || typeof e.properties !== 'object' || e.properties === null) {
    throw new EnvelopeError('not a kombu message envelope (body and properties expected)');
  }
  const props = e.properties as Partial<Envelope['properties']>;
  if (typeof props.delivery_tag !== 'string') throw new EnvelopeError('the envelope has no delivery_tag');
  if (!props.delivery_info || typeof props.delivery_info !== 'object') props.delivery_info = { exchange: '', routing_key: '' };
  if (typeof e.headers !== 'object' || e.headers === null) e.headers = {};
  return e as Envelope;
}

export function bodyOf(e: Envelope): Buffer {
  return e.properties.body_encoding === 'base64' ? Buffer.from(e.body, 'base64') : Buffer.from(e.body, 'utf8');
}

export function propertiesOf(e: Envelope): MessageProperties {
  const p = e.properties;
  const out: MessageProperties = {
    contentType: e['content-type'],
    contentEncoding: e['content-encoding'],
    deliveryMode: p.delivery_mode === 1 ? 1 : 2,
    headers: e.headers,
  };
  if (typeof p.correlation_id === 'string') out.correlationId = p.correlation_id;
  if (typeof p.reply_to === 'string') out.replyTo = p.reply_to;
  if (typeof p.priority === 'number') out.priority = p.priority;
  if (typeof p.expiration === 'string') out.expiration = p.expiration;
  return out;
}

/** Marked as kombu marks a restored message (_do_restore_message), so its next consumer sees redelivered. */
export function markRedelivered(e: Envelope): Envelope {
  e.headers.redelivered = true;
  e.properties.delivery_info.redelivered = true;
  return e;
}

export function isRedelivered(e: Envelope): boolean {
  return e.properties.delivery_info.redelivered === true || e.headers.redelivered === true;
}
