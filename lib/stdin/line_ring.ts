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
/** Indexes of the write and read positions among the byte ring's shared counters. */
const WRITE_INDEX = 0;
const READ_INDEX = 1;
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

  /** The write position, as committed through this writer (mirrors the byte ring's). */
  #at: number;

  /** The writing end of the ring in `buffer`. */
  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#at = Atomics.load(this.control, WRITE_INDEX);
  }

  /**
   * Appends one record, waiting while the ring is too full for it. Once it
   * has had to wait, it waits for a quarter of the ring (or the record, if
   * larger) to be free: the reader releases in such steps too, so the two
   * threads wake each other once per many lines, not once per line.
   */
  write(bytes: Uint8Array, endOfLine: boolean): void {
    if (bytes.length > this.maxRecord) {
      throw new RangeError(`record of ${bytes.length} bytes exceeds the ring`);
    }
    const need = RECORD_HEADER + bytes.length;
    const free = this.capacity - ((this.#at - Atomics.load(this.control, READ_INDEX)) | 0);
    if (free < need) this.waitForSpace(Math.max(need, this.capacity >>> 2));
    this.#at = (this.#at + need) | 0;
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

/** Size of the slabs that {@link RingReader.take} copies records into. */
const SLAB_BYTES = 64 * 1024;
/** Records longer than this get an array of their own instead of slab space. */
const SLAB_MAX_RECORD = SLAB_BYTES / 8;
/** Records up to this length are copied byte by byte (no span views). */
const SMALL_RECORD = 128;

/** The consumer side. Never blocks: waits with Atomics.waitAsync. */
export class RingReader extends ByteRingReader {
  /** The read position, as consumed through this reader (mirrors the byte ring's). */
  #at: number;
  /** The slab that `take` copies small records into, and its first free byte. */
  #slab = new ArrayBuffer(SLAB_BYTES);
  #slabBytes = new Uint8Array(this.#slab);
  #slabUsed = 0;
  /** The read position at the last release. */
  #released: number;
  /** Whether the record last returned by {@link take} ends its line. */
  endOfLine = false;

  /** The reading end of the ring in `buffer`. */
  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#at = Atomics.load(this.control, READ_INDEX);
    this.#released = this.#at;
  }

  /** Returns the space of what was taken so far to the producer (and wakes it if it waits). */
  override release(): void {
    this.#released = this.#at;
    super.release();
  }

  /**
   * Releases what was taken once it amounts to a quarter of the ring: for
   * the end of a batch while more batches follow at once. Before waiting
   * for the producer (`ready()`), call `release()`, or it may wait for space.
   */
  releaseSome(): void {
    if (((this.#at - this.#released) | 0) >= this.capacity >>> 2) this.release();
  }

  /** Largest record payload the ring can hold. */
  get maxRecord(): number {
    return this.capacity - RECORD_HEADER;
  }

  /** Takes the next record, or undefined when none is published. Call `release()` after a batch. */
  next(): RingRecord | undefined {
    const bytes = this.take();
    return bytes === undefined ? undefined : { bytes, endOfLine: this.endOfLine };
  }

  /**
   * Takes the next record, or undefined when none is published; `endOfLine`
   * then says whether it ends its line. The bytes are the caller's: a view
   * into a slab that no one else writes (small records share slabs, so a
   * record costs one small object and no allocation of its own memory).
   * Call `release()` after a batch.
   */
  take(): Uint8Array | undefined {
    if (this.available === 0) return undefined;
    const data = this.data;
    const mask = this.mask;
    let at = this.#at;
    const len = (data[at & mask] | (data[(at + 1) & mask] << 8) |
      (data[(at + 2) & mask] << 16) | (data[(at + 3) & mask] << 24)) >>> 0;
    this.endOfLine = (data[(at + 4) & mask] & FLAG_END_OF_LINE) !== 0;
    at = (at + RECORD_HEADER) | 0;
    let out: Uint8Array;
    if (len > SLAB_MAX_RECORD) {
      out = new Uint8Array(len);
    } else {
      if (this.#slabUsed + len > SLAB_BYTES) {
        this.#slab = new ArrayBuffer(SLAB_BYTES);
        this.#slabBytes = new Uint8Array(this.#slab);
        this.#slabUsed = 0;
      }
      out = new Uint8Array(this.#slab, this.#slabUsed, len);
      if (len <= SMALL_RECORD) {
        // The common case, copied byte by byte: no span views.
        const slab = this.#slabBytes;
        const base = this.#slabUsed;
        for (let i = 0; i < len; i++) slab[base + i] = data[(at + i) & mask];
        this.#slabUsed += len;
        this.#at = (at + len) | 0;
        this.consume(RECORD_HEADER + len);
        return out;
      }
      this.#slabUsed += len;
    }
    const start = at & mask;
    const first = Math.min(len, data.length - start);
    out.set(data.subarray(start, start + first));
    if (first < len) out.set(data.subarray(0, len - first), first);
    this.#at = (at + len) | 0;
    this.consume(RECORD_HEADER + len);
    return out;
  }
}
