/**
 * `--max-connections` and `--idle-timeout` on the four TCP servers (ids
 * `--tcp`, frame, pipe, blast), end to end with the real CLI and raw
 * sockets: at the cap a new connection is closed at once and said on
 * stderr, and a normal client gets in as soon as one closes; an idle
 * connection is closed within the timeout (plus the alarm's slack) with the
 * reason in the server's `closed` event, while a normal exchange is
 * unaffected; a pipe client waiting for its turn with its bytes all in is
 * not cut; and 3 rounds of 200 idle connections cost the blast and pipe
 * servers little memory, given back.
 */

import assert from "node:assert/strict";
import { type CliProcess, startListening } from "../helpers/cli.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

type Family = "ids" | "frame" | "pipe" | "blast";

const SERVER_ARGS: Record<Family, string[]> = {
  ids: ["ids", "server", "--tcp"],
  frame: ["frame", "server"],
  pipe: ["pipe", "server"],
  blast: ["blast", "server"],
};

async function start(
  family: Family,
  args: string[],
): Promise<{ process: CliProcess; port: number }> {
  return await startListening([
    ...SERVER_ARGS[family],
    "--host",
    "127.0.0.1",
    "--json",
    ...args,
    "0",
  ]);
}

function connect(port: number): Promise<Deno.TcpConn> {
  return Deno.connect({ hostname: "127.0.0.1", port });
}

/** Resolves with `p`, or rejects after `ms` saying `what`. */
async function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until the server closes (EOF or reset); returns what came. */
async function readToEnd(conn: Deno.TcpConn): Promise<Uint8Array> {
  const chunks: number[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      n = null;
    }
    if (n === null) return new Uint8Array(chunks);
    chunks.push(...buf.subarray(0, n));
  }
}

/** Reads until `done(text)` holds; undefined if the server closed first. */
async function readUntil(conn: Deno.TcpConn, done: (b: Uint8Array) => boolean): Promise<boolean> {
  const got: number[] = [];
  const buf = new Uint8Array(4096);
  for (;;) {
    let n: number | null;
    try {
      n = await conn.read(buf);
    } catch {
      return false;
    }
    if (n === null) return false;
    got.push(...buf.subarray(0, n));
    if (done(new Uint8Array(got))) return true;
  }
}

/** One normal exchange of the family over a raw socket: true if the server answered as it should. */
async function exchange(family: Family, port: number): Promise<boolean> {
  const conn = await connect(port);
  try {
    switch (family) {
      case "ids":
        await conn.write(encoder.encode("HELLO limits-test\n"));
        return await readUntil(conn, (b) => decoder.decode(b).startsWith("OK limits-test "));
      case "blast":
        await conn.write(encoder.encode("ECHO limits\n"));
        return await readUntil(conn, (b) => decoder.decode(b) === "ECHO limits\n");
      case "frame": {
        const payload = encoder.encode("hello, limits");
        const message = new Uint8Array(4 + payload.length);
        new DataView(message.buffer).setUint32(0, payload.length);
        message.set(payload, 4);
        await conn.write(message);
        return await readUntil(
          conn,
          (b) => b.length >= 4 && b.length >= 4 + new DataView(b.buffer).getUint32(0),
        );
      }
      case "pipe":
        await conn.write(encoder.encode("pipe data\n"));
        await conn.closeWrite();
        // The server closes once every byte is written or held: that is the answer.
        await readToEnd(conn);
        return true;
    }
    return false;
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
}

/** Retries `exchange` for up to `ms` (the server sees the close of a held connection a moment later). */
async function exchangeSoon(family: Family, port: number, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  for (;;) {
    const conn = exchange(family, port);
    const ok = await within(conn, ms, `${family} exchange`).catch(() => false);
    if (ok || performance.now() > deadline) return ok;
    await new Promise((r) => setTimeout(r, 100));
  }
}

for (const family of ["ids", "frame", "pipe", "blast"] as const) {
  Deno.test(`limits: ${family} --max-connections 5 closes a 6th at once; a client gets in once one closes`, async () => {
    const { process } = await start(family, ["--max-connections", "5"]);
    await using _ = process;
    const port = Number(process.stderr.text.match(/listening on \S+:(\d+)/)![1]);
    const held = [];
    for (let i = 0; i < 5; i++) held.push(await connect(port));
    const sixth = await connect(port);
    // Closed by the server straight away: EOF (or a reset), well before any timeout.
    await within(readToEnd(sixth), 3000, "the 6th connection closed by the server");
    sixth.close();
    await process.stderr.waitFor(
      (t) => /connection limit reached \(--max-connections 5\)/.test(t),
      3000,
      "the refusal notice on stderr",
    );
    // The 5 are still served: one of them still gets answers... and once it closes, a client gets in.
    held.shift()!.close();
    assert.ok(await exchangeSoon(family, port, 3000), `a normal ${family} client after one closed`);
    for (const c of held) c.close();
  });

  Deno.test(`limits: ${family} --idle-timeout 1 closes an idle connection with the reason; a client is unaffected`, async () => {
    const { process } = await start(family, ["--idle-timeout", "1"]);
    await using _ = process;
    const port = Number(process.stderr.text.match(/listening on \S+:(\d+)/)![1]);
    const idle = await connect(port);
    const started = performance.now();
    await within(readToEnd(idle), 4000, "the idle connection closed by the server");
    const ms = performance.now() - started;
    idle.close();
    assert.ok(ms >= 900, `closed after ${ms} ms, before the timeout`);
    const output = () => process.stdout.text + process.stderr.text;
    await process.stdout.waitFor(
      () => /"event":"closed".*"reason":"idle for 1 s"/.test(output()),
      3000,
      "closed event",
    )
      .catch(() => assert.match(output(), /"event":"closed".*"reason":"idle for 1 s"/));
    assert.ok(await exchange(family, port), `a normal ${family} exchange with --idle-timeout 1`);
  });
}

Deno.test("limits: pipe --idle-timeout 1 does not cut a client whose bytes are in and that waits for its turn", async () => {
  const { process } = await start("pipe", ["--idle-timeout", "1"]);
  await using _ = process;
  const port = Number(process.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  const live = await connect(port);
  await live.write(encoder.encode("A0"));
  await process.stderr.waitFor((t) => t.includes('"event":"live"'), 3000, "the first live");
  const waiting = await connect(port);
  await waiting.write(encoder.encode("B"));
  await waiting.closeWrite();
  // The live one keeps sending for 2.5 s (more than the timeout): not idle.
  for (let i = 1; i <= 5; i++) {
    await new Promise((r) => setTimeout(r, 500));
    await live.write(encoder.encode(`A${i}`));
  }
  await live.closeWrite();
  await within(readToEnd(live), 3000, "live closed after its bytes");
  await within(readToEnd(waiting), 3000, "waiting closed after its bytes");
  live.close();
  waiting.close();
  await process.stderr.waitFor(
    (t) => (t.match(/"event":"closed"/g) ?? []).length === 2,
    3000,
    "two closed events",
  );
  assert.doesNotMatch(process.stderr.text, /idle for/);
  await process.stdout.waitFor((t) => t === "A0A1A2A3A4A5B", 3000, "both clients' bytes, in turn");
});

async function rssMiB(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  return Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
}

for (const family of ["blast", "pipe"] as const) {
  Deno.test(`limits: ${family} server's memory: 3 rounds of 200 idle connections grow RSS by < 40 MB`, async () => {
    const { process } = await start(family, []);
    await using _ = process;
    const port = Number(process.stderr.text.match(/listening on \S+:(\d+)/)![1]);
    await new Promise((r) => setTimeout(r, 300));
    const before = await rssMiB(process.child.pid);
    let peak = before;
    for (let round = 0; round < 3; round++) {
      const conns = [];
      for (let i = 0; i < 200; i++) conns.push(await connect(port));
      await new Promise((r) => setTimeout(r, 700));
      peak = Math.max(peak, await rssMiB(process.child.pid));
      for (const c of conns) c.close();
      await new Promise((r) => setTimeout(r, 300));
    }
    const after = await rssMiB(process.child.pid);
    assert.ok(peak - before < 40, `RSS ${before.toFixed(1)} → peak ${peak.toFixed(1)} MiB`);
    assert.ok(
      after - before < 40,
      `RSS ${before.toFixed(1)} → ${after.toFixed(1)} MiB after the closes`,
    );
  });
}
