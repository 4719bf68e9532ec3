/**
 * Three real `pudp client`s at full speed into one real `pudp server` whose
 * stdout reader stops for 1.5 s after every 2 MB (a pager, a disk that
 * stalls). The server stops reading its socket while 4 MiB of output wait,
 * so the clients see their ALIVEs stop for a second or more, several times:
 * the case where a client presumes DATA gone that the server still holds.
 * Every line must be printed, in order, and every client must exit 0.
 */

import assert from "node:assert/strict";
import { sourceCommand, spawnCli, startServer, stopServer } from "../helpers/cli.ts";

const CLIENTS = 3;
const LINES = 20_000;
const STALL_EVERY = 2_000_000; // bytes
const STALL_MS = 1_500;

Deno.test(
  "stalled reader: three clients at full speed, stdout stopping 1.5 s every 2 MB: 0 lost, all exit 0",
  async () => {
    let nextStall = STALL_EVERY;
    const stalling = (bytes: number) => {
      if (bytes < nextStall) return undefined;
      nextStall += STALL_EVERY;
      return new Promise<void>((r) => setTimeout(r, STALL_MS));
    };
    const server = await startServer([], sourceCommand(), stalling);
    await using _ = server.process;
    const pad = "x".repeat(200);
    const clients = Array.from({ length: CLIENTS }, async (_, c) => {
      // The first client has the server to itself for a moment, as when
      // clients are started one after another.
      if (c > 0) await new Promise((r) => setTimeout(r, 300));
      await using client = spawnCli(
        ["client", "--verbose", "127.0.0.1", String(server.port)],
        "piped",
      );
      const input = Array.from({ length: LINES }, (_, i) => `c${c} ${i} ${pad}`);
      await client.write(input.join("\n") + "\n");
      await client.closeStdin();
      return await client.exit(120_000);
    });
    const results = await Promise.all(clients);
    const out = await stopServer(server);
    for (const [c, r] of results.entries()) {
      assert.equal(r.code, 0, `client ${c}: ${r.stderr}`);
      const lines = out.stdout.split("\n").filter((l) => l.includes(`] c${c} `));
      assert.equal(lines.length, LINES, `client ${c}: ${LINES - lines.length} lost; ${r.stderr}`);
      assert.ok(lines.every((l, i) => l.includes(`] c${c} ${i} `)), `client ${c}: in order`);
    }
    assert.match(out.stderr, / 0 lost, /);
  },
);
