/**
 * `pudp blast server` (TCP): each connection is served by its own loop:
 * read request lines; answer `ECHO` lines with themselves; for a transfer
 * answer `OK` (or `REFUSED <reason>` and close), then send the pattern or
 * segments and close (GET), or receive and check them and answer `DONE
 * <report>` (PUT); the lines are wire.ts's. What happens is reported as
 * {@link BlastServerEvent}s. The TCP driver of server_drivers.ts
 * ({@link runTcpServer}) accepts and gives the `Lifecycle`: signals, the
 * ordered shutdown and the summary; there are no deadlines, so no timer.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { TcpConnection } from "../net/tcp.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import type { BlastServerEvent } from "./events.ts";
import { serveTimedTcp } from "./timed_tcp.ts";
import { looksClassic, previewBytes } from "./classic_wire.ts";
import type { BlastServerConfig, BlastServerStats } from "./server_common.ts";
import { runTcpServer } from "./server_drivers.ts";
import { BlastStream, endReason, receive, sendTransfer, TOO_LONG } from "./tcp_stream.ts";
import {
  formatAnswer,
  formatDone,
  MAX_REQUEST_LINE,
  parseRequest,
  refusal,
  WireError,
} from "./wire.ts";

const encoder = new TextEncoder();

/** `--verbose`: how long a request's start may wait for its newline before it is said, in ms. */
export const NO_NEWLINE_MS = 1_000;

/** The `--verbose` line about bytes still without their newline. */
function noNewlineText(conn: TcpConnection, bytes: Uint8Array): string {
  const hint = looksClassic(bytes) ? " (looks like a classic blast request: try --classic)" : "";
  return `${formatAddress(conn.peer)} #${conn.id}: no newline after ${NO_NEWLINE_MS / 1000} s: '${
    previewBytes(bytes)
  }'${hint}`;
}

/** Runs the TCP server until SIGINT/SIGTERM/SIGHUP. */
export function runBlastTcpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
): Promise<number> {
  return runTcpServer(config, log, "tcp", (conn, stats, emit) => {
    const quiet = config.verbose
      ? (bytes: Uint8Array) => log(noNewlineText(conn, bytes))
      : undefined;
    return serveConnection(conn, config.maxBytes, stats, emit, quiet);
  });
}

/** Serves one connection until it ends; every way out emits `closed`. */
async function serveConnection(
  conn: TcpConnection,
  maxBytes: number,
  stats: BlastServerStats,
  emit: (e: BlastServerEvent) => void,
  noNewline?: (bytes: Uint8Array) => void,
): Promise<void> {
  const peer = conn.peer;
  const run = `#${conn.id}`;
  const stream = new BlastStream(conn);
  const closed = (reason: string, extra: Partial<BlastServerEvent> = {}) =>
    emit({ event: "closed", peer, run, reason, ...extra } as BlastServerEvent);
  for (;;) {
    // --verbose: bytes without their newline after a quiet pause (a classic client?) are said.
    const quiet = noNewline && setTimeout(() => {
      if (stream.buffered.length > 0) noNewline(stream.buffered);
    }, NO_NEWLINE_MS);
    const line = await stream.readLine(MAX_REQUEST_LINE);
    clearTimeout(quiet);
    if (typeof line !== "string") {
      return closed(line === TOO_LONG ? "request line too long" : endReason(line));
    }
    let request;
    try {
      request = parseRequest(line);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return refuse(conn, e.message);
    }
    const refused = refusal(request, maxBytes);
    if (refused !== undefined) return refuse(conn, refused);
    if (request.kind === "echo") {
      stats.echoes++;
      emit({ event: "echo", peer, run, text: request.text });
      conn.write(encoder.encode(line + "\n"));
      continue;
    }
    stats.runs++;
    emit({ event: "request", peer, run, request: line });
    if (request.timeMs !== undefined) { // --time: timed_tcp.ts
      const end = await serveTimedTcp(conn, stream, request, maxBytes);
      stats.bytesSent += end.sent?.bytes ?? 0;
      stats.bytesReceived += end.received?.bytes ?? 0;
      return closed(end.reason, { sent: end.sent, received: end.received });
    }
    conn.write(encoder.encode(formatAnswer({ kind: "ok" }) + "\n"));
    if (request.direction === "get") {
      const started = epochNow();
      // What the socket takes from here on is the run's (the OK may still be queued).
      const before = conn.bytesWritten + conn.pendingWrite;
      const sent = await sendTransfer(conn, request, conn.id);
      const sentBytes = Math.max(0, conn.bytesWritten - before);
      stats.bytesSent += sentBytes;
      if (conn.closed) {
        // The server is shutting down: the bytes that really went.
        const seconds = (epochNow() - started) / 1000;
        return closed("shutdown", { sent: { segments: 0, bytes: sentBytes, seconds } });
      }
      if (conn.writeError !== undefined) {
        return closed(conn.peerReset ? "peer reset" : `error: ${errorText(conn.writeError)}`);
      }
      await conn.closeWrite();
      return closed("complete", { sent });
    }
    const { report, end } = await receive(stream, request);
    stats.bytesReceived += report.bytes;
    if (end === undefined) {
      conn.write(encoder.encode(formatDone(report) + "\n"));
      await conn.end();
      return closed("complete", { received: report });
    }
    return closed(endReason(end), { received: report });
  }

  function refuse(conn: TcpConnection, reason: string): Promise<void> {
    stats.refused++;
    emit({ event: "refused", peer, run, reason });
    conn.write(encoder.encode(formatAnswer({ kind: "refused", reason }) + "\n"));
    return conn.end();
  }
}
