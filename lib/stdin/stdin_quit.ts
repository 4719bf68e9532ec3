/**
 * The server's stdin: EOF, or a line `q` when stdin is a terminal, asks it
 * to stop. Nothing else read there means anything.
 *
 * @module
 */

import { isQuitLine, LineSplitter } from "./line_splitter.ts";

/** Calls `stop` at EOF on stdin, or at a line `q` when stdin is a terminal. */
export function watchStdinQuit(stop: () => void): void {
  const terminal = Deno.stdin.isTerminal();
  let quit = false;
  const lines = new LineSplitter(64, (line, endOfLine) => {
    if (terminal && endOfLine && isQuitLine(line)) quit = true;
  });
  (async () => {
    const buf = new Uint8Array(4096);
    try {
      for (;;) {
        const n = await Deno.stdin.read(buf);
        if (n === null) break;
        lines.push(buf.subarray(0, n));
        if (quit) break;
      }
    } catch {
      // An unreadable stdin ends the server like EOF does.
    }
    stop();
  })();
}
