/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The stdin thread: blocking reads of stdin, split into lines, handed to the
 * main thread through a {@link RingWriter}. It is a Web Worker so that the
 * main thread never blocks on stdin; it may stay blocked in `readSync`
 * forever, which is why the program ends with `Deno.exit`.
 *
 * Started by {@link StdinLines.start} with a message `{ buffer, maxPiece }`.
 *
 * @module
 */

import { LineSplitter } from "./line_splitter.ts";
import { RingState, RingWriter } from "./line_ring.ts";

/** The message that starts the worker. */
export interface StdinWorkerStart {
  buffer: SharedArrayBuffer;
  maxPiece: number;
  chunkSize: number;
}

self.onmessage = (event: MessageEvent<StdinWorkerStart>) => {
  self.onmessage = null;
  const { buffer, maxPiece, chunkSize } = event.data;
  const ring = new RingWriter(buffer);
  const splitter = new LineSplitter(maxPiece, (piece, endOfLine) => ring.write(piece, endOfLine));
  const chunk = new Uint8Array(chunkSize);
  try {
    for (;;) {
      const n = Deno.stdin.readSync(chunk);
      if (n === null) break;
      splitter.push(chunk.subarray(0, n));
      ring.publish();
    }
    splitter.end();
    ring.close(RingState.ENDED);
  } catch (e) {
    self.postMessage({ error: e instanceof Error ? e.message : String(e) });
    ring.close(RingState.FAILED);
  }
};
