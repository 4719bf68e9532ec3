/**
 * Writes every byte of a buffer to a writer that may take fewer bytes per
 * call (Deno's `write` contract): stdout, a file, a connection.
 *
 * @module
 */

import type { ByteWriter } from "./output_pump.ts";

/** Writes all of `bytes` to `writer`, however many calls it takes. */
export async function writeAll(writer: ByteWriter, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await writer.write(bytes.subarray(done));
}
