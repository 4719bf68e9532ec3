/**
 * `pudp frame server`: the driver around {@link FrameEchoServer}, on the
 * shared {@link StreamServer} (accepting, reading at most `--buffer` bytes
 * at a time, writing answers with backpressure) and {@link Driver} (signals,
 * ordered shutdown, summary line).
 *
 * @module
 */

import { EventOutput } from "../events/event_output.ts";
import type { TcpLimits } from "../net/connection_limits.ts";
import { StreamServer } from "../net/stream_server.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { type FrameEvent, frameJsonFields, FrameTextSink } from "./events.ts";
import { FrameEchoServer, type FrameServerOptions, type FrameStats } from "./echo_machine.ts";

/** What `pudp frame server` was asked to do. */
export interface FrameServerConfig extends FrameServerOptions {
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

/** A connection is not read while this many answer bytes wait to be written to it. */
const WRITE_HIGH_WATER = 1024 * 1024;

/** The summary line printed to stderr at exit. */
export function frameSummaryLine(s: FrameStats): string {
  return `pudp frame server: ${s.connections} connections, ${s.messages} messages, ` +
    `${s.errors} protocol errors`;
}

/** Runs the server until SIGINT/SIGTERM. */
export function runFrameServer(
  config: FrameServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const output = new EventOutput<FrameEvent>({
    json: config.json,
    text: (terminal) => new FrameTextSink(terminal),
    fields: frameJsonFields,
    clock: monotonicNow,
  });
  const machine = new FrameEchoServer(config, output.sink);
  const tcp = StreamServer.listen(
    { hostname: config.host, port: config.port },
    {
      readSize: config.readSize,
      writeHighWater: WRITE_HIGH_WATER,
      // Replaces the write check, so it does both: answers not yet written, and the budget.
      readPause: (conn) => {
        const writing = conn.pendingWrite > WRITE_HIGH_WATER ? conn.drained() : undefined;
        if (machine.mayRead(conn.id)) return writing;
        const room = new Promise<void>((resolve) => paused.set(conn.id, resolve));
        return writing ? Promise.all([writing, room]).then(() => {}) : room;
      },
      limits: config.limits,
      onNotice: log,
    },
    config.verbose ? log : undefined,
  );
  /** Connections waiting for room in the budget, and what wakes each. */
  const paused = new Map<number, () => void>();
  const driver = new Driver(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      tcp.write(t.connection, t.data);
    }
    for (let id = machine.pollClose(); id !== undefined; id = machine.pollClose()) tcp.end(id);
    for (let id = machine.pollResume(); id !== undefined; id = machine.pollResume()) {
      paused.get(id)?.();
      paused.delete(id);
    }
    output.kick();
    if (output.failure !== undefined) driver.stop.request(output.failure);
  });
  tcp.start(machine, {
    clock: driver.clock,
    afterEvent: driver.afterEvent,
    stopping: () => driver.stop.stopping,
  });
  return driver.serve({
    ready: `listening on ${formatAddress(tcp.listener.address)} (tcp)`,
    shutdown: () => machine.shutdown(),
    close: async () => {
      await tcp.close();
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => frameSummaryLine(machine.stats),
  }, log);
}
