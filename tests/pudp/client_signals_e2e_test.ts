/**
 * `pudp client` stopped by SIGINT/SIGTERM/SIGHUP: it says GOODBYE, so the
 * server closes the session at once (not after its timeout), and exits
 * 130/143/129, within about a second even when the server is silent.
 */

import assert from "node:assert/strict";
import { spawnCli, startServer } from "../helpers/cli.ts";

async function interrupt(signal: Deno.Signal, code: number): Promise<void> {
  const server = await startServer(["--timeout", "60"]);
  await using _ = server.process;
  await using client = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await client.write("before the signal\n");
  await server.process.stdout.waitFor((t) => t.includes("] before the signal\n"), 10_000, "line");
  const sentAt = performance.now();
  client.kill(signal);
  const out = await client.exit(5_000);
  assert.equal(out.code, code, out.stderr);
  assert.equal(out.stderr, "", "an interrupt is not an error");
  assert.ok(performance.now() - sentAt < 2_000, "exits within the 1 s wait");
  await server.process.stdout.waitFor(
    (t) => /\] GOODBYE from client\.\n0x[0-9a-f]{8} Session closed\n$/.test(t),
    2_000,
    "the server closed the session at once",
  );
}

Deno.test("client signals: SIGINT says GOODBYE, the server closes the session, exit 130", async () => {
  await interrupt("SIGINT", 130);
});

Deno.test("client signals: SIGTERM says GOODBYE, the server closes the session, exit 143", async () => {
  await interrupt("SIGTERM", 143);
});

Deno.test("client signals: SIGHUP is handled like SIGTERM: GOODBYE, the server closes the session, exit 129", async () => {
  await interrupt("SIGHUP", 129);
});

Deno.test("client signals: a silent server does not hold the client past 1 s", async () => {
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const port = (silent.addr as Deno.NetAddr).port;
    await using client = spawnCli(
      ["client", "--timeout", "30", "127.0.0.1", String(port)],
      "piped",
    );
    const [hello] = await silent.receive(new Uint8Array(100));
    assert.equal(hello[3], 0, "HELLO first");
    const sentAt = performance.now();
    client.kill("SIGTERM");
    const [goodbye] = await silent.receive(new Uint8Array(100));
    assert.equal(goodbye[3], 3, "then GOODBYE");
    const out = await client.exit(5_000);
    assert.equal(out.code, 143, out.stderr);
    const ms = performance.now() - sentAt;
    assert.ok(ms >= 900 && ms < 2_500, `waited ${ms.toFixed(0)} ms for the server's GOODBYE`);
  } finally {
    silent.close();
  }
});
