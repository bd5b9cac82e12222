/** AsyncResult and GroupResult: Celery's futures, read from the result backend without polling. */
import { isReady } from './backend.js';
import type { SendTimings } from './app.js';
import type { ResultBackend, TaskMeta, TaskState } from './backend.js';
import { TaskFailedError, TaskRevokedError, TaskTimeoutError, formatExcMessage, isExceptionInfo } from './errors.js';

/** What a result needs from its app: the backend (connected lazily). */
export interface ResultHost {
  getBackend(): Promise<ResultBackend>;
}

export interface GetOptions {
  /** Seconds to wait (Celery's unit). Omit or null to wait forever. */
  timeout?: number | null;
  /** Throw the task's failure as a TaskFailedError (default true). With false, return the ExceptionInfo instead. */
  propagate?: boolean;
  signal?: AbortSignal;
}

const DONE: Promise<void> = Promise.resolve();

export class AsyncResult<R = unknown> {
  #meta: TaskMeta | null = null;
  /** When get() received the ready result (epoch ms), for transfer-time breakdowns. */
  receivedAt: number | null = null;
  /**
   * Settles with the broker's publisher confirm of the message that sent this task (resolved when there was none
   * to wait for, e.g. a result looked up by id). `await r.sent` before exiting a process that only sends.
   */
  readonly sent: Promise<void>;

  constructor(
    readonly id: string,
    private readonly host: ResultHost,
    readonly taskName: string | null = null,
    readonly parent: AsyncResult | GroupResult | null = null,
    sent: Promise<void> = DONE,
    /** The app subscribed to this task's result before sending it (see WaitOptions.subscribedFirst). */
    private readonly subscribedFirst = false,
  ) {
    this.sent = sent;
  }

  /** The last state this object saw (PENDING until get/refresh/ready learn otherwise). */
  get state(): TaskState {
    return this.#meta?.status ?? 'PENDING';
  }

  /** The return value, or the ExceptionInfo of a failure, as last seen. */
  get result(): unknown {
    return this.#meta?.result ?? null;
  }

  get traceback(): string | null {
    return this.#meta?.traceback ?? null;
  }

  get meta(): TaskMeta | null {
    return this.#meta;
  }

  /** Fetch the current state from the backend. */
  async refresh(): Promise<TaskState> {
    const backend = await this.host.getBackend();
    const meta = await backend.get(this.id);
    if (meta) this.#meta = meta;
    return this.state;
  }

  async ready(): Promise<boolean> {
    if (this.#meta && isReady(this.#meta.status)) return true;
    return isReady(await this.refresh());
  }

  async successful(): Promise<boolean> {
    await this.ready();
    return this.state === 'SUCCESS';
  }

  async failed(): Promise<boolean> {
    await this.ready();
    return this.state === 'FAILURE';
  }

  /** Wait for the result. Throws TaskTimeoutError, TaskFailedError (remote type, message, traceback) or TaskRevokedError. */
  async get(options: GetOptions = {}): Promise<R> {
    const timeoutMs = options.timeout === undefined || options.timeout === null ? null : Math.max(0, Math.round(options.timeout * 1000));
    if (!this.#meta || !isReady(this.#meta.status)) {
      const backend = await this.host.getBackend();
      try {
        let signal = options.signal;
        if (this.sent !== DONE) {
          // A result proves the broker had the message; a failed confirm before it means it never will come.
          const failed = new AbortController();
          this.sent.catch((err: unknown) => failed.abort(err));
          signal = signal ? AbortSignal.any([signal, failed.signal]) : failed.signal;
        }
        this.#meta = await backend.wait(this.id, timeoutMs, signal, { subscribedFirst: this.subscribedFirst });
        this.receivedAt = Date.now();
      } finally {
        backend.unwatch([this.id]);
      }
    }
    return this.settle(options.propagate ?? true);
  }

  private settle(propagate: boolean): R {
    const meta = this.#meta as TaskMeta;
    if (meta.status === 'SUCCESS' || !propagate) return meta.result as R;
    const exc = isExceptionInfo(meta.result) ? meta.result : { exc_type: 'Exception', exc_message: [formatExcMessage(meta.result)], exc_module: null };
    if (meta.status === 'REVOKED') throw new TaskRevokedError(this.id, formatExcMessage(exc.exc_message));
    throw new TaskFailedError(this.id, exc, meta.traceback);
  }

  async forget(): Promise<void> {
    const backend = await this.host.getBackend();
    await backend.forget(this.id);
    this.#meta = null;
  }

  /** Its result was deleted with others' (GroupResult.forget): drop the cached meta too. */
  forgotten(): void {
    this.#meta = null;
  }

  toString(): string {
    return this.id;
  }
}

export class GroupResult<R = unknown> {
  constructor(
    readonly id: string,
    readonly results: AsyncResult<R>[],
    private readonly host: ResultHost,
    readonly parent: AsyncResult | GroupResult | null = null,
    /** How the group was sent (set by App.sendGroup). */
    readonly timings: SendTimings | null = null,
  ) {}

  /** Results in member order. The timeout covers the whole group. The first failure is thrown (propagate). */
  async get(options: GetOptions = {}): Promise<R[]> {
    const deadline = options.timeout === undefined || options.timeout === null ? null : Date.now() + options.timeout * 1000;
    const out: R[] = [];
    // Wait on all at once so results arriving out of order are all captured, then settle in order.
    const waits = this.results.map((r) =>
      r.get({ ...options, propagate: false, timeout: deadline === null ? null : Math.max(0, (deadline - Date.now()) / 1000) }).then(
        () => null,
        (err: unknown) => err,
      ),
    );
    const errors = await Promise.all(waits);
    const timeout = errors.find((e) => e instanceof TaskTimeoutError);
    if (timeout) throw new TaskTimeoutError(this.id, (timeout as TaskTimeoutError).timeoutMs);
    const other = errors.find((e) => e !== null);
    if (other) throw other;
    for (const r of this.results) {
      if (r.state !== 'SUCCESS' && (options.propagate ?? true)) await r.get({ propagate: true });
      out.push(r.result as R);
    }
    return out;
  }

  async ready(): Promise<boolean> {
    const states = await Promise.all(this.results.map((r) => r.ready()));
    return states.every(Boolean);
  }

  async completedCount(): Promise<number> {
    await Promise.all(this.results.map((r) => r.ready()));
    return this.results.filter((r) => r.state === 'SUCCESS').length;
  }

  async successful(): Promise<boolean> {
    await this.ready();
    return this.results.every((r) => r.state === 'SUCCESS');
  }

  async failed(): Promise<boolean> {
    await this.ready();
    return this.results.some((r) => r.state === 'FAILURE');
  }

  /** Store the group (celery-taskset-meta-<id>) so it can be restored by id later. */
  async save(): Promise<void> {
    const backend = await this.host.getBackend();
    await backend.saveGroup(
      this.id,
      this.results.map((r) => r.id),
    );
  }

  async forget(): Promise<void> {
    if (this.results.length === 0) return;
    const backend = await this.host.getBackend();
    await backend.forgetMany(this.results.map((r) => r.id));
    for (const r of this.results) r.forgotten();
  }
}
