/**
 * What the receiving side of a blast transfer measures, as pure objects:
 * {@link ByteReceiver} for a raw TCP byte stream, {@link SegmentReceiver}
 * for numbered segments (UDP, and TCP in stream mode). Both check every
 * payload byte against the pattern and produce a {@link ReceiverReport},
 * which a receiving server sends back to its client as JSON.
 *
 * Times are ms on the epoch clock (`performance.timeOrigin +
 * performance.now()`), passed in. The measured time runs from the first
 * payload's arrival to the last one's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";

 * import { patternAt } from "./pattern.ts";
 * import { parseRequest, SegmentType } from "./wire.ts";
 *
 * const request = parseRequest("PUT bytes=15 size=29"); // 3 segments of 5 payload bytes
 * assert.equal(request.kind, "transfer");
 * const receiver = new SegmentReceiver(request);
 * const data = (seq: number) => ({ type: SegmentType.Data, run: 7, seq, total: 3, sent: 1000 });
 * receiver.handleData(data(0), patternAt(0, 5), 1001);
 * const damaged = patternAt(10, 5).slice();
 * damaged[2] ^= 1; // the byte at offset 12
 * receiver.handleData(data(2), damaged, 1003); // and segment 1 never comes
 * receiver.handleEnd(3);
 * const report = receiver.report();
 * assert.equal(report.bytes, 10);
 * assert.equal(report.missing_bytes, 5);
 * assert.equal(report.corrupt_bytes, 1);
 * assert.equal(report.first_corrupt_at, 12);
 * assert.deepEqual(
 *   report.segments,
 *   { sent: 3, received: 2, lost: 1, duplicated: 0, reordered: 0 },
 * );
 * assert.equal(report.complete, true); // the end marker came
 * ```
 *
 * @module
 */

import { checkPattern } from "./pattern.ts";
import { type DelayFigures, type SegmentCounts, SegmentTally } from "./tally.ts";
import {
  payloadPerSegment,
  type SegmentHeader,
  type TransferRequest,
  transferShape,
} from "./wire.ts";

/** What the receiver of a transfer measured (the JSON a receiving server sends back). */
export interface ReceiverReport {
  /** Payload bytes that arrived (each segment counted once). */
  bytes: number;
  /** Payload bytes the transfer should have had. */
  expected_bytes: number;
  /** First payload arrival to the last, in seconds. */
  seconds: number;
  /** Bytes that differ from the pattern. */
  corrupt_bytes: number;
  /** Offset of the first of them, or null. */
  first_corrupt_at: number | null;
  /** Bytes that never arrived (of lost segments, or cut off). */
  missing_bytes: number;
  /** For segments: the counts. */
  segments?: SegmentCounts;
  /** For segments: the one-way delay, in ms (null before any arrived). */
  delay_ms?: DelayFigures | null;
  /** Whether the end was seen (the end marker, or every byte over TCP). */
  complete: boolean;
}

/** The figures every receiver's report has, whatever it counts. */
export type ByteFigures = Pick<
  ReceiverReport,
  "bytes" | "expected_bytes" | "seconds" | "corrupt_bytes" | "first_corrupt_at" | "missing_bytes"
>;

/** The timing and checking both receivers share. */
export abstract class PatternReceiver {
  /** When the first payload byte arrived (ms on the caller's clock). */
  protected firstAt: number | undefined;
  /** When the last payload byte arrived. */
  protected lastAt = 0;
  /** Bytes that differed from the pattern. */
  protected corrupt = 0;
  /** Offset of the first byte that differed, or null. */
  protected firstCorrupt: number | null = null;
  /** Payload bytes received. */
  bytes = 0;

  /**
   * A receiver that expects `expectedBytes` bytes of the pattern in all (a
   * timed run's bound, until its sender says how many it sent).
   */
  constructor(public expectedBytes: number) {}

  /** Checks `payload` against the pattern at stream `offset`, and counts it as arrived at `now`. */
  protected arrived(payload: Uint8Array, offset: number, now: number): void {
    this.firstAt ??= now;
    this.lastAt = now;
    this.bytes += payload.length;
    const mismatch = checkPattern(payload, offset);
    if (mismatch !== undefined) {
      this.corrupt += mismatch.wrong;
      this.firstCorrupt ??= mismatch.first;
    }
  }

  /** Seconds from the first arrival to the last. */
  get seconds(): number {
    return this.firstAt === undefined ? 0 : (this.lastAt - this.firstAt) / 1000;
  }

  /** When the first payload arrived, or undefined. */
  get startedAt(): number | undefined {
    return this.firstAt;
  }

  /** The report so far. */
  abstract report(): ReceiverReport;

  /** The report's byte and timing figures, the same for both receivers. */
  protected byteFigures(): ByteFigures {
    return {
      bytes: this.bytes,
      expected_bytes: this.expectedBytes,
      seconds: this.seconds,
      corrupt_bytes: this.corrupt,
      first_corrupt_at: this.firstCorrupt,
      missing_bytes: Math.max(0, this.expectedBytes - this.bytes),
    };
  }
}

/** A raw byte stream of pattern bytes (TCP bytes mode). */
export class ByteReceiver extends PatternReceiver {
  /** Bytes past the expected end. */
  extra = 0;

  /** Bytes arrived at `now` (a view: checked, not kept). */
  handleBytes(chunk: Uint8Array, now: number): void {
    const room = Math.max(0, this.expectedBytes - this.bytes);
    if (chunk.length > room) {
      this.extra += chunk.length - room;
      chunk = chunk.subarray(0, room);
    }
    if (chunk.length > 0) this.arrived(chunk, this.bytes, now);
  }

  /** Whether every expected byte has arrived. */
  get complete(): boolean {
    return this.bytes >= this.expectedBytes;
  }

  /** The report so far. */
  report(): ReceiverReport {
    return { ...this.byteFigures(), complete: this.complete };
  }
}

/** Numbered segments (UDP, and TCP stream mode). */
export class SegmentReceiver extends PatternReceiver {
  /**
   * Which sequence numbers arrived: received, lost, duplicated, reordered;
   * sized by the request's segment count, never by a sequence number.
   */
  readonly tally: SegmentTally;
  readonly #per: number;
  readonly #segments: number;

  /** A receiver of the segments `request` asks for. */
  constructor(readonly request: TransferRequest) {
    const shape = transferShape(request);
    super(shape.bytes);
    this.#per = payloadPerSegment(request.size);
    this.#segments = shape.segments;
    this.tally = new SegmentTally(shape.segments);
  }

  /** Segments the request declared: sequence numbers 0 to this − 1 are in range. */
  get segments(): number {
    return this.#segments;
  }

  /** Payload bytes segment `seq` should carry. */
  expectedLength(seq: number): number {
    if (seq >= this.#segments) return 0;
    return Math.min(this.#per, this.expectedBytes - seq * this.#per);
  }

  /**
   * A DATA segment arrived at `now`; `body` is its payload (a view). A
   * segment of the wrong length counts its bytes as corrupt; one numbered
   * past the announced count is counted out of range (and its bytes as
   * corrupt) and dropped: nothing is kept for it. Returns false for a
   * duplicate or a segment out of range.
   */
  handleData(h: SegmentHeader, body: Uint8Array, now: number): boolean {
    if (!this.tally.inRange(h.seq)) {
      this.tally.record(h.seq, h.sent, now); // counted out of range, not kept
      this.corrupt += body.length;
      this.firstCorrupt ??= this.expectedBytes;
      return false;
    }
    if (!this.tally.record(h.seq, h.sent, now)) return false;
    const expected = this.expectedLength(h.seq);
    if (body.length !== expected) {
      this.corrupt += Math.max(body.length, expected);
      this.firstCorrupt ??= h.seq * this.#per;
    }
    this.arrived(body.subarray(0, expected), h.seq * this.#per, now);
    return true;
  }

  /**
   * The end marker arrived: `total` segments were sent. A timed run's
   * (`--time`) expected bytes become those segments' (they are all whole).
   */
  handleEnd(total: number): void {
    this.tally.recordEnd(total);
    if (this.request.timeMs !== undefined) {
      this.expectedBytes = Math.min(total, this.#segments) * this.#per;
    }
  }

  /** Whether the end marker came and every segment with it. */
  get complete(): boolean {
    return this.tally.complete;
  }

  /** The report so far. */
  report(): ReceiverReport {
    const counts = this.tally.counts;
    const figures = this.byteFigures();
    if (this.request.timeMs !== undefined && !this.tally.ended) {
      // A timed run cut short has no count yet: what arrived and the gaps seen, a lower bound.
      figures.missing_bytes = counts.lost * this.#per;
      figures.expected_bytes = figures.bytes + figures.missing_bytes;
    }
    return {
      ...figures,
      segments: counts,
      delay_ms: this.tally.delay ?? null,
      complete: this.tally.ended,
    };
  }
}
