/**
 * One OS timer for a state machine's `pollTimeout()`.
 *
 * `set(at)` is called after every event. Moving the alarm later would cost a
 * clearTimeout and a setTimeout per message, so the alarm is only moved
 * earlier; if it fires before the machine's deadline, the machine's
 * `handleTimeout` does nothing and the driver sets it again. A machine that
 * has no deadline (`undefined`) leaves a pending alarm to fire harmlessly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * let fired = 0;
 * const alarm = new Alarm(() => performance.now(), () => fired++);
 * const now = performance.now();
 * alarm.set(now + 20);
 * alarm.set(now + 1000); // later: not moved, it still goes off at +20 ms
 * alarm.set(undefined); // no deadline: left as it is
 * assert.equal(alarm.armed, true);
 * await new Promise((resolve) => setTimeout(resolve, 40));
 * assert.equal(fired, 1);
 * assert.equal(alarm.armed, false);
 * alarm.set(performance.now() + 10);
 * alarm.cancel();
 * assert.equal(alarm.armed, false);
 * ```
 *
 * @module
 */

/** A single lazily-rescheduled timer. */
export class Alarm {
  #handle: ReturnType<typeof setTimeout> | undefined;
  #at = Infinity;

  /**
   * An alarm that is not set.
   * @param clock the driver's clock (ms), the one the machine is fed with
   * @param onFire called when the alarm goes off
   */
  constructor(
    readonly clock: () => number,
    readonly onFire: () => void,
  ) {}

  /** Makes sure the alarm goes off no later than `at` (ms on `clock`). */
  set(at: number | undefined): void {
    if (at === undefined || at >= this.#at) return;
    this.cancel();
    this.#at = at;
    const delay = Math.max(0, Math.ceil(at - this.clock()));
    this.#handle = setTimeout(() => {
      this.#handle = undefined;
      this.#at = Infinity;
      this.onFire();
    }, delay);
  }

  /** Whether the alarm is set and has not gone off yet. */
  get armed(): boolean {
    return this.#handle !== undefined;
  }

  /** Stops the alarm. */
  cancel(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#at = Infinity;
  }
}
