/**
 * Behaviour that depends on stdin being a terminal, run under a real
 * pseudo-terminal with util-linux `script`.
 */

import assert from "node:assert/strict";
import { createdSessions, runClient, sessionLines, startServer } from "../helpers/cli.ts";
import { HAS_SCRIPT, onTerminal, pudpCommandLine } from "../helpers/terminal.ts";

if (!HAS_SCRIPT) {
  console.log(
    "terminal tests skipped: util-linux `script` is not installed (apt-get install bsdutils)",
  );
}
const script = HAS_SCRIPT;

Deno.test({
  name: "terminal: a q line ends the client's session when stdin is a terminal",
  ignore: !script,
  async fn() {
    const server = await startServer();
    await using _ = server.process;
    const out = await onTerminal(pudpCommandLine(["client", "127.0.0.1", String(server.port)]), [
      "typed\n",
      "q\n",
    ]);
    assert.equal(out.code, 0, out.output);
    // stdin is the terminal: no progress line over what the user types
    assert.ok(!out.output.includes("lines sent") && !out.output.includes("\r\x1b[K"));
    await server.process.closeStdin();
    const s = await server.process.exit();
    const [id] = createdSessions(s.stdout);
    assert.deepEqual(sessionLines(s.stdout, id), [
      "[0] Session created",
      "[1] typed",
      "[2] GOODBYE from client.",
      "Session closed",
    ]);
  },
});

Deno.test({
  name: "terminal: a q line stops the server when stdin is a terminal",
  ignore: !script,
  async fn() {
    const out = await onTerminal(pudpCommandLine(["server", "--host", "127.0.0.1", "0"]), ["q\n"]);
    assert.equal(out.code, 0);
    assert.match(out.output, /pudp server: 0 sessions, 0 messages/);
  },
});

/** Control bytes a hostile client might send to drive a terminal: colour, bell, title, C1 CSI. */
const HOSTILE = "\x1b[31mred\x07 \x1b]0;title\x07 tab\there \u009b2J";
const ESCAPED = "\\x1b[31mred\\x07 \\x1b]0;title\\x07 tab\there \\xc2\\x9b2J";

Deno.test({
  name: "terminal: payload control characters are escaped when the server's stdout is a terminal",
  ignore: !script,
  async fn() {
    const cmd = pudpCommandLine(["server", "--host", "127.0.0.1", "0"]);
    const child = new Deno.Command("script", {
      args: ["-qec", cmd, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const writer = child.stdin.getWriter();
    let text = "";
    const reading = (async () => {
      const d = new TextDecoder();
      for await (const chunk of child.stdout) text += d.decode(chunk, { stream: true });
    })();
    try {
      const deadline = performance.now() + 15_000;
      while (!/listening on \S+:\d+/.test(text)) {
        assert.ok(performance.now() < deadline, `no listening line: ${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      const port = Number(text.match(/listening on \S+:(\d+)/)![1]);
      const client = await runClient(port, HOSTILE + "\n");
      assert.equal(client.code, 0, client.stderr);
      while (!text.includes("GOODBYE from client.")) {
        assert.ok(performance.now() < deadline, `no GOODBYE line: ${text}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      await writer.write(new TextEncoder().encode("q\n"));
      const status = await child.status;
      assert.equal(status.code, 0);
      await reading;
      assert.ok(
        text.includes("[1] " + ESCAPED),
        `escaped line not found in:\n${JSON.stringify(text)}`,
      );
      assert.ok(!text.includes("\x1b[31m"), "no raw escape sequence reached the terminal");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
      await writer.close().catch(() => {});
    }
  },
});

Deno.test("terminal: payload bytes pass through untouched when stdout is a pipe", async () => {
  const server = await startServer();
  await using _ = server.process;
  const client = await runClient(server.port, HOSTILE + "\n");
  assert.equal(client.code, 0, client.stderr);
  await server.process.closeStdin();
  const out = await server.process.exit();
  const [id] = createdSessions(out.stdout);
  assert.ok(sessionLines(out.stdout, id).includes("[1] " + HOSTILE));
});
