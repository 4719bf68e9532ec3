/**
 * `pudp client`: the thread-style driver around {@link ClientMachine}.
 *
 * Two threads, each blocked on one thing: the stdin worker (see
 * {@link StdinLines}) blocks in reads of stdin and hands lines over through a
 * shared ring; the main thread owns the UDP socket and the one timer of the
 * {@link TimerLoop}, which drains the session after every input. Lines are
 * taken from the ring only while the session wants them, so a slow or silent
 * server holds stdin back instead of growing memory. The {@link Lifecycle}
 * runs it: SIGINT/SIGTERM/SIGHUP interrupt the session (GOODBYE, then exit
 * 130/143/129), and the run ends when the session has its result.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { ProgressLine } from "../io/progress_line.ts";
import { resolveServer } from "../net/resolve.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import type { UdpIo } from "../net/udp_socket.ts";
import { type ClientEnd, Lifecycle, SIGNAL_EXIT } from "../runtime/lifecycle.ts";
import { TimerLoop } from "../runtime/timer_loop.ts";
import { StdinLines } from "../stdin/stdin_lines.ts";
import { ClientMachine, type ClientOptions } from "./client_machine.ts";

/** What `pudp client` was asked to do. */
export interface ClientConfig
  extends Pick<ClientOptions, "timeoutMs" | "magic" | "version" | "window"> {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** Send each line with its line ending (`--keep-newlines`). */
  keepNewlines: boolean;
  /** Largest DATA payload; longer lines are split (`--max-payload`). */
  maxPayload: number;
  /** Local address to send from (`--bind`); the wildcard address of the server's family when absent. */
  bind?: string;
  /** Show the progress line on stderr (a terminal, stdin not one, no `--quiet`). */
  progress: boolean;
  /** Diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** Which UDP sockets (`--udp-io`; default `auto`). */
  udpIo?: UdpIo;
}

/** Lines taken from the ring before the main thread looks at the socket again. */
const BATCH = 256;

/**
 * Fewest lines the session queues before it stops taking more (its
 * `highWater`; it takes more again at half of it). A few windows' worth keeps
 * the window full; more only holds lines in memory longer, and lines that
 * live through garbage collections make V8 grow its young generation (with
 * 4,096 the client's heap grew by some 30 MB).
 */
const MIN_HIGH_WATER = 256;

/** Runs one client session over stdin. Returns how it ended. */
export async function runClient(
  config: ClientConfig,
  stderrLine: (line: string) => void,
): Promise<ClientEnd> {
  const { server, label, anyAddress } = await resolveServer(config.host, config.port);
  const session = new ClientMachine(server, {
    sessionId: crypto.getRandomValues(new Uint32Array(1))[0],
    timeoutMs: config.timeoutMs,
    magic: config.magic,
    version: config.version,
    window: config.window,
    highWater: Math.max(MIN_HIGH_WATER, 4 * config.window),
    quitOnQ: Deno.stdin.isTerminal(),
    serverLabel: label,
  });
  const progress = new ProgressLine(config.progress, () => ({
    unit: "lines",
    sent: session.stats.dataSent,
    acked: session.stats.alivesReceived,
    bytes: session.stats.dataBytes,
  }));
  const log = (line: string) => {
    progress.clear();
    stderrLine(line);
  };
  /** Ends the run (the lifecycle's `finish`, once it has started). */
  let finish: (end: ClientEnd) => void = () => {};
  /** The first failure of the I/O side: it is how the run ended, whatever the session says. */
  let failure: ClientEnd | undefined;
  const fail = (message: string) => {
    failure ??= { code: 1, message };
    finish(failure);
  };

  const endpoint = UdpEndpoint.bind({ hostname: config.bind ?? anyAddress, port: 0 }, {
    onSendError: (e) => fail(`cannot send to ${label}: ${errorText(e)}`),
    io: config.udpIo,
    log: config.verbose ? log : undefined,
  });
  let wakeStdin: (() => void) | undefined;
  const loop = new TimerLoop(session, () => {
    for (let t = session.pollTransmit(); t; t = session.pollTransmit()) endpoint.send(t);
    for (let n = session.pollNotice(); n; n = session.pollNotice()) {
      if (config.verbose || !n.verboseOnly) log(n.line);
    }
    if (session.result) finish(session.result);
    if (wakeStdin && (session.wantsLines || session.result)) {
      const wake = wakeStdin;
      wakeStdin = undefined;
      wake();
    }
  });
  const { clock, afterEvent } = loop;

  return await new Lifecycle().run({
    start(finishRun) {
      finish = finishRun;
      const stdin = StdinLines.start(config.maxPayload, config.keepNewlines);
      session.start(clock());
      afterEvent();
      progress.start();

      // Main thread, event 1: datagrams.
      endpoint.receive((bytes, from) => {
        if (session.result) return;
        session.handleDatagram(bytes, from, clock());
        afterEvent();
      }, (e) => {
        if (!session.result) fail(`cannot receive: ${errorText(e)}`);
      });

      // Main thread, event 2: lines from the stdin worker.
      (async () => {
        let lineNo = 0;
        let pieces = 0;
        let lineBytes = 0;
        while (!session.result) {
          if (!session.wantsLines) {
            await new Promise<void>((resolve) => wakeStdin = resolve);
            continue;
          }
          let taken = 0;
          // One clock reading per batch: the lines of a batch arrive together.
          const now = clock();
          for (
            let bytes = stdin.take();
            bytes;
            bytes = taken < BATCH && session.wantsLines ? stdin.take() : undefined
          ) {
            taken++;
            pieces++;
            lineBytes += bytes.length;
            session.handleLine(bytes, now);
            if (stdin.endOfLine) {
              lineNo++;
              if (pieces > 1) {
                log(
                  `warning: line ${lineNo} is ${lineBytes} bytes, more than ${config.maxPayload}: ` +
                    `sent as ${pieces} DATA messages`,
                );
              }
              pieces = 0;
              lineBytes = 0;
            }
          }
          stdin.releaseSome();
          afterEvent();
          if (taken > 0) continue;
          stdin.release();
          if (stdin.finished) {
            const error = await stdin.error();
            session.handleEof(clock());
            afterEvent();
            if (error !== undefined) {
              failure ??= { code: 1, message: `cannot read stdin: ${error}` };
            }
            return;
          }
          await stdin.ready();
        }
      })();
    },
    // The session says GOODBYE and waits for the answer; the run ends with its result.
    onSignal(signal) {
      session.handleInterrupt(SIGNAL_EXIT[signal], loop.clock());
      loop.afterEvent();
    },
    async close(end) {
      progress.stop();
      loop.cancel();
      await endpoint.close();
      if (config.verbose) {
        const s = session.stats;
        const p = session.pacing.stats;
        log(
          `pudp client: ${s.dataSent} DATA sent, ${s.alivesReceived} ALIVE received, ` +
            `${p.resyncs} resyncs, ${p.wrongCredits} wrong credits, ` +
            `${p.expiries} expiries, ${p.presumedLost} presumed lost, ${p.lateAlives} late ALIVEs, ` +
            `${s.repeats} repeats, srtt ${p.srttMs?.toFixed(3) ?? "-"} ms`,
        );
      }
      return failure ?? end;
    },
  });
}
