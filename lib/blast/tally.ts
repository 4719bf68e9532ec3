/**
 * The receiver's accounting of numbered segments: received, lost,
 * duplicated, reordered, and the one-way delay, as a pure object.
 *
 * How this works: a bit per sequence number says whether it has arrived.
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
  #seen = new Uint8Array(1024);
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

  /**
   * A segment arrived: its sequence number, its send time and the arrival
   * time (both ms on the epoch clock). Returns false for a duplicate.
   */
  record(seq: number, sent: number, arrived: number): boolean {
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

  /** Whether segment `seq` has arrived. */
  has(seq: number): boolean {
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
    let size = this.#seen.length * 2;
    while (size <= byte) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.#seen);
    this.#seen = bigger;
  }
}
