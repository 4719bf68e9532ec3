/**
 * A real `pudp server` whose stdout is read slowly (1 MB/s, a throttled
 * pipe): the server must keep acknowledging at the reader's pace, so a
 * client with a short timeout finishes, nothing is lost, and the server's
 * memory stays bounded. Before the low-water mark, the server went silent
 * while its whole 4 MiB backlog was written (4 s at this rate), and the
 * client gave up.
 */

import assert from "node:assert/strict";
import { runClient, sourceCommand } from "../helpers/cli.ts";

const RATE = 1_000_000; // bytes per second
const LINES = 6000;
const LINE = "x".repeat(1000);
/** Peak resident memory the server may reach (README: bounded output backlog). */
const RSS_BOUND = 256 << 20;

/** Reads a stream at most `rate` bytes per second; resolves with all of it, as text. */
async function throttledRead(stream: ReadableStream<Uint8Array>, rate: number): Promise<string> {
  const decoder = new TextDecoder();
  const started = performance.now();
  let bytes = 0;
  let text = "";
  for await (const chunk of stream) {
    bytes += chunk.length;
    text += decoder.decode(chunk, { stream: true });
    const due = started + (bytes / rate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return text + decoder.decode();
}

/** Peak resident memory of a process, in bytes. */
function peakRss(pid: number): number {
  const m = Deno.readTextFileSync(`/proc/${pid}/status`).match(/VmHWM:\s+(\d+) kB/);
  return Number(m![1]) * 1024;
}

Deno.test("slow reader: with stdout read at 1 MB/s a client (--timeout 2) finishes, 0 lost, memory bounded", async () => {
  const [cmd, ...args] = sourceCommand();
  const server = new Deno.Command(cmd, {
    args: [...args, "server", "--host", "127.0.0.1", "0"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdin = server.stdin.getWriter();
  let stderr = "";
  const stderrText = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of server.stderr) stderr += decoder.decode(chunk, { stream: true });
    return stderr;
  })();
  const stdout = throttledRead(server.stdout, RATE);
  try {
    const port = await listeningPort(() => stderr);
    const input = Array.from({ length: LINES }, (_, i) => `${i} ${LINE}`);
    const client = await runClient(port, input.join("\n") + "\n", ["--timeout", "2", "--verbose"]);
    assert.equal(client.code, 0, client.stderr);
    const peak = peakRss(server.pid);
    await stdin.close();
    const status = await server.status;
    const [out, err] = await Promise.all([stdout, stderrText]);
    assert.equal(status.code, 0, err);
    assert.match(err, / 0 lost, /);
    const data = out.split("\n").filter((l) => l.includes(LINE));
    assert.equal(data.length, LINES);
    assert.ok(data.every((l, i) => l.endsWith(`[${i + 1}] ${i} ${LINE}`)), "in order");
    console.log(`slow reader: server peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
    assert.ok(peak < RSS_BOUND, `peak RSS ${(peak / 2 ** 20).toFixed(1)} MiB`);
  } finally {
    try {
      server.kill("SIGKILL");
    } catch {
      // already gone
    }
    await server.status;
    await Promise.allSettled([stdout, stderrText]);
  }
});

/** The port of the `listening on HOST:PORT` line, once stderr has it (bounded wait). */
async function listeningPort(stderr: () => string): Promise<number> {
  for (let i = 0; i < 300; i++) {
    const m = stderr().match(/listening on \S+:(\d+)\n/);
    if (m) return Number(m[1]);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`no listening line: ${stderr()}`);
}
