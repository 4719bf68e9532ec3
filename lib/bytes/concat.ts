/**
 * Joins byte arrays into one new array.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * assert.deepEqual(concatBytes([Uint8Array.of(1, 2), Uint8Array.of(), Uint8Array.of(3)]), Uint8Array.of(1, 2, 3));
 * ```
 *
 * @module
 */

/** `parts`, one after another, in a new array. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
