/**
 * A worker's task rate limits, as Celery's consumer keeps them (celery/worker/consumer/consumer.py: task_buckets,
 * _limit_task, _schedule_bucket_request; celery/worker/strategy.py): one token bucket (capacity 1) per rate-limited
 * task type, per worker. A task over its rate is not rejected: it waits in its type's line, in arrival order, unacked
 * (so it counts against the prefetch window, and goes back to the queue if the worker dies), until its bucket has a
 * token; one timer per line wakes it when the next token is due. Other task types are not held up by it.
 *
 * Unlike Celery, a rate changed at run time (`rate_limit`) applies to the tasks already waiting too: Celery leaves
 * them in the old bucket, draining at the old rate — a prefetched backlog at 1/m would take minutes to notice 100/s.
 */
import type { Clock } from './long-timer.js';
import { TokenBucket } from './token-bucket.js';

/** Timers on a clock that does not jump with the wall clock: token refills measure intervals. */
export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface RateLimitsOptions<T> {
  /** Tasks per second for a task type now (0: no limit); asked once per type until reset(). */
  rateOf(task: string): number;
  /** Hand a task on to run: at once when its type has no limit, else when a token is there. */
  release(item: T): void;
  clock?: Clock;
  /** false: worker_disable_rate_limits — every task is released at once. */
  enabled?: boolean;
}

interface Line<T> {
  readonly bucket: TokenBucket;
  readonly waiting: T[];
  timer: unknown;
}

export class TaskRateLimits<T> {
  /** Per task type: its line, or null when it has no limit. */
  readonly #lines = new Map<string, Line<T> | null>();
  readonly #clock: Clock;
  readonly enabled: boolean;

  constructor(private readonly o: RateLimitsOptions<T>) {
    this.#clock = o.clock ?? monotonicClock;
    this.enabled = o.enabled ?? true;
  }

  /** A task of this type arrived (or its ETA came): released now, or queued behind its type's rate. */
  admit(task: string, item: T): void {
    const line = this.enabled ? this.#lineOf(task) : null;
    if (!line) {
      this.o.release(item);
      return;
    }
    line.waiting.push(item);
    this.#serve(line);
  }

  /** The task type's rate changed: a new bucket at the new rate, and the tasks that waited go on in it (in order). */
  reset(task: string): void {
    const old = this.#lines.get(task);
    this.#lines.delete(task);
    if (!old) return;
    if (old.timer !== null) this.#clock.clearTimeout(old.timer);
    for (const item of old.waiting) this.admit(task, item);
  }

  /** Tasks waiting for a token now, all types. */
  get waiting(): number {
    let n = 0;
    for (const line of this.#lines.values()) n += line?.waiting.length ?? 0;
    return n;
  }

  /** Take every waiting task out (a stopping worker hands them back to the broker); stops the timers. */
  drain(): T[] {
    const out: T[] = [];
    for (const line of this.#lines.values()) {
      if (!line) continue;
      if (line.timer !== null) this.#clock.clearTimeout(line.timer);
      line.timer = null;
      out.push(...line.waiting.splice(0));
    }
    return out;
  }

  #lineOf(task: string): Line<T> | null {
    let line = this.#lines.get(task);
    if (line === undefined) {
      const rate = this.o.rateOf(task);
      const clock = this.#clock;
      line = rate > 0 ? { bucket: new TokenBucket(rate, 1, () => clock.now()), waiting: [], timer: null } : null;
      this.#lines.set(task, line);
    }
    return line;
  }

  /** _schedule_bucket_request: release from the head while there are tokens; else wait for the next one. */
  #serve(line: Line<T>): void {
    if (line.timer !== null) return; // the line's timer serves it when the token is due
    while (line.waiting.length > 0) {
      if (!line.bucket.canConsume(1)) {
        // Rounded up: a timer that fired a fraction early would find no token and wait again for nothing.
        const wait = Math.max(1, Math.ceil(line.bucket.expectedTimeMs(1)));
        line.timer = this.#clock.setTimeout(() => {
          line.timer = null;
          this.#serve(line);
        }, wait);
        return;
      }
      this.o.release(line.waiting.shift()!);
    }
  }
}
