/**
 * `pudp frame server`: the driver around {@link FrameEchoServer}, on the
 * shared {@link StreamServer} (accepting, reading at most `--buffer` bytes
 * at a time, writing answers with backpressure) and {@link Lifecycle}
 * (signals, ordered shutdown, stdout failure, summary line).
 *
 * How this works: the machine has no deadlines, so there is no timer: after
 * every input the stream server calls the drain directly, which writes the
 * answers, closes what the machine closed, wakes the connections the budget
 * lets read again, and kicks the event output.
 *
 * @module
 */

import { listenStream, machineHooks, serverLife, type StreamListenConfig } from "../net/service.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { frameJsonFields, FrameTextSink } from "./events.ts";
import { FrameEchoServer, type FrameServerOptions, type FrameStats } from "./echo_machine.ts";

/** What `pudp frame server` was asked to do. */
export interface FrameServerConfig extends FrameServerOptions, StreamListenConfig {}

/** A connection is not read while this many answer bytes wait to be written to it. */
const WRITE_HIGH_WATER = 1024 * 1024;

/** The summary line printed to stderr at exit. */
export function frameSummaryLine(s: FrameStats): string {
  return `pudp frame server: ${s.connections} connections, ${s.messages} messages, ` +
    `${s.errors} protocol errors`;
}

/** Runs the server until SIGINT/SIGTERM/SIGHUP. */
export function runFrameServer(
  config: FrameServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const { life, output } = serverLife(config.json, (t) => new FrameTextSink(t), frameJsonFields);
  const machine = new FrameEchoServer(config, output.sink);
  /** Connections waiting for room in the budget, and what wakes each. */
  const paused = new Map<number, () => void>();
  const tcp = listenStream(config, {
    readSize: config.readSize,
    writeHighWater: WRITE_HIGH_WATER,
    // Replaces the write check, so it does both: answers not yet written, and the budget.
    readPause: (conn) => {
      const writing = conn.pendingWrite > WRITE_HIGH_WATER ? conn.drained() : undefined;
      if (machine.mayRead(conn.id)) return writing;
      const room = new Promise<void>((resolve) => paused.set(conn.id, resolve));
      return writing ? Promise.all([writing, room]).then(() => {}) : room;
    },
  }, log);
  const drain = () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      tcp.write(t.connection, t.data);
    }
    for (let id = machine.pollClose(); id !== undefined; id = machine.pollClose()) tcp.end(id);
    for (let id = machine.pollResume(); id !== undefined; id = machine.pollResume()) {
      paused.get(id)?.();
      paused.delete(id);
    }
    life.kickOutput();
  };
  const loop = { afterEvent: drain };
  tcp.start(machine, loop, life.stop);
  return life.serve(
    machineHooks({
      ready: `listening on ${formatAddress(tcp.listener.address)} (tcp)`,
      machine,
      loop,
      close: () => tcp.close(),
      summary: () => frameSummaryLine(machine.stats),
    }),
    log,
  );
}
