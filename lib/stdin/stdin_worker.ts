/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
/**
 * The stdin thread: blocking reads of stdin, handed to the main thread
 * through a ring in shared memory. It is a Web Worker so that the main
 * thread never blocks on stdin; it may stay blocked in `readSync` forever,
 * which is why the program ends with `Deno.exit`.
 *
 * Two modes, chosen by the start message ({@link StdinWorkerStart}):
 * - `lines`: split into lines (and long lines into pieces), as records of a
 *   {@link RingWriter} (the PUDP and frame clients);
 * - `bytes`: read straight into a {@link ByteRingWriter}, no copy and no
 *   framing (the pipe client).
 *
 * Started by {@link StdinThread}.
 *
 * @module
 */

import { ByteRingWriter } from "./byte_ring.ts";
import { LineSplitter } from "./line_splitter.ts";
import { RingState, RingWriter } from "./line_ring.ts";

/** The message that starts the worker. */
export type StdinWorkerStart =
  | {
    mode: "lines";
    buffer: SharedArrayBuffer;
    maxPiece: number;
    keepEndings: boolean;
    chunkSize: number;
  }
  | { mode: "bytes"; buffer: SharedArrayBuffer; chunkSize: number };

function readLines(start: StdinWorkerStart & { mode: "lines" }, ring: RingWriter): void {
  const splitter = new LineSplitter(
    start.maxPiece,
    (piece, eol) => ring.write(piece, eol),
    start.keepEndings,
  );
  const chunk = new Uint8Array(start.chunkSize);
  for (;;) {
    const n = Deno.stdin.readSync(chunk);
    if (n === null) break;
    splitter.push(chunk.subarray(0, n));
    ring.publish();
  }
  splitter.end();
}

function readBytes(start: StdinWorkerStart & { mode: "bytes" }, ring: ByteRingWriter): void {
  for (;;) {
    const span = ring.freeSpan(start.chunkSize);
    const n = Deno.stdin.readSync(span);
    if (n === null) break;
    ring.commit(n);
    ring.publish();
  }
}

self.onmessage = (event: MessageEvent<StdinWorkerStart>) => {
  self.onmessage = null;
  const start = event.data;
  const ring = start.mode === "lines"
    ? new RingWriter(start.buffer)
    : new ByteRingWriter(start.buffer);
  try {
    if (start.mode === "lines") readLines(start, ring as RingWriter);
    else readBytes(start, ring);
    ring.close(RingState.ENDED);
  } catch (e) {
    self.postMessage({ error: e instanceof Error ? e.message : String(e) });
    ring.close(RingState.FAILED);
  }
};
