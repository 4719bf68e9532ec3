/**
 * `pudp blast server --udp`: the driver around {@link BlastUdpServer}: one
 * socket, its receive loop, the {@link DatagramPump}, the event output and
 * the {@link Driver} (signals, shutdown, summary line).
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { Driver, epochNow } from "../runtime/driver.ts";
import { blastOutput } from "./events.ts";
import type { BlastServerConfig } from "./tcp_server.ts";
import { blastSummaryLine } from "./tcp_server.ts";
import { DatagramPump } from "./udp_pump.ts";
import { BlastUdpServer } from "./udp_server_machine.ts";

/** A run whose client is silent this long is closed. */
const IDLE_MS = 30_000;

/** Runs the UDP server until SIGINT/SIGTERM. */
export function runBlastUdpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const output = blastOutput(config.json);
  const machine = new BlastUdpServer({
    maxBytes: config.maxBytes,
    idleMs: IDLE_MS,
    secret: crypto.getRandomValues(new Uint8Array(32)),
    maxRuns: config.maxRuns,
  }, output.sink);
  const endpoint = UdpEndpoint.bind({ hostname: config.host, port: config.port });
  const pump = new DatagramPump(
    endpoint.socket,
    machine,
    epochNow,
    () => driver.afterEvent(),
    (e) => {
      if (config.verbose) log(`cannot send: ${errorText(e)}`);
    },
  );
  const driver = new Driver({
    handleTimeout: (now) => machine.handleTimeout(now),
    // While the pump runs it takes every due segment; when it stops, the next one's time wakes it.
    pollTimeout: () => {
      const timers = machine.pollTimeout();
      const data = pump.running ? undefined : machine.dataDueAt(epochNow());
      return data === undefined ? timers : timers === undefined ? data : Math.min(timers, data);
    },
  }, () => {
    pump.kick();
    output.kick();
    if (output.failure !== undefined) driver.stop.request(output.failure);
  }, epochNow);
  endpoint.receive((bytes, from) => {
    if (driver.stop.stopping) return;
    machine.handleDatagram(bytes, from, epochNow());
    driver.afterEvent();
  }, (e) => driver.stop.request(`cannot receive: ${errorText(e)}`));
  return driver.serve({
    ready: `listening on ${formatAddress(endpoint.address)} (udp)`,
    shutdown: () => machine.shutdown(epochNow()),
    close: async () => {
      pump.stop();
      await endpoint.close();
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => blastSummaryLine(machine.stats),
  }, log);
}
