/**
 * A PUDP client's share of its server: how many clients the server is busy
 * with, estimated on the client's side from the server's sequence numbers,
 * as a pure object.
 *
 * How this works: the server numbers every message it sends from one counter
 * shared by all sessions. Between two replies to this client the
 * counter moves by one, plus one for every message the server sent to
 * someone else in between. So the average gap over the last few replies is
 * the server's total message rate divided by this client's: about the number
 * of clients sending as fast as this one. Averaging over a span (not a
 * moving average per reply) matters: a client's replies come in bursts, gap 1
 * inside a burst and a large gap between bursts.
 *
 * A gap after an idle pause says nothing about now, so each gap counts at
 * most {@link MAX_GAP}; a repeat counts as 1, and an older number
 * (reordering) is ignored.
 *
 * @module
 */

/** The most one gap between replies counts. */
export const MAX_GAP = 1024;
/** Most replies the average can span. */
export const MAX_SPAN = 64;

/**
 * The server's sequence numbers, as this client receives them.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { ShareEstimate } from "./share_estimate.ts";
 *
 * const share = new ShareEstimate();
 * share.onReply(100, 8); // the first reply: no gap yet
 * assert.equal(share.value, 1);
 * share.onReply(103, 8); // two other messages went out in between
 * assert.equal(share.value, 3);
 * ```
 */
export class ShareEstimate {
  /** Cumulative clamped gap after each reply, in a ring of MAX_SPAN + 1. */
  readonly #positions = new Float64Array(MAX_SPAN + 1);
  #replies = 0;
  #position = 0;
  #last: number | undefined;
  #value = 1;
  #lastGap = 0;

  /** Average gap between the server's replies to this client (1 before any gap is seen). */
  get value(): number {
    return this.#value;
  }

  /** The clamped gap before the latest reply (0 before the second reply). */
  get lastGap(): number {
    return this.#lastGap;
  }

  /** Gaps seen so far (the estimate means little before a few). */
  get samples(): number {
    return Math.max(0, this.#replies - 1);
  }

  /**
   * A reply whose gap says nothing about sharing (it spans a stall of this
   * client): it counts as a gap of 1, and later gaps count from `seq`.
   */
  resume(seq: number, span: number): void {
    if (this.#last !== undefined) this.#last = (seq - 1) >>> 0;
    this.onReply(seq, span);
  }

  /** A reply with the server's sequence number `seq`; averages over the last `span` gaps. */
  onReply(seq: number, span: number): void {
    if (this.#last !== undefined) {
      const gap = (seq - this.#last) >>> 0;
      if (gap >= 2 ** 31) return; // older than the last: reordered
      // A repeat (gap 0: a duplicate, or a server that does not count) says
      // nothing about sharing: it counts as 1.
      this.#lastGap = Math.min(Math.max(gap, 1), MAX_GAP);
      this.#position += this.#lastGap;
    }
    this.#last = seq;
    const size = this.#positions.length;
    this.#positions[this.#replies % size] = this.#position;
    this.#replies++;
    const n = Math.min(this.#replies - 1, Math.max(1, Math.floor(span)), MAX_SPAN);
    if (n === 0) return;
    const then = this.#positions[(this.#replies - 1 - n) % size];
    this.#value = Math.max(1, (this.#position - then) / n);
  }
}
