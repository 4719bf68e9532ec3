/**
 * A growable byte buffer for building output without a string per line.
 *
 * Appends copy into one backing array that doubles when full; {@link take}
 * hands the filled part out and starts over, so a driver can write a whole
 * batch of lines with one syscall.
 *
 * @module
 */

/** Growable append-only byte buffer. */
export class ByteBuffer {
  #buf: Uint8Array;
  #len = 0;

  /** An empty buffer with room for `initialCapacity` bytes before it grows. */
  constructor(initialCapacity = 4096) {
    this.#buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  /** Number of bytes held. */
  get length(): number {
    return this.#len;
  }

  #reserve(extra: number): void {
    const need = this.#len + extra;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  /** Appends a copy of `bytes`. */
  append(bytes: Uint8Array): void {
    this.#reserve(bytes.length);
    this.#buf.set(bytes, this.#len);
    this.#len += bytes.length;
  }

  /**
   * Appends a copy of `bytes` from index `start` on. Short ranges are copied
   * byte by byte, which costs less than making a view for `set`.
   */
  appendFrom(bytes: Uint8Array, start: number): void {
    const n = bytes.length - start;
    if (n <= 0) return;
    if (n > 256) return this.append(bytes.subarray(start));
    this.#reserve(n);
    const buf = this.#buf;
    let at = this.#len;
    for (let i = start; i < bytes.length; i++) buf[at++] = bytes[i];
    this.#len = at;
  }

  /** Appends one byte. */
  appendByte(byte: number): void {
    this.#reserve(1);
    this.#buf[this.#len++] = byte;
  }

  /** Appends an ASCII string (code units above 0x7f are not expected). */
  appendAscii(text: string): void {
    this.#reserve(text.length);
    for (let i = 0; i < text.length; i++) this.#buf[this.#len++] = text.charCodeAt(i);
  }

  /** Appends a non-negative integer in decimal ASCII digits. */
  appendDecimal(value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      this.appendAscii(String(value));
      return;
    }
    let digits = 1;
    for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    this.#reserve(digits);
    // Digits are written from the last one back, so no string is made.
    const buf = this.#buf;
    let at = this.#len + digits;
    this.#len = at;
    let rest = value;
    do {
      buf[--at] = 0x30 + rest % 10;
      rest = Math.floor(rest / 10);
    } while (rest > 0);
  }

  /** Returns a copy of the held bytes and empties the buffer. */
  take(): Uint8Array {
    const out = this.#buf.slice(0, this.#len);
    this.#len = 0;
    return out;
  }
}
