/**
 * An async worker loop that runs at most once at a time and never misses work.
 *
 * `wake()` starts the loop unless it is running; the loop takes items with
 * `next()` and awaits `process(item)` for each, until `next()` has nothing.
 * The check for "nothing left" and clearing the running flag happen in the
 * same synchronous step, so an item added at any moment is either seen by the
 * running loop or starts a new one (clearing the flag later, in a `finally`
 * or `.then`, leaves a gap where a wake is lost).
 *
 * @module
 */

/** A single-flight async loop over a work source. */
export class SerialLoop<T> {
  #active = false;
  #done: Promise<void> = Promise.resolve();

  /**
   * A loop that runs `process` on each item `next` gives, one at a time.
   * @param next takes the next item, or undefined when there is none
   * @param process handles one item; a rejection stops the loop and is kept in `idle()`
   */
  constructor(
    readonly next: () => T | undefined,
    readonly process: (item: T) => Promise<void>,
  ) {}

  /** True while the loop runs. */
  get active(): boolean {
    return this.#active;
  }

  /** Starts the loop if it is not running. */
  wake(): void {
    if (this.#active) return;
    this.#active = true;
    this.#done = this.#run();
  }

  /** Resolves when the loop has nothing left (rejects if `process` failed). */
  async idle(): Promise<void> {
    while (this.#active) await this.#done;
    await this.#done;
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        const item = this.next();
        if (item === undefined) {
          this.#active = false; // same synchronous step as the check above
          return;
        }
        await this.process(item);
      }
    } catch (e) {
      this.#active = false;
      throw e;
    }
  }
}
