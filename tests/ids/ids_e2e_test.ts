/**
 * `pudp ids` end to end, as a user runs it: over UDP and TCP, OK / RESET /
 * ERROR, ids released after --id-ttl, the server exiting 0 by itself after
 * --idle-exit, many clients at once, malformed requests that disturb nobody,
 * `--json` events, and a client facing a silent server.
 */

import assert from "node:assert/strict";
import { type CliProcess, spawnCli } from "../helpers/cli.ts";

async function startIds(args: string[]): Promise<{ process: CliProcess; port: number }> {
  const process = spawnCli(["ids", "server", "--host", "127.0.0.1", ...args, "0"]);
  await process.stderr.waitFor((t) => /listening on \S+:\d+ /.test(t), 15_000, "listening line");
  const port = Number(process.stderr.text.match(/listening on \S+:(\d+) /)![1]);
  return { process, port };
}

async function ask(port: number, id: string, extra: string[] = []) {
  await using client = spawnCli(["ids", "client", ...extra, "127.0.0.1", String(port), id]);
  return await client.exit(15_000);
}

for (const transport of ["udp", "tcp"] as const) {
  const flag = transport === "tcp" ? ["--tcp"] : [];

  Deno.test(`ids ${transport}: OK, RESET while held, OK after --id-ttl; the server exits 0 after --idle-exit`, async () => {
    const server = await startIds([...flag, "--id-ttl", "1", "--idle-exit", "2", "--json"]);
    await using _ = server.process;
    const first = await ask(server.port, "8877", flag);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^OK 8877 127\.0\.0\.1 \d+\n$/);
    const second = await ask(server.port, "8877", flag);
    assert.equal(second.code, 1);
    assert.equal(second.stdout, "RESET 8877\n");
    await server.process.stdout.waitFor((t) => t.includes('"expired"'), 3_000, "expiry");
    const third = await ask(server.port, "8877", flag);
    assert.equal(third.code, 0, third.stderr);
    const lastRequestAt = performance.now();
    const out = await server.process.exit(10_000);
    const idle = performance.now() - lastRequestAt;
    assert.equal(out.code, 0, out.stderr);
    assert.ok(idle > 1_500 && idle < 5_000, `exited ${idle.toFixed(0)} ms after the last request`);
    assert.match(out.stderr, /no request for 2 s: exiting\n/);
    assert.match(out.stderr, /3 requests, 2 ok, 1 reset, 0 errors, \d expired/);
    const events = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l))
      .filter((e) => e.event !== "connected" && e.event !== "closed");
    assert.deepEqual(events.map((e) => e.event), ["ok", "reset", "expired", "ok", "expired"]);
    for (const e of events) {
      assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.match(e.peer, /^127\.0\.0\.1:\d+$/);
      assert.equal(e.id, "8877");
    }
    assert.equal(events[1].holder, events[0].peer);
    assert.equal(events[2].peer, events[0].peer, "expired names who held it");
  });

  Deno.test(`ids ${transport}: 40 clients at once for 20 ids: exactly one OK per id`, async () => {
    const server = await startIds([...flag, "--idle-exit", "0"]);
    await using _ = server.process;
    const ids = Array.from({ length: 40 }, (_, i) => `id-${i % 20}`);
    const results = await Promise.all(ids.map((id) => ask(server.port, id, flag)));
    for (let n = 0; n < 20; n++) {
      const mine = results.filter((_, i) => ids[i] === `id-${n}`);
      assert.deepEqual(mine.map((r) => r.code).sort(), [0, 1], `id-${n}`);
      assert.ok(mine.some((r) => r.stdout === `RESET id-${n}\n`));
    }
    server.process.kill("SIGTERM");
    const out = await server.process.exit();
    assert.equal(out.code, 0);
    assert.match(out.stderr, /40 requests, 20 ok, 20 reset, 0 errors/);
  });
}

Deno.test("ids udp: malformed datagrams get ERROR and never disturb another client", async () => {
  const server = await startIds([]);
  await using _ = server.process;
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const to = { hostname: "127.0.0.1", port: server.port, transport: "udp" as const };
    const replies: string[] = [];
    const requests = [
      new Uint8Array(),
      new TextEncoder().encode("HELLO " + "x".repeat(2000)),
      new TextEncoder().encode("GET / HTTP/1.0"),
      new Uint8Array([0x00, 0xff, 0x10]),
    ];
    for (const r of requests) {
      await socket.send(r, to);
      const [reply] = await socket.receive(new Uint8Array(2000));
      replies.push(new TextDecoder().decode(reply));
    }
    assert.deepEqual(replies, [
      "ERROR empty request",
      "ERROR request longer than 1024 bytes",
      "ERROR expected 'HELLO <id>'",
      "ERROR request is not text",
    ]);
    const ok = await ask(server.port, "still-fine");
    assert.equal(ok.code, 0, ok.stderr);
  } finally {
    socket.close();
  }
});

Deno.test("ids tcp: a course client's unterminated request, malformed lines, one connection", async () => {
  const server = await startIds(["--tcp"]);
  await using _ = server.process;
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    const buf = new Uint8Array(1000);
    const say = async (text: string) => {
      await conn.write(new TextEncoder().encode(text));
      const n = await conn.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    };
    assert.equal(await say("nonsense\n"), "ERROR expected 'HELLO <id>'\n");
    assert.equal(await say("\n"), "ERROR empty request\n");
    assert.match(
      await say("HELLO 1234"),
      /^OK 1234 127\.0\.0\.1 \d+\n$/,
      "no newline, then a pause",
    );
  } finally {
    conn.close();
  }
});

Deno.test("ids client: a silent server is 'no answer' after --timeout, exit 1", async () => {
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const port = (silent.addr as Deno.NetAddr).port;
    const out = await ask(port, "42", ["--timeout", "1"]);
    assert.equal(out.code, 1);
    assert.equal(out.stderr, `pudp ids client: no answer from 127.0.0.1:${port}\n`);
    assert.ok(out.ms < 5_000);
  } finally {
    silent.close();
  }
});
