/**
 * `pudp server`: the event-loop driver around {@link ServerSessions}.
 *
 * One thread waits on everything at once: the UDP socket, stdin (EOF, or `q`
 * on a terminal), SIGINT/SIGTERM and the one timer of the {@link Driver}.
 * After every event the driver drains the machine: datagrams to the socket's
 * sender (overlapped: replies need no order). The machine's events go to a
 * text or `--json` sink, whose bytes an {@link EventOutput} writes to stdout.
 *
 * @module
 */

import { errorText } from "../cli/errors.ts";
import { EventOutput } from "../events/event_output.ts";
import { formatAddress } from "../net/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { watchStdinQuit } from "../stdin/stdin_quit.ts";
import { type ServerEvent, serverJsonFields } from "./server_events.ts";
import { type ServerOptions, ServerSessions, type ServerStats } from "./server_session.ts";
import { ServerTextSink } from "./server_text.ts";

/** What `pudp server` was asked to do. */
export interface ServerConfig extends ServerOptions {
  host: string;
  port: number;
  /** Read stdin for EOF / `q` (false with --no-stdin). */
  readStdin: boolean;
  /** Print events as JSON lines instead of SPEC's text lines. */
  json: boolean;
  verbose: boolean;
}

/** Stop reading the socket while this much output waits for stdout. */
const OUTPUT_HIGH_WATER = 4 << 20;
/**
 * Replies sent at once. Their order does not matter (ALIVEs are alike, and a
 * client handles GOODBYE whenever it comes); overlapping them saves an
 * event-loop turn per datagram.
 */
const SENDS_IN_FLIGHT = 64;

/** The summary line printed to stderr at exit. */
export function summaryLine(s: ServerStats): string {
  return `pudp server: ${s.sessions} sessions, ${s.messages} messages, ${s.lost} lost, ` +
    `${s.duplicates} duplicates, ${s.dropped} dropped datagrams`;
}

/** Runs the server until EOF/`q` on stdin or a signal. Returns the exit status. */
export function runServer(config: ServerConfig, log: (line: string) => void): Promise<number> {
  const output = new EventOutput<ServerEvent>({
    json: config.json,
    text: () => new ServerTextSink(Deno.stdout.isTerminal()),
    fields: serverJsonFields,
    clock: monotonicNow,
  });
  const machine = new ServerSessions(config, output.sink);
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
    return output.sink.pending > OUTPUT_HIGH_WATER ? output.pump.flush() : undefined;
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
