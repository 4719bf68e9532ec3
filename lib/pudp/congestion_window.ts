/**
 * How many messages a PUDP client may have in flight (its congestion
 * window), steered towards one target shared by all clients of the server,
 * as a pure object.
 *
 * How this works: the server's buffer is shared by all its clients, so the
 * windows of all clients together must stay well inside it, and each client
 * should get the same part of it. The average gap between the sequence
 * numbers of the server's replies ({@link ShareEstimate}) is the server's
 * whole message rate over this client's. By Little's law (every client
 * waits in the same queue) that is also everyone's messages in flight over
 * this client's, so this client's messages in flight times the average gap
 * estimate the messages all clients have in flight together: the same
 * figure for every client. Each client steers its window towards one target
 * that is a function of that total alone, `maxWindow × (SHARED_BUDGET /
 * total)^`{@link SHARE_STEEPNESS} (never above `maxWindow`): all clients aim
 * at the same window, so a client that grew first gives way to one that
 * came later. (A cap proportional to each client's own share, the design
 * before this, kept any split of the budget where it was: one client at 32,
 * the others held at one, for seconds.) The target falls steeply once the
 * total passes the budget, so the total stays near it whatever the crowd:
 * alone the window reaches `maxWindow`; three clients settle near 16 each,
 * 50 near 2, 200 below one (spaced out in time). Each ALIVE moves the window
 * part of the way to the target: up {@link SHARE_GAIN} of the way per round
 * trip (at least one message, at most one per ALIVE, like TCP's slow start),
 * down {@link SHARE_GAIN_DOWN}, slow enough for the averaged gap to follow.
 * Alone, the gap is 1 and nothing changes; a server that numbers per session
 * looks like that. A client whose window is below one message sends once per
 * round trip / window, so its gaps are that much larger: its messages in
 * flight are its window, on average, and the estimate stays right. (A single
 * large gap is not taken as a queue that size: for a spaced client it is its
 * own spacing, and cutting on it starved such clients for good.) The gap
 * across an expiry is not sampled: it measures this client's stall, not the
 * crowd.
 *
 * Expiries: the first in a row halves the window in a crowd (the loss may be
 * the server's buffer overflowing; alone, below {@link ALONE_SHARE}, it is
 * the path and the window is kept); a second in a row restarts it from one,
 * like TCP after a retransmission timeout.
 *
 * @module
 */

import { ShareEstimate } from "./share_estimate.ts";

/**
 * Window in messages at the start (slow start grows it from here). One, so
 * that many clients starting at once cannot overflow the server's buffer
 * before they have learnt their share of it.
 */
export const INITIAL_WINDOW = 1;
/**
 * Messages all clients of one server may have in flight together. A default
 * Linux socket buffer holds about 256 small datagrams; 200 clients that start
 * at once put one message each there before any of them can learn anything
 * (the protocol's first DATA is not clocked), so the clients that already
 * know their share must leave that room: 40 (measured: with 64, a few of
 * 200,000 fan-in lines were lost at start-up in most runs; with 48, none in
 * ten runs and 6 in one; 40 leaves a margin of 16 datagrams).
 */
export const SHARED_BUDGET = 40;
/**
 * How steeply the shared target falls as the total in flight passes
 * {@link SHARED_BUDGET}: the target is `maxWindow × (budget / total)^4`.
 * Steeper keeps the total closer to the budget for any crowd; gentler is
 * calmer. With 4 and a window of 32: 3 clients settle near 16 messages each
 * (48 in all), 50 near 1.6 (80), 200 near 0.5 (112), all well inside a
 * 256-datagram buffer.
 */
export const SHARE_STEEPNESS = 4;
/** Part of the way up to the target the window moves per round trip (at least one message). */
export const SHARE_GAIN = 1 / 8;
/**
 * Part of the way down to the target the window moves per round trip:
 * faster than up, so that a crowd arriving is made room for within a few
 * round trips (like TCP, slow up and quick down).
 */
export const SHARE_GAIN_DOWN = 1 / 4;
/** Smallest window, in messages: below one, sends are spaced out in time. */
export const MIN_WINDOW = 1 / 16;
/**
 * Below this average gap between its replies a client is about alone on the
 * server: an expiry is taken as loss on the path, not as a full server
 * buffer (the window is kept). In a crowd the first expiry halves the window.
 */
export const ALONE_SHARE = 2;
/**
 * Gaps between ALIVEs averaged before the window may grow (from the fifth
 * ALIVE on): one gap can be far from the truth.
 */
const MIN_SHARE_SAMPLES = 4;
/** Fewest replies the share estimate averages over (it spans two windows). */
const MIN_SHARE_SPAN = 4;

/**
 * The window of one client and its share of the server.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CongestionWindow } from "./congestion_window.ts";
 *
 * const w = new CongestionWindow(32);
 * assert.equal(w.window, 1); // starts at one message
 * // Alone on the server (its replies numbered 1, 2, 3, …), one in flight each time:
 * for (let seq = 1; seq <= 1000; seq++) {
 *   const total = w.totalInFlight(1); // everyone's messages in flight, as this ALIVE found them
 *   w.onReply(seq);
 *   w.steer(total);
 * }
 * assert.equal(w.window, 32);
 * assert.equal(w.share, 1);
 * ```
 */
export class CongestionWindow {
  #cwnd: number;
  /** This client's share of the server, from the server's sequence numbers. */
  readonly #share = new ShareEstimate();
  /** The next reply follows an expiry: its gap is not a share sample. */
  #afterExpiry = false;
  /** With less than one message of window, no DATA goes before this time. */
  #spacedUntil = 0;

  /**
   * A window of {@link INITIAL_WINDOW} (at most `maxWindow`).
   * @param maxWindow the most the window grows to; 0 = unpaced (the window stays 0)
   */
  constructor(readonly maxWindow: number) {
    this.#cwnd = Math.min(INITIAL_WINDOW, maxWindow);
  }

  /** The window in messages, fractional (below one, sends are spaced). */
  get cwnd(): number {
    return this.#cwnd;
  }

  /** The current window in whole messages (at most `maxWindow`, at least one). */
  get window(): number {
    return Math.max(1, Math.floor(this.#cwnd));
  }

  /** Average gap between the server's replies to this client (≈ active clients; 1 alone). */
  get share(): number {
    return this.#share.value;
  }

  /** With a window below one message, no DATA goes before this time (0: no spacing). */
  get spacedUntil(): number {
    return this.#spacedUntil;
  }

  /**
   * Everyone's messages in flight, estimated: this client's `outstanding`
   * (below one window, the window: a spaced client has that many on
   * average) times the average gap.
   */
  totalInFlight(outstanding: number): number {
    return this.share * Math.min(this.#cwnd, Math.max(1, outstanding));
  }

  /**
   * A reply (ALIVE) with the server's sequence number `seq`, in arrival
   * order: updates the share. (Not the HELLO's: the gap from it to the first
   * ALIVE counts everyone's HELLOs.)
   */
  onReply(seq: number): void {
    const span = Math.max(MIN_SHARE_SPAN, 2 * this.window);
    if (this.#afterExpiry) {
      this.#afterExpiry = false;
      this.#share.resume(seq, span);
      return;
    }
    this.#share.onReply(seq, span);
  }

  /**
   * One ALIVE's step of the window towards the shared target for `total`
   * messages in flight (see the module comment): about {@link SHARE_GAIN}
   * of the way per round trip, at most one message up per ALIVE, never
   * below {@link MIN_WINDOW}.
   */
  steer(total: number): void {
    // Only once this client knows its share of the server: clients that start
    // together must not all grow before they see one another.
    if (this.#share.samples < MIN_SHARE_SAMPLES) return;
    const target = Math.min(
      this.maxWindow,
      this.maxWindow * (SHARED_BUDGET / total) ** SHARE_STEEPNESS,
    );
    const gap = target - this.#cwnd;
    const perAlive = 1 / Math.max(this.#cwnd, 1);
    if (gap > 0) {
      // Up: SHARE_GAIN of the way per round trip, and at least one message
      // (without that floor the window would only approach the target).
      const step = Math.min(1, Math.max(SHARE_GAIN * gap, 1) * perAlive);
      this.#cwnd = Math.min(target, this.#cwnd + step);
    } else {
      const step = Math.max(SHARE_GAIN_DOWN * gap * perAlive, -this.#cwnd / 2);
      this.#cwnd = Math.max(MIN_WINDOW, this.#cwnd + step);
    }
  }

  /**
   * A DATA went at `now`; with a window below one message the next waits
   * one round trip (`srttMs`) / window.
   */
  onSend(now: number, srttMs: number | undefined): void {
    this.#spacedUntil = this.#cwnd < 1 && srttMs !== undefined ? now + srttMs / this.#cwnd : 0;
  }

  /**
   * The RTO expired, the `inARow`-th time since the last ALIVE: the first
   * halves the window in a crowd, a second restarts it from one; the next
   * reply's gap is not a share sample.
   */
  onExpiry(inARow: number): void {
    this.#afterExpiry = true;
    if (inARow > 1) {
      this.#cwnd = Math.min(this.#cwnd, 1);
    } else if (this.share >= ALONE_SHARE) {
      this.#cwnd = Math.max(MIN_WINDOW, this.#cwnd / 2);
    }
  }
}
