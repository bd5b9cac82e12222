/**
 * kombu's pidbox ("process mailbox") as Celery uses it for remote control: names, declarations and message shapes
 * (kombu/pidbox.py; celery/app/control.py). Requests go to the `celery.pidbox` fanout exchange; each worker reads
 * its own `<hostname>.celery.pidbox` queue; replies go to the `reply.celery.pidbox` direct exchange, routing key =
 * the caller's oid, with the request's ticket in the headers.
 */
import { LabError } from '../../errors.js';
import type { ExchangeDeclaration, QueueDeclaration } from '../broker.js';

export const MAILBOX = 'celery';
export const PIDBOX_EXCHANGE = `${MAILBOX}.pidbox`;
export const REPLY_EXCHANGE = `reply.${MAILBOX}.pidbox`;
/** Celery's control_queue_ttl (message TTL, 300 s) and control_queue_expires (queue expiry, 10 s). */
export const CONTROL_QUEUE_TTL_MS = 300_000;
export const CONTROL_QUEUE_EXPIRES_MS = 10_000;

export const pidboxExchange: ExchangeDeclaration = { name: PIDBOX_EXCHANGE, type: 'fanout', durable: false };
export const replyExchange: ExchangeDeclaration = { name: REPLY_EXCHANGE, type: 'direct', durable: false };

/** A worker's own mailbox queue: auto-delete, transient, expiring as kombu declares it. */
export function nodeQueue(hostname: string): QueueDeclaration {
  return {
    name: `${hostname}.${MAILBOX}.pidbox`,
    exchange: PIDBOX_EXCHANGE,
    exchangeType: 'fanout',
    exchangeDurable: false,
    routingKey: '',
    durable: false,
    autoDelete: true,
    expiresMs: CONTROL_QUEUE_EXPIRES_MS,
    messageTtlMs: CONTROL_QUEUE_TTL_MS,
  };
}

/** A caller's reply queue (kombu's Mailbox.get_reply_queue). */
export function replyQueue(oid: string): QueueDeclaration {
  return {
    name: `${oid}.${REPLY_EXCHANGE}`,
    exchange: REPLY_EXCHANGE,
    exchangeType: 'direct',
    exchangeDurable: false,
    routingKey: oid,
    durable: false,
    autoDelete: true,
    expiresMs: CONTROL_QUEUE_EXPIRES_MS,
    messageTtlMs: CONTROL_QUEUE_TTL_MS,
  };
}

/** What Mailbox._publish sends. */
export interface PidboxRequest {
  method: string;
  arguments: Record<string, unknown>;
  destination: string[] | null;
  pattern: string | null;
  matcher: string | null;
  ticket?: string;
  reply_to?: { exchange: string; routing_key: string };
}

/** A pidbox message lab cannot read (not JSON, not an object, no method): the worker warns and keeps serving. */
export class PidboxMessageError extends LabError {
  constructor(message: string) {
    super('E_PROTOCOL', message);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Read a request body, checking each field's type (a Python client may send null for absent ones). */
export function parseRequest(body: Buffer, contentType: string): PidboxRequest {
  if (contentType && contentType !== 'application/json') throw new PidboxMessageError(`pidbox message of content type ${contentType} (only application/json is accepted)`);
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (err) {
    throw new PidboxMessageError(`pidbox message is not JSON: ${(err as Error).message}`);
  }
  if (!isRecord(v)) throw new PidboxMessageError('pidbox message is not a JSON object');
  if (typeof v.method !== 'string' || !v.method) throw new PidboxMessageError('pidbox message has no method');
  const args = v.arguments ?? {};
  if (!isRecord(args)) throw new PidboxMessageError(`pidbox ${v.method}: arguments is not an object`);
  const dest = v.destination ?? null;
  if (dest !== null && !(Array.isArray(dest) && dest.every((d) => typeof d === 'string'))) throw new PidboxMessageError(`pidbox ${v.method}: destination is not a list of names`);
  const replyTo = v.reply_to ?? undefined;
  if (replyTo !== undefined && replyTo !== null && !(isRecord(replyTo) && typeof replyTo.exchange === 'string' && typeof replyTo.routing_key === 'string')) {
    throw new PidboxMessageError(`pidbox ${v.method}: reply_to is not {exchange, routing_key}`);
  }
  return {
    method: v.method,
    arguments: args,
    destination: dest as string[] | null,
    pattern: typeof v.pattern === 'string' ? v.pattern : null,
    matcher: typeof v.matcher === 'string' ? v.matcher : null,
    ticket: typeof v.ticket === 'string' ? v.ticket : undefined,
    reply_to: isRecord(replyTo) ? (replyTo as PidboxRequest['reply_to']) : undefined,
  };
}

/** fnmatch's glob (kombu's default matcher) as a RegExp. */
function globRegExp(pattern: string): RegExp {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end < 0) re += '\\[';
      else {
        let set = pattern.slice(i + 1, end);
        if (set.startsWith('!')) set = `^${set.slice(1)}`;
        re += `[${set.replace(/\\/g, '\\\\')}]`;
        i = end;
      }
    } else re += c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`, 's');
}

/** Node.handle_message's filter: a destination list names us, or pattern+matcher match us, or neither is given. */
export function addressedTo(req: PidboxRequest, hostname: string): boolean {
  if (req.destination && req.destination.length) return req.destination.includes(hostname);
  if (req.pattern && req.matcher) {
    try {
      // 'pcre' is Python's re.match: anchored at the start only.
      return req.matcher === 'pcre' ? new RegExp(`^(?:${req.pattern})`).test(hostname) : req.matcher === 'glob' ? globRegExp(req.pattern).test(hostname) : false;
    } catch {
      return false;
    }
  }
  return true;
}

/** Has the request's `expires` header (epoch seconds; 0 = never) passed? */
export function expired(headers: Record<string, unknown>, nowMs = Date.now()): boolean {
  const e = headers.expires;
  return typeof e === 'number' && e > 0 && nowMs / 1000 > e;
}
