/**
 * The one retry policy of lab: capped exponential backoff with "equal jitter" — half of each delay fixed, half
 * random — so a fleet of clients that lost the same server does not come back in step, and a retry never waits
 * longer than the cap. Broker and backend reconnects, the AMQP consumer's re-attach, pool child respawns and
 * readiness port probes all wait through it; each may narrow the numbers (a port probe is 20 ms..200 ms), none
 * invents its own curve. At the bottom of the tree: it imports nothing.
 */

export interface BackoffPolicy {
  /** The first delay (attempt 0), before jitter. */
  readonly baseMs: number;
  /** No delay exceeds this. */
  readonly capMs: number;
}

/** What lab uses unless told otherwise: 100 ms, doubling, at most 5 s. */
export const DEFAULT_BACKOFF: BackoffPolicy = Object.freeze({ baseMs: 100, capMs: 5_000 });

/** The default policy with some of its numbers replaced (an adapter's `backoff` option). */
export function backoffPolicy(overrides: Partial<BackoffPolicy> = {}): BackoffPolicy {
  return Object.freeze({ ...DEFAULT_BACKOFF, ...overrides });
}

/**
 * How long to wait before retry number `attempt` (0 = the first retry): min(cap, base × 2^attempt), of which the
 * upper half is random. Always in [exp / 2, exp]; `random` is there for tests.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  // 2^20 × base already passes any sane cap; bounding the exponent keeps the arithmetic finite.
  const exp = Math.min(policy.capMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt), 20));
  return exp / 2 + random() * (exp / 2);
}
