/**
 * Test support for `pudp blast`: a real server for the length of a test body.
 *
 * @module
 */

import { type RunningServer, startListening } from "./cli.ts";

/**
 * Runs `body` against `pudp blast server` on 127.0.0.1 (extra `args` such as
 * `--udp`), then stops the server with SIGTERM and waits for it.
 */
export async function withBlastServer(
  args: string[],
  body: (s: RunningServer) => Promise<void>,
): Promise<void> {
  const server = await startListening(["blast", "server", "--host", "127.0.0.1", ...args, "0"]);
  try {
    await body(server);
  } finally {
    server.process.kill("SIGTERM");
    await server.process.exit();
  }
}
