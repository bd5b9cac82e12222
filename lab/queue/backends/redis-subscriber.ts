/**
 * Waiting for results without polling: one shared subscriber connection per backend, on the channels
 * `celery-task-meta-<id>` the results are published on.
 * - Concurrent watch() calls within a tick go out as one SUBSCRIBE; unsubscribes of a burst, as one UNSUBSCRIBE.
 * - wait() subscribes, then GETs once (the result may be there already), then takes the first published READY
 *   state. A caller that watched before sending (subscribedFirst) skips the GET.
 * - READY results published for watched tasks before anyone waits are kept until wait() asks.
 * - After the subscriber connection comes back, resubscribe() subscribes again and MGETs what is waited for, since
 *   results published during the outage reached nobody.
 */
import type { Redis } from 'ioredis';
import { TaskTimeoutError } from '../errors.js';
import type { BackendError } from '../errors.js';
import { isReady } from '../backend.js';
import type { TaskMeta, WaitOptions } from '../backend.js';
import { TASK_KEY_PREFIX } from './redis-keys.js';

/** What the subscriber needs from its backend. */
export interface SubscriberHost {
  /** Resolves once the backend is connected (the first connect). */
  ready(): Promise<void>;
  /** The command connection (for the GET after subscribing). */
  command(): Promise<Redis>;
  isClosing(): boolean;
  /** A stored meta (JSON or msgpack bytes), decoded (BackendError naming the task when it is neither). */
  decodeMeta(taskId: string, value: Buffer): TaskMeta;
  opError(what: string, err: unknown): BackendError;
  closedError(): BackendError;
  reportError(err: Error): void;
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

export class ResultSubscriber {
  #sub: Redis | null = null;
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
  /** READY results published for watched tasks before anyone waited on them (raw bytes, decoded on wait). */
  readonly #early = new Map<string, Buffer>();

  constructor(private readonly host: SubscriberHost) {}

  /**
   * How many tasks' entries each map holds: zero for all once every result was read and unwatched, and after waits
   * that timed out or were aborted (issue 13: no per-task state outlives its result). For tests and benchmarks.
   */
  pendingState(): { waiters: number; watched: number; subscribed: number; active: number; early: number; unsubscribing: number } {
    return { waiters: this.#waiters.size, watched: this.#watched.size, subscribed: this.#subs.size, active: this.#active.size, early: this.#early.size, unsubscribing: this.#unsubBatch.size };
  }

  /** The subscriber connection is up (after the first connect): its messages reach the waiters from now on. */
  attach(sub: Redis): void {
    this.#sub = sub;
    // Bytes, not text: a result stored with result_serializer msgpack is binary.
    sub.on('messageBuffer', (channel: Buffer, message: Buffer) => this.#onMessage(channel.toString(), message));
  }

  /** The subscriber connection dropped: whatever is published now reaches nobody, no channel counts as listened to. */
  connectionLost(): void {
    this.#active.clear();
  }

  /** After the subscriber reconnected: subscribe again, then read what was stored while nobody listened. */
  resubscribe(cmd: Redis): void {
    const sub = this.#sub;
    if (!sub) return;
    const channels = [...this.#subs.keys()];
    const resubscribed = channels.length ? sub.subscribe(...channels).then(() => undefined) : Promise.resolve();
    resubscribed
      .then(async () => {
        const ids = [...this.#waiters.keys()];
        if (ids.length === 0) return;
        const values = await cmd.mgetBuffer(...ids.map((id) => TASK_KEY_PREFIX + id));
        ids.forEach((id, i) => {
          const text = values[i];
          if (text) this.#deliver(id, text);
        });
      })
      .catch((err: unknown) => this.host.reportError(this.host.opError('resubscribe after reconnect', err)));
  }

  /** Listen for these tasks' results from now on; resolves once the SUBSCRIBE is confirmed. */
  async watch(taskIds: readonly string[]): Promise<void> {
    for (const id of taskIds) this.#watched.add(id);
    await this.#subscribe(taskIds);
  }

  /** Stop listening (unsubscribed a moment later, unless someone still waits). */
  unwatch(taskIds: readonly string[]): void {
    for (const id of taskIds) {
      this.#watched.delete(id);
      this.#early.delete(id);
      this.#maybeUnsubscribe(id);
    }
  }

  /** Resolve with the meta once the task is READY: subscribe first, then look, then take the first READY message. */
  wait(taskId: string, timeoutMs: number | null, signal?: AbortSignal, options: WaitOptions = {}): Promise<TaskMeta> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.host.isClosing()) return Promise.reject(this.host.closedError());
    const early = this.#early.get(taskId);
    if (early !== undefined) {
      this.#early.delete(taskId);
      try {
        const meta = this.host.decodeMeta(taskId, early);
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
        // ended (timed out, aborted) while the SUBSCRIBE was on its way: finish() found nothing to unsubscribe then
        if (done) return this.#maybeUnsubscribe(taskId);
        const cmd = await this.host.command();
        const value = await cmd.getBuffer(TASK_KEY_PREFIX + taskId);
        if (value !== null && !done) this.#deliver(taskId, value);
      })().catch((err: unknown) => waiter.reject(this.host.opError(`wait for task ${taskId}`, err)));
    });
  }

  #onMessage(channel: string, message: Buffer): void {
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
  #deliver(taskId: string, text: Buffer): void {
    const set = this.#waiters.get(taskId);
    if (!set || set.size === 0) return;
    let meta: TaskMeta;
    try {
      meta = this.host.decodeMeta(taskId, text);
    } catch (err) {
      this.host.reportError(err as Error);
      return;
    }
    if (!isReady(meta.status)) return; // STARTED, RETRY, custom states: keep waiting
    let first = true;
    for (const w of [...set]) {
      w.resolve(first ? meta : this.host.decodeMeta(taskId, text));
      first = false;
    }
  }

  async #subscribe(taskIds: readonly string[]): Promise<void> {
    if (taskIds.length === 0) return;
    await this.host.ready();
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
    if (!sub || this.host.isClosing()) {
      batch?.reject(this.host.closedError());
      return;
    }
    if (unsub.length > 0) sub.unsubscribe(...unsub).catch((err: unknown) => this.host.reportError(this.host.opError('unsubscribe', err)));
    if (batch) {
      sub.subscribe(...batch.channels).then(
        () => {
          for (const c of batch.channels) if (this.#subs.has(c)) this.#active.add(c);
          batch.resolve();
        },
        (err: unknown) => batch.reject(this.host.opError(`subscribe to ${batch.channels.length} result channel(s)`, err)),
      );
    }
  }

  /** The backend is closing: every waiter and pending SUBSCRIBE fails with `err`. */
  close(err: BackendError): void {
    if (this.#unsubTimer) clearTimeout(this.#unsubTimer);
    this.#unsubTimer = null;
    for (const set of [...this.#waiters.values()]) for (const w of [...set]) w.reject(err);
    this.#waiters.clear();
    this.#subBatch?.reject(err);
    this.#subBatch = null;
  }
}
