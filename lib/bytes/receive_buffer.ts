/**
 * Bytes received on a stream, waiting to become messages.
 *
 * A stream codec is a {@link StreamDecoder}: given the bytes received so far
 * it answers one of three ways — a message and how many bytes it took,
 * {@link NEED_MORE} (a message has begun but not all of it is here), or a
 * thrown `WireError` (the bytes can never be a message). The buffer keeps
 * what is not yet decoded, however the bytes were split on the way, and
 * bounds how much it holds.
 *
 * Memory: the buffer grows by doubling (never past the size a decoder said
 * the message needs, {@link ReceiveBuffer.expect}), and shrinks back to its
 * initial capacity once a large message is decoded; every buffer it leaves
 * behind is detached at once (`ArrayBuffer.prototype.transfer`), so its
 * memory goes back without waiting for a garbage collection, and
 * {@link ReceiveBuffer.release} does the same when the stream is done.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const lines: StreamDecoder<string> = (bytes) => {
 *   const end = bytes.indexOf(0x0a);
 *   return end < 0 ? NEED_MORE : { value: new TextDecoder().decode(bytes.subarray(0, end)), size: end + 1 };
 * };
 * const rx = new ReceiveBuffer(1024);
 * rx.push(new TextEncoder().encode("HEL"));
 * assert.equal(rx.decode(lines), NEED_MORE);
 * rx.push(new TextEncoder().encode("LO 1\n"));
 * assert.equal(rx.decode(lines), "HELLO 1");
 * ```
 *
 * @module
 */

import { WireError } from "./wire_error.ts";

/** A decoder's answer when a message has begun but is not complete. */
export const NEED_MORE: unique symbol = Symbol("need more bytes");

/** A decoded message and the number of bytes it took. */
export interface Decoded<T> {
  /** The decoded message. */
  value: T;
  /** How many bytes of the input it took. */
  size: number;
}

/** Decodes one message from the front of `bytes`; throws WireError for bytes that cannot be one. */
export type StreamDecoder<T> = (bytes: Uint8Array) => Decoded<T> | typeof NEED_MORE;

/** A buffer bigger than this shrinks back once it holds no more than its initial capacity. */
const SHRINK_ABOVE = 64 * 1024;

/** A growable, bounded buffer of received stream bytes. */
export class ReceiveBuffer {
  #buf: Uint8Array<ArrayBuffer>;
  #start = 0;
  #end = 0;
  /** The bytes the message at the front needs in all, when known. */
  #expected = Infinity;
  readonly #initialCapacity: number;

  /**
   * An empty buffer.
   *
   * @param limit the most bytes held undecoded; more is a WireError
   */
  constructor(readonly limit: number, initialCapacity = 4096) {
    this.#initialCapacity = Math.min(limit, initialCapacity);
    this.#buf = new Uint8Array(this.#initialCapacity);
  }

  /** Bytes allocated now (at least {@link length}). */
  get capacity(): number {
    return this.#buf.length;
  }

  /**
   * Says the message at the front takes `total` bytes in all (its header
   * read): growing stops there instead of doubling past it. Forgotten once
   * a message is decoded.
   */
  expect(total: number): void {
    this.#expected = total;
  }

  /** Drops everything and gives the memory back at once (for a closed stream). */
  release(): void {
    this.#replace(0);
  }

  /** Bytes held and not yet decoded. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** The bytes held (a view, valid until the next push or decode). */
  view(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** Appends a copy of `bytes`. Throws WireError when more than `limit` would be held. */
  push(bytes: Uint8Array): void {
    if (this.length + bytes.length > this.limit) {
      throw new WireError(`more than ${this.limit} bytes without a complete message`);
    }
    this.#shrink();
    if (this.#end + bytes.length > this.#buf.length) {
      const needed = this.length + bytes.length;
      const doubled = Math.min(this.limit, Math.max(this.#buf.length, needed * 2));
      const size = Math.max(needed, Math.min(doubled, Math.max(this.#expected, this.#buf.length)));
      if (size > this.#buf.length) this.#replace(size);
      else this.#compact();
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  /** Decodes one message from the front, consuming its bytes; NEED_MORE leaves everything held. */
  decode<T>(decoder: StreamDecoder<T>): T | typeof NEED_MORE {
    this.#shrink();
    const result = decoder(this.view());
    if (result === NEED_MORE) return NEED_MORE;
    this.#start += result.size;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    this.#expected = Infinity;
    return result.value;
  }

  /** Takes everything held (a copy), leaving the buffer empty. */
  takeAll(): Uint8Array {
    const all = this.view().slice();
    this.#start = this.#end = 0;
    return all;
  }

  /** Moves the held bytes to the front. */
  #compact(): void {
    this.#buf.copyWithin(0, this.#start, this.#end);
    this.#end -= this.#start;
    this.#start = 0;
  }

  /**
   * Back to the initial capacity when a large buffer holds little (a large
   * message was decoded). Runs at the next push or decode, never in the
   * decode that returned a view into the buffer.
   */
  #shrink(): void {
    const small = Math.max(this.#initialCapacity, this.length);
    if (this.#buf.length > SHRINK_ABOVE && this.length <= this.#initialCapacity) {
      this.#replace(small);
    }
  }

  /** Moves the held bytes into a buffer of `size` bytes, detaching the old one (its memory is freed now). */
  #replace(size: number): void {
    this.#compact();
    const held = Math.min(this.#end, size);
    this.#buf = new Uint8Array(this.#buf.buffer.transfer(size));
    this.#end = held;
  }
}
