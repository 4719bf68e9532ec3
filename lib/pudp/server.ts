/**
 * `pudp server`: the event-loop driver around {@link ServerMachine}.
 *
 * One thread waits on everything at once: the UDP socket, stdin (EOF, or `q`
 * on a terminal), the signals of the {@link Lifecycle} and the one timer of
 * the {@link TimerLoop}. After every event the loop drains the machine:
 * datagrams to the socket's sender (overlapped: replies need no order). The
 * machine's events go to a text or `--json` sink, whose bytes the server's
 * event output writes to stdout (a failed write stops the server); a full
 * session table, the first drop of a client that speaks another PUDP variant
 * (with the flags that would talk to it), and with `--verbose` every close
 * and the first drop of each client and reason, are also said on stderr.
 *
 * Backpressure: while more than {@link OUTPUT_HIGH_WATER} bytes of output
 * wait for stdout, the socket is not read; reading resumes at
 * {@link OUTPUT_LOW_WATER}, so with a slow reader the clients' ALIVEs flow
 * at the reader's pace, in short pauses rather than seconds-long silences.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { type ListenConfig, machineHooks, serverLife } from "../net/service.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { TimerLoop } from "../runtime/timer_loop.ts";
import { watchStdinQuit } from "../stdin/stdin_quit.ts";
import { droppedText, type ServerEvent, serverJsonFields, tableFullText } from "./events.ts";
import { ServerMachine, type ServerOptions, type ServerStats } from "./server_machine.ts";
import { ServerTextSink } from "./server_text.ts";

/** What `pudp server` was asked to do. */
export interface ServerConfig extends ServerOptions, ListenConfig {
  /** Read stdin for EOF / `q` (false with --no-stdin). */
  readStdin: boolean;
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
 * at most once a minute); the first drop of a client that speaks another
 * PUDP variant, with the hint; and with `verbose` every close with its
 * reason and the first drop of each client and reason (bounded: see
 * drop_notices.ts).
 */
export function stderrNotice(e: ServerEvent, verbose: boolean): string | undefined {
  switch (e.event) {
    case "table_full":
      return tableFullText(e);
    case "dropped":
      return e.first && (verbose || e.hint !== undefined) ? droppedText(e) : undefined;
    case "closed":
      return verbose
        ? `${e.session} closed (${e.reason}), client ${formatAddress(e.peer)}`
        : undefined;
    default:
      return undefined;
  }
}

/** Runs the server until EOF/`q` on stdin or a signal. Returns the exit status. */
export function runServer(config: ServerConfig, log: (line: string) => void): Promise<number> {
  const { life, output } = serverLife(config.json, (t) => new ServerTextSink(t), serverJsonFields);
  const sink = output.sink;
  const machine = new ServerMachine(config, {
    emit(e) {
      if (
        e.event === "table_full" || e.event === "closed" || (e.event === "dropped" && e.first)
      ) {
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
    io: config.udpIo,
    log: config.verbose ? log : undefined,
  });
  const loop = new TimerLoop(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) endpoint.send(t);
    life.kickOutput();
  });
  const stop = life.stop;

  if (config.readStdin) watchStdinQuit(stop.request);
  endpoint.receive((bytes, from) => {
    if (stop.stopping) return; // shut down: no new sessions
    machine.handleDatagram(bytes, from, loop.clock());
    loop.afterEvent();
    return output.pump.waiting > OUTPUT_HIGH_WATER
      ? output.pump.drainTo(OUTPUT_LOW_WATER)
      : undefined;
  }, (e) => stop.request(`cannot receive: ${errorText(e)}`));

  return life.serve(
    machineHooks({
      ready: `listening on ${formatAddress(endpoint.address)}`,
      machine,
      loop,
      close: () => endpoint.close(),
      summary: () => summaryLine(machine.stats),
    }),
    log,
  );
}
