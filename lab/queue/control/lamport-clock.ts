/**
 * kombu's LamportClock: a logical clock every node forwards when it sends (events, replies) and adjusts to what it
 * receives, so Celery's event state machine can order events from several hosts whose wall clocks disagree.
 */
export class LamportClock {
  #value = 0;

  get value(): number {
    return this.#value;
  }

  /** Before sending: the next value. */
  forward(): number {
    return ++this.#value;
  }

  /** On receipt of another node's clock: max(ours, theirs) + 1 (kombu's adjust). */
  adjust(other: unknown): number {
    const theirs = typeof other === 'number' && Number.isFinite(other) ? Math.trunc(other) : 0;
    this.#value = Math.max(this.#value, theirs) + 1;
    return this.#value;
  }
}
