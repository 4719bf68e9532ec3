/**
 * `pudp frame server --max-buffered` end to end: connections that each hold
 * an unfinished big message are held back by TCP flow control instead of
 * growing the server's memory, a normal client is still answered at once,
 * and what they held is given back when they close.
 */

import assert from "node:assert/strict";
import { spawnCli, startListening } from "../helpers/cli.ts";

const MiB = 1024 * 1024;
const BUDGET = 8 * MiB;

/** The process's resident memory, in bytes (Linux). */
function rss(pid: number): number {
  const kib = /VmRSS:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))?.[1];
  assert.ok(kib, "VmRSS");
  return Number(kib) * 1024;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  name:
    "frame: 8 connections holding unfinished 4 MiB messages stay within --max-buffered 8MiB; a normal client is answered; closing gives it back",
  ignore: Deno.build.os !== "linux",
}, async () => {
  const server = await startListening([
    "frame",
    "server",
    "--host",
    "127.0.0.1",
    "--json",
    "--max-buffered",
    "8MiB",
    "0",
  ]);
  await using _ = server.process;
  const pid = server.process.child.pid;
  await sleep(300);
  const baseline = rss(pid);

  // Each sends the length of a 4 MiB message and 3 MiB of it, then stalls.
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, 4 * MiB);
  const body = new Uint8Array(3 * MiB).fill(0x41);
  const conns: Deno.TcpConn[] = [];
  const writes: Promise<void>[] = [];
  for (let i = 0; i < 8; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    conns.push(conn);
    writes.push(
      (async () => {
        await conn.write(header);
        for (let done = 0; done < body.length;) done += await conn.write(body.subarray(done));
      })().catch(() => {}),
    );
  }
  // (On loopback the kernel's socket buffers may take all of it: the server does not.)
  await Promise.race([Promise.all(writes), sleep(2000)]);
  let held = 0;
  for (let i = 0; i < 5; i++, await sleep(200)) held = Math.max(held, rss(pid));

  const started = performance.now();
  await using client = spawnCli(["frame", "client", "127.0.0.1", String(server.port)], "piped");
  await client.write("0123456789still served\n");
  await client.closeStdin();
  const out = await client.exit(10_000);
  assert.equal(out.code, 0, out.stderr);
  assert.equal(out.stdout, "still served\n");
  assert.ok(performance.now() - started < 5000, "answered promptly");

  // Unbounded, the 24 MiB they sent cost about 55 MiB (buffers grown by doubling); within
  // the budget about 20–27 MiB: the held bytes (8 MiB and the oldest message) and a fixed
  // ~14 MiB for the reads and the allocator's leftovers (measured at --max-buffered 1MiB).
  assert.ok(
    held < baseline + 5 * BUDGET,
    `RSS ${(held / MiB).toFixed(1)} MiB while held, baseline ${(baseline / MiB).toFixed(1)} MiB`,
  );

  for (const conn of conns) conn.close();
  await Promise.all(writes);
  await server.process.stdout.waitFor(
    (t) => (t.match(/"reason":"peer closed mid-message/g) ?? []).length >= 8,
    20_000,
    "8 closed events",
  );
  const closed = server.process.stdout.lines().map((l) => JSON.parse(l)).filter((e) =>
    e.event === "closed" && e.reason.startsWith("peer closed mid-message")
  );
  // While they close, what is held stays within the budget and one message; at the end, nothing.
  for (const e of closed) assert.ok(e.buffered <= BUDGET + 4 * MiB + 4096, JSON.stringify(e));
  assert.equal(closed.at(-1).buffered, 0);
  await sleep(500);
  // The server's own count is exact (above); RSS is the allocator's business
  // (it may keep freed small buffers, and reads from the closes come on top:
  // seen once 10 MiB above the held figure), so only a loose bound here.
  const after = rss(pid);
  assert.ok(
    after < baseline + 5 * BUDGET,
    `RSS ${(after / MiB).toFixed(1)} MiB after close, baseline ${(baseline / MiB).toFixed(1)} MiB`,
  );
  console.log(
    `RSS baseline ${(baseline / MiB).toFixed(1)} MiB, held ${(held / MiB).toFixed(1)} MiB, ` +
      `after close ${(after / MiB).toFixed(1)} MiB`,
  );
});
