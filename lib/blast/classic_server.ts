/**
 * `pudp blast server --classic`: the drivers of the 2015 protocol
 * (classic_wire.ts), TCP and UDP.
 *
 * TCP: each connection carries one request. The request is what the
 * connection's first read returns, at most {@link CLASSIC_MAX_REQUEST}
 * bytes, as the 2015 server's `recv(1024)` takes it (a client writes its
 * request at once; one that trickles it in loses the rest, as with the 2015
 * server); a peer that half-closes before sending anything is closed. The
 * answer is written (the echo upper-cased; `file_prepared` and the file's
 * bytes of `A`; a stream's chunks, MS ms apart), then the connection is
 * closed. A request over `--max-bytes` is `refused`: the connection is
 * closed without an answer (the classic protocol has no refusal).
 *
 * UDP: {@link ClassicUdpServer} on a `BlastUdpLoop`. The server warns
 * on stderr when it listens on an address other than loopback: classic UDP
 * cannot check that a requester receives at its address.
 *
 * Both run on the drivers of server_drivers.ts ({@link runTcpServer},
 * {@link runUdpServer}).
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { TcpConnection } from "../net/tcp.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import { endReason, WRITE_AHEAD } from "./tcp_stream.ts";
import { type BlastServerEvent, droppedText } from "./events.ts";
import type { BlastServerConfig, BlastServerStats } from "./server_common.ts";
import { runTcpServer, runUdpServer } from "./server_drivers.ts";
import { ClassicUdpServer } from "./classic_udp_machine.ts";
import { DEFAULT_MAX_RUNS } from "./udp_server_machine.ts";
import {
  CLASSIC_MAX_REQUEST,
  classicEchoAnswer,
  classicRefusal,
  type ClassicRequest,
  FILE_PREPARED_BYTES,
  fillBytes,
  formatClassicRequest,
  parseClassicRequest,
  previewBytes,
  WireError,
} from "./classic_wire.ts";

const encoder = new TextEncoder();
/** Largest write of a file's bytes. */
const WRITE_CHUNK = 256 * 1024;

/** The stderr warning of a classic UDP server bound to a non-loopback address (or none). */
export function classicUdpWarning(host: string): string | undefined {
  const loopback = host === "localhost" || host === "::1" || host.startsWith("127.");
  return loopback ? undefined : `warning: classic UDP cannot check that a requester receives at ` +
    `its address, so anyone can aim this server's bytes at a third party; listening on ` +
    `${host}, limits --max-bytes and --max-runs (use --host 127.0.0.1 for local tests)`;
}

/** Runs the classic server (`--classic`, TCP or `--udp`) until SIGINT/SIGTERM/SIGHUP. */
export function runClassicServer(
  config: BlastServerConfig,
  log: (line: string) => void,
): Promise<number> {
  return config.udp ? runClassicUdp(config, log) : runClassicTcp(config, log);
}

function runClassicUdp(config: BlastServerConfig, log: (line: string) => void): Promise<number> {
  return runUdpServer(
    config,
    log,
    "udp, classic",
    (sink) =>
      new ClassicUdpServer({
        maxBytes: config.maxBytes,
        maxRuns: config.maxRuns ?? DEFAULT_MAX_RUNS,
      }, sink),
    classicUdpWarning(config.host),
  );
}

function runClassicTcp(config: BlastServerConfig, log: (line: string) => void): Promise<number> {
  return runTcpServer(
    config,
    log,
    "tcp, classic",
    (conn, stats, emit) => serveClassic(conn, config, stats, emit, log),
  );
}

/** Serves one classic connection: one request, its answer, the close. */
async function serveClassic(
  conn: TcpConnection,
  config: BlastServerConfig,
  stats: BlastServerStats,
  emit: (e: BlastServerEvent) => void,
  log: (line: string) => void,
): Promise<void> {
  const peer = conn.peer;
  const run = `#${conn.id}`;
  const buf = new Uint8Array(CLASSIC_MAX_REQUEST);
  const n = await conn.readInto(buf);
  if (typeof n !== "number") return emit({ event: "closed", peer, run, reason: endReason(n) });
  const bytes = buf.subarray(0, n);
  let request: ClassicRequest;
  try {
    request = parseClassicRequest(bytes);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    const dropped: BlastServerEvent = {
      event: "dropped",
      peer,
      reason: `not a classic request: ${e.message}`,
      first_bytes: previewBytes(bytes),
    };
    emit(dropped);
    if (config.verbose) log(droppedText(dropped));
    return emit({ event: "closed", peer, run, reason: "not a classic request" });
  }
  if (request.kind === "echo") {
    stats.echoes++;
    emit({ event: "echo", peer, run, text: request.text });
    conn.write(encoder.encode(classicEchoAnswer(request.text)));
    await conn.end();
    return emit({ event: "closed", peer, run, reason: "complete" });
  }
  const refused = classicRefusal(request, config.maxBytes);
  if (refused !== undefined) {
    stats.refused++;
    emit({ event: "refused", peer, run, reason: refused });
    return conn.close();
  }
  stats.runs++;
  emit({ event: "request", peer, run, request: formatClassicRequest(request) });
  const started = epochNow();
  let segments = 0;
  let sent = 0;
  let last = started;
  const put = async (k: number) => {
    conn.write(fillBytes(k));
    segments++;
    sent += k;
    last = epochNow();
    if (conn.pendingWrite > WRITE_AHEAD) await conn.drained();
  };
  if (request.kind === "file") {
    conn.write(FILE_PREPARED_BYTES);
    for (let left = request.bytes; left > 0 && conn.writeError === undefined && !conn.closed;) {
      const k = Math.min(WRITE_CHUNK, left);
      await put(k);
      left -= k;
    }
  } else {
    for (let i = 0; i < request.count && conn.writeError === undefined && !conn.closed; i++) {
      const due = started + i * request.intervalMs;
      const wait = due - epochNow();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      if (conn.closed) break;
      await put(request.size);
    }
  }
  await conn.drained();
  const figures = () => ({ segments, bytes: sent, seconds: (last - started) / 1000 });
  stats.bytesSent += sent;
  if (conn.closed) return emit({ event: "closed", peer, run, reason: "shutdown", sent: figures() });
  if (conn.writeError !== undefined) {
    const reason = conn.peerReset ? "peer reset" : `error: ${errorText(conn.writeError)}`;
    return emit({ event: "closed", peer, run, reason, sent: figures() });
  }
  await conn.end();
  emit({ event: "closed", peer, run, reason: "complete", sent: figures() });
}
