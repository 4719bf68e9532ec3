/**
 * The main thread's view of stdin as lines: starts the stdin worker and takes
 * the lines it hands over through the shared ring, without ever blocking.
 *
 * @module
 */

import { createRingBuffer, RingReader, type RingRecord, RingState } from "./line_ring.ts";
import { StdinThread } from "./stdin_thread.ts";

/** Ring size: holds thousands of typical lines and several largest pieces. */
const RING_BYTES = 1 << 20;
const CHUNK_BYTES = 64 * 1024;

/** Lines of stdin, read by a worker thread. */
export class StdinLines {
  readonly #ring: RingReader;
  readonly #thread: StdinThread;

  private constructor(maxPiece: number) {
    const buffer = createRingBuffer(RING_BYTES);
    this.#ring = new RingReader(buffer);
    if (maxPiece > this.#ring.maxRecord) throw new RangeError("maxPiece exceeds the ring");
    this.#thread = new StdinThread({ mode: "lines", buffer, maxPiece, chunkSize: CHUNK_BYTES });
  }

  /** Starts reading stdin in a worker; lines longer than `maxPiece` bytes come in pieces. */
  static start(maxPiece: number): StdinLines {
    return new StdinLines(maxPiece);
  }

  /** The next line or piece, or undefined if none is ready now. Call `release()` after a batch. */
  next(): RingRecord | undefined {
    return this.#ring.next();
  }

  /** Lets the worker reuse the space of what was taken. */
  release(): void {
    this.#ring.release();
  }

  /** Resolves when a line is ready or stdin has ended. */
  ready(): Promise<void> {
    return this.#ring.ready();
  }

  /** True when stdin has ended and every line has been taken. */
  get finished(): boolean {
    return this.#ring.finished;
  }

  /** The read error that ended stdin, or undefined if it ended at EOF or has not ended. */
  async error(): Promise<string | undefined> {
    return this.#ring.state === RingState.FAILED ? await this.#thread.error() : undefined;
  }
}
