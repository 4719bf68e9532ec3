/**
 * A single-producer, single-consumer ring of bytes in a SharedArrayBuffer:
 * the stdin worker (producer) reads stdin straight into it, the main thread
 * (consumer) writes straight out of it, with no copy in between.
 *
 * How this works: both sides keep running byte positions (int32, wrapping;
 * the capacity is a power of two, so `position & mask` is the offset). The
 * producer asks for the free span after its position ({@link
 * ByteRingWriter.freeSpan}), fills some of it, `commit`s and `publish`es;
 * the consumer asks for the published span after its position ({@link
 * ByteRingReader.readableSpan}), uses it, `consume`s and `release`s. A span
 * never wraps: at the end of the buffer it is cut short and the next one
 * starts at offset 0.
 *
 * Waiting: when the ring is full the producer blocks in `Atomics.wait` on
 * the read position (it is a worker: blocking is allowed) — backpressure,
 * never a drop. The consumer is the main thread, which must not block, so it
 * waits with `Atomics.waitAsync` on an event counter that the producer bumps
 * on every publish and at the end; waiting on a counter, not on the write
 * position, means the end of input can never be missed.
 *
 * The line ring ({@link RingWriter} in line_ring.ts) is records on top of
 * this ring.
 *
 * @module
 */

const WRITE = 0;
const READ = 1;
const STATE = 2;
const EVENT = 3;
const CONTROL_BYTES = 16;

/** Producer states, as seen by the consumer. */
export const RingState = { OPEN: 0, ENDED: 1, FAILED: 2 } as const;

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

/** The views of a ring's shared memory that the writer and the reader share. */
export class RingView {
  /** The shared counters (positions, flags), for Atomics. */
  protected readonly control: Int32Array;
  /** The ring's bytes. */
  protected readonly data: Uint8Array;
  /** Capacity less one: positions wrap with `& mask`. */
  protected readonly mask: number;

  /** Views over `buffer`, a ring made by {@link createByteRing}. */
  constructor(buffer: SharedArrayBuffer) {
    this.control = new Int32Array(buffer, 0, CONTROL_BYTES / 4);
    this.data = new Uint8Array(buffer, CONTROL_BYTES);
    this.mask = this.data.length - 1;
  }

  /** The ring's capacity in bytes. */
  get capacity(): number {
    return this.data.length;
  }
}

/** The producer side. Blocks (Atomics.wait) when the ring is full: use it in a worker. */
export class ByteRingWriter extends RingView {
  #write: number;

  /** The writing end of the ring in `buffer`. */
  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#write = Atomics.load(this.control, WRITE);
  }

  /** Bytes free now (as far as the producer knows). */
  #free(): number {
    return this.data.length - ((this.#write - Atomics.load(this.control, READ)) | 0);
  }

  /** Waits until at least `need` bytes are free, publishing first so the consumer can make room. */
  waitForSpace(need: number): void {
    for (;;) {
      const read = Atomics.load(this.control, READ);
      if (this.data.length - ((this.#write - read) | 0) >= need) return;
      this.publish();
      Atomics.wait(this.control, READ, read, 1000);
    }
  }

  /**
   * The free span after the write position, at most `max` bytes (waits
   * until at least one byte is free). Fill a prefix of it, then `commit`.
   */
  freeSpan(max: number): Uint8Array {
    this.waitForSpace(1);
    const at = this.#write & this.mask;
    const n = Math.min(max, this.#free(), this.data.length - at);
    return this.data.subarray(at, at + n);
  }

  /** Counts `n` bytes of the last free span as written (not yet visible: `publish`). */
  commit(n: number): void {
    this.#write = (this.#write + n) | 0;
  }

  /** Makes what was committed visible to the consumer and wakes it. */
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
export class ByteRingReader extends RingView {
  #read: number;
  #write: number;

  /** The reading end of the ring in `buffer`. */
  constructor(buffer: SharedArrayBuffer) {
    super(buffer);
    this.#read = Atomics.load(this.control, READ);
    this.#write = this.#read;
  }

  /** The producer's state: OPEN, ENDED or FAILED. */
  get state(): number {
    return Atomics.load(this.control, STATE);
  }

  /** Bytes published and not yet consumed. */
  get available(): number {
    if (this.#read === this.#write) this.#write = Atomics.load(this.control, WRITE);
    return (this.#write - this.#read) | 0;
  }

  /** True once the producer has closed and every byte has been consumed. */
  get finished(): boolean {
    return this.state !== RingState.OPEN && this.available === 0;
  }

  /**
   * The published span after the read position, at most `max` bytes (empty
   * when nothing is published). It stays valid until it is consumed and
   * released.
   */
  readableSpan(max: number): Uint8Array {
    const n = Math.min(max, this.available);
    const at = this.#read & this.mask;
    return this.data.subarray(at, at + Math.min(n, this.data.length - at));
  }

  /** Counts `n` bytes as taken (their space returns to the producer at `release`). */
  consume(n: number): void {
    this.#read = (this.#read + n) | 0;
  }

  /** Returns the space of what was consumed so far to the producer. */
  release(): void {
    if (Atomics.load(this.control, READ) === this.#read) return;
    Atomics.store(this.control, READ, this.#read);
    Atomics.notify(this.control, READ);
  }

  /** Resolves when bytes are published or the producer closes (at once if either is so). */
  async ready(): Promise<void> {
    const seen = Atomics.load(this.control, EVENT);
    if (this.available > 0 || this.state !== RingState.OPEN) return;
    const wait = Atomics.waitAsync(this.control, EVENT, seen);
    if (wait.async) await wait.value;
  }
}
