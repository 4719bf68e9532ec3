/**
 * The lifecycle every command runs on: a client's run ends once, with the
 * first end; a signal ends a client with 128 + its number unless the client
 * handles it; a server's first signal stops it in order, and a second one
 * ends the process the default way (a stuck shutdown is never a trap),
 * unless the server handles more signals itself.
 */

import assert from "node:assert/strict";
import { exitStatus, Lifecycle, SIGNAL_EXIT } from "../../lib/runtime/lifecycle.ts";

Deno.test("lifecycle: a client's run ends with the first end; close may replace it", async () => {
  const life = new Lifecycle();
  const end = await life.run({
    start: (finish) => {
      finish({ code: 1, message: "no answer" });
      finish({ code: 0 });
    },
  });
  assert.deepEqual(end, { code: 1, message: "no answer" });
  assert.equal(life.stop.failure, "no answer");
  const replaced = await new Lifecycle().run({
    start: (finish) => finish({ code: 0 }),
    close: () => ({ code: 1, message: "cannot write to stdout: broken pipe" }),
  });
  const said: string[] = [];
  assert.equal(exitStatus(replaced, (l) => said.push(l)), 1);
  assert.deepEqual(said, ["cannot write to stdout: broken pipe"]);
});

Deno.test("lifecycle: a client that cannot start throws, and leaves no signal handler", async () => {
  const life = new Lifecycle();
  await assert.rejects(
    life.run({
      start: () => {
        throw new Error("cannot connect");
      },
    }),
    /cannot connect/,
  );
  // A leaked handler would keep a test's process alive; Deno's sanitizer catches that too.
  assert.equal(life.signals, 0);
});

/** Runs the fixture, sends `signals` to it one after another, returns its status and output. */
async function serveAndSignal(args: string[], signals: Deno.Signal[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      new URL("./fixtures/serve_slow_close.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  const waitFor = async (text: string) => {
    for (let i = 0; i < 200 && !seen.includes(text); i++) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += value;
    }
    assert.ok(seen.includes(text), `${text} in ${JSON.stringify(seen)}`);
  };
  try {
    await waitFor("ready");
    child.kill(signals[0]);
    await waitFor("stopping");
    for (const [i, s] of signals.slice(1).entries()) {
      child.kill(s);
      if (args[0] === "keep") await waitFor(`signal ${i + 2}`);
    }
    if (args[0] === "keep") child.kill("SIGKILL");
  } catch (e) {
    child.kill("SIGKILL");
    throw e;
  } finally {
    reader.releaseLock();
  }
  // Bounded: a process that outlives its last signal by 10 s is killed, and says so.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const alive = new Promise<"alive">((resolve) =>
    timer = setTimeout(() => resolve("alive"), 10_000)
  );
  const first = await Promise.race([child.status, alive]);
  clearTimeout(timer);
  if (first === "alive") child.kill("SIGKILL");
  const status = await child.status;
  await child.stdout.cancel().catch(() => {});
  return { status, seen, alive: first === "alive" };
}

Deno.test("lifecycle: a server's second signal ends a stuck shutdown the default way", async () => {
  const { status, seen, alive } = await serveAndSignal([], ["SIGTERM", "SIGINT"]);
  assert.ok(!alive, "the second signal ended the process");
  assert.equal(status.signal, "SIGINT", `ended by SIGINT: ${JSON.stringify(status)}`);
  assert.ok(!seen.includes("exit"));
});

Deno.test("lifecycle: a server that handles more signals keeps them after the stop", async () => {
  const { status, seen } = await serveAndSignal(["keep"], ["SIGTERM", "SIGTERM", "SIGHUP"]);
  assert.equal(status.signal, "SIGKILL"); // still alive after three: we stopped it
  assert.match(seen, /signal 1\n[\s\S]*signal 2\n[\s\S]*signal 3\n/);
});

Deno.test("lifecycle: the exit statuses of signals are 128 + their numbers", () => {
  assert.deepEqual(SIGNAL_EXIT, { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 });
});
