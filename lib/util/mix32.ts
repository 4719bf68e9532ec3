/**
 * The finalizer of MurmurHash3: a 32-bit mix in which every input bit moves
 * every output bit. Shared by the fault plan (seeded decisions) and the
 * blast pattern (bytes by position).
 *
 * @module
 */

/** Mixes `h` into a well-spread unsigned 32-bit number. */
export function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
