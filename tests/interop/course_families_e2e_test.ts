/**
 * pudp's ids, frame and pipe commands against course-style peers
 * (tests/interop/course_families.py, models of what issue 26 saw; see its
 * header): a lost first OK answered RESET, a client that loops on ERROR, a
 * frame server that takes one read as one message, a pipe server that never
 * closes. Every process is stopped by its pid, every wait bounded.
 */

import assert from "node:assert/strict";
import { ROOT_DIR, spawnCli, startListening } from "../helpers/cli.ts";

const MODELS = `${ROOT_DIR}tests/interop/course_families.py`;

/** A course-style server model on port 0: its port, and stop() (EOF on stdin) that gives its stdout. */
async function model(role: string, args: string[] = []) {
  const child = new Deno.Command("python3", {
    args: [MODELS, role, "0", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!/listening on \S+:\d+\n/.test(err)) {
    const { value, done } = await reader.read();
    assert.ok(!done, `${role} did not start: ${err}`);
    err += value;
  }
  const port = Number(err.match(/listening on \S+:(\d+)\n/)![1]);
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return err;
      err += value;
    }
  })();
  const stdin = child.stdin.getWriter();
  return {
    port,
    async stop(): Promise<{ stdout: string; stderr: string }> {
      await stdin.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const status = await child.status;
      clearTimeout(timer);
      clearTimeout(killer);
      assert.equal(status.code, 0, err);
      return { stdout: await stdout, stderr: await rest };
    },
  };
}

/** Runs a pudp command to its end with `input` on stdin (bounded). */
async function pudp(args: string[], input?: string, timeoutMs = 20_000) {
  await using p = spawnCli(args, input === undefined ? "null" : "piped");
  if (input !== undefined) {
    await p.write(input);
    await p.closeStdin();
  }
  return await p.exit(timeoutMs);
}

Deno.test("interop ids: a course server drops the first OK and answers the repeat RESET: exit 1, the line says the id may be ours", async () => {
  const server = await model("ids-server", ["--drop-first-ok"]);
  const client = await pudp([
    "ids",
    "client",
    "--verbose",
    "--timeout",
    "2",
    "127.0.0.1",
    String(server.port),
    "8877",
  ]);
  const out = await server.stop();
  assert.equal(client.code, 1);
  assert.equal(client.stdout, "RESET 8877\n");
  assert.match(client.stderr, /RESET came after the request was sent 2 times: the id may be/);
  assert.match(client.stderr, /the first OK was lost/);
  // --verbose: each send (what, when, why) and the reply's bytes.
  assert.match(
    client.stderr,
    /0\.00 s: sent 'HELLO 8877' to 127\.0\.0\.1:\d+ \(udp\) \(try 1 of 4\)/,
  );
  assert.match(
    client.stderr,
    /s: sent 'HELLO 8877' again: no reply 0\.\d\d s after the first \(try 2 of 4\)/,
  );
  assert.match(client.stderr, /s: reply 'RESET 8877' \(10 bytes\)/);
  assert.match(out.stderr, /dropped the first OK/);
  assert.equal(out.stdout, "RESET 8877\n");
});

Deno.test("interop ids: a RESET to a single request is still a plain RESET", async () => {
  const server = await model("ids-server");
  const first = await pudp(["ids", "client", "127.0.0.1", String(server.port), "42"]);
  const second = await pudp(["ids", "client", "127.0.0.1", String(server.port), "42"]);
  await server.stop();
  assert.equal(first.code, 0, first.stderr);
  assert.equal(second.code, 1);
  assert.equal(second.stdout, "RESET 42\n");
  assert.equal(second.stderr, "", "no word of a lost OK: the request was sent once");
});

Deno.test("interop ids: a course client that loops on ERROR gets nothing from --course (no loop), and a bounded few without it", async () => {
  for (const course of [true, false]) {
    const server = await startListening([
      "ids",
      "server",
      "--host",
      "127.0.0.1",
      "--idle-exit",
      "0",
      "--verbose",
      ...(course ? ["--course"] : []),
      "0",
    ]);
    await using _ = server.process;
    const child = new Deno.Command("python3", {
      args: [MODELS, "ids-client", "127.0.0.1", String(server.port), "HELO 1234", "--timeout", "1"],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
    const result = await child.output();
    clearTimeout(timer);
    assert.equal(result.code, 0, new TextDecoder().decode(result.stderr));
    const [, replies, errors] = new TextDecoder().decode(result.stdout)
      .match(/replies (\d+) errors (\d+)/)!.map(Number);
    server.process.kill("SIGTERM");
    const out = await server.process.exit(10_000);
    assert.equal(out.code, 0, out.stderr);
    if (course) {
      assert.equal(replies, 0, "--course sends nothing, so the client's loop never starts");
      assert.doesNotMatch(out.stdout, /ERROR/);
      assert.match(out.stderr, /1 requests, 0 ok, 0 reset, 0 errors, 0 expired, 1 dropped/);
      // --verbose says why it got no reply.
      assert.match(
        out.stderr,
        /dropped a udp message from 127\.0\.0\.1:\d+: --course sends no ERROR \(it would have been "ERROR expected 'HELLO <id>'"\)/,
      );
    } else {
      // The ERROR rate limit ends the loop: a burst, then the client's next
      // request is dropped (`rate limited`) and it goes quiet.
      assert.ok(errors >= 1 && errors <= 10, `${errors} ERRORs before the loop died`);
      assert.match(out.stderr, /its ERROR was over the rate limit/);
    }
  }
});

Deno.test("interop frame: a course server that takes one read as one message needs --lockstep", async () => {
  const lines = Array.from({ length: 5 }, (_, i) => `0123456789line ${i}`);
  const input = lines.join("\n") + "\n";
  // Pipelined (the default): messages arrive together, the model answers one per read and
  // drops the rest; the client waits for answers that never come, until the model's idle close.
  const server = await model("frame-server", ["--read-delay", "0.2", "--idle", "1"]);
  const piped = await pudp(["frame", "client", "127.0.0.1", String(server.port)], input);
  assert.equal(piped.code, 1);
  assert.match(piped.stderr, /server 127\.0\.0\.1:\d+ closed the connection/);
  assert.ok(piped.stdout.split("\n").length - 1 < lines.length, "answers were lost");
  // --lockstep: one message in flight; each read is one message; every answer comes.
  const lockstep = await pudp(
    ["frame", "client", "--lockstep", "127.0.0.1", String(server.port)],
    input,
  );
  const out = await server.stop();
  assert.equal(lockstep.code, 0, lockstep.stderr);
  assert.equal(lockstep.stdout, lines.map((l) => l.slice(10) + "\n").join(""));
  assert.match(out.stdout, /read \d+ bytes, answered 1 message/);
});

Deno.test("interop frame: --verbose shows the first bytes of an answer that is not a frame message", async () => {
  // A pipe model that greets is a foreign server to a frame client: its banner is not a frame.
  const server = await model("pipe-server", ["--greet", "HELLO from a\x1b[31m foreign server\n"]);
  const client = await pudp(
    ["frame", "client", "--verbose", "--max-message", "1000", "127.0.0.1", String(server.port)],
    "0123456789hi\n",
  );
  await server.stop();
  assert.equal(client.code, 1);
  assert.match(client.stderr, /bad answer from 127\.0\.0\.1:\d+: message of \d+ bytes exceeds/);
  assert.match(
    client.stderr,
    /answered not a frame message: 'HELLO from a\\x1b\[31m foreign server'… \(33 bytes\)/,
  );
});

Deno.test("interop pipe: a server that never closes: --timeout gives up, saying the bytes sent", async () => {
  const server = await model("pipe-server", ["--greet", "220 ready\r\n"]);
  const started = performance.now();
  const client = await pudp(
    ["pipe", "client", "--verbose", "--timeout", "0.5", "127.0.0.1", String(server.port)],
    "some bytes\n",
  );
  const ms = performance.now() - started;
  const out = await server.stop();
  assert.equal(client.code, 1);
  assert.match(
    client.stderr,
    /sent 11 bytes, but server 127\.0\.0\.1:\d+ did not close within 0\.5 s after EOF \(--timeout\)/,
  );
  assert.match(client.stderr, /sent bytes a pipe server does not send: '220 ready\\x0d\\x0a'/);
  assert.ok(ms < 10_000, `gave up after ${ms.toFixed(0)} ms`);
  assert.equal(out.stdout, "some bytes\n", "the model got them, but never said so");
});
