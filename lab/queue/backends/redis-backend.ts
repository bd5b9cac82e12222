/**
 * The Redis result backend, in Celery 5.2's key layout, on ioredis. Nothing ioredis-typed leaves backends/: beside
 * this file, redis-subscriber.ts (waiting for results), redis-scripts.ts (the Lua scripts), redis-keys.ts (the key
 * layout) and redis-url.ts (URL parsing).
 *
 * - `celery-task-meta-<id>`: the meta JSON, written with SETEX and PUBLISHed on the channel of the same name, in one
 *   atomic round trip (a small Lua script that also refuses to overwrite a stored SUCCESS, as Celery checks first).
 * - Waiting never polls: one shared subscriber connection per backend (redis-subscriber.ts).
 * - Groups: `celery-taskset-meta-<gid>` = {"result": GroupResult.as_tuple()}. Chords: `<key>.s` (size), `<key>.t`
 *   (extra count), `<key>.j` (sorted set of json([1, task_id, state, result]) scored by group_index).
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from '../../vendor/ioredis.js';
import type { RedisOptions } from 'ioredis';
import { maskUrl } from '../../errors.js';
import { BackendError } from '../errors.js';
import { ConnectionBase } from '../connection.js';
import { backoffDelay, backoffPolicy } from '../../backoff.js';
import type { BackoffPolicy } from '../../backoff.js';
import { decodeStored, encodeMeta } from '../backend.js';
import type { ChordPart, ResultBackend, StoreOptions, TaskMeta, TaskState, WaitOptions } from '../backend.js';
import { encodeJson, pythonJson } from '../json-codec.js';
import { codecFor } from '../codec.js';
import { parseRedisUrl } from './redis-url.js';
import type { RedisTarget } from './redis-url.js';
import { GROUP_KEY_PREFIX, TASK_KEY_PREFIX } from './redis-keys.js';
import { defineLabCommands } from './redis-scripts.js';
import type { LabCommands } from './redis-scripts.js';
import { ResultSubscriber } from './redis-subscriber.js';

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

const DEFAULT_EXPIRES_S = 86_400;
const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
const DEFAULT_COMMAND_WAIT_MS = 10_000;
const FORGET_CHUNK = 1_000;

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
  readonly #target: RedisTarget;
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

  readonly #results = new ResultSubscriber({
    ready: () => this.ready(),
    command: () => this.#command(),
    isClosing: () => this.#closing,
    decodeMeta: (taskId, value) => this.#decodeMeta(taskId, value),
    opError: (what, err) => this.#opError(what, err),
    closedError: () => this.#closedError(),
    reportError: (err) => this.reportError(err),
  });

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
      // Commands wait out an outage in the offline queue: reads are bounded by #bounded, a worker's result writes
      // wait until stored (its pending-results limit bounds them), so none is failed by a retry count.
      maxRetriesPerRequest: null,
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
    const cmd = defineLabCommands(this.#client('cmd'));
    const sub = this.#client('sub');
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
    this.#results.attach(sub);
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
    this.#results.connectionLost();
    if (this.#closing || !this.#everReady) return;
    if (this.status !== 'reconnecting') {
      this.#outageReported = false;
      this.setStatus('reconnecting');
    }
  }

  #onClientReady(role: 'command' | 'subscriber'): void {
    if (this.#closing) return;
    if (role === 'subscriber' && this.#cmd) this.#results.resubscribe(this.#cmd);
    if (this.#cmd?.status === 'ready' && this.#sub?.status === 'ready') this.setStatus('ready');
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
    if (this.#connecting) await this.#connecting.catch(() => undefined);
    this.#results.close(this.#closedError());
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
      const stored = cmd.labStore(TASK_KEY_PREFIX + meta.task_id, encodeMeta(meta, options.serializer), String(ttl));
      await (options.untilStored ? stored : this.#bounded(stored));
    } catch (err) {
      throw this.#opError(`store result of task ${meta.task_id}`, err);
    }
  }

  async get(taskId: string): Promise<TaskMeta | null> {
    const cmd = await this.#command();
    let value: Buffer | null;
    try {
      // Bytes: a msgpack meta is not text.
      value = await this.#bounded(cmd.getBuffer(TASK_KEY_PREFIX + taskId));
    } catch (err) {
      throw this.#opError(`read result of task ${taskId}`, err);
    }
    return value === null ? null : this.#decodeMeta(taskId, value);
  }

  async forget(taskId: string): Promise<void> {
    const cmd = await this.#command();
    try {
      await this.#bounded(cmd.del(TASK_KEY_PREFIX + taskId));
    } catch (err) {
      throw this.#opError(`forget task ${taskId}`, err);
    }
  }

  async forgetMany(taskIds: readonly string[]): Promise<void> {
    const cmd = await this.#command();
    // DEL of 1,000 keys per command: one bounded wait per chunk, and no single huge command.
    for (let i = 0; i < taskIds.length; i += FORGET_CHUNK) {
      const keys = taskIds.slice(i, i + FORGET_CHUNK).map((id) => TASK_KEY_PREFIX + id);
      try {
        await this.#bounded(cmd.del(...keys));
      } catch (err) {
        throw this.#opError(`forget ${taskIds.length} task results`, err);
      }
    }
  }

  // ---------------------------------------------------------------- waiting

  watch(taskIds: readonly string[]): Promise<void> {
    return this.#results.watch(taskIds);
  }

  /** What the result subscriber still holds per task (ResultSubscriber.pendingState). */
  pendingState(): ReturnType<ResultSubscriber['pendingState']> {
    return this.#results.pendingState();
  }

  unwatch(taskIds: readonly string[]): void {
    this.#results.unwatch(taskIds);
  }

  wait(taskId: string, timeoutMs: number | null, signal?: AbortSignal, options: WaitOptions = {}): Promise<TaskMeta> {
    return this.#results.wait(taskId, timeoutMs, signal, options);
  }

  // ---------------------------------------------------------------- groups and chords

  async saveGroup(groupId: string, taskIds: readonly string[], options: StoreOptions = {}): Promise<void> {
    // Celery's _save_group: {"result": GroupResult.as_tuple()} = ((gid, parent), [((id, parent), None), ...]).
    const value = codecFor(options.serializer ?? 'json').encode({ result: [[groupId, null], taskIds.map((id) => [[id, null], null])] });
    await this.#setAndPublish(GROUP_KEY_PREFIX + groupId, value, options.expiresSeconds ?? DEFAULT_EXPIRES_S, `save group ${groupId}`);
  }

  async restoreGroup(groupId: string): Promise<string[] | null> {
    const cmd = await this.#command();
    let value: Buffer | null;
    try {
      value = await cmd.getBuffer(GROUP_KEY_PREFIX + groupId);
    } catch (err) {
      throw this.#opError(`restore group ${groupId}`, err);
    }
    if (value === null) return null;
    let meta: unknown;
    try {
      meta = decodeStored(value);
    } catch (err) {
      throw new BackendError(`${this.displayUrl}: group ${groupId}: stored value is neither JSON nor msgpack (${errorText(err)})`, { cause: err });
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
    // Exactly Python's member: json([1, task_id, state, encoded result]) (or msgpack's bytes, with result_serializer
    // msgpack); a redelivered part adds nothing.
    const serializer = options.serializer ?? 'json';
    const member = serializer === 'json' ? pythonJson([1, part.taskId, part.state, part.result]) : codecFor(serializer).encode([1, part.taskId, part.state, part.result]);
    const score = Number.isFinite(part.index) ? String(part.index) : '+inf';
    const ttl = String(options.expiresSeconds ?? DEFAULT_EXPIRES_S);
    let reply: [number, number, Buffer[]?];
    try {
      // Bytes back: msgpack members are not text.
      reply = await this.#bounded(cmd.labChordJoinBuffer(`${key}.j`, `${key}.t`, `${key}.s`, member, score, ttl));
    } catch (err) {
      throw this.#opError(`join chord ${groupId}`, err);
    }
    if (!reply[2]) return null;
    // The script runs RESP2 (flat member, score, …); accept [member, score] pairs too.
    const flat = (reply[2] as unknown[]).flat() as Buffer[];
    const parts: ChordPart[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      let decoded: unknown;
      try {
        decoded = decodeStored(flat[i]);
      } catch {
        decoded = null;
      }
      if (!Array.isArray(decoded) || decoded.length < 4) {
        throw new BackendError(`${this.displayUrl}: chord ${groupId}: malformed part ${flat[i].toString('utf8').slice(0, 200)}`);
      }
      const [, taskId, state, result] = decoded as [unknown, string, TaskState, unknown];
      parts.push({ index: scoreOf(String(flat[i + 1])), taskId, state, result });
    }
    return parts;
  }

  async #setAndPublish(key: string, value: string | Buffer, ttl: number, what: string): Promise<void> {
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

  #decodeMeta(taskId: string, value: string | Uint8Array): TaskMeta {
    try {
      return decodeStored(value) as TaskMeta;
    } catch (err) {
      throw new BackendError(`${this.displayUrl}: result of task ${taskId} is neither JSON nor msgpack (${errorText(err)})`, { cause: err });
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
