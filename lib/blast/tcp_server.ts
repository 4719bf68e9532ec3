/**
 * `pudp blast server` (TCP): each connection is served by its own loop:
 * read request lines; answer `ECHO` lines with themselves; for a transfer
 * answer `OK` (or `REFUSED <reason>` and close), then send the pattern or
 * segments and close (GET), or receive and check them and answer `DONE
 * <report>` (PUT). What happens is reported as {@link BlastServerEvent}s.
 * The {@link Driver} gives signals, the ordered shutdown and the summary.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { TcpLimits } from "../net/connection_limits.ts";
import { type TcpConnection, TcpListener } from "../net/tcp.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { Driver, epochNow } from "../runtime/driver.ts";
import { blastOutput, type BlastServerEvent } from "./events.ts";
import { ByteReceiver, type ReceiverReport, SegmentReceiver } from "./receiver.ts";
import { SegmentSource } from "./segment_source.ts";
import {
  BlastStream,
  SegmentAssembler,
  sendPattern,
  sendSegments,
  TOO_LONG,
} from "./tcp_stream.ts";
import { type BlastServerStats, refusal } from "./udp_server_machine.ts";
import { MAX_REQUEST_LINE, parseRequest, type TransferRequest, WireError } from "./wire.ts";

/** What `pudp blast server` was asked to do. */
export interface BlastServerConfig {
  /** Address to listen on (`--host`). */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Over UDP (`--udp`) instead of TCP. */
  udp: boolean;
  /** Largest transfer a client may ask for, in bytes (`--max-bytes`). */
  maxBytes: number;
  /** One JSON object per event per line (`--json`) instead of text. */
  json: boolean;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** `--max-connections` and `--idle-timeout` (TCP). */
  limits: TcpLimits;
  /** UDP: most runs going at once (`--max-runs`); default 64. */
  maxRuns?: number;
}

/** The summary line printed to stderr at exit. */
export function blastSummaryLine(s: BlastServerStats): string {
  return `pudp blast server: ${s.runs} transfers, ${s.echoes} echoes, ${s.refused} refused, ` +
    `${s.bytesSent} bytes sent, ${s.bytesReceived} bytes received`;
}

const encoder = new TextEncoder();

/** Longest wait at shutdown for the runs to log how they ended, in ms. */
const SHUTDOWN_WAIT_MS = 2_000;

/** Runs the TCP server until SIGINT/SIGTERM. */
export function runBlastTcpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const output = blastOutput(config.json);
  const stats: BlastServerStats = {
    runs: 0,
    echoes: 0,
    refused: 0,
    challenges: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  const open = new Set<TcpConnection>();
  /** The connections' serving loops: shutdown waits for their `closed` events. */
  const serving = new Set<Promise<void>>();
  const driver = new Driver({ handleTimeout: () => {}, pollTimeout: () => undefined }, () => {
    output.kick();
    if (output.failure !== undefined) driver.stop.request(output.failure);
  }, epochNow);
  const emit = (e: BlastServerEvent) => {
    output.sink.emit(e);
    driver.afterEvent();
  };
  const listener = TcpListener.listen({ hostname: config.host, port: config.port }, config.limits);
  listener.accept((conn) => {
    if (driver.stop.stopping) return conn.close();
    conn.conn.setNoDelay(true); // paced segments go when written
    open.add(conn);
    const done = serveConnection(conn, config.maxBytes, stats, emit).finally(() => {
      open.delete(conn);
      serving.delete(done);
      conn.close();
    });
    serving.add(done);
  }, (e) => {
    if (config.verbose) log(`cannot accept: ${errorText(e)}`);
  }, log);
  return driver.serve({
    ready: `listening on ${formatAddress(listener.address)} (tcp)`,
    shutdown: () => {},
    close: async () => {
      await listener.close();
      for (const conn of open) conn.close();
      // Each run ends with its `closed` event and its bytes in the summary
      // (a closed connection ends its loop at once; bounded all the same).
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...serving]),
        new Promise((r) => timer = setTimeout(r, SHUTDOWN_WAIT_MS)),
      ]);
      clearTimeout(timer);
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => blastSummaryLine(stats),
  }, log);
}

/** Serves one connection until it ends; every way out emits `closed`. */
async function serveConnection(
  conn: TcpConnection,
  maxBytes: number,
  stats: BlastServerStats,
  emit: (e: BlastServerEvent) => void,
): Promise<void> {
  const peer = conn.peer;
  const run = `#${conn.id}`;
  const stream = new BlastStream(conn);
  const closed = (reason: string, extra: Partial<BlastServerEvent> = {}) =>
    emit({ event: "closed", peer, run, reason, ...extra } as BlastServerEvent);
  for (;;) {
    const line = await stream.readLine(MAX_REQUEST_LINE);
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
    conn.write(encoder.encode("OK\n"));
    if (request.direction === "get") {
      const source = new SegmentSource(request, conn.id);
      const started = epochNow();
      // What the socket takes from here on is the run's (the OK may still be queued).
      const before = conn.bytesWritten + conn.pendingWrite;
      if (request.bytes !== undefined) await sendPattern(conn, request.bytes);
      else await sendSegments(conn, source, epochNow);
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
      const sent = request.bytes !== undefined
        ? { segments: 0, bytes: request.bytes, seconds: (epochNow() - started) / 1000 }
        : source.figures;
      return closed("complete", { sent });
    }
    const { report, end } = await receive(stream, request);
    stats.bytesReceived += report.bytes;
    if (end === undefined) {
      conn.write(encoder.encode(`DONE ${JSON.stringify(report)}\n`));
      await conn.end();
      return closed("complete", { received: report });
    }
    return closed(endReason(end), { received: report });
  }

  function refuse(conn: TcpConnection, reason: string): Promise<void> {
    stats.refused++;
    emit({ event: "refused", peer, run, reason });
    conn.write(encoder.encode(`REFUSED ${reason}\n`));
    return conn.end();
  }
}

/**
 * Receives a PUT: every byte or segment the request announced (then the
 * report and no end), or what came before the stream ended (and how).
 */
export async function receive(
  stream: BlastStream,
  request: TransferRequest,
  clock: () => number = epochNow,
  onProgress?: (bytes: number) => void,
): Promise<
  {
    report: ReceiverReport;
    end: Exclude<Awaited<ReturnType<BlastStream["readChunk"]>>, Uint8Array> | undefined;
  }
> {
  if (request.bytes !== undefined) {
    const receiver = new ByteReceiver(request.bytes);
    while (!receiver.complete) {
      const chunk = await stream.readChunk();
      if (!(chunk instanceof Uint8Array)) return { report: receiver.report(), end: chunk };
      receiver.handleBytes(chunk, clock());
      onProgress?.(receiver.bytes);
    }
    return { report: receiver.report(), end: undefined };
  }
  const receiver = new SegmentReceiver(request);
  const assembler = new SegmentAssembler(receiver, clock);
  const total = request.count!;
  while (
    receiver.tally.received + receiver.tally.counts.duplicated < total && assembler.invalid === 0
  ) {
    const chunk = await stream.readChunk();
    if (!(chunk instanceof Uint8Array)) return { report: receiver.report(), end: chunk };
    assembler.feed(chunk);
    onProgress?.(receiver.bytes);
  }
  receiver.handleEnd(total);
  return { report: receiver.report(), end: undefined };
}

/** The `closed` reason for how a read ended. */
export function endReason(end: { kind: string; error?: unknown; reason?: string }): string {
  switch (end.kind) {
    case "eof":
      return "peer closed";
    case "reset":
      return "peer reset";
    case "closed":
      return "shutdown";
    case "idle":
      return end.reason ?? "idle";
    default:
      return `error: ${errorText(end.error)}`;
  }
}
