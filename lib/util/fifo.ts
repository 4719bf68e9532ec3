/**
 * A first-in, first-out queue with O(1) push and shift.
 *
 * `Array.prototype.shift` copies the array; this keeps a head index instead
 * and drops the array when it has been drained.
 *
 * @module
 */

/** FIFO queue. */
export class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  /** Number of queued items. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item at the back. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The front item without removing it, or undefined when empty. */
  peek(): T | undefined {
    return this.#head < this.#items.length ? this.#items[this.#head] : undefined;
  }

  /** Removes and returns the front item, or undefined when empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T; // release it
    if (this.#head === this.#items.length) this.clear();
    return item;
  }

  /** Removes everything. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
