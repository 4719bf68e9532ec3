/**
 * The round trip of a PUDP client's DATA and the retransmission timeout
 * (RTO) it gives, as a pure object.
 *
 * How this works: every round-trip sample (a DATA and the ALIVE that answers
 * it, or the HELLO exchange) is smoothed as in RFC 6298: `srtt` moves an
 * eighth of the way to the sample, `rttvar` a quarter of the way to the
 * difference. The RTO is `srtt + 4 × rttvar`, at least {@link MIN_RTO_MS} and
 * {@link MIN_RTO_PER_CLIENT_MS} per client sharing the server; before the
 * first sample it is {@link INITIAL_RTO_MS}, and before the first ALIVE
 * {@link FIRST_ALIVE_RTO_MS}. Each expiry doubles it (backoff) until the next
 * ALIVE, but it never exceeds {@link MAX_RTO_MS} nor the client's
 * `longestWaitMs`. Which samples to take (Karn's rule) is the caller's
 * business.
 *
 * @module
 */

/**
 * Lowest RTO, in ms: below this a timer cannot tell loss from scheduling
 * noise (measured through `pudp impair` with no faults, 20,000 lines: with
 * 2 ms, 53 expiries, and the late ALIVEs of the DATA presumed gone let the
 * window overrun the server, 304 lines lost; with 5 ms, 2 to 4 expiries;
 * with 10 ms, none).
 */
export const MIN_RTO_MS = 10;
/**
 * Lowest RTO per client sharing the server, in ms: a message waits behind
 * those of every client the server is busy with, and a crowd that grows can
 * raise the round trip faster than samples show.
 */
export const MIN_RTO_PER_CLIENT_MS = 1;
/** Longest RTO, in ms, whatever the backoff (the client may ask for less). */
export const MAX_RTO_MS = 1_000;
/** RTO before the first round-trip sample, in ms. */
export const INITIAL_RTO_MS = 100;
/**
 * RTO before the first ALIVE. The HELLO's round trip says little about the
 * data path: when many clients start at once the first ALIVE waits behind
 * all of their first messages. (A first ALIVE that is really lost costs one
 * such wait.)
 */
export const FIRST_ALIVE_RTO_MS = 1_000;
/** Most the backoff multiplies the RTO by (before the caps). */
const MAX_BACKOFF = 1024;
/**
 * Longest quiet any wait of the window asks for, in RTO limits
 * (`longestWaitMs`): a quarter of the client's timeout.
 */
const MAX_QUIET_RTOS = 4;

/**
 * Smoothed round trip, RTO and its backoff.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { RttEstimator } from "./rtt_estimator.ts";
 *
 * const rtt = new RttEstimator();
 * rtt.onAnswer(); // the first ALIVE came
 * rtt.sample(40); // round trip 40 ms: srtt 40, rttvar 20
 * assert.equal(rtt.rtoMs(1), 40 + 4 * 20);
 * rtt.onExpiry(); // no ALIVE for one RTO: backed off
 * assert.equal(rtt.rtoMs(1), 240);
 * ```
 */
export class RttEstimator {
  #srtt: number | undefined;
  #rttVar = 0;
  #backoff = 1;
  /** Whether any ALIVE has arrived. */
  #answered = false;

  /**
   * An estimator with no sample yet.
   * @param longestWaitMs the RTO never exceeds this (the client: a sixteenth of its timeout)
   */
  constructor(readonly longestWaitMs: number = MAX_RTO_MS) {}

  /** Smoothed round-trip time in ms, undefined before the first sample. */
  get srttMs(): number | undefined {
    return this.#srtt;
  }

  /** Longest quiet any wait may ask for, in ms: {@link MAX_QUIET_RTOS} RTO limits. */
  get longestQuietMs(): number {
    return MAX_QUIET_RTOS * this.longestWaitMs;
  }

  /** A round-trip sample of `ms` (negative counts as 0). */
  sample(ms: number): void {
    const r = Math.max(0, ms);
    const srtt = this.#srtt;
    if (srtt === undefined) {
      this.#srtt = r;
      this.#rttVar = r / 2;
    } else {
      this.#rttVar = 0.75 * this.#rttVar + 0.25 * Math.abs(srtt - r);
      this.#srtt = 0.875 * srtt + 0.125 * r;
    }
  }

  /** An ALIVE arrived: the backoff ends. */
  onAnswer(): void {
    this.#answered = true;
    this.#backoff = 1;
  }

  /** The RTO expired with no ALIVE: the next one is twice as long. */
  onExpiry(): void {
    this.#backoff = Math.min(this.#backoff * 2, MAX_BACKOFF);
  }

  /** The RTO without backoff, in ms, for a server busy with `clients` clients. */
  baseRtoMs(clients: number): number {
    const srtt = this.#srtt;
    if (!this.#answered) return FIRST_ALIVE_RTO_MS;
    if (srtt === undefined) return INITIAL_RTO_MS;
    return Math.max(
      MIN_RTO_MS,
      MIN_RTO_PER_CLIENT_MS * clients,
      srtt + 4 * this.#rttVar,
    );
  }

  /** The current RTO (backed off, capped), in ms, for a server busy with `clients` clients. */
  rtoMs(clients: number): number {
    return Math.min(this.longestWaitMs, MAX_RTO_MS, this.baseRtoMs(clients) * this.#backoff);
  }
}
