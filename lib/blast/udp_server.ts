/**
 * `pudp blast server --udp`: {@link BlastUdpServer} on the UDP driver of
 * server_drivers.ts ({@link runUdpServer}): one socket, its receive loop, the
 * `BlastUdpLoop` (sends, and the machine's deadlines, pacing included), the
 * event output and the `Lifecycle` (signals, shutdown, summary line).
 *
 * @module
 */

import { BlastUdpServer } from "./udp_server_machine.ts";
import type { BlastServerConfig } from "./server_common.ts";
import { runUdpServer } from "./server_drivers.ts";

/** A run whose client is silent this long is closed. */
const IDLE_MS = 30_000;

/** Runs the UDP server until SIGINT/SIGTERM/SIGHUP. */
export function runBlastUdpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
): Promise<number> {
  return runUdpServer(config, log, "udp", (sink) =>
    new BlastUdpServer({
      maxBytes: config.maxBytes,
      idleMs: IDLE_MS,
      secret: crypto.getRandomValues(new Uint8Array(32)),
      maxRuns: config.maxRuns,
    }, sink));
}
