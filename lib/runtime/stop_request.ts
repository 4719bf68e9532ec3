/**
 * The "stop now" latch of a long-running driver (server, relay): the first
 * request wins, and the first failure reason given is kept.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stop = new StopRequest();
 * assert.equal(stop.stopping, false);
 * stop.request(); // e.g. SIGINT: a stop, not a failure
 * stop.request("socket closed"); // a failure on the way out
 * stop.request("another");
 * await stop.requested; // resolved at the first request
 * assert.equal(stop.stopping, true);
 * assert.equal(stop.failure, "socket closed"); // the first reason given is kept
 * ```
 *
 * @module
 */

/** A one-shot stop signal with an optional failure reason. */
export class StopRequest {
  /** Why the driver stops with a failure, if it does. */
  failure: string | undefined;
  #stopping = false;
  readonly #stopped = Promise.withResolvers<void>();

  /** Whether a stop has been requested. */
  get stopping(): boolean {
    return this.#stopping;
  }

  /** Resolves at the first request. */
  get requested(): Promise<void> {
    return this.#stopped.promise;
  }

  /** Requests the stop; `why` marks it a failure (the first reason is kept). */
  request = (why?: string): void => {
    this.failure ??= why;
    if (!this.#stopping) {
      this.#stopping = true;
      this.#stopped.resolve();
    }
  };
}
