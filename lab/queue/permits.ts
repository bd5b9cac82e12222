/** A counting semaphore: take() waits while all permits are out; give() returns one. FIFO among waiters. */
export class Permits {
  #free: number;
  readonly #waiters: (() => void)[] = [];

  constructor(readonly size: number) {
    this.#free = size;
  }

  /** Permits out now. */
  get used(): number {
    return this.size - this.#free;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.#waiters.length;
  }

  take(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  give(): void {
    const next = this.#waiters.shift();
    if (next) next();
    else this.#free = Math.min(this.size, this.#free + 1);
  }
}
