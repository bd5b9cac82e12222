/**
 * Writing message properties and header tables so py-amqp (Celery's client) reads them back, and reading
 * amqplib's properties into the runtime's MessageProperties. The reading side of py-amqp's own header types is
 * amqp-codec.ts (a patch of amqplib's decoder, loaded before amqplib); this file only shapes values.
 */
import type { ConsumeMessage, Options } from 'amqplib';
import type { MessageProperties } from '../protocol.js';

/**
 * Header values typed so py-amqp reads them back. amqplib writes an integer in 128..32767 with the tag 's'
 * (int16, RabbitMQ's reading) — py-amqp reads 's' as a *short string* and loses its place in the table
 * (FrameSyntaxError: the Python worker's connection drops and it restarts until it gives up). It reads 'b' as
 * unsigned, so a negative byte changes sign. So: 0..127 stay a byte, other integers go as 'I' (int32) or 'l'
 * (int64), in nested tables and arrays too (timelimit, a chord's options…). Floats are doubles either way.
 */
function pyAmqpValue(v: unknown): unknown {
  if (typeof v === 'number') {
    if (!Number.isInteger(v) || (v >= 0 && v <= 127)) return v;
    return v >= -0x80000000 && v <= 0x7fffffff ? { '!': 'int', value: v } : { '!': 'long', value: v };
  }
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return needsRetyping(v) ? v.map(pyAmqpValue) : v;
  if (Object.hasOwn(v, '!')) return v; // already typed by the caller
  if (!needsRetyping(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = pyAmqpValue(x);
  return out;
}

function needsRetyping(v: unknown): boolean {
  if (typeof v === 'number') return Number.isInteger(v) && (v < 0 || v > 127);
  if (v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return false;
  if (Array.isArray(v)) return v.some(needsRetyping);
  for (const k in v) if (needsRetyping((v as Record<string, unknown>)[k])) return true;
  return false;
}

/** The headers as py-amqp can read them; the same object when nothing needs retyping (the common case). */
export function pyAmqpHeaders(headers: Record<string, unknown>): Record<string, unknown> {
  return needsRetyping(headers) ? (pyAmqpValue(headers) as Record<string, unknown>) : headers;
}

export function toAmqpOptions(p: MessageProperties): Options.Publish {
  const o: Options.Publish = {
    contentType: p.contentType,
    contentEncoding: p.contentEncoding,
    deliveryMode: p.deliveryMode,
    headers: pyAmqpHeaders(p.headers ?? {}),
  };
  if (p.correlationId !== undefined) o.correlationId = p.correlationId;
  if (p.replyTo !== undefined) o.replyTo = p.replyTo;
  if (p.priority !== undefined) o.priority = p.priority;
  if (p.expiration !== undefined) o.expiration = String(p.expiration);
  return o;
}

export function fromAmqpProperties(p: ConsumeMessage['properties']): MessageProperties {
  const out: MessageProperties = {
    contentType: p.contentType ?? '',
    contentEncoding: p.contentEncoding ?? '',
    deliveryMode: p.deliveryMode === 2 ? 2 : 1,
    headers: (p.headers as Record<string, unknown> | undefined) ?? {},
  };
  if (p.correlationId !== undefined) out.correlationId = String(p.correlationId);
  if (p.replyTo !== undefined) out.replyTo = String(p.replyTo);
  if (p.priority !== undefined) out.priority = Number(p.priority);
  if (p.expiration !== undefined) out.expiration = String(p.expiration);
  return out;
}
