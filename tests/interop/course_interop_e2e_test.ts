/**
 * pudp against course-style PUDP peers (tests/interop/course_peers.py, a
 * model of the course's reference client and server written from the
 * handout and the behaviours issue 14 reports; see its header): each row of
 * the README's interoperability table is checked here, over loopback.
 */

import assert from "node:assert/strict";
import {
  ROOT_DIR,
  runClient,
  sessionLines,
  spawnCli,
  startServer,
  stopServer,
} from "../helpers/cli.ts";

const PEERS = `${ROOT_DIR}tests/interop/course_peers.py`;

/** Runs the course-style client to completion with `input` on stdin. */
async function courseClient(port: number, input: string, args: string[] = []) {
  const child = new Deno.Command("python3", {
    args: [PEERS, "client", "127.0.0.1", String(port), ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = child.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  const out = await child.output();
  clearTimeout(timer);
  return { code: out.code, stderr: new TextDecoder().decode(out.stderr) };
}

/** Starts the course-style server; returns its port and a stop() that gives its stdout. */
async function courseServer(args: string[] = []) {
  const child = new Deno.Command("python3", {
    args: [PEERS, "server", "0", ...args],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = new Response(child.stdout).text();
  const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let err = "";
  while (!/listening on \S+:\d+\n/.test(err)) {
    const { value, done } = await reader.read();
    assert.ok(!done, `course server did not start: ${err}`);
    err += value;
  }
  reader.releaseLock();
  const port = Number(err.match(/listening on \S+:(\d+)\n/)![1]);
  const stdin = child.stdin.getWriter();
  return {
    port,
    async stop(): Promise<string> {
      await stdin.close();
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const status = await child.status;
      clearTimeout(timer);
      assert.equal(status.code, 0);
      await child.stderr.cancel().catch(() => {});
      return await stdout;
    },
  };
}

Deno.test("interop: a course client's lines (sent with their \\n, unpaced) print once each, no empty lines", async () => {
  const server = await startServer();
  await using _ = server.process;
  // 100 lines: an unpaced burst that fits the server's socket buffer (about
  // 256 small datagrams), so nothing is lost before pudp sees it.
  const N = 100;
  const input = Array.from({ length: N }, (_, i) => `course ${i}\n`).join("");
  const client = await courseClient(server.port, input);
  assert.equal(client.code, 0, client.stderr);
  const out = await stopServer(server);
  const id = out.stdout.match(/^(0x[0-9a-f]{8}) \[0\] Session created$/m)![1];
  const lines = sessionLines(out.stdout, id);
  assert.ok(!lines.some((l) => /^\[\d+\] $/.test(l)), "no empty line after each line");
  const data = lines.filter((l) => l.includes("] course "));
  const lost = lines.filter((l) => l.endsWith("Lost packet!")).length;
  assert.equal(data.length + lost, N, "every line printed or reported lost");
  for (const l of data) {
    const [, seq, n] = l.match(/^\[(\d+)\] course (\d+)$/)!;
    assert.equal(Number(seq), Number(n) + 1);
  }
  assert.equal(lines.at(-2), `[${N + 1}] GOODBYE from client.`);
});

Deno.test("interop: a course client that sends GOODBYE (seq 0) before HELLO (seq 1) holds no session open", async () => {
  const server = await startServer();
  await using _ = server.process;
  const client = await courseClient(server.port, "one\n", ["--goodbye-first", "--timeout", "0.5"]);
  assert.equal(client.code, 1, "nothing answers its GOODBYE");
  const out = await stopServer(server);
  assert.equal(out.stdout, "");
  assert.match(out.stderr, /pudp server: 0 sessions, 0 messages, .* 4 dropped datagrams/);
});

Deno.test("interop: pudp client --keep-newlines to a course server (prints with end=''): separate lines", async () => {
  const server = await courseServer();
  const client = await runClient(server.port, "alpha\nbeta\n", ["--keep-newlines"]);
  assert.equal(client.code, 0, client.stderr);
  const out = await server.stop();
  const lines = out.split("\n").filter((l) => / \[\d\] /.test(l)).map((l) => l.slice(11));
  assert.deepEqual(lines, [
    "[0] Session created",
    "[1] alpha",
    "[2] beta",
    "[3] GOODBYE from client.",
  ]);
});

Deno.test("interop: --max-payload 1460 gets a long line past a course server's 1460-byte buffer whole", async () => {
  const long = "abcdefghij".repeat(400); // 4000 bytes
  for (const [args, whole] of [[[], false], [["--max-payload", "1460"], true]] as const) {
    const server = await courseServer(["--bufsize", "1472"]); // 1460 of payload after the header
    const client = await runClient(server.port, long + "\n", ["--keep-newlines", ...args]);
    assert.equal(client.code, 0, client.stderr);
    const out = await server.stop();
    const received = [...out.matchAll(/0x[0-9a-f]{8} \[\d+\] (?!Session|GOODBYE)([a-j]*\n?)/g)]
      .map((m) => m[1]).join("");
    if (whole) assert.equal(received, long + "\n");
    else assert.equal(received, long.slice(0, 1460), "truncated by the course server");
  }
});

Deno.test("interop: --max-payload 1460 never cuts a character: a strict-decoding course server gets 1,000 × 日 whole", async () => {
  // Two course servers decode each payload as strict UTF-8 and die on a
  // piece cut inside a character (1460 is not a multiple of 3).
  const long = "日".repeat(1000); // 3,000 bytes
  const server = await courseServer(["--bufsize", "1472", "--strict-decode"]);
  const client = await runClient(server.port, long + "\nafter\n", [
    "--keep-newlines",
    "--max-payload",
    "1460",
  ]);
  assert.equal(client.code, 0, client.stderr);
  const out = await server.stop(); // exit 0: it never hit a UnicodeDecodeError
  // Pieces print with end='': each piece's prefix follows the last piece's text.
  const received = out.split(/0x[0-9a-f]{8} \[\d+\] /).slice(1)
    .filter((piece) => !/^(Session created|GOODBYE from client)/.test(piece))
    .join("").replace(/0x[0-9a-f]{8} Session closed\n$/, "");
  assert.equal(received, long + "\nafter\n", "the line and the next one, whole");
});

Deno.test("interop: --magic 0xC461 talks to P0P peers both ways", async () => {
  const server = await startServer(["--magic", "0xC461"]);
  await using _ = server.process;
  const client = await courseClient(server.port, "p0p\n", ["--magic", "0xC461"]);
  assert.equal(client.code, 0, client.stderr);
  const out = await stopServer(server);
  assert.match(out.stdout, /^0x[0-9a-f]{8} \[1\] p0p$/m);
  const course = await courseServer(["--magic", "0xC461"]);
  const ours = await runClient(course.port, "p0p\n", ["--magic", "0xC461", "--keep-newlines"]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.match(await course.stop(), /^0x[0-9a-f]{8} \[1\] p0p$/m);
});

Deno.test("interop: a course server's session timeout ends an idle pudp client: server closed the session", async () => {
  const server = await courseServer(["--timeout", "0.5"]); // the course's 5 s, shortened
  await using client = spawnCli(
    ["client", "--keep-newlines", "127.0.0.1", String(server.port)],
    "piped",
  );
  await client.write("typed by hand\n");
  const result = await client.exit(10_000); // no more input: idle past the server's timeout
  assert.equal(result.code, 1);
  assert.match(result.stderr, /server closed the session/);
  assert.match(await server.stop(), /\[1\] typed by hand\n0x[0-9a-f]{8} Session closed\n/);
});

Deno.test("interop: --magic 0xE86D --wire-version 2 talks to peers of that variant both ways", async () => {
  const variant = ["--magic", "0xE86D", "--wire-version", "2"];
  const server = await startServer(variant);
  await using _ = server.process;
  const client = await courseClient(server.port, "v2\n", variant);
  assert.equal(client.code, 0, client.stderr);
  const out = await stopServer(server);
  assert.match(out.stdout, /^0x[0-9a-f]{8} \[1\] v2$/m);
  const course = await courseServer(variant);
  const ours = await runClient(course.port, "v2\n", [...variant, "--keep-newlines"]);
  assert.equal(ours.code, 0, ours.stderr);
  assert.match(await course.stop(), /^0x[0-9a-f]{8} \[1\] v2$/m);
});

Deno.test("interop: a pudp server without the flags names the variant a course peer speaks, once", async () => {
  const server = await startServer();
  await using _ = server.process;
  const client = await courseClient(server.port, "a\nb\nc\n", [
    "--magic",
    "0xE86D",
    "--wire-version",
    "2",
    "--timeout",
    "0.5",
  ]);
  assert.equal(client.code, 1, "nothing answers it");
  const out = await stopServer(server);
  const hints = out.stderr.split("\n").filter((l) => l.includes("looks like"));
  assert.equal(hints.length, 1, out.stderr);
  assert.match(
    hints[0],
    /looks like PUDP v2 \(magic 0xE86D, version 2\): try --magic 0xE86D --wire-version 2$/,
  );
});
