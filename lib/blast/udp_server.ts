/**
 * `pudp blast server --udp`: the driver around {@link BlastUdpServer}: one
 * socket, its receive loop, the {@link BlastUdpLoop} (sends, and the machine's
 * deadlines, pacing included), the event output and the {@link Lifecycle}
 * (signals, shutdown, summary line).
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { blastServerLife } from "./events.ts";
import { type BlastServerConfig, blastSummaryLine } from "./server_common.ts";
import { BlastUdpLoop } from "./udp_send_loop.ts";
import { BlastUdpServer } from "./udp_server_machine.ts";
import { withDroppedLog } from "./classic_server.ts";

/** A run whose client is silent this long is closed. */
const IDLE_MS = 30_000;

/** Runs the UDP server until SIGINT/SIGTERM/SIGHUP. */
export function runBlastUdpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const { life, output } = blastServerLife(config.json);
  const machine = new BlastUdpServer({
    maxBytes: config.maxBytes,
    idleMs: IDLE_MS,
    secret: crypto.getRandomValues(new Uint8Array(32)),
    maxRuns: config.maxRuns,
  }, withDroppedLog(output.sink, config.verbose, log));
  const endpoint = UdpEndpoint.bind({ hostname: config.host, port: config.port });
  const driver = new BlastUdpLoop(endpoint.socket, machine, () => life.kickOutput(), (e) => {
    if (config.verbose) log(`cannot send: ${errorText(e)}`);
  });
  endpoint.receive((bytes, from) => {
    if (life.stop.stopping) return;
    machine.handleDatagram(bytes, from, driver.loop.clock());
    driver.afterEvent();
  }, (e) => life.stop.request(`cannot receive: ${errorText(e)}`));
  return life.serve({
    ready: `listening on ${formatAddress(endpoint.address)} (udp)`,
    shutdown: () => {
      machine.shutdown(driver.loop.clock());
      driver.afterEvent(); // the last drain: the `closed` events
    },
    close: async () => {
      driver.stop();
      await endpoint.close();
    },
    summary: () => blastSummaryLine(machine.stats),
  }, log);
}
