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
 * @example
 * ```ts
 * const lines: StreamDecoder<string> = (bytes) => {
 *   const end = bytes.indexOf(0x0a);
 *   return end < 0 ? NEED_MORE : { value: new TextDecoder().decode(bytes.subarray(0, end)), size: end + 1 };
 * };
 * const rx = new ReceiveBuffer(1024);
 * rx.push(new TextEncoder().encode("HEL"));
 * rx.decode(lines);                 // NEED_MORE
 * rx.push(new TextEncoder().encode("LO 1\n"));
 * rx.decode(lines);                 // "HELLO 1"
 * ```
 *
 * @module
 */

import { WireError } from "../bytes/wire_error.ts";

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

/** A growable, bounded buffer of received stream bytes. */
export class ReceiveBuffer {
  #buf: Uint8Array;
  #start = 0;
  #end = 0;

  /**
   * An empty buffer.
   *
   * @param limit the most bytes held undecoded; more is a WireError
   */
  constructor(readonly limit: number, initialCapacity = 4096) {
    this.#buf = new Uint8Array(Math.min(limit, initialCapacity));
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
    if (this.#end + bytes.length > this.#buf.length) {
      const held = this.view();
      const size = Math.min(
        this.limit,
        Math.max(this.#buf.length, (held.length + bytes.length) * 2),
      );
      const next = size > this.#buf.length ? new Uint8Array(size) : this.#buf;
      next.set(held, 0); // overlapping when compacting in place: set copies correctly
      this.#buf = next;
      this.#start = 0;
      this.#end = held.length;
    }
    this.#buf.set(bytes, this.#end);
    this.#end += bytes.length;
  }

  /** Decodes one message from the front, consuming its bytes; NEED_MORE leaves everything held. */
  decode<T>(decoder: StreamDecoder<T>): T | typeof NEED_MORE {
    const result = decoder(this.view());
    if (result === NEED_MORE) return NEED_MORE;
    this.#start += result.size;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    return result.value;
  }

  /** Takes everything held (a copy), leaving the buffer empty. */
  takeAll(): Uint8Array {
    const all = this.view().slice();
    this.#start = this.#end = 0;
    return all;
  }
}
