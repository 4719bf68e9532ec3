/**
 * A single-producer, single-consumer ring of records, built on the
 * {@link ByteRingWriter byte ring} (which says how the shared memory,
 * positions and waiting work).
 *
 * How this works: the stdin worker (producer) appends records — a line or a
 * piece of one — and the main thread (consumer) takes them, in order. Each
 * record is a 4-byte little-endian length, one flag byte, then the bytes, and
 * may wrap around the end of the buffer.
 *
 * Batching: the producer publishes its write position once per chunk of
 * stdin, not per line, and the consumer releases its read position once per
 * drained batch, so one Atomics round trip moves many lines.
 *
 * @module
 */

import { ByteRingReader, ByteRingWriter, createRingBuffer, RingState } from "./byte_ring.ts";

export { createRingBuffer, RingState };

const RECORD_HEADER = 5;
const FLAG_END_OF_LINE = 1;

/** One record taken from the ring. */
export interface RingRecord {
  /** A copy of the record's bytes, owned by the caller. */
  bytes: Uint8Array;
  /** False for all but the last piece of a line. */
  endOfLine: boolean;
}

/** The producer side. Blocks (Atomics.wait) when the ring is full: use it in a worker. */
export class RingWriter extends ByteRingWriter {
  #header = new Uint8Array(RECORD_HEADER);

  /** Largest record payload the ring can hold. */
  get maxRecord(): number {
    return this.capacity - RECORD_HEADER;
  }

  /** Appends one record, waiting while the ring is too full for it. */
  write(bytes: Uint8Array, endOfLine: boolean): void {
    if (bytes.length > this.maxRecord) {
      throw new RangeError(`record of ${bytes.length} bytes exceeds the ring`);
    }
    this.waitForSpace(RECORD_HEADER + bytes.length);
    const header = this.#header;
    const len = bytes.length;
    header[0] = len & 0xff;
    header[1] = (len >>> 8) & 0xff;
    header[2] = (len >>> 16) & 0xff;
    header[3] = len >>> 24;
    header[4] = endOfLine ? FLAG_END_OF_LINE : 0;
    this.#copyIn(header);
    this.#copyIn(bytes);
  }

  #copyIn(bytes: Uint8Array): void {
    for (let at = 0; at < bytes.length;) {
      const span = this.freeSpan(bytes.length - at);
      span.set(bytes.subarray(at, at + span.length));
      this.commit(span.length);
      at += span.length;
    }
  }
}

/** The consumer side. Never blocks: waits with Atomics.waitAsync. */
export class RingReader extends ByteRingReader {
  #header = new Uint8Array(RECORD_HEADER);

  /** Largest record payload the ring can hold. */
  get maxRecord(): number {
    return this.capacity - RECORD_HEADER;
  }

  /** Takes the next record, or undefined when none is published. Call `release()` after a batch. */
  next(): RingRecord | undefined {
    if (this.available === 0) return undefined;
    this.#copyOut(this.#header);
    const h = this.#header;
    const len = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
    const bytes = new Uint8Array(len);
    this.#copyOut(bytes);
    return { bytes, endOfLine: (h[4] & FLAG_END_OF_LINE) !== 0 };
  }

  #copyOut(into: Uint8Array): void {
    for (let at = 0; at < into.length;) {
      const span = this.readableSpan(into.length - at);
      into.set(span, at);
      this.consume(span.length);
      at += span.length;
    }
  }
}
