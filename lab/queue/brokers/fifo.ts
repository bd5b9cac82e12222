/**
 * A FIFO with O(1) shift, for the AMQP adapter's publish queues: an array's shift is O(n), and 100k publishes
 * queued during an outage would drain in quadratic time.
 */
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  /** Put an item back at the front (a publish that could not be written goes first next time). */
  unshift(item: T): void {
    if (this.#head > 0) this.#items[--this.#head] = item;
    else this.#items.unshift(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T; // let the item be collected
    // Compact once the consumed prefix is most of the array (amortized O(1)).
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  toArray(): T[] {
    return this.#items.slice(this.#head);
  }

  /** Keep only the items that pass. */
  retain(keep: (item: T) => boolean): void {
    this.#items = this.#items.slice(this.#head).filter(keep);
    this.#head = 0;
  }

  /** Empty the queue; returns what it held, in order. */
  clear(): T[] {
    const all = this.toArray();
    this.#items = [];
    this.#head = 0;
    return all;
  }
}
