/**
 * A real `pudp server` whose stdout is read slowly (1 MB/s, a throttled
 * pipe): the server must keep acknowledging at the reader's pace, so a
 * client with a short timeout finishes, nothing is lost, and the server's
 * memory stays bounded. Before the low-water mark, the server went silent
 * while its whole 4 MiB backlog was written (4 s at this rate), and the
 * client gave up.
 */

import assert from "node:assert/strict";
import { runClient, sourceCommand, startServer, stopServer } from "../helpers/cli.ts";

const RATE = 1_000_000; // bytes per second
const LINES = 6000;
const LINE = "x".repeat(1000);
/** Peak resident memory the server may reach (README: bounded output backlog). */
const RSS_BOUND = 256 << 20;

/** Peak resident memory of a process, in bytes. */
function peakRss(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmHWM:\s+(\d+) kB/);
  return Number(m![1]) * 1024;
}

Deno.test("slow reader: with stdout read at 1 MB/s a client (--timeout 2) finishes, 0 lost, memory bounded", async () => {
  const started = performance.now();
  const throttled = (bytes: number) => {
    const wait = started + (bytes / RATE) * 1000 - performance.now();
    return wait > 0 ? new Promise<void>((r) => setTimeout(r, wait)) : undefined;
  };
  const server = await startServer([], sourceCommand(), throttled);
  await using _ = server.process;
  const input = Array.from({ length: LINES }, (_, i) => `${i} ${LINE}`);
  const client = await runClient(server.port, input.join("\n") + "\n", ["--timeout", "2"]);
  assert.equal(client.code, 0, client.stderr);
  const peak = peakRss(server.process.child.pid);
  const out = await stopServer(server);
  assert.match(out.stderr, / 0 lost, /);
  const data = out.stdout.split("\n").filter((l) => l.includes(LINE));
  assert.equal(data.length, LINES);
  assert.ok(data.every((l, i) => l.endsWith(`[${i + 1}] ${i} ${LINE}`)), "in order");
  console.log(`slow reader: server peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
  assert.ok(peak < RSS_BOUND, `peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
});
