/**
 * kombu's TokenBucket (kombu/utils/limits.py), which Celery's worker keeps one of per rate-limited task type: it
 * holds at most `capacity` tokens (Celery: 1), starts full, and refills at `fillRate` tokens per second.
 *
 * One difference from Debian's kombu 5.2: the refill time advances even while the bucket is full. kombu 5.2 leaves
 * it at the last refill, so after an idle spell the first take leaves a stale timestamp and the next one finds the
 * bucket refilled at once — two tasks where capacity 1 allows one (fixed upstream in kombu PR #2652).
 */
export class TokenBucket {
  #tokens: number;
  #at: number;

  constructor(
    /** Tokens per second. */
    readonly fillRate: number,
    readonly capacity = 1,
    /** Milliseconds on a clock that does not jump (performance.now by default; tests pass a fake). */
    private readonly now: () => number = () => performance.now(),
  ) {
    if (!(fillRate > 0) || !Number.isFinite(fillRate)) throw new RangeError(`a token bucket needs a fill rate > 0, got ${fillRate}`);
    this.#tokens = capacity;
    this.#at = now();
  }

  /** Take `tokens` if the bucket has them (all or none). */
  canConsume(tokens = 1): boolean {
    if (tokens <= this.tokens()) {
      this.#tokens -= tokens;
      return true;
    }
    return false;
  }

  /** Milliseconds until `tokens` are there (0 if they are now); takes nothing. */
  expectedTimeMs(tokens = 1): number {
    const have = this.tokens();
    return (Math.max(tokens, have) - have) / this.fillRate * 1000;
  }

  /** Tokens now, after the refill since the last look. */
  tokens(): number {
    const now = this.now();
    // A clock that went backwards refills nothing (and does not drain).
    const elapsed = Math.max(0, now - this.#at) / 1000;
    this.#tokens = Math.min(this.capacity, this.#tokens + elapsed * this.fillRate);
    this.#at = now;
    return this.#tokens;
  }
}
