/**
 * A queue a case waits on, bounded in time: what a socket delivers (a
 * datagram, an accepted connection) is pushed, and {@link Arrivals.next}
 * takes the oldest, waiting at most the given milliseconds for one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const q = new Arrivals<string>();
 * assert.equal(await q.next(10), undefined);
 * setTimeout(() => q.push("a"), 5);
 * assert.equal(await q.next(2000), "a");
 * q.push("b");
 * assert.equal(q.length, 1);
 * assert.equal(await q.next(0), "b");
 * ```
 *
 * @module
 */

/** A queue with a bounded wait for its next item. */
export class Arrivals<T> {
  readonly #items: T[] = [];
  #wake: (() => void) | undefined;

  /** Adds an item and wakes a waiting reader. */
  push(item: T): void {
    this.#items.push(item);
    this.#wake?.();
  }

  /** How many items wait. */
  get length(): number {
    return this.#items.length;
  }

  /** The oldest item, waiting at most `ms` for one; undefined when none came. */
  async next(ms: number): Promise<T | undefined> {
    const end = performance.now() + ms;
    while (this.#items.length === 0) {
      const left = end - performance.now();
      if (left <= 0) return undefined;
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
    return this.#items.shift();
  }
}
