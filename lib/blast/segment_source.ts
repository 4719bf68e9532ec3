/**
 * The sending side of a blast transfer in segments, as a pure object: which
 * segment goes next, when (pacing), and its bytes, written into the
 * caller's buffer so that sending allocates nothing.
 *
 * Pacing: segment i is due at `start + i × gap`, where the gap is
 * `--interval`, or the segment's bits over `--rate`; with neither, every
 * segment is due at once. Due times are kept on that schedule (not one gap
 * after the previous send), so a late send is followed by quicker ones and
 * the average rate holds.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";

 * import { checkPattern } from "./pattern.ts";
 * import { decodeHeader, emptyHeader, parseRequest, SegmentType } from "./wire.ts";
 *
 * const request = parseRequest("GET count=3 interval=10 size=100"); // 76 payload bytes each
 * assert.equal(request.kind, "transfer");
 * const source = new SegmentSource(request, 7);
 * const buf = new Uint8Array(100);
 * const view = new DataView(buf.buffer);
 * assert.equal(source.fill(buf, view, 0), 100); // segment 0, due at once
 * assert.deepEqual(
 *   decodeHeader(buf, emptyHeader()),
 *   { type: SegmentType.Data, run: 7, seq: 0, total: 3, sent: 0 },
 * );
 * assert.equal(checkPattern(buf.subarray(24), 0), undefined); // the pattern from offset 0
 * assert.equal(source.fill(buf, view, 5), 0); // segment 1 is not due yet
 * assert.equal(source.dueAt(5), 10);
 * assert.equal(source.fill(buf, view, 12), 100); // sent late...
 * assert.equal(source.dueAt(12), 20); // ...but the schedule holds: not 22
 * assert.equal(source.fill(buf, view, 20), 100);
 * assert.equal(source.done, true);
 * assert.deepEqual(source.figures, { segments: 3, bytes: 228, seconds: 0.02 });
 *
 * // --time: a timed run (bounded to 1000 segments) sends until its time is up.
 * const timed = new SegmentSource({ ...request, count: 1000, timeMs: 25 }, 7);
 * for (const t of [0, 10, 20, 30]) timed.fill(buf, view, t); // the last one is too late
 * assert.equal(timed.done, true);
 * assert.equal(timed.total, 3); // the END marker says 3
 * assert.equal(timed.limited, false); // its time ended it, not the bound
 * ```
 *
 * @module
 */

import { patternAt } from "./pattern.ts";
import {
  payloadPerSegment,
  SEGMENT_HEADER,
  type SegmentHeader,
  SegmentType,
  type TransferRequest,
  transferShape,
  writeHeader,
} from "./wire.ts";

/** What a sender reports at the end (the END segment's body). */
export interface SenderFigures {
  /** Segments sent. */
  segments: number;
  /** Payload bytes sent. */
  bytes: number;
  /** First send to last, in seconds. */
  seconds: number;
  /**
   * A timed run (`--time`) that reached its bound, the server's
   * `--max-bytes`, before its time: present (true) only then.
   */
  limited?: boolean;
}

/** The segments of one transfer, in order. */
export class SegmentSource {
  /**
   * Segments in the transfer. A timed one (`timeMs`) starts at its bound
   * and ends, when its time is up, at the segments sent.
   */
  total: number;
  /** Pattern bytes in the transfer (at most). */
  readonly totalBytes: number;
  readonly #timeMs: number | undefined;
  #timeUp = false;
  readonly #per: number;
  readonly #gapMs: number;
  readonly #header: SegmentHeader;
  #next = 0;
  #start: number | undefined;
  #lastAt = 0;
  #bytesSent = 0;

  /**
   * The segments of `request`, numbered for run `run`.
   * @param request the transfer
   * @param run the run id the segments carry
   */
  constructor(readonly request: TransferRequest, run: number) {
    const shape = transferShape(request);
    this.total = shape.segments;
    this.totalBytes = shape.bytes;
    this.#per = payloadPerSegment(request.size);
    this.#gapMs = request.intervalMs > 0
      ? request.intervalMs
      : request.rate > 0
      ? (request.size * 8 * 1000) / request.rate
      : 0;
    this.#header = { type: SegmentType.Data, run, seq: 0, total: this.total, sent: 0 };
    this.#timeMs = request.timeMs;
  }

  /** A timed run: at most `segments` in all (the bound the server's answer said). */
  limit(segments: number): void {
    this.total = Math.min(this.total, segments);
  }

  /** A timed run that reached its bound before its time was up. */
  get limited(): boolean {
    return this.#timeMs !== undefined && this.done && !this.#timeUp;
  }

  /** A timed run whose time is up at `now` ends here: the segments sent are all it has. */
  #checkTime(now: number): void {
    if (this.#timeMs === undefined || this.#start === undefined || this.done) return;
    if (now - this.#start < this.#timeMs) return;
    this.#timeUp = true;
    this.total = this.#next;
  }

  /** Whether every segment has been handed out. */
  get done(): boolean {
    return this.#next >= this.total;
  }

  /** Segments handed out so far. */
  get sent(): number {
    return this.#next;
  }

  /** When the next segment is due (ms), or undefined when all have gone. */
  dueAt(now: number): number | undefined {
    if (this.done) return undefined;
    if (this.#start === undefined || this.#gapMs === 0) return now;
    const due = this.#start + this.#next * this.#gapMs;
    // A timed run ends on time, not a gap later.
    return this.#timeMs === undefined ? due : Math.min(due, this.#start + this.#timeMs);
  }

  /**
   * Writes the next segment into `buf` (at least `request.size` bytes, with
   * `view` over the same bytes) if it is due at `now`, stamped with `now`;
   * returns its length, or 0 when none is due.
   */
  fill(buf: Uint8Array, view: DataView, now: number): number {
    this.#checkTime(now);
    const due = this.dueAt(now);
    if (due === undefined || due > now) return 0;
    this.#start ??= now;
    const seq = this.#next++;
    const length = Math.min(this.#per, this.totalBytes - seq * this.#per);
    this.#header.seq = seq;
    this.#header.sent = now;
    writeHeader(view, this.#header);
    if (length > 0) buf.set(patternAt(seq * this.#per, length), SEGMENT_HEADER);
    this.#lastAt = now;
    this.#bytesSent += length;
    return SEGMENT_HEADER + length;
  }

  /** The sender's figures so far. */
  get figures(): SenderFigures {
    const figures: SenderFigures = {
      segments: this.#next,
      bytes: this.#bytesSent,
      seconds: this.#start === undefined ? 0 : (this.#lastAt - this.#start) / 1000,
    };
    if (this.limited) figures.limited = true;
    return figures;
  }
}
