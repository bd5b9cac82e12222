/**
 * The Redis result backend, in Celery 5.2's key layout, on ioredis. Nothing ioredis-typed leaves this file.
 *
 * - `celery-task-meta-<id>`: the meta JSON, written with SETEX and PUBLISHed on the channel of the same name, in one
 *   atomic round trip (a small Lua script that also refuses to overwrite a stored SUCCESS, as Celery checks first).
 * - Waiting never polls: one shared subscriber connection per backend. Concurrent watch() calls within a tick go out
 *   as one SUBSCRIBE; wait() subscribes, then GETs once (the result may be there already), then takes the first
 *   published READY state. After a reconnect the adapter resubscribes and MGETs what it waits for, since results
 *   published during the outage reached nobody.
 * - Groups: `celery-taskset-meta-<gid>` = {"result": GroupResult.as_tuple()}. Chords: `<key>.s` (size), `<key>.t`
 *   (extra count), `<key>.j` (sorted set of json([1, task_id, state, result]) scored by group_index).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { RedisOptions } from 'ioredis';
import { maskUrl } from '../../errors.js';
import { BackendError, TaskTimeoutError, UrlError } from '../errors.js';
import { ConnectionBase } from '../connection.js';
import { backoffDelay, backoffPolicy } from '../../backoff.js';
import type { BackoffPolicy } from '../../backoff.js';
import { EncodedResult, encodeMeta, isReady } from '../backend.js';
import type { ChordPart, ResultBackend, StoreOptions, TaskMeta, TaskState, WaitOptions } from '../backend.js';
import { decodeJson, encodeJson } from '../json-codec.js';

export interface RedisBackendOptions {
  /** Bound on the first connect (TCP + handshake) of each connection. Default 5 s. */
  connectTimeoutMs?: number;
  /** CLIENT SETNAME of the command connection; the subscriber connection gets `<name>-sub`. */
  connectionName?: string;
  /** Reconnect backoff after the first successful connect (lab/backoff.ts; default base 100 ms, cap 5 s). */
  backoff?: Partial<BackoffPolicy>;
  /**
   * How long a command (store, get, forget, chord bookkeeping) may wait for Redis — through an outage, say — before
   * it fails with E_BACKEND_UNAVAILABLE. Default 10 s, or the URL's `?socket_timeout=<seconds>` (Celery's name).
   */
  commandWaitMs?: number;
}

export const TASK_KEY_PREFIX = 'celery-task-meta-';
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';
const DEFAULT_EXPIRES_S = 86_400;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_WAIT_MS = 10_000;

/** SETEX + PUBLISH unless a SUCCESS is stored already (Celery reads the current state before every write). */
const STORE_LUA = `
local cur = redis.call('GET', KEYS[1])
-- A cheap scan first (a stored result may be large); decode only when a "status": "SUCCESS" pair appears somewhere,
-- to be sure it is the top-level one. Undecodable but matching: keep it (never overwrite what may be a success).
if cur and string.find(cur, '"status"%s*:%s*"SUCCESS"') then
  local ok, m = pcall(cjson.decode, cur)
  if not ok or (type(m) == 'table' and m['status'] == 'SUCCESS') then return 0 end
end
local ttl = tonumber(ARGV[2])
if ttl and ttl > 0 then
  redis.call('SETEX', KEYS[1], ttl, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
`;

/**
 * Celery's on_chord_part_return in one atomic step: ZADD, ZCOUNT, GET .t/.s, EXPIRE; and when the count reaches
 * size + t, ZRANGE and DEL in the same step, so exactly one caller ever sees the chord complete (a duplicate
 * delivery of a part between the count and the cleanup cannot complete it twice).
 */
const CHORD_JOIN_LUA = `
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local count = redis.call('ZCOUNT', KEYS[1], '-inf', '+inf')
local t = redis.call('GET', KEYS[2])
local s = redis.call('GET', KEYS[3])
local ttl = tonumber(ARGV[3])
if ttl and ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  redis.call('EXPIRE', KEYS[2], ttl)
  redis.call('EXPIRE', KEYS[3], ttl)
end
if not s then return {count, -1} end
local total = (tonumber(s) or 0) + (tonumber(t) or 0)
if count ~= total then return {count, total} end
local parts = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
return {count, total, parts}
`;

interface LabCommands {
  labStore(key: string, value: string, ttl: string): Promise<number>;
  labChordJoin(jkey: string, tkey: string, skey: string, member: string, score: string, ttl: string): Promise<[number, number, string[]?]>;
}

interface Waiter {
  resolve(meta: TaskMeta): void;
  /** Usually an Error; an abort rejects with whatever the signal's reason is. */
  reject(reason: unknown): void;
}

interface SubBatch {
  channels: string[];
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

interface ParsedUrl {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  tls: boolean;
  /** From ?socket_timeout= / ?socket_connect_timeout= (seconds, as in Celery's Redis URLs). */
  socketTimeoutMs?: number;
  connectTimeoutMs?: number;
}

function secondsParam(u: URL, name: string, url: string): number | undefined {
  const v = u.searchParams.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new UrlError(`bad ${name}=${JSON.stringify(v)} in ${maskUrl(url)} (expected seconds > 0)`);
  return Math.round(n * 1000);
}

export function parseRedisUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UrlError(`not a Redis URL: ${maskUrl(url)} (expected redis://[:password@]host:port/db)`);
  }
  const scheme = u.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'redis' && scheme !== 'rediss') throw new UrlError(`not a Redis URL: ${maskUrl(url)} (expected redis:// or rediss://)`);
  const dbText = u.pathname.replace(/^\/+|\/+$/g, '') || u.searchParams.get('db') || '0';
  const db = Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new UrlError(`bad Redis database number "${dbText}" in ${maskUrl(url)}`);
  return {
    host: u.hostname.replace(/^\[|\]$/g, '') || 'localhost',
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db,
    tls: scheme === 'rediss',
    socketTimeoutMs: secondsParam(u, 'socket_timeout', url),
    connectTimeoutMs: secondsParam(u, 'socket_connect_timeout', url),
  };
}

/** Python's json.dumps text (", " and ": " separators, ASCII-only strings), so chord members match Python's bytes. */
export function pythonJson(value: unknown): string {
  if (value instanceof EncodedResult) return value.json;
  if (value === null || value === undefined) return 'null';
  switch (typeof value) {
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number': {
      if (!Number.isFinite(value)) return 'null'; // as encodeJson: strict JSON every peer can read
      return String(value).replace(/e([+-])(\d)$/, 'e$10$2'); // 1e-7 → 1e-07 as Python's repr writes it
    }
    case 'bigint':
      return value.toString();
    case 'string':
      return pythonString(value);
    case 'object': {
      const withJson = value as { toJSON?: () => unknown };
      if (typeof withJson.toJSON === 'function') return pythonJson(withJson.toJSON());
      if (Array.isArray(value)) return `[${value.map((v) => (v === undefined || typeof v === 'function' ? 'null' : pythonJson(v))).join(', ')}]`;
      const parts: string[] = [];
      for (const [k, v] of Object.entries(value)) {
        if (v === undefined || typeof v === 'function' || typeof v === 'symbol') continue;
        parts.push(`${pythonString(k)}: ${pythonJson(v)}`);
      }
      return `{${parts.join(', ')}}`;
    }
    default:
      return 'null';
  }
}

function pythonString(s: string): string {
  return JSON.stringify(s).replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function scoreOf(text: string): number {
  const t = text.toLowerCase();
  if (t === 'inf' || t === '+inf') return Infinity;
  if (t === '-inf') return -Infinity;
  return Number(text);
}

/** Ids out of Celery's GroupResult.as_tuple(): ((gid, parent), [((id, parent), children|None), ...]). */
function groupIdsFromTuple(result: unknown): string[] | null {
  if (!Array.isArray(result) || result.length < 2 || !Array.isArray(result[1])) return null;
  const ids: string[] = [];
  for (const node of result[1] as unknown[]) {
    if (typeof node === 'string') {
      ids.push(node);
      continue;
    }
    if (!Array.isArray(node)) continue;
    const res = node[0];
    const id = Array.isArray(res) ? res[0] : res;
    if (typeof id === 'string') ids.push(id);
  }
  return ids;
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0];
}

export class RedisBackend extends ConnectionBase implements ResultBackend {
  readonly kind = 'redis';
  readonly displayUrl: string;
  readonly connectionName: string;
  readonly #target: ParsedUrl;
  readonly #connectTimeoutMs: number;
  readonly #commandWaitMs: number;
  readonly #backoff: BackoffPolicy;

  #cmd: (Redis & LabCommands) | null = null;
  #sub: Redis | null = null;
  #connecting: Promise<void> | null = null;
  #everReady = false;
  #closing = false;
  #closed: Promise<void> | null = null;
  #outageReported = false;

  readonly #waiters = new Map<string, Set<Waiter>>();
  readonly #watched = new Set<string>();
  /** Channels subscribed (or on their way): the promise settles when the SUBSCRIBE is confirmed. */
  readonly #subs = new Map<string, Promise<void>>();
  #subBatch: SubBatch | null = null;
  readonly #unsubBatch = new Set<string>();
  #flushScheduled = false;
  #unsubTimer: NodeJS.Timeout | null = null;
  /** Channels whose SUBSCRIBE the server confirmed (cleared when the subscriber connection drops). */
  readonly #active = new Set<string>();
  /** READY results published for watched tasks before anyone waited on them (raw text, decoded on wait). */
  readonly #early = new Map<string, string>();

  constructor(url: string, options: RedisBackendOptions = {}) {
    super();
    this.displayUrl = maskUrl(url);
    this.#target = parseRedisUrl(url);
    this.#connectTimeoutMs = options.connectTimeoutMs ?? this.#target.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    this.#commandWaitMs = options.commandWaitMs ?? this.#target.socketTimeoutMs ?? DEFAULT_COMMAND_WAIT_MS;
    this.#backoff = backoffPolicy(options.backoff);
    this.connectionName = options.connectionName ?? `lab-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  }

  // ---------------------------------------------------------------- lifecycle

  ready(): Promise<void> {
    if (this.#closing) return Promise.reject(this.#closedError());
    // While reconnecting, commands wait in ioredis's offline queue: the backend is usable.
    if (this.#everReady) return Promise.resolve();
    this.#connecting ??= this.#firstConnect();
    return this.#connecting;
  }

  #client(role: 'cmd' | 'sub'): Redis {
    const t = this.#target;
    const options: RedisOptions = {
      host: t.host,
      port: t.port,
      db: t.db,
      lazyConnect: true,
      connectTimeout: this.#connectTimeoutMs,
      connectionName: role === 'sub' ? `${this.connectionName}-sub` : this.connectionName,
      autoResubscribe: false, // we resubscribe ourselves, then catch up with MGET
      enableOfflineQueue: true,
      // ioredis waits this long for a socket that never connected to 'close' after disconnect(): keep it short, so
      // a process that failed to reach Redis exits at once.
      disconnectTimeout: 300,
      // The first connect is one bounded attempt with a clear error; after that, reconnect forever with backoff.
      retryStrategy: (times: number) => (this.#everReady && !this.#closing ? backoffDelay(times - 1, this.#backoff) : null),
    };
    // Commands issued in one tick go out as one write (a busy worker stores many results per tick; a client reads
    // and forgets many). The subscriber connection batches its own SUBSCRIBEs.
    if (role === 'cmd') options.enableAutoPipelining = true;
    if (t.username !== undefined) options.username = t.username;
    if (t.password !== undefined) options.password = t.password;
    if (t.tls) options.tls = { servername: t.host };
    return new Redis(options);
  }

  async #firstConnect(): Promise<void> {
    this.setStatus('connecting');
    const cmd = this.#client('cmd') as Redis & LabCommands;
    const sub = this.#client('sub');
    cmd.defineCommand('labStore', { numberOfKeys: 1, lua: STORE_LUA });
    cmd.defineCommand('labChordJoin', { numberOfKeys: 3, lua: CHORD_JOIN_LUA });
    const errors: Error[] = [];
    const collect = (err: Error): void => {
      errors.push(err);
    };
    cmd.on('error', collect);
    sub.on('error', collect);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.all([cmd.connect(), sub.connect()]),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.#connectTimeoutMs} ms`)), this.#connectTimeoutMs + 250);
        }),
      ]);
      if (this.#closing) throw this.#closedError();
    } catch (err) {
      cmd.disconnect();
      sub.disconnect();
      this.#connecting = null;
      if (!this.#closing) this.setStatus('idle');
      const cause = errors.find((e) => /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(e.message)) ?? errors[0] ?? err;
      throw this.#connectError(cause);
    } finally {
      clearTimeout(timer);
      cmd.off('error', collect);
      sub.off('error', collect);
    }
    this.#cmd = cmd;
    this.#sub = sub;
    this.#everReady = true;
    this.#connecting = null;
    for (const [role, client] of [
      ['command', cmd],
      ['subscriber', sub],
    ] as const) {
      client.on('error', (err: Error) => this.#onClientError(role, err));
      client.on('close', () => this.#onClientDown());
      client.on('ready', () => this.#onClientReady(role));
    }
    sub.on('message', (channel: string, message: string) => this.#onMessage(channel, message));
    this.setStatus('ready');
  }

  #onClientError(role: string, err: Error): void {
    if (this.#closing) return;
    // During an outage ioredis reports every failed attempt; say it once per outage.
    if (this.status === 'reconnecting') {
      if (this.#outageReported) return;
      this.#outageReported = true;
    }
    this.reportError(new BackendError(`${this.displayUrl}: ${role} connection: ${errorText(err)}`, { code: 'E_BACKEND_UNAVAILABLE', cause: err }));
  }

  #onClientDown(): void {
    // Whatever was published while the subscriber is away reaches nobody: no channel counts as listened to.
    this.#active.clear();
    if (this.#closing || !this.#everReady) return;
    if (this.status !== 'reconnecting') {
      this.#outageReported = false;
      this.setStatus('reconnecting');
    }
  }

  #onClientReady(role: 'command' | 'subscriber'): void {
    if (this.#closing) return;
    if (role === 'subscriber') this.#resubscribe();
    if (this.#cmd?.status === 'ready' && this.#sub?.status === 'ready') this.setStatus('ready');
  }

  /** After the subscriber reconnected: subscribe again, then read what was stored while nobody listened. */
  #resubscribe(): void {
    const sub = this.#sub;
    const cmd = this.#cmd;
    if (!sub || !cmd) return;
    const channels = [...this.#subs.keys()];
    const resubscribed = channels.length ? sub.subscribe(...channels).then(() => undefined) : Promise.resolve();
    resubscribed
      .then(async () => {
        const ids = [...this.#waiters.keys()];
        if (ids.length === 0) return;
        const values = await cmd.mget(...ids.map((id) => TASK_KEY_PREFIX + id));
        ids.forEach((id, i) => {
          const text = values[i];
          if (text) this.#deliver(id, text);
        });
      })
      .catch((err: unknown) => this.reportError(this.#opError('resubscribe after reconnect', err)));
  }

  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#unsubTimer) clearTimeout(this.#unsubTimer);
    this.#unsubTimer = null;
    if (this.status === 'idle') {
      this.setStatus('closed');
      return;
    }
    this.setStatus('closing');
    if (this.#connecting) await this.#connecting.catch(() => undefined);
    const closed = this.#closedError();
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) w.reject(closed);
    this.#waiters.clear();
    this.#subBatch?.reject(closed);
    this.#subBatch = null;
    const clients = [this.#cmd, this.#sub].filter((c): c is Redis => c !== null);
    await Promise.all(
      clients.map(async (c) => {
        if (c.status !== 'ready') {
          c.disconnect();
          return;
        }
        // QUIT waits for replies still owed (a store in flight); bounded, then cut.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([c.quit().catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 2_000)))]);
        clearTimeout(timer);
        c.disconnect();
      }),
    );
    this.setStatus('closed');
  }

  // ---------------------------------------------------------------- results

  async store(meta: TaskMeta, options: StoreOptions = {}): Promise<void> {
    const cmd = await this.#command();
    const ttl = options.expiresSeconds ?? DEFAULT_EXPIRES_S;
    try {
      await this.#bounded(cmd.labStore(TASK_KEY_PREFIX + meta.task_id, encodeMeta(meta), String(ttl)));
    } catch (err) {
      throw this.#opError(`store result of task ${meta.task_id}`, err);
    }
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    const cmd = await this.#command();
    let text: string | null;
    try {
      text = await this.#bounded(cmd.get(TASK_KEY_PREFIX + taskId));
    } catch (err) {
      throw this.#opError(`read result of task ${taskId}`, err);
    }
    return text === null ? null : this.#decodeMeta(taskId, text);
  }

  async forget(taskId: string): Promise<void> {
    const cmd = await this.#command();
    try {
      await this.#bounded(cmd.del(TASK_KEY_PREFIX + taskId));
    } catch (err) {
      throw this.#opError(`forget task ${taskId}`, err);
    }
  }

  // ---------------------------------------------------------------- waiting

  async watch(taskIds: readonly string[]): Promise<void> {
    for (const id of taskIds) this.#watched.add(id);
    await this.#subscribe(taskIds);
  }

  unwatch(taskIds: readonly string[]): void {
    for (const id of taskIds) {
      this.#watched.delete(id);
      this.#early.delete(id);
      this.#maybeUnsubscribe(id);
    }
  }

  wait(taskId: string, timeoutMs: number | null, signal?: AbortSignal, options: WaitOptions = {}): Promise<TaskMeta> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closing) return Promise.reject(this.#closedError());
    const early = this.#early.get(taskId);
    if (early !== undefined) {
      this.#early.delete(taskId);
      try {
        const meta = this.#decodeMeta(taskId, early);
        if (isReady(meta.status)) return Promise.resolve(meta);
      } catch {
        // fall through: read it from Redis
      }
    }
    const channel = TASK_KEY_PREFIX + taskId;
    // Watched (and subscribed) before the task was sent: every result since was either buffered or will arrive.
    const listening = options.subscribedFirst === true && this.#watched.has(taskId) && this.#active.has(channel);
    return new Promise<TaskMeta>((resolve, reject) => {
      let done = false;
      let timer: NodeJS.Timeout | undefined;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        const set = this.#waiters.get(taskId);
        if (set) {
          set.delete(waiter);
          if (set.size === 0) this.#waiters.delete(taskId);
        }
        this.#maybeUnsubscribe(taskId);
        return true;
      };
      const waiter: Waiter = {
        resolve: (meta) => {
          if (finish()) resolve(meta);
        },
        reject: (err) => {
          if (finish()) reject(err);
        },
      };
      const onAbort = (): void => waiter.reject(signal?.reason);
      let set = this.#waiters.get(taskId);
      if (!set) this.#waiters.set(taskId, (set = new Set()));
      set.add(waiter);
      if (timeoutMs !== null) timer = setTimeout(() => waiter.reject(new TaskTimeoutError(taskId, timeoutMs)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (listening) return;
      // Listen first, then look: a result stored before the subscription was active is found by the GET,
      // one stored after it arrives as a message.
      (async () => {
        await this.#subscribe([taskId]);
        if (done) return;
        const cmd = await this.#command();
        const text = await cmd.get(TASK_KEY_PREFIX + taskId);
        if (text !== null && !done) this.#deliver(taskId, text);
      })().catch((err: unknown) => waiter.reject(this.#opError(`wait for task ${taskId}`, err)));
    });
  }

  #onMessage(channel: string, message: string): void {
    if (!channel.startsWith(TASK_KEY_PREFIX)) return;
    const taskId = channel.slice(TASK_KEY_PREFIX.length);
    if (!this.#waiters.has(taskId)) {
      // Nobody waits yet (a group's results arrive while the app is still sending): keep it for wait().
      if (this.#watched.has(taskId)) this.#early.set(taskId, message);
      return;
    }
    this.#deliver(taskId, message);
  }

  /** Hand a stored/published meta to the waiters of a task, if it is READY. Each waiter gets its own object. */
  #deliver(taskId: string, text: string): void {
    const set = this.#waiters.get(taskId);
    if (!set || set.size === 0) return;
    let meta: TaskMeta;
    try {
      meta = this.#decodeMeta(taskId, text);
    } catch (err) {
      this.reportError(err as Error);
      return;
    }
    if (!isReady(meta.status)) return; // STARTED, RETRY, custom states: keep waiting
    let first = true;
    for (const w of [...set]) {
      w.resolve(first ? meta : (decodeJson(text) as TaskMeta));
      first = false;
    }
  }

  async #subscribe(taskIds: readonly string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.ready();
    const pending: Promise<void>[] = [];
    for (const id of taskIds) {
      const channel = TASK_KEY_PREFIX + id;
      this.#unsubBatch.delete(channel);
      let p = this.#subs.get(channel);
      if (!p) {
        const q = this.#queueSubscribe(channel);
        q.catch(() => {
          if (this.#subs.get(channel) === q) this.#subs.delete(channel);
        });
        this.#subs.set(channel, (p = q));
      }
      pending.push(p);
    }
    await Promise.all(pending);
  }

  #queueSubscribe(channel: string): Promise<void> {
    if (!this.#subBatch) {
      let resolve!: () => void;
      let reject!: (err: Error) => void;
      const promise = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      promise.catch(() => undefined); // observed through the per-channel promises
      this.#subBatch = { channels: [], promise, resolve, reject };
      this.#scheduleFlush();
    }
    this.#subBatch.channels.push(channel);
    return this.#subBatch.promise;
  }

  #maybeUnsubscribe(taskId: string): void {
    if (this.#watched.has(taskId) || this.#waiters.has(taskId)) return;
    const channel = TASK_KEY_PREFIX + taskId;
    if (!this.#subs.delete(channel)) return;
    this.#active.delete(channel);
    this.#unsubBatch.add(channel);
    // Not urgent: results arriving in a burst unsubscribe together (one UNSUBSCRIBE for many) a moment later.
    this.#unsubTimer ??= setTimeout(() => {
      this.#unsubTimer = null;
      this.#flush();
    }, 5);
    this.#unsubTimer.unref?.();
  }

  /** Calls made within one tick share one SUBSCRIBE / one UNSUBSCRIBE. */
  #scheduleFlush(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#unsubTimer && this.#unsubBatch.size === 0) {
      clearTimeout(this.#unsubTimer);
      this.#unsubTimer = null;
    }
    const sub = this.#sub;
    const batch = this.#subBatch;
    this.#subBatch = null;
    const unsub = [...this.#unsubBatch].filter((c) => !this.#subs.has(c));
    this.#unsubBatch.clear();
    if (!sub || this.#closing) {
      batch?.reject(this.#closedError());
      return;
    }
    if (unsub.length > 0) sub.unsubscribe(...unsub).catch((err: unknown) => this.reportError(this.#opError('unsubscribe', err)));
    if (batch) {
      sub.subscribe(...batch.channels).then(
        () => {
          for (const c of batch.channels) if (this.#subs.has(c)) this.#active.add(c);
          batch.resolve();
        },
        (err: unknown) => batch.reject(this.#opError(`subscribe to ${batch.channels.length} result channel(s)`, err)),
      );
    }
  }

  // ---------------------------------------------------------------- groups and chords

  async saveGroup(groupId: string, taskIds: readonly string[], options: StoreOptions = {}): Promise<void> {
    // Celery's _save_group: {"result": GroupResult.as_tuple()} = ((gid, parent), [((id, parent), None), ...]).
    const value = encodeJson({ result: [[groupId, null], taskIds.map((id) => [[id, null], null])] });
    await this.#setAndPublish(GROUP_KEY_PREFIX + groupId, value, options.expiresSeconds ?? DEFAULT_EXPIRES_S, `save group ${groupId}`);
  }

  async restoreGroup(groupId: string): Promise<string[] | null> {
    const cmd = await this.#command();
    let text: string | null;
    try {
      text = await cmd.get(GROUP_KEY_PREFIX + groupId);
    } catch (err) {
      throw this.#opError(`restore group ${groupId}`, err);
    }
    if (text === null) return null;
    let meta: unknown;
    try {
      meta = decodeJson(text);
    } catch (err) {
      throw new BackendError(`${this.displayUrl}: group ${groupId}: stored value is not JSON (${errorText(err)})`, { cause: err });
    }
    const ids = groupIdsFromTuple((meta as { result?: unknown } | null)?.result);
    if (!ids) throw new BackendError(`${this.displayUrl}: group ${groupId}: stored value is not a Celery GroupResult tuple`);
    return ids;
  }

  async chordSetSize(groupId: string, size: number, options: StoreOptions = {}): Promise<void> {
    // Celery's set_chord_size goes through the same SETEX + PUBLISH path; the value is the bare integer.
    await this.#setAndPublish(`${GROUP_KEY_PREFIX}${groupId}.s`, String(size), options.expiresSeconds ?? DEFAULT_EXPIRES_S, `set size of chord ${groupId}`);
  }

  async chordJoin(groupId: string, part: ChordPart, options: StoreOptions = {}): Promise<ChordPart[] | null> {
    const cmd = await this.#command();
    const key = GROUP_KEY_PREFIX + groupId;
    // Exactly Python's member: json([1, task_id, state, encoded result]); a redelivered part adds nothing.
    const member = pythonJson([1, part.taskId, part.state, part.result]);
    const score = Number.isFinite(part.index) ? String(part.index) : '+inf';
    const ttl = String(options.expiresSeconds ?? DEFAULT_EXPIRES_S);
    let reply: [number, number, string[]?];
    try {
      reply = await this.#bounded(cmd.labChordJoin(`${key}.j`, `${key}.t`, `${key}.s`, member, score, ttl));
    } catch (err) {
      throw this.#opError(`join chord ${groupId}`, err);
    }
    if (!reply[2]) return null;
    // The script runs RESP2 (flat member, score, …); accept [member, score] pairs too.
    const flat = (reply[2] as unknown[]).flat().map(String);
    const parts: ChordPart[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const decoded = decodeJson(flat[i]);
      if (!Array.isArray(decoded) || decoded.length < 4) {
        throw new BackendError(`${this.displayUrl}: chord ${groupId}: malformed part ${flat[i].slice(0, 200)}`);
      }
      const [, taskId, state, result] = decoded as [unknown, string, TaskState, unknown];
      parts.push({ index: scoreOf(flat[i + 1]), taskId, state, result });
    }
    return parts;
  }

  async #setAndPublish(key: string, value: string, ttl: number, what: string): Promise<void> {
    const cmd = await this.#command();
    const tx = cmd.multi();
    if (ttl > 0) tx.setex(key, ttl, value);
    else tx.set(key, value);
    tx.publish(key, value);
    let replies: [Error | null, unknown][] | null;
    try {
      replies = await this.#bounded(tx.exec());
    } catch (err) {
      throw this.#opError(what, err);
    }
    const failed = replies?.find(([e]) => e);
    if (!replies || failed) throw this.#opError(what, failed?.[0] ?? new Error('transaction aborted'));
  }

  // ---------------------------------------------------------------- helpers

  /** A command's reply, or E_BACKEND_UNAVAILABLE once it has waited commandWaitMs (ioredis would queue it forever). */
  #bounded<T>(p: Promise<T>): Promise<T> {
    const ms = this.#commandWaitMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        const state = this.status === 'ready' ? 'no reply' : 'unreachable';
        reject(new BackendError(`${this.displayUrl}: Redis ${state} for ${ms} ms`, { code: 'E_BACKEND_UNAVAILABLE' }));
      }, ms);
      p.then(
        (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          reject(err);
        },
      );
    });
  }

  async #command(): Promise<Redis & LabCommands> {
    await this.ready();
    if (!this.#cmd || this.#closing) throw this.#closedError();
    return this.#cmd;
  }

  #decodeMeta(taskId: string, text: string): TaskMeta {
    try {
      return decodeJson(text) as TaskMeta;
    } catch (err) {
      throw new BackendError(`${this.displayUrl}: result of task ${taskId} is not JSON (${errorText(err)})`, { cause: err });
    }
  }

  #closedError(): BackendError {
    return new BackendError(`${this.displayUrl}: result backend connection is closed`, { code: 'E_BACKEND_CLOSED' });
  }

  #opError(what: string, err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    const text = errorText(err);
    const code = /NOAUTH|WRONGPASS|NOPERM/.test(text)
      ? 'E_BACKEND_AUTH'
      : /Connection is closed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|MaxRetriesPerRequest|max retries/i.test(text)
        ? 'E_BACKEND_UNAVAILABLE'
        : 'E_BACKEND';
    return new BackendError(`${this.displayUrl}: ${what}: ${text}`, { code, cause: err });
  }

  /** One line naming the (masked) URL and the cause; credential refusal gets E_BACKEND_AUTH. */
  #connectError(err: unknown): BackendError {
    if (err instanceof BackendError) return err;
    const text = errorText(err);
    if (/NOAUTH|WRONGPASS|invalid password|invalid username/i.test(text)) {
      return new BackendError(`${this.displayUrl}: ${text}`, { code: 'E_BACKEND_AUTH', cause: err });
    }
    return new BackendError(`${this.displayUrl}: ${text}`, { code: 'E_BACKEND_UNAVAILABLE', cause: err });
  }
}
