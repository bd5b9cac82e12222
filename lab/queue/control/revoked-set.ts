/**
 * Celery's worker_state.revoked: a LimitedSet of revoked task ids (at most 50,000, each kept 3 hours), so a revoke
 * that arrives before its task is remembered and the task is discarded when it comes (REVOKES_MAX, REVOKE_EXPIRES).
 */
export const REVOKES_MAX = 50_000;
export const REVOKE_EXPIRES_MS = 10_800_000;

export class RevokedSet {
  /** id → when it was revoked (epoch ms); Map keeps insertion order, so the oldest go first. */
  readonly #ids = new Map<string, number>();

  constructor(
    private readonly max = REVOKES_MAX,
    private readonly expiresMs = REVOKE_EXPIRES_MS,
    private readonly now: () => number = Date.now,
  ) {}

  add(id: string, at = this.now()): void {
    this.#ids.delete(id);
    this.#ids.set(id, at);
    this.purge();
  }

  has(id: string): boolean {
    if (this.#ids.size === 0) return false;
    const at = this.#ids.get(id);
    if (at === undefined) return false;
    if (this.now() - at > this.expiresMs) {
      this.#ids.delete(id);
      return false;
    }
    return true;
  }

  purge(): void {
    const cutoff = this.now() - this.expiresMs;
    for (const [id, at] of this.#ids) {
      if (this.#ids.size > this.max || at < cutoff) this.#ids.delete(id);
      else break;
    }
  }

  ids(): string[] {
    this.purge();
    return [...this.#ids.keys()];
  }

  /** LimitedSet._data as mingle's `hello` sends it: {id: epoch seconds}. */
  asData(): Record<string, number> {
    this.purge();
    const out: Record<string, number> = {};
    for (const [id, at] of this.#ids) out[id] = at / 1000;
    return out;
  }

  get size(): number {
    return this.#ids.size;
  }
}
