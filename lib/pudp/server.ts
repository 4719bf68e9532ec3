/**
 * `pudp server`: the event-loop driver around {@link ServerSessions}.
 *
 * One thread waits on everything at once: the UDP socket, stdin (EOF, or `q`
 * on a terminal), SIGINT/SIGTERM and the one timer of the {@link Driver}.
 * After every event the driver drains the machine: datagrams to the socket's
 * sender (overlapped: replies need no order). The machine's events go to a
 * text or `--json` sink, whose bytes an {@link EventOutput} writes to stdout;
 * a full session table, and with `--verbose` every close and its reason, are
 * also said on stderr.
 *
 * Backpressure: while more than {@link OUTPUT_HIGH_WATER} bytes of output
 * wait for stdout, the socket is not read; reading resumes at
 * {@link OUTPUT_LOW_WATER}, so with a slow reader the clients' ALIVEs flow
 * at the reader's pace, in short pauses rather than seconds-long silences.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { EventOutput } from "../events/event_output.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { watchStdinQuit } from "../stdin/stdin_quit.ts";
import { type ServerEvent, serverJsonFields, tableFullText } from "./server_events.ts";
import { type ServerOptions, ServerSessions, type ServerStats } from "./server_session.ts";
import { ServerTextSink } from "./server_text.ts";

/** What `pudp server` was asked to do. */
export interface ServerConfig extends ServerOptions {
  /** Address to listen on (`--host`). */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Read stdin for EOF / `q` (false with --no-stdin). */
  readStdin: boolean;
  /** Print events as JSON lines instead of SPEC's text lines. */
  json: boolean;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
}

/** Stop reading the socket while more than this much output waits for stdout. */
export const OUTPUT_HIGH_WATER = 4 << 20;
/**
 * Resume reading once no more than this waits: a quarter MiB below the high
 * mark, a quarter second of a 1 MB/s reader.
 */
export const OUTPUT_LOW_WATER = OUTPUT_HIGH_WATER - (256 << 10);
/**
 * Replies sent at once. Their order does not matter (ALIVEs are alike, and a
 * client handles GOODBYE whenever it comes); overlapping them saves an
 * event-loop turn per datagram.
 */
const SENDS_IN_FLIGHT = 64;

/** The summary line printed to stderr at exit. */
export function summaryLine(s: ServerStats): string {
  return `pudp server: ${s.sessions} sessions, ${s.messages} messages, ${s.lost} lost, ` +
    `${s.duplicates} duplicates, ${s.dropped} dropped datagrams; closed: ` +
    `${s.goodbyes} goodbye, ${s.timeouts} timeout, ${s.protocolErrors} protocol error, ` +
    `${s.evicted} evicted, ${s.shutdowns} shutdown`;
}

/**
 * The stderr side of the server's events: the first full session table (then
 * at most once a minute), and with `verbose` every close with its reason.
 */
export function stderrNotice(e: ServerEvent, verbose: boolean): string | undefined {
  if (e.event === "table_full") return tableFullText(e);
  if (verbose && e.event === "closed") {
    return `${e.session} closed (${e.reason}), client ${formatAddress(e.peer)}`;
  }
  return undefined;
}

/** Runs the server until EOF/`q` on stdin or a signal. Returns the exit status. */
export function runServer(config: ServerConfig, log: (line: string) => void): Promise<number> {
  const output = new EventOutput<ServerEvent>({
    json: config.json,
    text: (terminal) => new ServerTextSink(terminal),
    fields: serverJsonFields,
    clock: monotonicNow,
  });
  const sink = output.sink;
  const machine = new ServerSessions(config, {
    emit(e) {
      if (e.event === "table_full" || e.event === "closed") {
        const notice = stderrNotice(e, config.verbose);
        if (notice !== undefined) log(notice);
      }
      sink.emit(e);
    },
  });
  const endpoint = UdpEndpoint.bind({ hostname: config.host, port: config.port }, {
    maxInFlight: SENDS_IN_FLIGHT,
    onSendError: (e, t) => {
      if (config.verbose) log(`cannot send to ${formatAddress(t.to)}: ${errorText(e)}`);
    },
    onSent: (t) => machine.recycle(t),
  });
  const driver = new Driver(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) endpoint.send(t);
    output.kick();
    if (output.failure !== undefined) stopWith(output.failure);
  });
  const stopWith = driver.stop.request;

  if (config.readStdin) watchStdinQuit(stopWith);
  endpoint.receive((bytes, from) => {
    if (driver.stop.stopping) return; // shut down: no new sessions
    machine.handleDatagram(bytes, from, driver.clock());
    driver.afterEvent();
    return output.pump.waiting > OUTPUT_HIGH_WATER
      ? output.pump.drainTo(OUTPUT_LOW_WATER)
      : undefined;
  }, (e) => stopWith(`cannot receive: ${errorText(e)}`));

  return driver.serve({
    ready: `listening on ${formatAddress(endpoint.address)}`,
    shutdown: () => machine.shutdown(),
    close: async () => {
      await endpoint.close();
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => summaryLine(machine.stats),
  }, log);
}
