/**
 * The life of every pudp command, server or client: signals (handled here
 * and nowhere else), the stop latch, stdout failure, the ordered shutdown
 * and the exit status.
 *
 * How this works:
 * - A server calls {@link Lifecycle.serve}: it logs its `listening on` line,
 *   waits for a stop (SIGINT/SIGTERM/SIGHUP, EOF or `q` on stdin, an idle
 *   exit, a failure: anything that calls `stop.request`), then shuts down in
 *   order: the machine's goodbye, a last drain, endpoints closed, the event
 *   output flushed, the summary line. It returns 0, or 1 when the stop was a
 *   failure.
 * - A client calls {@link Lifecycle.run}: its loops end the run once with a
 *   {@link ClientEnd}; a signal ends it with 128 + the signal's number unless
 *   the client handles signals itself (a PUDP client says GOODBYE first).
 * - Every command that writes events to stdout passes its output: a failed
 *   write stops a server (`cannot write to stdout: …`, exit 1).
 * - Commands with deadlines add a {@link TimerLoop} (timer_loop.ts); the
 *   lifecycle itself has no timers.
 *
 * @example A client that ends as soon as it starts
 * ```ts
 * import assert from "node:assert/strict";
 * import { exitStatus, Lifecycle } from "./lifecycle.ts";
 *
 * const life = new Lifecycle();
 * const end = await life.run({ start: (finish) => finish({ code: 1, message: "no answer" }) });
 * const said: string[] = [];
 * assert.equal(exitStatus(end, (line) => said.push(line)), 1);
 * assert.deepEqual(said, ["no answer"]);
 * ```
 *
 * @module
 */

import { StopRequest } from "./stop_request.ts";

/**
 * The signals every command handles. SIGHUP (the terminal went away, or a
 * service manager's stop) is handled like SIGTERM: a client says GOODBYE,
 * a server stops in order with its summary.
 */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** The signals a {@link Lifecycle} listens to. */
const STOP_SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/** Exit status of a client stopped by a signal (128 + the signal's number). */
export const SIGNAL_EXIT: Readonly<Record<StopSignal, number>> = {
  SIGINT: 130,
  SIGTERM: 143,
  SIGHUP: 129,
};

/** How a client's run ended: the one result type of every client command. */
export interface ClientEnd {
  /** The exit status: 0 only when the peer confirmed what was asked. */
  code: number;
  /** One line for stderr, when the run failed or was cut short. */
  message?: string;
}

/** Logs the end's line (if any) and gives its exit status: the end of every client command. */
export function exitStatus(end: ClientEnd, log: (line: string) => void): number {
  if (end.message !== undefined) log(end.message);
  return end.code;
}

/** A server's event output as the lifecycle sees it (an `EventOutput`). */
export interface ServiceOutput {
  /** Starts a write if one is due. */
  kick(): void;
  /** Why writing failed (`cannot write to stdout: …`), once it has. */
  readonly failure: string | undefined;
  /** Writes what is left and stops. */
  close(): Promise<void>;
}

/** How a long-running server starts, stops and reports (see {@link Lifecycle.serve}). */
export interface ServiceHooks {
  /** Logged once everything is set up, signal handlers included (`listening on HOST:PORT`). */
  ready: string;
  /** The machine's own goodbye (GOODBYE to every session, connections closed), then a drain. */
  shutdown(): void;
  /** Closes the endpoints, after the shutdown; the output is flushed after this. */
  close(): Promise<void>;
  /** The summary line printed to stderr at exit. */
  summary(): string;
}

/** How a client runs (see {@link Lifecycle.run}). */
export interface ClientHooks {
  /**
   * Starts the client's loops; they call `finish` once they know how the run
   * ended (later calls are ignored). A throw (cannot connect) ends the run
   * with that error, after the signal handlers are removed.
   */
  start(finish: (end: ClientEnd) => void): void | Promise<void>;
  /** A stop signal came (default: finish with {@link SIGNAL_EXIT}). */
  onSignal?(signal: StopSignal, finish: (end: ClientEnd) => void): void;
  /** After the end: close the sockets, say what is left; may replace the end. */
  close?(end: ClientEnd): void | ClientEnd | Promise<void | ClientEnd>;
}

/** Signals, the stop latch and the ordered end of one command. */
export class Lifecycle {
  /** The stop latch: a signal, EOF, an idle exit or a failure requests it. */
  readonly stop: StopRequest = new StopRequest();
  /** Stop signals received so far. */
  signals = 0;
  readonly #output: ServiceOutput | undefined;
  readonly #handlers: ((signal: StopSignal, count: number) => void)[] = [];
  readonly #listeners: [StopSignal, () => void][] = [];

  /** A lifecycle; `output` is the command's event output, if it has one. */
  constructor(options: { output?: ServiceOutput } = {}) {
    this.#output = options.output;
  }

  /**
   * Calls `handler` on every SIGINT, SIGTERM and SIGHUP (with how many have
   * come, this one included) until the command ends. The OS handlers are
   * installed once, by the first call. Returns a function that removes
   * `handler`.
   */
  onSignal(handler: (signal: StopSignal, count: number) => void): () => void {
    this.#handlers.push(handler);
    const remove = () => {
      const at = this.#handlers.indexOf(handler);
      if (at >= 0) this.#handlers.splice(at, 1);
    };
    if (this.#listeners.length > 0) return remove;
    for (const signal of STOP_SIGNALS) {
      const listener = () => {
        this.signals++;
        for (const h of this.#handlers) h(signal, this.signals);
      };
      Deno.addSignalListener(signal, listener);
      this.#listeners.push([signal, listener]);
    }
    return remove;
  }

  /** Removes the signal handlers: nothing more will wake the command. */
  quiet(): void {
    for (const [signal, listener] of this.#listeners.splice(0)) {
      Deno.removeSignalListener(signal, listener);
    }
    this.#handlers.length = 0;
  }

  /**
   * Starts a write of the event output if one is due, and stops the command
   * if writing has failed: call from the drain, after every event.
   */
  kickOutput(): void {
    if (this.#output === undefined) return;
    this.#output.kick();
    const failure = this.#output.failure;
    if (failure !== undefined) this.stop.request(failure);
  }

  /**
   * Runs a server until a stop is requested, then shuts down in order: the
   * machine's goodbye, endpoints closed, output flushed, the summary line.
   * Returns 0, or 1 when the stop was a failure (its reason is logged after
   * the summary).
   */
  async serve(hooks: ServiceHooks, log: (line: string) => void): Promise<number> {
    const stopOnSignal = this.onSignal(() => this.stop.request());
    log(hooks.ready);
    await this.stop.requested;
    // From here a signal is the user insisting: unless the server handles
    // more signals itself (pipe: the second cuts, the third aborts), the
    // handlers go, so the next one ends the process the default way.
    stopOnSignal();
    if (this.#handlers.length === 0) this.quiet();
    hooks.shutdown();
    await hooks.close();
    this.quiet();
    if (this.#output !== undefined) {
      await this.#output.close();
      this.stop.failure ??= this.#output.failure;
    }
    log(hooks.summary());
    if (this.stop.failure !== undefined) {
      log(this.stop.failure);
      return 1;
    }
    return 0;
  }

  /** Runs a client to its end (see {@link ClientHooks}). */
  async run(client: ClientHooks): Promise<ClientEnd> {
    const ended = Promise.withResolvers<ClientEnd>();
    let end: ClientEnd | undefined;
    const finish = (e: ClientEnd) => {
      if (end !== undefined) return;
      end = e;
      this.stop.request(e.code === 0 ? undefined : e.message ?? `exit ${e.code}`);
      ended.resolve(e);
    };
    this.onSignal((signal) => {
      if (client.onSignal) client.onSignal(signal, finish);
      else finish({ code: SIGNAL_EXIT[signal] });
    });
    try {
      await client.start(finish);
    } catch (e) {
      this.quiet();
      throw e;
    }
    const result = await ended.promise;
    this.quiet();
    return (await client.close?.(result)) ?? result;
  }
}
