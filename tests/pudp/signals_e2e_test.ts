/**
 * SIGINT and SIGTERM while clients are sending: every line the server
 * accepted is on stdout, every open session gets GOODBYE, exit 0.
 */

import assert from "node:assert/strict";
import { sessionLines, spawnCli, startServer } from "../helpers/cli.ts";

const CLIENTS = 3;
const LINES = 100_000; // more than can go before the signal (the clients must still be sending)

async function stopUnderLoad(signal: Deno.Signal): Promise<void> {
  const server = await startServer();
  await using _ = server.process;
  const clients = Array.from(
    { length: CLIENTS },
    () => spawnCli(["client", "--verbose", "127.0.0.1", String(server.port)], "piped"),
  );
  try {
    clients.forEach((c, i) => {
      const input = Array.from({ length: LINES }, (_, n) => `c${i} line ${n + 1}`).join("\n") +
        "\n";
      c.write(input).catch(() => {}); // the client stops reading when its session ends
    });
    // Under load: every client has had plenty of lines accepted (polled: the output is large).
    const deadline = performance.now() + 20_000;
    while (!clients.every((_, i) => server.process.stdout.text.includes(`c${i} line 2000\n`))) {
      assert.ok(performance.now() < deadline, "all clients sending within 20 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    server.process.kill(signal);
    const out = await server.process.exit();
    assert.equal(out.code, 0, out.stderr);
    for (const [i, c] of clients.entries()) {
      const result = await c.exit(10_000);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /server closed the session/, "the session got GOODBYE");
      const alives = Number(result.stderr.match(/(\d+) ALIVE received/)![1]);
      const id = out.stdout.match(new RegExp(`^(0x[0-9a-f]{8}) \\[1\\] c${i} line 1$`, "m"))![1];
      const data = sessionLines(out.stdout, id).filter((l) => l.includes(" line "));
      // Printed lines are exactly the first k of the input, in order, none lost…
      assert.deepEqual(
        data,
        Array.from({ length: data.length }, (_, n) => `[${n + 1}] c${i} line ${n + 1}`),
      );
      // …and include every line the client saw accepted (each ALIVE answers a printed DATA).
      assert.ok(data.length >= alives, `${data.length} printed, ${alives} ALIVEs`);
      assert.ok(sessionLines(out.stdout, id).at(-1) === "Session closed");
    }
  } finally {
    for (const c of clients) await c[Symbol.asyncDispose]();
  }
}

Deno.test("signals: SIGTERM under load: accepted lines all printed, GOODBYE to every session, exit 0", async () => {
  await stopUnderLoad("SIGTERM");
});

Deno.test("signals: SIGINT under load behaves the same", async () => {
  await stopUnderLoad("SIGINT");
});
