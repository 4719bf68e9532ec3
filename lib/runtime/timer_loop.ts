/**
 * The event loop of one timed machine: the clock it is fed with, the one OS
 * timer armed from its `pollTimeout()`, and `afterEvent()`.
 *
 * How this works: a driver feeds the machine an input (a datagram, bytes, a
 * line, the time) and then calls {@link TimerLoop.afterEvent}. That runs the
 * family's `drain` (transmits to sockets, events to the sink, closes) and
 * re-arms the {@link Alarm} at the machine's next deadline; when the alarm
 * goes off, the loop calls `handleTimeout(now)` and drains again. Only
 * machines with deadlines use it: a machine without any is drained by its
 * driver directly.
 *
 * @example A machine with one deadline, driven by hand
 * ```ts
 * import assert from "node:assert/strict";
 * import { TimerLoop } from "./timer_loop.ts";
 *
 * let now = 0;
 * let fired = 0;
 * let drained = 0;
 * const machine = {
 *   handleTimeout: (t: number) => { if (t >= 10) fired++; },
 *   pollTimeout: () => (fired === 0 ? 10 : undefined),
 * };
 * const loop = new TimerLoop(machine, () => drained++, () => now);
 * loop.afterEvent();
 * assert.equal(drained, 1);
 * now = 10;
 * await new Promise((resolve) => setTimeout(resolve, 20));
 * assert.equal(fired, 1);
 * assert.equal(drained, 2);
 * loop.cancel();
 * ```
 *
 * @module
 */

import { Alarm } from "./alarm.ts";
import type { TimedMachine } from "./machine.ts";

/** The monotonic clock every driver feeds its machine with, in ms. */
export const monotonicNow = (): number => performance.now();

/**
 * Monotonic too, but counted from the Unix epoch (ms): for machines whose
 * times travel to the peer (blast segments carry their send time).
 */
export const epochNow = (): number => performance.timeOrigin + performance.now();

/** The alarm and the drain of one timed machine. */
export class TimerLoop {
  /** The clock the machine is fed with, in ms. */
  readonly clock: () => number;
  readonly #alarm: Alarm;

  /**
   * A loop around `machine`.
   * @param machine the state machine this loop times
   * @param drain moves the machine's outputs to the I/O side; runs after every event
   * @param clock the clock the machine is fed with (default {@link monotonicNow})
   */
  constructor(
    readonly machine: TimedMachine,
    readonly drain: () => void,
    clock: () => number = monotonicNow,
  ) {
    this.clock = clock;
    this.#alarm = new Alarm(this.clock, () => {
      this.machine.handleTimeout(this.clock());
      this.afterEvent();
    });
  }

  /** Call after feeding the machine an input: drains it and re-arms the alarm. */
  readonly afterEvent = (): void => {
    this.drain();
    this.#alarm.set(this.machine.pollTimeout());
  };

  /** Stops the alarm (a later `afterEvent` arms it again). */
  cancel(): void {
    this.#alarm.cancel();
  }
}
