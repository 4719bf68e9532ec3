/**
 * The main thread's view of stdin as lines: starts the stdin worker and takes
 * the lines it hands over through the shared ring, without ever blocking.
 *
 * @module
 */

import { createRingBuffer, RingReader, type RingRecord } from "./line_ring.ts";
import { StdinThread, StdinView } from "./stdin_thread.ts";

/** Ring size: holds thousands of typical lines and several largest pieces. */
const RING_BYTES = 1 << 20;
const CHUNK_BYTES = 64 * 1024;

/** Lines of stdin, read by a worker thread. */
export class StdinLines extends StdinView<RingReader> {
  private constructor(maxPiece: number, keepEndings: boolean) {
    const buffer = createRingBuffer(RING_BYTES);
    const ring = new RingReader(buffer);
    if (maxPiece > ring.maxRecord) throw new RangeError("maxPiece exceeds the ring");
    super(
      ring,
      new StdinThread({ mode: "lines", buffer, maxPiece, keepEndings, chunkSize: CHUNK_BYTES }),
    );
  }

  /**
   * Starts reading stdin in a worker; lines longer than `maxPiece` bytes come
   * in pieces. With `keepEndings` each line keeps its `\n` (or `\r\n`).
   */
  static start(maxPiece: number, keepEndings = false): StdinLines {
    return new StdinLines(maxPiece, keepEndings);
  }

  /** The next line or piece, or undefined if none is ready now. Call `release()` after a batch. */
  next(): RingRecord | undefined {
    return this.ring.next();
  }

  /**
   * The next line or piece as bytes of the caller's own, or undefined if
   * none is ready now; {@link endOfLine} then says whether it ends its line.
   * Unlike `next()` it makes no record object. Call `release()` after a batch.
   */
  take(): Uint8Array | undefined {
    return this.ring.take();
  }

  /** False when what `take()` returned last is not the last piece of its line. */
  get endOfLine(): boolean {
    return this.ring.endOfLine;
  }

  /** Lets the worker reuse the space of what was taken. */
  release(): void {
    this.ring.release();
  }

  /**
   * Like `release()`, but only once a quarter of the ring was taken: for the
   * end of a batch when the next one follows at once (fewer wake-ups of the
   * worker). Call `release()` before waiting for `ready()`.
   */
  releaseSome(): void {
    this.ring.releaseSome();
  }
}
