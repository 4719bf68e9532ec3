/**
 * The deterministic byte pattern that `pudp blast` transfers, and its check.
 *
 * Byte `i` of every transfer is `TABLE[i % PERIOD]`: printable ASCII (a
 * capture in Wireshark or a `nc` session shows text), drawn from a hash of
 * the position, so the table has no shorter period. A corrupted byte
 * differs from the table; a missing or extra byte shifts everything after
 * it, which differs too (unless a whole multiple of {@link PERIOD} bytes is
 * missing, and then the byte count tells). Sender and receiver both use a
 * view into one precomputed buffer (the table, repeated past its end by the
 * longest chunk), so sending costs no generation and checking is one native
 * compare per chunk.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const chunk = patternAt(1000, 8).slice(); // bytes 1000 to 1007 of a transfer (a copy)
 * assert.equal(chunk[0], patternByte(1000));
 * assert.match(new TextDecoder().decode(chunk), /^[!-~]{8}$/); // printable ASCII
 * assert.deepEqual(patternAt(1000 + PERIOD, 8), chunk); // it repeats every PERIOD bytes
 * assert.equal(checkPattern(chunk, 1000), undefined); // every byte right
 * chunk[3] ^= 0xff;
 * assert.deepEqual(checkPattern(chunk, 1000), { wrong: 1, first: 1003 });
 * ```
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { mix32 } from "../util/mix32.ts";

/** The period of the pattern: the largest prime below 2^16. */
export const PERIOD = 65_521;

/** The longest chunk {@link patternAt} and {@link checkPattern} take at once. */
export const MAX_CHUNK = 4 * 1024 * 1024;

/** The pattern byte at offset `i` of a transfer. */
export function patternByte(i: number): number {
  return 0x21 + (mix32(i % PERIOD) % 94);
}

let table: Buffer | undefined;

let wrapped: { buffer: ArrayBuffer; view: Buffer } | undefined;

/** A Buffer over the whole of `buffer`, kept for the next call (receive buffers are reused). */
function wrap(buffer: ArrayBuffer): Buffer {
  if (wrapped?.buffer !== buffer) wrapped = { buffer, view: Buffer.from(buffer) };
  return wrapped.view;
}

/** The table repeated to PERIOD + MAX_CHUNK bytes, made on first use. */
function repeated(): Buffer {
  if (table === undefined) {
    table = Buffer.alloc(PERIOD + MAX_CHUNK);
    for (let i = 0; i < PERIOD; i++) table[i] = patternByte(i);
    for (let at = PERIOD; at < table.length; at += PERIOD) {
      table.copyWithin(at, 0, Math.min(PERIOD, table.length - at));
    }
  }
  return table;
}

/** The `length` pattern bytes from `offset` (a read-only view; `length` ≤ {@link MAX_CHUNK}). */
export function patternAt(offset: number, length: number): Uint8Array {
  if (length > MAX_CHUNK) throw new RangeError(`pattern chunk of ${length} bytes`);
  const phase = offset % PERIOD;
  const table = repeated();
  // A plain Uint8Array, not a Buffer: a Buffer's slice() would share the table's memory.
  return new Uint8Array(table.buffer, table.byteOffset + phase, length);
}

/** What {@link checkPattern} found wrong in a chunk. */
export interface PatternMismatch {
  /** Bytes that differ from the pattern. */
  wrong: number;
  /** The offset (in the transfer) of the first one. */
  first: number;
}

/**
 * Checks `bytes`, found at `offset` of a transfer, against the pattern:
 * undefined when every byte is right, else how many differ and where the
 * first is. Any length is taken (long chunks are checked in pieces).
 */
export function checkPattern(bytes: Uint8Array, offset: number): PatternMismatch | undefined {
  let mismatch: PatternMismatch | undefined;
  const whole = wrap(bytes.buffer as ArrayBuffer);
  const table = repeated();
  for (let done = 0; done < bytes.length; done += MAX_CHUNK) {
    const length = Math.min(MAX_CHUNK, bytes.length - done);
    const start = bytes.byteOffset + done;
    const phase = (offset + done) % PERIOD;
    // One native compare, no allocation: this runs for every datagram.
    if (table.compare(whole, start, start + length, phase, phase + length) === 0) continue;
    const piece = bytes.subarray(done, done + length);
    const expected = patternAt(offset + done, length);
    for (let i = 0; i < piece.length; i++) {
      if (piece[i] === expected[i]) continue;
      mismatch ??= { wrong: 0, first: offset + done + i };
      mismatch.wrong++;
    }
  }
  return mismatch;
}
