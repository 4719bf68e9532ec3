/**
 * `pudp pipe server`: the driver around {@link StdoutTurns}, on the shared
 * {@link StreamServer} (accepting and reading) and {@link Driver} (signals,
 * ordered shutdown, summary line), with a {@link PipeOpRunner} carrying out
 * the machine's operations. Events and the summary go to stderr: stdout is
 * the data.
 *
 * Failures: an operation that fails (a temporary file or stdout that cannot
 * be written) fails its connection alone ({@link StdoutTurns.handleFailed}):
 * its client gets the line `ERR REASON` ({@link refusalLine}) and then the
 * close, and the server goes on.
 *
 * Backpressure: a waiting connection the machine holds back (memory and disk
 * budgets full) is read no further until room frees or its turn comes.
 *
 * Stopping: on SIGINT/SIGTERM the server stops accepting and finishes what
 * it has: every open connection is read to its end (one still open after
 * `drainTimeoutMs` is cut: its client exits 1) and every byte held is
 * written, then it exits 0. A second signal cuts the open connections at
 * once but still writes what is held (those clients were told exit 0); only
 * a third ends it without (exit 1, what is lost is said).
 *
 * @module
 */

import { EventOutput } from "../events/event_output.ts";
import type { TcpLimits } from "../net/connection_limits.ts";
import { StreamServer } from "../net/stream_server.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { type PipeEvent, pipeJsonFields, PipeTextSink } from "./events.ts";
import { type OpenTempFile, PipeOpRunner } from "./op_runner.ts";
import { type PipeServerOptions, type PipeStats, StdoutTurns } from "./turn_machine.ts";
import type { StopSignal } from "../runtime/driver.ts";

/** What `pudp pipe server` was asked to do. */
export interface PipeServerConfig extends PipeServerOptions {
  /** Address to listen on (`--host`). */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** One JSON object per event per line (`--json`) instead of text. */
  json: boolean;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** `--max-connections` and `--idle-timeout`. */
  limits: TcpLimits;
}

/** The most one read of a connection takes. */
const READ_SIZE = 1 << 20;

/** The signals that stop the server (as {@link Driver.serve} handles them). */
const SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

const encoder = new TextEncoder();

/** What the server sends a client whose bytes it could not keep: `ERR REASON` and a newline. */
export function refusalLine(reason: string): Uint8Array {
  return encoder.encode(`ERR ${reason.replace(/[\r\n]+/g, " ")}\n`);
}

/** The summary line printed to stderr at exit. */
export function pipeSummaryLine(s: PipeStats): string {
  const failed = s.failed > 0 ? `, ${s.failed} failed` : "";
  return `pudp pipe server: ${s.connections} connections, ${s.bytes} bytes, ` +
    `${s.spilled} through temporary files, at most ${s.peakMemory} held in memory${failed}`;
}

/** Runs the server until SIGINT/SIGTERM, then finishes what it holds. */
export function runPipeServer(
  config: PipeServerConfig,
  log: (line: string) => void,
  openTempFile?: OpenTempFile,
): Promise<number> {
  const output = new EventOutput<PipeEvent>({
    json: config.json,
    text: (terminal) => new PipeTextSink(terminal),
    fields: pipeJsonFields,
    clock: monotonicNow,
    writer: Deno.stderr,
  });
  const machine = new StdoutTurns(config, output.sink);
  const runner = new PipeOpRunner(
    machine,
    Deno.stdout,
    {
      close: (id) => tcp.end(id),
      refuse: (id, reason) => tcp.write(id, refusalLine(reason)),
    },
    () => driver.afterEvent(),
    openTempFile,
    monotonicNow,
  );
  // Readers held back by the budgets: woken after every event to look again.
  let roomWaiters: (() => void)[] = [];
  const room = () => new Promise<void>((resolve) => roomWaiters.push(resolve));
  const tcp = StreamServer.listen(
    { hostname: config.host, port: config.port },
    {
      readSize: READ_SIZE,
      writeHighWater: 0,
      readPause: (conn) => {
        const ops = runner.until(runner.queued);
        if (!machine.heldBack(conn.id)) return ops;
        return (async () => {
          await ops;
          while (machine.heldBack(conn.id)) await room();
        })();
      },
      limits: config.limits,
      onNotice: log,
    },
    config.verbose ? log : undefined,
  );
  const finished = Promise.withResolvers<void>();
  const driver = new Driver(machine, () => {
    runner.wake();
    output.kick();
    if (roomWaiters.length > 0) {
      const waiters = roomWaiters;
      roomWaiters = [];
      for (const w of waiters) w();
    }
    if (output.failure !== undefined) {
      driver.stop.request(output.failure);
      finished.resolve();
    }
    if (driver.stop.stopping && machine.pending === 0) finished.resolve();
  });
  // The driver handles the first signal (the stop); these, the second and the third.
  let signals = 0;
  const aborted = Promise.withResolvers<void>();
  const onSignal = () => {
    signals++;
    if (signals === 2) {
      log("second signal: cutting the open connections, writing what is held (again to abort)");
      machine.handleShutdown(driver.clock());
      driver.afterEvent();
    } else if (signals >= 3) aborted.resolve();
  };
  tcp.start(machine, {
    clock: driver.clock,
    afterEvent: driver.afterEvent,
    stopping: () => driver.stop.stopping,
  });
  const served = driver.serve({
    ready: `listening on ${formatAddress(tcp.listener.address)} (tcp)`,
    shutdown: () => {
      machine.handleShutdown(driver.clock());
      if (machine.pending > 0) {
        log(
          `stopping: finishing ${machine.pending} connection(s) first, cutting any still ` +
            `sending after ${config.drainTimeoutMs / 1000} s (signal again to cut them now)`,
        );
      }
    },
    close: async () => {
      driver.afterEvent(); // serve() has quieted the alarm: the drain deadline needs it
      await tcp.stopAccepting();
      let abort = false;
      if (driver.stop.failure === undefined) {
        const done = (async () => {
          await finished.promise;
          await runner.idle();
        })();
        abort = await Promise.race([done.then(() => false), aborted.promise.then(() => true)]);
      }
      for (const s of SIGNALS) Deno.removeSignalListener(s, onSignal);
      if (abort) {
        driver.stop.failure ??= `aborted by a third signal: ${machine.pending} connection(s), ` +
          `${machine.memoryHeld + machine.diskHeld} held bytes not written`;
      }
      runner.closeFiles();
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => pipeSummaryLine(machine.stats),
  }, log);
  for (const s of SIGNALS) Deno.addSignalListener(s, onSignal);
  return served;
}
