/**
 * Writes every byte of a buffer to a writer that may take fewer bytes per
 * call (Deno's `write` contract): stdout, a file, a connection.
 *
 * @module
 */

/** Anything with Deno's `write` contract (may write fewer bytes than given). */
export interface ByteWriter {
  /** Writes some of `p`; resolves with how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
}

/** Writes all of `bytes` to `writer`, however many calls it takes. */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await writer.write(bytes.subarray(done));
}
