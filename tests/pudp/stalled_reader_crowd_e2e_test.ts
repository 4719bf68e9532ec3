/**
 * Three real `pudp client`s at full speed into one real `pudp server` whose
 * stdout reader stops for 1.5 s after every 2 MB (a pager, a disk that
 * stalls). The server stops reading its socket while 4 MiB of output wait,
 * so the clients see their ALIVEs stop for a second or more, several times:
 * the case where a client presumes DATA gone that the server still holds.
 * Every line must be printed, in order, and every client must exit 0.
 */

import assert from "node:assert/strict";
import { sourceCommand, spawnCli } from "../helpers/cli.ts";

const CLIENTS = 3;
const LINES = 20_000;
const STALL_EVERY = 2_000_000; // bytes
const STALL_MS = 1_500;

/** Reads a stream to the end, pausing STALL_MS after every STALL_EVERY bytes; returns its text. */
async function stallingRead(stream: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder();
  let bytes = 0;
  let nextStall = STALL_EVERY;
  let text = "";
  for await (const chunk of stream) {
    bytes += chunk.length;
    text += decoder.decode(chunk, { stream: true });
    if (bytes >= nextStall) {
      nextStall += STALL_EVERY;
      await new Promise((r) => setTimeout(r, STALL_MS));
    }
  }
  return text + decoder.decode();
}

Deno.test(
  "stalled reader: three clients at full speed, stdout stopping 1.5 s every 2 MB: 0 lost, all exit 0",
  async () => {
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
    })();
    const stdout = stallingRead(server.stdout);
    try {
      let port = 0;
      for (let i = 0; i < 300 && port === 0; i++) {
        const m = stderr.match(/listening on \S+:(\d+)\n/);
        if (m) port = Number(m[1]);
        else await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(port > 0, `no listening line: ${stderr}`);
      const pad = "x".repeat(200);
      const clients = Array.from({ length: CLIENTS }, async (_, c) => {
        // The first client has the server to itself for a moment, as when
        // clients are started one after another.
        if (c > 0) await new Promise((r) => setTimeout(r, 300));
        await using client = spawnCli(["client", "--verbose", "127.0.0.1", String(port)], "piped");
        const input = Array.from({ length: LINES }, (_, i) => `c${c} ${i} ${pad}`);
        await client.write(input.join("\n") + "\n");
        await client.closeStdin();
        return await client.exit(120_000);
      });
      const results = await Promise.all(clients);
      await stdin.close();
      const status = await server.status;
      const out = await stdout;
      await stderrText;
      assert.equal(status.code, 0, stderr);
      for (const [c, r] of results.entries()) {
        assert.equal(r.code, 0, `client ${c}: ${r.stderr}`);
        const lines = out.split("\n").filter((l) => l.includes(`] c${c} `));
        assert.equal(lines.length, LINES, `client ${c}: ${LINES - lines.length} lost; ${r.stderr}`);
        assert.ok(lines.every((l, i) => l.includes(`] c${c} ${i} `)), `client ${c}: in order`);
      }
      assert.match(stderr, / 0 lost, /);
    } finally {
      try {
        server.kill("SIGKILL");
      } catch {
        // already gone
      }
      await server.status;
      await Promise.allSettled([stdout, stderrText]);
    }
  },
);
