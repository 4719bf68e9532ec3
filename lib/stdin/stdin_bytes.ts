/**
 * The main thread's view of stdin as bytes, for streaming it out unchanged:
 * the stdin worker reads straight into a {@link ByteRingReader shared ring}
 * with blocking reads (cheap, and many of them), and the main thread writes
 * straight out of the ring in large spans (few async operations, and no
 * copy). Memory is the ring, whatever the size of the input.
 *
 * Use: `span(max)` gives what is ready, `consume(n)` once it is written;
 * `ready()` waits for more; `finished` at the end.
 *
 * @module
 */

import { ByteRingReader, createRingBuffer } from "./byte_ring.ts";
import { StdinThread, StdinView } from "./stdin_thread.ts";

/** The most one blocking read of stdin takes. */
const CHUNK_BYTES = 1 << 20;

/** Stdin as bytes, read by a worker thread into a ring of `ringBytes`. */
export class StdinBytes extends StdinView<ByteRingReader> {
  private constructor(ringBytes: number) {
    const buffer = createRingBuffer(ringBytes);
    const chunkSize = Math.min(CHUNK_BYTES, ringBytes / 4);
    super(new ByteRingReader(buffer), new StdinThread({ mode: "bytes", buffer, chunkSize }));
  }

  /** Starts reading stdin in a worker into a ring of `ringBytes` (a power of two). */
  static start(ringBytes: number): StdinBytes {
    return new StdinBytes(ringBytes);
  }

  /** Bytes read and not yet consumed, at most `max`, as one span of the ring (empty if none). */
  span(max: number): Uint8Array {
    return this.ring.readableSpan(max);
  }

  /** Gives `n` bytes of the last span back to the worker (call once they are written). */
  consume(n: number): void {
    this.ring.consume(n);
    this.ring.release();
  }
}
