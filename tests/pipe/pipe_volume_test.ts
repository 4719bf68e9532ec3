/**
 * `pudp pipe` at volume, run after the parallel suite so that nothing else
 * competes for the CPU: 4 clients × 200 MB through `--hold-memory 16M`
 * (temporary files, the server's memory bounded, none left behind) and
 * 1 GiB through one client (its memory bounded, the output identical).
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { pattern, peakRss, pipeClient, startPipe } from "../helpers/pipe.ts";

Deno.test("pipe: 4 clients × 200 MB with --hold-memory 16M: temporary files, bounded memory, none left", async () => {
  const tmp = await Deno.makeTempDir({ prefix: "pudp-pipe-test-" });
  try {
    const size = 200_000_000;
    await using pipe = await startPipe(["--hold-memory", "16M", "--json"], size, { TMPDIR: tmp });
    const block = 1 << 20;
    const blocks = Array.from({ length: 4 }, (_, i) => pattern(100 + i, block));
    const clients = blocks.map(() => pipeClient(pipe.port));
    const hashes = blocks.map(() => createHash("sha256"));
    let peak = 0;
    const watch = setInterval(async () => {
      peak = Math.max(peak, await peakRss(pipe.child.pid));
    }, 100);
    try {
      // All four stream at once; each block is stamped with its number so no two are alike.
      await Promise.all(clients.map(async (c, i) => {
        for (let at = 0, n = 0; at < size; at += block, n++) {
          const chunk = blocks[i].slice(0, Math.min(block, size - at));
          new DataView(chunk.buffer).setUint32(0, n);
          hashes[i].update(chunk);
          await c.write(chunk);
        }
        await c.closeStdin();
      }));
      for (const c of clients) {
        const out = await c.exit(120_000);
        assert.equal(out.code, 0, out.stderr);
        await c[Symbol.asyncDispose]();
      }
      peak = Math.max(peak, await peakRss(pipe.child.pid));
    } finally {
      clearInterval(watch);
    }
    assert.equal(await pipe.stop(60_000), 0, pipe.stderr());
    assert.equal(pipe.output.length, 4 * size);
    // Each 200 MB of the output is one client's input, intact; all four are there.
    assert.deepEqual(
      [...pipe.output.segmentHashes].sort(),
      hashes.map((h) => h.digest("hex")).sort(),
      "the output is the four inputs, each intact, one after another",
    );
    const live = pipe.stderr().split("\n").filter((l) => l.includes('"event":"live"'));
    assert.equal(live.length, 4);
    const summary = pipe.stderr().match(/(\d+) through temporary files, at most (\d+) held/)!;
    assert.ok(Number(summary[1]) > 0, "bytes went through temporary files");
    assert.ok(Number(summary[2]) <= 16_000_000, `held ${summary[2]} bytes in memory`);
    console.log(`server peak RSS ${(peak / 1e6).toFixed(0)} MB; ${summary[0]}`);
    assert.ok(peak < 300e6, `server peak RSS ${(peak / 1e6).toFixed(0)} MB`);
    assert.deepEqual([...Deno.readDirSync(tmp)], [], "no temporary file left");
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

Deno.test("pipe: 1 GiB through one client: the client's memory stays under 100 MB, the output is identical", async () => {
  const size = 1 << 30;
  const block = 1 << 20;
  await using pipe = await startPipe([], size);
  const client = pipeClient(pipe.port);
  const input = createHash("sha256");
  let peak = 0;
  const watch = setInterval(async () => {
    peak = Math.max(peak, await peakRss(client.child.pid));
  }, 50);
  try {
    const base = pattern(7, block);
    for (let n = 0; n < size / block; n++) {
      const chunk = base.slice();
      new DataView(chunk.buffer).setUint32(0, n);
      input.update(chunk);
      await client.write(chunk);
      if (n % 64 === 0) peak = Math.max(peak, await peakRss(client.child.pid));
    }
    await client.closeStdin();
    const out = await client.exit(120_000);
    assert.equal(out.code, 0, out.stderr);
  } finally {
    clearInterval(watch);
    await client[Symbol.asyncDispose]();
  }
  assert.equal(await pipe.stop(), 0, pipe.stderr());
  assert.equal(pipe.output.length, size);
  assert.deepEqual(pipe.output.segmentHashes, [input.digest("hex")]);
  console.log(`client peak RSS ${(peak / 1e6).toFixed(0)} MB`);
  assert.ok(peak > 0 && peak < 100e6, `client peak RSS ${(peak / 1e6).toFixed(0)} MB`);
});
