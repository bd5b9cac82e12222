/**
 * Celery message protocol v2, as Celery 5.2 writes it (see shared/facts/celery-protocol.md).
 * Every transport, the in-memory one included, carries exactly these messages, so swapping the embedded lab for
 * RabbitMQ changes nothing above the Broker interface.
 */
import { randomUUID } from 'node:crypto';
import { utf8Text } from './utf8-text.js';
import { hostname } from 'node:os';
import { LabError } from '../errors.js';
import { decodeJson, encodeJson } from './json-codec.js';
import { codecFor, codecForContentType, JSON_CONTENT_TYPE } from './codec.js';
import type { SerializerName } from './codec.js';
import { pyRepr, pyTupleRepr } from './worker-log.js';

export { JSON_CONTENT_TYPE } from './codec.js';

/** A task signature as Celery serializes it (canvas.Signature as a dict). */
export interface SignatureDict {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtask_type: string | null;
  immutable: boolean;
}

export interface Embed {
  callbacks: SignatureDict[] | null;
  errbacks: SignatureDict[] | null;
  /** Stored reversed: the worker pops the last one on success. */
  chain: SignatureDict[] | null;
  chord: SignatureDict | null;
}

interface TaskHeaders {
  lang: string;
  task: string;
  id: string;
  shadow: string | null;
  eta: string | null;
  expires: string | null;
  group: string | null;
  group_index: number | null;
  retries: number;
  /** [hard, soft] in seconds, as Celery's code has it. */
  timelimit: [number | null, number | null];
  root_id: string;
  parent_id: string | null;
  argsrepr: string;
  kwargsrepr: string;
  origin: string;
  ignore_result: boolean;
  [extra: string]: unknown;
}

export interface MessageProperties {
  contentType: string;
  contentEncoding: string;
  correlationId?: string;
  replyTo?: string;
  /** 2 = persistent */
  deliveryMode: 1 | 2;
  priority?: number;
  /** Per-message TTL in milliseconds, as a string (AMQP's form). */
  expiration?: string;
  headers: Record<string, unknown>;
}

/** What a Broker publishes and delivers: opaque body bytes plus properties. */
export interface Message {
  body: Buffer;
  properties: MessageProperties;
}

export interface TaskMessageOptions {
  id?: string;
  args?: unknown[];
  kwargs?: Record<string, unknown>;
  eta?: Date | null;
  expires?: Date | null;
  countdownSeconds?: number;
  retries?: number;
  timeLimit?: [number | null, number | null];
  group?: string | null;
  groupIndex?: number | null;
  rootId?: string | null;
  parentId?: string | null;
  priority?: number;
  ignoreResult?: boolean;
  embed?: Partial<Embed>;
  extraHeaders?: Record<string, unknown>;
  replyTo?: string;
  /** The already-encoded args JSON (avoids re-encoding large payloads on retry). */
  encodedArgs?: string;
  /** The body's serializer (Celery's task_serializer / apply_async(serializer=…)); default json. */
  serializer?: SerializerName;
}

const ORIGIN = `gen${process.pid}@${hostname()}`;
/** Celery's argsrepr_maxsize / kwargsrepr_maxsize. */
const REPR_LIMIT = 1024;
/**
 * reply_to: Celery sends its thread's oid (a stable uuid per client thread); only the rpc:// backend reads it, as the
 * queue to reply on. One per process here — never the task id, which names no queue.
 */
const REPLY_TO = randomUUID();

export function newTaskId(): string {
  return randomUUID();
}

/**
 * Python's datetime.isoformat() of a UTC time: six fraction digits. Celery 5.2's parse_iso8601 reads the fraction
 * as a count of microseconds whatever its length — ".123" is 123 µs there, not 123 ms — so never write three.
 */
export function pythonIsoformat(d: Date, offset = true): string {
  const iso = d.toISOString(); // 2026-11-27T13:20:00.123Z
  return `${iso.slice(0, 23)}000${offset ? '+00:00' : ''}`;
}

/** ISO-8601 with an explicit offset and microseconds, as Celery writes eta/expires. */
export function isoWithOffset(d: Date): string {
  return pythonIsoformat(d, true);
}

function truncated(text: string): string {
  return text.length > REPR_LIMIT ? `${text.slice(0, REPR_LIMIT - 3)}...` : text;
}

function emptyEmbed(): Embed {
  return { callbacks: null, errbacks: null, chain: null, chord: null };
}

/** Build a protocol-v2 task message with a JSON (default) or msgpack body. */
export function buildTaskMessage(task: string, o: TaskMessageOptions = {}): Message {
  const id = o.id ?? newTaskId();
  const args = o.args ?? [];
  const kwargs = o.kwargs ?? {};
  const embed: Embed = { ...emptyEmbed(), ...o.embed };
  const codec = codecFor(o.serializer ?? 'json');
  let body: Buffer;
  if (codec.contentType === JSON_CONTENT_TYPE) {
    const argsJson = o.encodedArgs ?? encodeJson(args);
    body = Buffer.from(`[${argsJson},${encodeJson(kwargs)},${encodeJson(embed)}]`, 'utf8');
  } else {
    body = codec.encode([o.args === undefined && o.encodedArgs !== undefined ? decodeJson(o.encodedArgs) : args, kwargs, embed]);
  }
  let eta = o.eta ?? null;
  if (!eta && o.countdownSeconds !== undefined && o.countdownSeconds > 0) eta = new Date(Date.now() + o.countdownSeconds * 1000);
  const expires = o.expires ?? null;
  const headers: TaskHeaders = {
    lang: 'py',
    task,
    id,
    shadow: null,
    eta: eta ? isoWithOffset(eta) : null,
    expires: expires ? isoWithOffset(expires) : null,
    group: o.group ?? null,
    group_index: o.groupIndex ?? null,
    retries: o.retries ?? 0,
    timelimit: o.timeLimit ?? [null, null],
    root_id: o.rootId ?? id,
    parent_id: o.parentId ?? null,
    // Python's saferepr, as Celery writes them (monitors show these): ('a', 1) and {'k': 3}.
    argsrepr: o.args === undefined && o.encodedArgs !== undefined ? truncated(o.encodedArgs) : pyTupleRepr(args, REPR_LIMIT),
    kwargsrepr: pyRepr(kwargs, REPR_LIMIT),
    origin: ORIGIN,
    ignore_result: o.ignoreResult ?? false,
    ...o.extraHeaders,
  };
  const properties: MessageProperties = {
    contentType: codec.contentType,
    contentEncoding: codec.contentEncoding,
    correlationId: id,
    replyTo: o.replyTo ?? REPLY_TO,
    deliveryMode: 2,
    priority: o.priority ?? 0,
    headers,
  };
  if (expires) properties.expiration = String(Math.max(0, expires.getTime() - Date.now()));
  return { body, properties };
}

/** A message that is not Celery protocol v2 (missing headers, a malformed body); `taskId` when the id was readable. */
export class ProtocolError extends LabError {
  constructor(
    message: string,
    readonly taskId: string | null,
  ) {
    super('E_PROTOCOL', message);
  }
}

/** The headers a worker needs before it looks at the body. Lenient: only `id` and `task` are required. */
export interface ReceivedHeaders {
  id: string;
  task: string;
  eta: Date | null;
  expires: Date | null;
  retries: number;
  timeLimit: [number | null, number | null];
  group: string | null;
  groupIndex: number | null;
  rootId: string;
  parentId: string | null;
  ignoreResult: boolean;
  raw: Record<string, unknown>;
}

const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * ISO-8601 as Celery writes and reads it. A naive time (no offset) is UTC: Celery's worker makes it aware with
 * to_utc() (maybe_make_aware) before comparing, whatever the machine's zone — so we do too.
 */
export function parseIsoTime(text: string): Date | null {
  const m = ISO_RE.exec(text.trim());
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone.toUpperCase() !== 'Z') {
    const sign = zone[0] === '-' ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMin = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0');
    t -= sign * offsetMin * 60_000;
  }
  const date = new Date(t);
  return Number.isNaN(date.getTime()) || Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31 ? null : date;
}

function parseDate(v: unknown, field: string, id: string): Date | null {
  if (v === null || v === undefined || v === '') return null;
  if (typeof v !== 'string') throw new ProtocolError(`header ${field} is not a string`, id);
  const d = parseIsoTime(v);
  if (!d) throw new ProtocolError(`header ${field} is not an ISO-8601 time: ${JSON.stringify(v)}`, id);
  return d;
}

function numOrNull(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function readHeaders(headers: Record<string, unknown> | undefined): ReceivedHeaders {
  const h = headers ?? {};
  const id = typeof h.id === 'string' && h.id ? h.id : null;
  if (!id) throw new ProtocolError('message has no task id header (not a Celery protocol v2 message)', null);
  if (typeof h.task !== 'string' || !h.task) throw new ProtocolError('message has no task name header', id);
  const tl = Array.isArray(h.timelimit) ? h.timelimit : [];
  return {
    id,
    task: h.task,
    eta: parseDate(h.eta, 'eta', id),
    expires: parseDate(h.expires, 'expires', id),
    retries: typeof h.retries === 'number' && h.retries >= 0 ? h.retries : 0,
    timeLimit: [numOrNull(tl[0]), numOrNull(tl[1])],
    group: typeof h.group === 'string' ? h.group : null,
    groupIndex: numOrNull(h.group_index),
    rootId: typeof h.root_id === 'string' ? h.root_id : id,
    parentId: typeof h.parent_id === 'string' ? h.parent_id : null,
    ignoreResult: h.ignore_result === true,
    raw: h,
  };
}

export interface DecodedBody {
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: Embed;
}

/** Strict (a malformed body is an error, never a different argument), with utf8-text's ASCII fast path. */
const UTF8 = { decode: (bytes: Uint8Array): string => utf8Text(bytes, { fatal: true }) };

/** An embed field (callbacks, errbacks, chain): absent/null, or a list of signatures (objects naming a task). */
function signatureList(v: unknown, field: string, taskId: string): SignatureDict[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'object' || s === null || typeof (s as { task?: unknown }).task !== 'string')) {
    // Dropping it would silently break the workflow the caller built: the task fails, saying why.
    throw new ProtocolError(`body embed ${field} is not a list of signatures (objects with a task name)`, taskId);
  }
  return v as SignatureDict[];
}

/**
 * Decode a body by its content type (JSON when absent) and shape-check it. Throws ProtocolError naming what is
 * wrong; a content type without a codec here (pickle, yaml) is never decoded.
 */
export function decodeBody(body: Uint8Array, taskId: string, contentType: string = JSON_CONTENT_TYPE): DecodedBody {
  const codec = codecForContentType(contentType);
  if (!codec) throw new ProtocolError(`body of content type ${contentType} is never deserialized (only json and msgpack are)`, taskId);
  let parsed: unknown;
  if (codec.contentType === JSON_CONTENT_TYPE) {
    let text: string;
    try {
      text = UTF8.decode(body);
    } catch {
      // Replacing bad bytes would hand the task a different argument than was sent.
      throw new ProtocolError('body is not valid UTF-8', taskId);
    }
    try {
      parsed = decodeJson(text);
    } catch (err) {
      throw new ProtocolError(`body is not valid JSON (${(err as Error).message})`, taskId);
    }
  } else {
    try {
      parsed = codec.decode(body);
    } catch (err) {
      throw new ProtocolError(`body is not valid ${codec.name} (${(err as Error).message})`, taskId);
    }
  }
  if (!Array.isArray(parsed) || parsed.length < 2) throw new ProtocolError('body is not a [args, kwargs, embed] array', taskId);
  const [args, kwargs, embed] = parsed as [unknown, unknown, unknown];
  if (!Array.isArray(args)) throw new ProtocolError('body args is not an array', taskId);
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) throw new ProtocolError('body kwargs is not an object', taskId);
  if (embed !== undefined && embed !== null && (typeof embed !== 'object' || Array.isArray(embed))) throw new ProtocolError('body embed is not an object', taskId);
  const e = (embed ?? {}) as Record<string, unknown>;
  if (e.chord !== undefined && e.chord !== null && (typeof e.chord !== 'object' || typeof (e.chord as { task?: unknown }).task !== 'string')) {
    throw new ProtocolError('body embed chord is not a signature (an object with a task name)', taskId);
  }
  return {
    args,
    kwargs: kwargs as Record<string, unknown>,
    embed: {
      callbacks: signatureList(e.callbacks, 'callbacks', taskId),
      errbacks: signatureList(e.errbacks, 'errbacks', taskId),
      chain: signatureList(e.chain, 'chain', taskId),
      chord: (e.chord as SignatureDict | null | undefined) ?? null,
    },
  };
}

export function hasEmbed(e: Embed): boolean {
  return !!(e.callbacks?.length || e.errbacks?.length || e.chain?.length || e.chord);
}
