/**
 * A single-producer, single-consumer ring of records in a SharedArrayBuffer.
 *
 * How this works: the stdin worker (producer) appends records — a line or a
 * piece of one — and the main thread (consumer) takes them, in order. Both
 * sides keep running byte positions (int32, wrapping; the capacity is a power
 * of two, so `position & mask` is the offset). Each record is a 4-byte
 * little-endian length, one flag byte, then the bytes, and may wrap around
 * the end of the buffer.
 *
 * Batching: the producer publishes its write position once per chunk of
 * stdin, not per line, and the consumer publishes its read position once per
 * drained batch, so one Atomics round trip moves many lines.
 *
 * Waiting: when the ring is full the producer blocks in `Atomics.wait` on the
 * read position (it is a worker: blocking is allowed) — backpressure, never a
 * drop. The consumer is the main thread, which must not block, so it waits
 * with `Atomics.waitAsync` on an event counter that the producer bumps on
 * every publish and at the end; waiting on a counter, not on the write
 * position, means the end of input can never be missed.
 *
 * @module
 */

const WRITE = 0;
const READ = 1;
const STATE = 2;
const EVENT = 3;
const CONTROL_BYTES = 16;
const RECORD_HEADER = 5;
const FLAG_END_OF_LINE = 1;

/** Producer states, as seen by the consumer. */
export const RingState = { OPEN: 0, ENDED: 1, FAILED: 2 } as const;

/** One record taken from the ring. */
export interface RingRecord {
  /** A copy of the record's bytes, owned by the caller. */
  bytes: Uint8Array;
  /** False for all but the last piece of a line. */
  endOfLine: boolean;
}

/** Allocates the shared memory for a ring whose data area holds `capacity` bytes (a power of two). */
export function createRingBuffer(capacity: number): SharedArrayBuffer {
  if (
    !Number.isInteger(capacity) || capacity < 64 || (capacity & (capacity - 1)) !== 0 ||
    capacity > 2 ** 30
  ) {
    throw new RangeError("ring capacity must be a power of two from 64 to 2^30");
  }
  return new SharedArrayBuffer(CONTROL_BYTES + capacity);
}

class RingView {
  protected readonly control: Int32Array;
  protected readonly data: Uint8Array;
  protected readonly mask: number;

  constructor(buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.data = new Uint8Array(buffer, CONTROL_BYTES);
    this.mask = this.data.length - 1;
  }

  /** Largest record payload the ring can hold. */
  get maxRecord(): number {
    return this.data.length - RECORD_HEADER;
  }
}

/** The producer side. Blocks (Atomics.wait) when the ring is full: use it in a worker. */
export class RingWriter extends RingView {
  #write: number;
  #header = new Uint8Array(RECORD_HEADER);

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#write = Atomics.load(this.control, WRITE);
  }

  /** Appends one record, waiting while the ring is too full for it. */
  write(bytes: Uint8Array, endOfLine: boolean): void {
    const need = RECORD_HEADER + bytes.length;
    if (bytes.length > this.maxRecord) {
      throw new RangeError(`record of ${bytes.length} bytes exceeds the ring`);
    }
    for (;;) {
      const read = Atomics.load(this.control, READ);
      if (this.data.length - ((this.#write - read) | 0) >= need) break;
      this.publish(); // the consumer must see what is there before we sleep
      Atomics.wait(this.control, READ, read, 1000);
    }
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
    const at = this.#write & this.mask;
    const first = Math.min(bytes.length, this.data.length - at);
    this.data.set(bytes.subarray(0, first), at);
    if (first < bytes.length) this.data.set(bytes.subarray(first), 0);
    this.#write = (this.#write + bytes.length) | 0;
  }

  /** Makes the records written so far visible to the consumer and wakes it. */
  publish(): void {
    if (Atomics.load(this.control, WRITE) === this.#write) return;
    Atomics.store(this.control, WRITE, this.#write);
    this.#signal();
  }

  /** Publishes what is left and marks the end: `ENDED` at EOF, `FAILED` on a read error. */
  close(state: typeof RingState.ENDED | typeof RingState.FAILED): void {
    Atomics.store(this.control, WRITE, this.#write);
    Atomics.store(this.control, STATE, state);
    this.#signal();
  }

  #signal(): void {
    Atomics.add(this.control, EVENT, 1);
    Atomics.notify(this.control, EVENT);
  }
}

/** The consumer side. Never blocks: waits with Atomics.waitAsync. */
export class RingReader extends RingView {
  #read: number;
  #write: number;
  #header = new Uint8Array(RECORD_HEADER);

  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#read = Atomics.load(this.control, READ);
    this.#write = this.#read;
  }

  /** The producer's state: OPEN, ENDED or FAILED. */
  get state(): number {
    return Atomics.load(this.control, STATE);
  }

  /** True once the producer has closed and every record has been taken. */
  get finished(): boolean {
    return this.state !== RingState.OPEN && !this.#hasRecord();
  }

  #hasRecord(): boolean {
    if (this.#read !== this.#write) return true;
    this.#write = Atomics.load(this.control, WRITE);
    return this.#read !== this.#write;
  }

  /** Takes the next record, or undefined when none is published. Call `release()` after a batch. */
  next(): RingRecord | undefined {
    if (!this.#hasRecord()) return undefined;
    this.#copyOut(this.#header);
    const h = this.#header;
    const len = (h[0] | (h[1] << 8) | (h[2] << 16) | (h[3] << 24)) >>> 0;
    const bytes = new Uint8Array(len);
    this.#copyOut(bytes);
    return { bytes, endOfLine: (h[4] & FLAG_END_OF_LINE) !== 0 };
  }

  #copyOut(into: Uint8Array): void {
    const at = this.#read & this.mask;
    const first = Math.min(into.length, this.data.length - at);
    into.set(this.data.subarray(at, at + first));
    if (first < into.length) into.set(this.data.subarray(0, into.length - first), first);
    this.#read = (this.#read + into.length) | 0;
  }

  /** Returns the space of the records taken so far to the producer. */
  release(): void {
    if (Atomics.load(this.control, READ) === this.#read) return;
    Atomics.store(this.control, READ, this.#read);
    Atomics.notify(this.control, READ);
  }

  /** Resolves when a record is published or the producer closes (at once if either is so). */
  async ready(): Promise<void> {
    const seen = Atomics.load(this.control, EVENT);
    if (this.#hasRecord() || this.state !== RingState.OPEN) return;
    const wait = Atomics.waitAsync(this.control, EVENT, seen);
    if (wait.async) await wait.value;
  }
}
