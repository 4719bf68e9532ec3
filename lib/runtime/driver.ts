/**
 * The run loop every pudp server and client is built on. DEPRECATED: being
 * replaced by lifecycle.ts (signals, stop, serve/run) and timer_loop.ts.
 *
 * How this works: a protocol machine is pure; a driver feeds it inputs
 * (datagrams, bytes, lines, the time) and, after every input, moves what it
 * produced to the I/O side. {@link Driver} owns the parts of that loop that
 * are the same for every family:
 * - the clock the machine is fed with;
 * - the one OS timer ({@link Alarm}), armed from the machine's
 *   `pollTimeout()` after every event and calling `handleTimeout(now)`;
 * - `afterEvent()`: the family's `drain` (transmits to sockets, events to
 *   the sink, closes), then the alarm;
 * - SIGINT/SIGTERM/SIGHUP and the stop latch ({@link StopRequest});
 * - {@link Driver.serve}: the life of a long-running server, from its
 *   `listening on` line through the ordered shutdown to the summary line and
 *   the exit status.
 *
 * @module
 */

import { Alarm } from "./alarm.ts";
import { StopRequest } from "./stop_request.ts";
import type { TimedMachine } from "./machine.ts";
import { SIGNAL_EXIT, type StopSignal } from "./lifecycle.ts";
import { epochNow, monotonicNow } from "./timer_loop.ts";

export { epochNow, monotonicNow, SIGNAL_EXIT };
export type { StopSignal, TimedMachine };

/** The signals {@link Driver.onSignals} listens to. */
const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** How a long-running server starts, stops and reports (see {@link Driver.serve}). */
export interface ServiceHooks {
  /** Logged once everything is set up, signal handlers included (`listening on HOST:PORT`). */
  ready: string;
  /** The machine's own goodbye (GOODBYE to every session, connections closed). */
  shutdown(): void;
  /** Closes the endpoints and flushes output, after the last drain. */
  close(): Promise<void>;
  /** The summary line printed to stderr at exit. */
  summary(): string;
}

/** The event loop of one machine. */
export class Driver {
  /** The clock the machine is fed with, in ms. */
  readonly clock: () => number;
  /** The stop latch: a signal, EOF, an idle exit or a failure requests it. */
  readonly stop: StopRequest = new StopRequest();
  readonly #alarm: Alarm;
  readonly #signals: [StopSignal, () => void][] = [];

  /**
   * A loop around `machine`.
   * @param machine the state machine this loop drives
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

  /** Calls `handler` on SIGINT, SIGTERM and SIGHUP, until {@link quiet}. */
  onSignals(handler: (signal: StopSignal) => void): void {
    for (const signal of STOP_SIGNALS) {
      const listener = () => handler(signal);
      Deno.addSignalListener(signal, listener);
      this.#signals.push([signal, listener]);
    }
  }

  /** Stops the alarm and removes the signal handlers (nothing more will wake the loop). */
  quiet(): void {
    this.#alarm.cancel();
    for (const [signal, listener] of this.#signals.splice(0)) {
      Deno.removeSignalListener(signal, listener);
    }
  }

  /**
   * Runs a server until a stop is requested (SIGINT/SIGTERM/SIGHUP, or anything
   * that calls `stop.request`), then shuts down in order: the machine's
   * goodbye, a last drain, the timer and signals off, endpoints closed and
   * output flushed, the summary line. Returns 0, or 1 when the stop was a
   * failure (its reason is logged after the summary).
   */
  async serve(hooks: ServiceHooks, log: (line: string) => void): Promise<number> {
    this.onSignals(() => this.stop.request());
    log(hooks.ready);
    await this.stop.requested;
    hooks.shutdown();
    this.afterEvent();
    this.quiet();
    await hooks.close();
    log(hooks.summary());
    if (this.stop.failure !== undefined) {
      log(this.stop.failure);
      return 1;
    }
    return 0;
  }
}
