/**
 * The receiver's accounting of numbered segments: received, lost,
 * duplicated, reordered, and the one-way delay, as a pure object.
 *
 * How this works: a bit per sequence number says whether it has arrived,
 * for the sequence numbers the run declared (its `capacity`, the segment
 * count of the request) and no others: a segment numbered at or past that
 * is out of range, counted and dropped, so the bitmap is at most
 * capacity / 8 bytes whatever a peer sends (it grows up to that with the
 * highest sequence number seen, so a short run of a large declared count
 * costs little).
 * - A segment whose bit is set already is a duplicate.
 * - A new segment is reordered when one sent after it (a higher sequence
 *   number, or the end marker, which stands at position `total`) arrived
 *   first. That is what `pudp impair --reorder` does: it holds a datagram
 *   until the next one has gone.
 * - Lost is what the end marker says was sent, less what arrived; without an
 *   end marker (the run was cut short) it is the gaps below the highest
 *   sequence number seen, a lower bound.
 * - One-way delay is arrival time less the send time the segment carries.
 *   The two clocks are the two hosts' own: the absolute figure holds only
 *   when they agree (one host, or NTP), but the spread (max − min) and the
 *   jitter (RFC 3550's smoothed difference of consecutive transit times)
 *   do not depend on the offset.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const tally = new SegmentTally(4); // a run that declared 4 segments: seq 0 to 3
 * assert.equal(tally.record(0, 100, 110), true); // sent at 100 ms, arrived at 110
 * assert.equal(tally.record(2, 120, 135), true);
 * assert.equal(tally.record(1, 110, 140), true); // after 2: reordered
 * assert.equal(tally.record(1, 110, 141), false); // a duplicate
 * assert.equal(tally.record(9, 150, 160), false); // out of range: counted, not kept
 * tally.recordEnd(4); // the end marker: 4 were sent, so seq 3 was lost
 * assert.deepEqual(tally.counts, {
 *   sent: 4,
 *   received: 3,
 *   lost: 1,
 *   duplicated: 1,
 *   reordered: 1,
 *   out_of_range: 1,
 * });
 * assert.equal(tally.delay?.spread, 20); // transit times 10, 15 and 30 ms
 * ```
 *
 * @module
 */

/** The counts a report shows. */
export interface SegmentCounts {
  /** Segments the sender says it sent (from the end marker), or undefined without one. */
  sent: number | undefined;
  /** Distinct segments that arrived. */
  received: number;
  /** Segments sent and never received (a lower bound without an end marker). */
  lost: number;
  /** Copies of segments that had arrived already. */
  duplicated: number;
  /** Segments that arrived after one sent later. */
  reordered: number;
  /**
   * Segments numbered at or past the run's declared count: counted, never
   * stored (present only when there were some).
   */
  out_of_range?: number;
}

/** One-way delay figures, in ms. */
export interface DelayFigures {
  /** Smallest, in ms. */
  min: number;
  /** Mean, in ms. */
  avg: number;
  /** Largest, in ms. */
  max: number;
  /** max − min: independent of the clocks' offset. */
  spread: number;
  /** RFC 3550 interarrival jitter. */
  jitter: number;
}

/** What arrived of one transfer's segments. */
export class SegmentTally {
  #seen: Uint8Array;
  /** The largest the bitmap may grow: a bit for each declared sequence number. */
  readonly #maxBytes: number;
  /** The highest position seen (a sequence number, or `total` for the end marker); -1 at first. */
  #highest = -1;
  #received = 0;
  #duplicated = 0;
  #reordered = 0;
  #total: number | undefined;
  #delayMin = Infinity;
  #delayMax = -Infinity;
  #delaySum = 0;
  #lastTransit: number | undefined;
  #jitter = 0;
  #outOfRange = 0;

  /**
   * A tally of a run that declared `capacity` segments (sequence numbers 0
   * to capacity − 1; any other is out of range).
   */
  constructor(readonly capacity: number) {
    this.#maxBytes = Math.ceil(Math.max(0, capacity) / 8);
    this.#seen = new Uint8Array(Math.min(1024, this.#maxBytes));
  }

  /**
   * A segment arrived: its sequence number, its send time and the arrival
   * time (both ms on the epoch clock). Returns false for a duplicate, and
   * for a sequence number out of range (counted in `out_of_range`, not kept).
   */
  record(seq: number, sent: number, arrived: number): boolean {
    if (!this.inRange(seq)) {
      this.#outOfRange++;
      return false;
    }
    const byte = seq >>> 3;
    if (byte >= this.#seen.length) this.#grow(byte);
    const bit = 1 << (seq & 7);
    if (this.#seen[byte] & bit) {
      this.#duplicated++;
      return false;
    }
    this.#seen[byte] |= bit;
    this.#received++;
    if (seq < this.#highest) this.#reordered++;
    else this.#highest = seq;
    const transit = arrived - sent;
    if (transit < this.#delayMin) this.#delayMin = transit;
    if (transit > this.#delayMax) this.#delayMax = transit;
    this.#delaySum += transit;
    if (this.#lastTransit !== undefined) {
      this.#jitter += (Math.abs(transit - this.#lastTransit) - this.#jitter) / 16;
    }
    this.#lastTransit = transit;
    return true;
  }

  /** The end marker arrived: `total` segments were sent. */
  recordEnd(total: number): void {
    this.#total = total;
    if (total > this.#highest) this.#highest = total;
  }

  /** Whether the end marker has arrived. */
  get ended(): boolean {
    return this.#total !== undefined;
  }

  /** Whether every segment the end marker announced has arrived. */
  get complete(): boolean {
    return this.#total !== undefined && this.#received >= this.#total;
  }

  /** Whether `seq` is one of the run's declared sequence numbers. */
  inRange(seq: number): boolean {
    return Number.isInteger(seq) && seq >= 0 && seq < this.capacity;
  }

  /** Segments numbered out of range so far (counted, dropped). */
  get outOfRange(): number {
    return this.#outOfRange;
  }

  /** Bytes of per-sequence bookkeeping held (at most capacity / 8, rounded up). */
  get footprint(): number {
    return this.#seen.length;
  }

  /** Whether segment `seq` has arrived. */
  has(seq: number): boolean {
    if (!this.inRange(seq)) return false;
    const byte = seq >>> 3;
    return byte < this.#seen.length && (this.#seen[byte] & (1 << (seq & 7))) !== 0;
  }

  /** Distinct segments received so far. */
  get received(): number {
    return this.#received;
  }

  /** The counts so far. */
  get counts(): SegmentCounts {
    const expected = this.#total ?? this.#highest + 1;
    return {
      sent: this.#total,
      received: this.#received,
      lost: Math.max(0, expected - this.#received),
      duplicated: this.#duplicated,
      reordered: this.#reordered,
      ...(this.#outOfRange > 0 ? { out_of_range: this.#outOfRange } : {}),
    };
  }

  /** The delay figures, or undefined before the first segment. */
  get delay(): DelayFigures | undefined {
    if (this.#received === 0) return undefined;
    return {
      min: this.#delayMin,
      avg: this.#delaySum / this.#received,
      max: this.#delayMax,
      spread: this.#delayMax - this.#delayMin,
      jitter: this.#jitter,
    };
  }

  #grow(byte: number): void {
    let size = Math.max(1, this.#seen.length * 2);
    while (size <= byte) size *= 2;
    size = Math.min(size, this.#maxBytes);
    const bigger = new Uint8Array(size);
    bigger.set(this.#seen);
    this.#seen = bigger;
  }
}
