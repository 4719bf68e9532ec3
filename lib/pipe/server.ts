/**
 * `pudp pipe server`: the driver around {@link StdoutTurns}, on the shared
 * {@link StreamServer} (accepting and reading) and {@link Driver} (signals,
 * ordered shutdown, summary line), with a {@link PipeOpRunner} carrying out
 * the machine's operations. Events and the summary go to stderr: stdout is
 * the data.
 *
 * Stopping: on SIGINT/SIGTERM the server stops accepting and finishes what
 * it has — every open connection is read to its end and every byte held is
 * written — then exits 0. A second signal ends it at once.
 *
 * @module
 */

import { EventOutput } from "../events/event_output.ts";
import type { TcpLimits } from "../net/connection_limits.ts";
import { StreamServer } from "../net/stream_server.ts";
import { formatAddress } from "../net/transmit.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { type PipeEvent, pipeJsonFields, PipeTextSink } from "./events.ts";
import { PipeOpRunner } from "./op_runner.ts";
import { type PipeServerOptions, type PipeStats, StdoutTurns } from "./turn_machine.ts";

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

/** The summary line printed to stderr at exit. */
export function pipeSummaryLine(s: PipeStats): string {
  return `pudp pipe server: ${s.connections} connections, ${s.bytes} bytes, ` +
    `${s.spilled} through temporary files, at most ${s.peakMemory} held in memory`;
}

/** Runs the server until SIGINT/SIGTERM, then finishes what it holds. */
export function runPipeServer(
  config: PipeServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const output = new EventOutput<PipeEvent>({
    json: config.json,
    text: (terminal) => new PipeTextSink(terminal),
    fields: pipeJsonFields,
    clock: monotonicNow,
    writer: Deno.stderr,
  });
  const machine = new StdoutTurns(config, output.sink);
  const runner = new PipeOpRunner(machine, Deno.stdout, (id) => tcp.end(id));
  const tcp = StreamServer.listen(
    { hostname: config.host, port: config.port },
    {
      readSize: READ_SIZE,
      writeHighWater: 0,
      readPause: () => runner.until(runner.queued),
      limits: config.limits,
      onNotice: log,
    },
    config.verbose ? log : undefined,
  );
  const finished = Promise.withResolvers<void>();
  const driver = new Driver(machine, () => {
    runner.wake();
    output.kick();
    const failure = runner.failure ?? output.failure;
    if (failure !== undefined) {
      driver.stop.request(failure);
      finished.resolve();
    }
    if (driver.stop.stopping && machine.pending === 0) finished.resolve();
  });
  tcp.start(machine, {
    clock: driver.clock,
    afterEvent: driver.afterEvent,
    stopping: () => driver.stop.stopping,
  });
  return driver.serve({
    ready: `listening on ${formatAddress(tcp.listener.address)} (tcp)`,
    shutdown: () => {
      if (machine.pending > 0) {
        log(`stopping: finishing ${machine.pending} connection(s) first (signal again to abort)`);
      }
    },
    close: async () => {
      await tcp.stopAccepting();
      if (driver.stop.failure === undefined) {
        await finished.promise;
        await runner.idle();
      }
      runner.closeFiles();
      await output.close();
      driver.stop.failure ??= runner.failure ?? output.failure;
    },
    summary: () => pipeSummaryLine(machine.stats),
  }, log);
}
