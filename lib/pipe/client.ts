/**
 * `pudp pipe client`: streams stdin to a pipe server, byte for byte, and
 * exits 0 only once the server has taken every byte.
 *
 * How this works: the stdin worker reads stdin straight into a shared ring
 * ({@link StdinBytes}) with blocking reads; the main thread writes straight
 * out of the ring in spans of up to {@link WRITE_SPAN}, so a fast input
 * costs few async operations and no copies, and memory is the ring whatever
 * the input's size. At EOF the client half-closes (FIN) and waits for the
 * server to close its side, which the server does once it holds or has
 * written every byte; that close is the receipt. The server closing or
 * resetting before that is a failure (exit 1, one line).
 *
 * @module
 */

import type { ClientOutcome } from "../cli/command_tree.ts";
import { errorText } from "../cli/errors.ts";
import { ProgressLine } from "../io/progress_line.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { type ReadEnd, TcpConnection } from "../net/tcp.ts";
import { SIGNAL_EXIT, type StopSignal } from "../runtime/driver.ts";
import { StdinBytes } from "../stdin/stdin_bytes.ts";

/** What `pudp pipe client` was asked to do. */
export interface PipeClientConfig {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** Show the progress line on stderr (a terminal, stdin not one, no `--quiet`). */
  progress: boolean;
  /** Diagnostics on stderr (`--verbose`). */
  verbose: boolean;
}

/** How the run ended: the exit status and a line for stderr. */
export interface PipeClientResult extends ClientOutcome {
  /** Bytes sent. */
  bytes: number;
}

/** The ring between the stdin worker and the socket writes. */
const RING_BYTES = 8 << 20;
/** The most one socket write takes. */
const WRITE_SPAN = 4 << 20;

function endText(label: string, end: ReadEnd, early: boolean): string {
  const before = early ? " before the end of the input" : " before taking every byte";
  switch (end.kind) {
    case "eof":
      return `server ${label} closed the connection${before}`;
    case "reset":
      return `server ${label} reset the connection${before}`;
    case "closed":
    case "idle":
      return `connection to ${label} closed`;
    case "error":
      return `cannot read from ${label}: ${errorText(end.error)}`;
  }
}

/** Streams stdin to the server; returns how it went. */
export async function runPipeClient(config: PipeClientConfig): Promise<PipeClientResult> {
  const peer = await resolveHost(config.host);
  const label = serverLabel(config.host, config.port);
  const conn = await TcpConnection.connect({ hostname: peer.hostname, port: config.port });
  let bytes = 0;
  let inputDone = false;
  const done = Promise.withResolvers<PipeClientResult>();
  const finish = (code: number, message?: string) => done.resolve({ code, message, bytes });
  const signals: [StopSignal, () => void][] = (["SIGINT", "SIGTERM"] as const).map((s) => [
    s,
    () => finish(SIGNAL_EXIT[s]),
  ]);
  for (const [s, f] of signals) Deno.addSignalListener(s, f);

  // The server sends nothing; its end of the stream is the answer.
  conn.read(() => {}, 4096).then((end) => {
    if (end.kind === "eof" && inputDone) finish(0);
    else finish(1, endText(label, end, !inputDone));
  });

  const progress = new ProgressLine(config.progress, () => ({ unit: "bytes", sent: bytes }));
  progress.start();
  const stdin = StdinBytes.start(RING_BYTES);
  (async () => {
    for (;;) {
      const span = stdin.span(WRITE_SPAN);
      if (span.length > 0) {
        conn.write(span);
        await conn.drained();
        if (conn.writeError !== undefined) {
          return finish(
            1,
            conn.peerReset
              ? `server ${label} reset the connection before the end of the input`
              : `cannot send to ${label}: ${errorText(conn.writeError)}`,
          );
        }
        bytes += span.length;
        stdin.consume(span.length);
        continue;
      }
      if (stdin.finished) break;
      await stdin.ready();
    }
    const error = await stdin.error();
    if (error !== undefined) return finish(1, `cannot read stdin: ${error}`);
    inputDone = true;
    await conn.closeWrite();
    if (conn.writeError !== undefined) {
      finish(1, `cannot send to ${label}: ${errorText(conn.writeError)}`);
    }
  })();

  const result = await done.promise;
  progress.stop();
  for (const [s, f] of signals) Deno.removeSignalListener(s, f);
  conn.close();
  return result;
}
