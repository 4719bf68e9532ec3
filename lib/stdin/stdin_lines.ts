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

  /** Lets the worker reuse the space of what was taken. */
  release(): void {
    this.ring.release();
  }
}
