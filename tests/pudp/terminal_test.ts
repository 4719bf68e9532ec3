/**
 * Behaviour that depends on stdin being a terminal, run under a real
 * pseudo-terminal with util-linux `script`.
 */

import assert from "node:assert/strict";
import { createdSessions, sessionLines, sourceCommand, startServer } from "../helpers/cli.ts";

const script = await new Deno.Command("sh", { args: ["-c", "command -v script"], stdout: "null" })
  .output().then((o) => o.success).catch(() => false);
if (!script) {
  console.log(
    "terminal tests skipped: util-linux `script` is not installed (apt-get install bsdutils)",
  );
}

/** Runs `args` on a pty; `input` chunks are typed with pauses in between. */
async function onTerminal(
  args: string[],
  input: string[],
): Promise<{ code: number; output: string }> {
  const cmd = [...sourceCommand(), ...args].map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("script", {
    args: ["-qec", cmd, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  for (const chunk of input) {
    await writer.write(new TextEncoder().encode(chunk));
    await new Promise((r) => setTimeout(r, 700));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), 15_000));
  const result = await Promise.race([child.output(), timeout]);
  clearTimeout(timer);
  await writer.close().catch(() => {});
  if (result === "timeout") {
    child.kill("SIGKILL");
    await child.status;
    assert.fail("process on the terminal did not exit");
  }
  return { code: result.code, output: new TextDecoder().decode(result.stdout) };
}

Deno.test({
  name: "terminal: a q line ends the client's session when stdin is a terminal",
  ignore: !script,
  async fn() {
    const server = await startServer();
    await using _ = server.process;
    const out = await onTerminal(["client", "127.0.0.1", String(server.port)], ["typed\n", "q\n"]);
    assert.equal(out.code, 0, out.output);
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
    const out = await onTerminal(["server", "--host", "127.0.0.1", "0"], ["q\n"]);
    assert.equal(out.code, 0);
    assert.match(out.output, /pudp server: 0 sessions, 0 messages/);
  },
});
