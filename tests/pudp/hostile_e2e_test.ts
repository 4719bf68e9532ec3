/**
 * A running `pudp server` against hostile traffic on loopback: random and
 * mutated datagrams, and HELLO floods. Every loop is bounded; every
 * datagram is accounted for, including those the kernel dropped (the
 * socket's own drop counter in /proc/net/udp).
 */

import assert from "node:assert/strict";
import { Command, encode } from "../../lib/pudp/wire.ts";
import {
  runClient,
  type RunningServer,
  sessionLines,
  spawnCli,
  startServer,
} from "../helpers/cli.ts";

/** A small seeded generator (xorshift32), so a failing run can be repeated. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 2 ** 32;
  };
}

/** Resident memory of a process, in bytes. */
function rss(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmRSS:\s+(\d+) kB/);
  return Number(m![1]) * 1024;
}

/** The /proc/net/udp fields of the UDP socket bound to `port` on 127.0.0.1. */
function socketFields(port: number): string[] {
  const hexPort = ":" + port.toString(16).toUpperCase().padStart(4, "0");
  for (const line of Deno.readTextFileSync("/proc/net/udp").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1] === "0100007F" + hexPort) return f;
  }
  throw new Error(`no UDP socket on port ${port}`);
}

/** Datagrams the kernel dropped at the UDP socket bound to `port` on 127.0.0.1. */
function socketDrops(port: number): number {
  return Number(socketFields(port).at(-1));
}

/**
 * Waits (bounded) until the server has read every queued datagram, so that
 * what is sent next is not dropped by a receive buffer still full of flood
 * (PUDP does not resend: a line lost there is lost, by design).
 */
async function drained(port: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const [, rxQueue] = socketFields(port)[4].split(":");
    if (parseInt(rxQueue, 16) === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail("the server did not read its queued datagrams within 15 s");
}

/** Sends `count` datagrams made by `make(i)` from `sockets` in turn, pausing briefly every `burst`. */
async function blast(
  sockets: Deno.DatagramConn[],
  port: number,
  count: number,
  make: (i: number) => Uint8Array,
  burst = 128,
): Promise<void> {
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
  for (let i = 0; i < count; i++) {
    await sockets[i % sockets.length].send(make(i), to);
    if (i % burst === burst - 1) await new Promise((r) => setTimeout(r, 1));
  }
}

function summaryCounts(stderr: string): { sessions: number; messages: number; dropped: number } {
  const m = stderr.match(/(\d+) sessions, (\d+) messages, \d+ lost, \d+ duplicates, (\d+) dropped/);
  assert.ok(m, `no summary line in:\n${stderr}`);
  return { sessions: Number(m[1]), messages: Number(m[2]), dropped: Number(m[3]) };
}

/** The summary line's closes by reason. */
function closeCounts(stderr: string) {
  const m = stderr.match(
    /closed: (\d+) goodbye, (\d+) timeout, (\d+) protocol error, (\d+) evicted, (\d+) shutdown/,
  );
  assert.ok(m, `no closes in the summary line:\n${stderr}`);
  const [goodbye, timeout, protocolError, evicted, shutdown] = m.slice(1).map(Number);
  return { goodbye, timeout, protocolError, evicted, shutdown };
}

/** Reads the kernel's drop count, stops the server with EOF (exit 0) and parses its summary. */
async function stopAndCount(server: RunningServer) {
  const kernelDrops = socketDrops(server.port);
  await server.process.closeStdin();
  const out = await server.process.exit();
  assert.equal(out.code, 0, out.stderr);
  return { out, s: summaryCounts(out.stderr), kernelDrops };
}

function count(text: string, what: string): number {
  return text.split(what).length - 1;
}

async function legitimateClient(port: number): Promise<void> {
  const input = Array.from({ length: 100 }, (_, i) => `legit ${i}`);
  const client = await runClient(port, input.join("\n") + "\n");
  assert.equal(client.code, 0, client.stderr);
}

Deno.test("hostile: 120,000 random and mutated datagrams; the server stays up, bounded, and serves", async () => {
  const server = await startServer(["--timeout", "5"]);
  await using _ = server.process;
  const pid = server.process.child.pid;
  const sockets = ["127.0.0.1", "127.0.0.2", "127.0.0.3"].map((hostname) =>
    Deno.listenDatagram({ hostname, port: 0, transport: "udp" })
  );
  try {
    const before = rss(pid);
    const next = random(20261121);
    const int = (n: number) => Math.floor(next() * n);
    const N = 120_000;
    await blast(sockets, server.port, N, () => {
      const kind = int(3);
      if (kind === 0) return crypto.getRandomValues(new Uint8Array(int(80)));
      const msg = encode({
        command: int(6),
        seq: int(4) === 0 ? int(2 ** 32) : int(20),
        sessionId: 1 + int(64), // a few ids, so sessions get traffic of every kind
        payload: crypto.getRandomValues(new Uint8Array(int(40))),
      });
      if (kind === 1) return msg;
      for (let f = 1 + int(3); f > 0; f--) msg[int(msg.length)] = int(256); // mutate
      return msg.subarray(0, Math.max(0, msg.length - int(4) * int(5)));
    });
    const grown = rss(pid) - before;
    await legitimateClient(server.port);
    const { out, s, kernelDrops } = await stopAndCount(server);
    // Every datagram is handled or dropped by the server, or dropped by the kernel.
    const legit = 102; // HELLO, 100 DATA, GOODBYE
    assert.equal(s.messages + s.dropped + kernelDrops, N + legit);
    assert.ok(s.messages + s.dropped > N / 2, `the server saw ${s.messages + s.dropped} of ${N}`);
    assert.ok(grown < 48 << 20, `RSS grew by ${(grown / 2 ** 20).toFixed(1)} MiB`);
    const legitId = out.stdout.match(/^(0x[0-9a-f]{8}) \[1\] legit 0$/m)?.[1];
    assert.ok(legitId, "the legitimate session was served");
    assert.equal(sessionLines(out.stdout, legitId).filter((l) => l.includes("legit")).length, 100);
  } finally {
    for (const s of sockets) s.close();
  }
});

/** Waits (bounded) until every session the server created has been closed. */
async function allClosed(stdout: { text: string }, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const created = count(stdout.text, "Session created");
    const closed = count(stdout.text, "Session closed");
    if (created > 0 && closed === created) return;
    assert.ok(performance.now() < deadline, `${closed} of ${created} sessions closed`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A HELLO with a random session id. */
function randomHello(next: () => number): Uint8Array {
  const sessionId = 1 + Math.floor(next() * 0xffff_fffe);
  return encode({ command: Command.HELLO, seq: 0, sessionId, payload: new Uint8Array() });
}

/** The memory bound README states for a flood at the default --max-sessions of 100,000. */
const FLOOD_RSS_BOUND = 256 << 20;

Deno.test("hostile: a flood of 200,000 HELLOs: open sessions keep being served, memory stays bounded, idle sessions expire", async () => {
  const server = await startServer(["--timeout", "8"]);
  await using _ = server.process;
  const pid = server.process.child.pid;
  const sockets = [Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" })];
  // A legitimate session opened before the flood.
  await using established = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  try {
    await established.write("before 1\n");
    await server.process.stdout.waitFor((t) => t.includes("] before 1\n"), 10_000, "first line");
    const next = random(7);
    const N = 200_000;
    await blast(sockets, server.port, N, () => randomHello(next), 256);
    await drained(server.port);
    const peak = rss(pid);
    console.log(`flood: RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(peak < FLOOD_RSS_BOUND, `RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
    // The open session is still served: the rest of its lines all arrive.
    const rest = Array.from({ length: 99 }, (_, i) => `before ${i + 2}`);
    await established.write(rest.join("\n") + "\n");
    await established.closeStdin();
    const result = await established.exit(30_000);
    assert.equal(result.code, 0, result.stderr);
    // Idle flood sessions expire on the shared timer; then new sessions get in.
    await allClosed(server.process.stdout, 30_000);
    await legitimateClient(server.port);
    const { out, s, kernelDrops } = await stopAndCount(server);
    assert.equal(s.messages + s.dropped + kernelDrops, N + 102 + 102);
    assert.equal(count(out.stdout, "Session created"), s.sessions);
    console.log(
      `flood: ${s.sessions} sessions, ${s.dropped} dropped by the server, ${kernelDrops} by the kernel`,
    );
    const id = out.stdout.match(/^(0x[0-9a-f]{8}) \[1\] before 1$/m)![1];
    const lines = sessionLines(out.stdout, id).filter((l) => l.includes("before"));
    assert.deepEqual(lines, Array.from({ length: 100 }, (_, i) => `[${i + 1}] before ${i + 1}`));
  } finally {
    for (const s of sockets) s.close();
  }
});

Deno.test("hostile: a HELLO flood over --max-sessions evicts half-open sessions: a new client gets in at once, an open one loses nothing", async () => {
  // Sessions would live 60 s: before eviction, a new client found no room for a whole minute.
  const server = await startServer(["--timeout", "60", "--max-sessions", "1000"]);
  await using _ = server.process;
  const sockets = [Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" })];
  await using established = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  try {
    await established.write("before 1\n");
    await server.process.stdout.waitFor((t) => t.includes("] before 1\n"), 10_000, "first line");
    const next = random(11);
    await blast(sockets, server.port, 5000, () => randomHello(next), 32);
    // Right after the flood: a new client's HELLO is answered within its 1 s timeout.
    const input = Array.from({ length: 100 }, (_, i) => `new ${i}`);
    const fresh = await runClient(server.port, input.join("\n") + "\n", ["--timeout", "1"]);
    assert.equal(fresh.code, 0, fresh.stderr);
    // The session opened before the flood is served to its end.
    const rest = Array.from({ length: 99 }, (_, i) => `before ${i + 2}`);
    await established.write(rest.join("\n") + "\n");
    await established.closeStdin();
    const result = await established.exit(30_000);
    assert.equal(result.code, 0, result.stderr);
    const { out, s } = await stopAndCount(server);
    const closes = closeCounts(out.stderr);
    assert.equal(count(out.stderr, "session table full (1000): evicting"), 1, out.stderr);
    assert.equal(closes.goodbye, 2);
    assert.ok(closes.evicted > 0, `${closes.evicted} evicted`);
    assert.equal(
      closes.goodbye + closes.timeout + closes.protocolError + closes.evicted + closes.shutdown,
      s.sessions,
      "every session closed once, for one reason",
    );
    for (const [mark, total] of [["before", 100], ["new", 100]] as const) {
      const id = out.stdout.match(new RegExp(`^(0x[0-9a-f]{8}) \\[1\\] ${mark} `, "m"))![1];
      const lines = sessionLines(out.stdout, id).filter((l) => l.includes(mark));
      assert.equal(lines.length, total, `${mark}: ${lines.length} lines`);
      assert.ok(!sessionLines(out.stdout, id).some((l) => l.includes("Lost")));
    }
  } finally {
    for (const s of sockets) s.close();
  }
});
