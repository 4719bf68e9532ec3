/**
 * `pudp ids` end to end, as a user runs it: over UDP and TCP, OK / RESET /
 * ERROR, ids released after --id-ttl, the server exiting 0 by itself after
 * --idle-exit (also with no request at all), many clients at once, malformed
 * requests that disturb nobody, no reply to a reply or to binary junk (two
 * real servers cannot be made to talk forever), ERRORs rate limited,
 * --course, --max-ids, `--json` events, and a client facing a silent server.
 */

import assert from "node:assert/strict";
import { type CliProcess, spawnCli, startListening } from "../helpers/cli.ts";

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

const enc = (text: string) => new TextEncoder().encode(text);

/** Every datagram `socket` receives within `ms`, as text. */
async function collect(socket: Deno.DatagramConn, ms: number): Promise<string[]> {
  const got: string[] = [];
  const deadline = performance.now() + ms;
  for (;;) {
    const left = deadline - performance.now();
    if (left <= 0) return got;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const next = await Promise.race([
      socket.receive(new Uint8Array(2000)).then(([d]) => new TextDecoder().decode(d)),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), left)),
    ]);
    clearTimeout(timer);
    if (next === undefined) return got;
    got.push(next);
  }
}

Deno.test("ids udp: a reply or binary junk gets no reply; one server's ERROR is not answered by another", async () => {
  const a = await startIds(["--json", "--idle-exit", "0"]);
  await using _a = a.process;
  const b = await startIds(["--json", "--idle-exit", "0"]);
  await using _b = b.process;
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const to = (port: number) => ({ hostname: "127.0.0.1", port, transport: "udp" as const });
    // a real ERROR from A ...
    await socket.send(enc("junk"), to(a.port));
    const [fromA] = await collect(socket, 1000);
    assert.equal(fromA, "ERROR expected 'HELLO <id>'");
    // ... handed to B, as if A had answered a datagram forged with B's address: nothing back
    for (
      const d of [
        enc(fromA),
        enc("OK 8877 127.0.0.1 9"),
        enc("RESET 8877"),
        new Uint8Array([0x00, 0xff, 0x10]),
        new Uint8Array(1500).fill(0xfe),
      ]
    ) await socket.send(d, to(b.port));
    assert.deepEqual(await collect(socket, 500), [], "no reply to a reply or to binary junk");
    await socket.send(enc("HELLO alive"), to(b.port));
    assert.match((await collect(socket, 1000))[0], /^OK alive 127\.0\.0\.1 \d+$/);
  } finally {
    socket.close();
  }
  b.process.kill("SIGTERM");
  const out = await b.process.exit();
  assert.equal(out.code, 0);
  assert.match(out.stderr, /1 requests, 1 ok, 0 reset, 0 errors, 0 expired, 5 dropped/);
  const drops = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l))
    .filter((e) => e.event === "dropped").map((e) => e.reason);
  assert.deepEqual(drops, ["reply", "reply", "reply", "not text", "not text"]);
});

Deno.test("ids udp: two real servers and one datagram in between do not talk forever", async () => {
  // A datagram with B's source address reaches A: A's ERROR goes to B. Without raw sockets the
  // source cannot be forged, so a relay delays A's reply while B takes the port it went to.
  const a = await startIds(["--json", "--idle-exit", "0"]);
  await using _a = a.process;
  const relay = await startListening([
    "impair",
    "--host",
    "127.0.0.1",
    "--delay",
    "4000",
    "--direction",
    "down",
    "0",
    "127.0.0.1",
    String(a.port),
  ]);
  await using _r = relay.process;
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const bPort = (socket.addr as Deno.NetAddr).port;
  await socket.send(enc("junk"), { hostname: "127.0.0.1", port: relay.port, transport: "udp" });
  socket.close();
  await using b = spawnCli(["ids", "server", "--json", "--host", "127.0.0.1", String(bPort)]);
  await b.stderr.waitFor((t) => t.includes("listening on"), 3500, "B listening before the ERROR");
  await b.stdout.waitFor((t) => t.includes('"event"'), 8000, "A's ERROR reaching B");
  // B's answer, were there one, would reach A at once (only replies to the client are delayed)
  await new Promise((r) => setTimeout(r, 1500));
  const lines = (text: string) => text.trimEnd().split("\n").map((l) => JSON.parse(l));
  const bEvents = lines(b.stdout.text);
  assert.deepEqual(bEvents.map((e) => [e.event, e.reason]), [["dropped", "reply"]]);
  assert.deepEqual(lines(a.process.stdout.text).map((e) => e.event), ["error"], "A heard once");
});

Deno.test("ids udp: 200 malformed requests at once get a few ERRORs, then silence", async () => {
  const server = await startIds(["--idle-exit", "0"]);
  await using _ = server.process;
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const to = { hostname: "127.0.0.1", port: server.port, transport: "udp" as const };
    const started = performance.now();
    for (let i = 0; i < 200; i++) await socket.send(enc(`junk ${i}`), to);
    const sendMs = performance.now() - started;
    const replies = await collect(socket, 500);
    const allowed = 5 + Math.ceil(5 * (sendMs + 500) / 1000);
    assert.ok(replies.length >= 5 && replies.length <= allowed, `${replies.length} ERRORs`);
    assert.ok(replies.every((r) => r === "ERROR expected 'HELLO <id>'"));
  } finally {
    socket.close();
  }
  server.process.kill("SIGTERM");
  const out = await server.process.exit();
  assert.match(out.stderr, /200 requests, 0 ok, 0 reset, (\d+) errors, 0 expired, (\d+) dropped/);
  const [, errors, dropped] = out.stderr.match(/(\d+) errors, 0 expired, (\d+) dropped/)!;
  assert.equal(Number(errors) + Number(dropped), 200);
});

Deno.test("ids udp: --course answers malformed requests with nothing", async () => {
  const server = await startIds(["--course", "--idle-exit", "0"]);
  await using _ = server.process;
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const to = { hostname: "127.0.0.1", port: server.port, transport: "udp" as const };
    for (const bad of ["", "junk", "HELLO a b"]) await socket.send(enc(bad), to);
    assert.deepEqual(await collect(socket, 500), []);
    await socket.send(enc("HELLO 1234"), to);
    assert.match((await collect(socket, 1000))[0], /^OK 1234 /);
  } finally {
    socket.close();
  }
  server.process.kill("SIGTERM");
  const out = await server.process.exit();
  assert.match(out.stderr, /4 requests, 1 ok, 0 reset, 0 errors, 0 expired, 3 dropped/);
});

for (const transport of ["udp", "tcp"] as const) {
  Deno.test(`ids ${transport}: --idle-exit 1 with no request at all exits 0 after 1 s`, async () => {
    const server = await startIds([...(transport === "tcp" ? ["--tcp"] : []), "--idle-exit", "1"]);
    await using _ = server.process;
    const listening = performance.now();
    const out = await server.process.exit(6_000);
    const ms = performance.now() - listening;
    assert.equal(out.code, 0, out.stderr);
    assert.ok(ms > 800 && ms < 3_000, `exited ${ms.toFixed(0)} ms after listening`);
    assert.match(out.stderr, /no request for 1 s: exiting\n/);
    assert.match(out.stderr, /0 requests, 0 ok, 0 reset, 0 errors, 0 expired, 0 dropped/);
  });
}

Deno.test("ids udp: --max-ids 2: a third id gets ERROR id table full, said once on stderr", async () => {
  const server = await startIds(["--max-ids", "2", "--idle-exit", "0"]);
  await using _ = server.process;
  assert.equal((await ask(server.port, "one")).code, 0);
  assert.equal((await ask(server.port, "two")).code, 0);
  const third = await ask(server.port, "three");
  assert.equal(third.code, 1);
  assert.equal(third.stdout, "ERROR id table full\n");
  assert.equal((await ask(server.port, "four")).stdout, "ERROR id table full\n");
  assert.equal((await ask(server.port, "one")).stdout, "RESET one\n", "held ids still answer");
  server.process.kill("SIGTERM");
  const out = await server.process.exit();
  assert.equal(out.code, 0);
  assert.equal(out.stderr.match(/id table full \(2 ids held/g)?.length, 1, out.stderr);
  assert.match(out.stderr, /5 requests, 2 ok, 1 reset, 2 errors, 0 expired, 0 dropped, 2 refused/);
});
