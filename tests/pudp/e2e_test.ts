/**
 * End-to-end: the real `pudp server` and `pudp client` processes on loopback.
 */

import assert from "node:assert/strict";
import {
  createdSessions,
  runClient,
  sessionLines,
  spawnCli,
  startServer,
  stopServer,
} from "../helpers/cli.ts";
import { Command, decode, encode, MAX_PAYLOAD } from "../../lib/pudp/wire.ts";

Deno.test("e2e: a 10,000-line file arrives complete, each line once, in order", async () => {
  const server = await startServer();
  await using _ = server.process;
  const lines = Array.from({ length: 10_000 }, (_, i) => `line ${i} ${"x".repeat(i % 70)}`);
  // A long --timeout: the client must exit on the server's GOODBYE, not on its timer.
  const client = await runClient(server.port, lines.join("\n") + "\n", ["--timeout", "60"]);
  assert.equal(client.code, 0, client.stderr);
  assert.ok(client.ms < 30_000, `client took ${client.ms.toFixed(0)} ms: GOODBYE reply missed?`);
  const out = await stopServer(server);
  const [id] = createdSessions(out.stdout);
  const got = sessionLines(out.stdout, id);
  assert.equal(got[0], "[0] Session created");
  assert.deepEqual(got.slice(1, 10_001), lines.map((l, i) => `[${i + 1}] ${l}`));
  assert.deepEqual(got.slice(10_001), ["[10001] GOODBYE from client.", "Session closed"]);
  assert.match(
    out.stderr,
    /pudp server: 1 sessions, 10002 messages, 0 lost, 0 duplicates, 0 dropped datagrams/,
  );
});

Deno.test("e2e: three clients at once, each session complete and in order", async () => {
  const server = await startServer();
  await using _ = server.process;
  const inputs = [0, 1, 2].map((c) =>
    Array.from({ length: 2000 }, (_, i) => `client ${c} line ${i}`)
  );
  const results = await Promise.all(
    inputs.map((lines) => runClient(server.port, lines.join("\n") + "\n")),
  );
  for (const r of results) assert.equal(r.code, 0, r.stderr);
  const out = await stopServer(server);
  const ids = createdSessions(out.stdout);
  assert.equal(ids.length, 3);
  const byClient = new Map<string, string[]>();
  for (const id of ids) {
    const data = sessionLines(out.stdout, id).filter((l) => /^\[\d+\] client /.test(l));
    const client = data[0].match(/client (\d)/)![1];
    byClient.set(client, data);
  }
  for (const [c, lines] of inputs.entries()) {
    assert.deepEqual(byClient.get(String(c)), lines.map((l, i) => `[${i + 1}] ${l}`));
  }
});

Deno.test("e2e: lines of 0 bytes, UTF-8, exactly the largest payload, and longer (split, warned)", async () => {
  const server = await startServer();
  await using _ = server.process;
  const exact = "a".repeat(MAX_PAYLOAD);
  const long = "b".repeat(MAX_PAYLOAD) + "c".repeat(10);
  const input = ["", "héllo wörld ✓ 日本語 🙂", exact, long, "crlf"].join("\n") + "\r\n";
  const client = await runClient(server.port, input);
  assert.equal(client.code, 0, client.stderr);
  assert.equal(client.stderr.trim().split("\n").length, 1, client.stderr);
  assert.match(
    client.stderr,
    /warning: line 4 is 65505 bytes, more than 65495: sent as 2 DATA messages/,
  );
  const out = await stopServer(server);
  const [id] = createdSessions(out.stdout);
  assert.deepEqual(sessionLines(out.stdout, id).slice(1, 7), [
    "[1] ",
    "[2] héllo wörld ✓ 日本語 🙂",
    `[3] ${exact}`,
    `[4] ${"b".repeat(MAX_PAYLOAD)}`,
    `[5] ${"c".repeat(10)}`,
    "[6] crlf",
  ]);
});

Deno.test("e2e: a q line from a pipe is data; a last line without newline is sent", async () => {
  const server = await startServer();
  await using _ = server.process;
  const client = await runClient(server.port, "q\nafter q\nno newline");
  assert.equal(client.code, 0, client.stderr);
  const out = await stopServer(server);
  const [id] = createdSessions(out.stdout);
  assert.deepEqual(sessionLines(out.stdout, id).slice(1, 4), [
    "[1] q",
    "[2] after q",
    "[3] no newline",
  ]);
});

Deno.test("e2e: output is line-complete and prompt: a line shows while the session is open", async () => {
  const server = await startServer();
  await using _ = server.process;
  await using client = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await client.write("first\n");
  await server.process.stdout.waitFor((t) => / \[1\] first\n/.test(t), 5000, "first line");
  await client.write("sec");
  await new Promise((r) => setTimeout(r, 100));
  await client.write("ond\n");
  await server.process.stdout.waitFor((t) => / \[2\] second\n/.test(t), 5000, "second line");
  assert.ok(!server.process.stdout.text.includes("sec\n"), "a line is never split");
  await client.closeStdin();
  assert.equal((await client.exit()).code, 0);
});

Deno.test("e2e: a client against a silent UDP socket exits 1 within timeout + 1 s", async () => {
  const silent = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (silent.addr as Deno.NetAddr).port;
  await using client = spawnCli(["client", "--timeout", "1", "127.0.0.1", String(port)], "piped");
  await client.write("never answered\n"); // stdin stays open: the worker is blocked in a read
  const out = await client.exit(10_000);
  silent.close();
  assert.equal(out.code, 1);
  assert.equal(out.stderr, `pudp client: no answer from 127.0.0.1:${port}\n`);
  assert.ok(out.ms < 2000, `exited after ${out.ms.toFixed(0)} ms`);
});

Deno.test(
  "e2e: a server that answers HELLO and then nothing: the client exits 1, end not confirmed",
  async () => {
    // A server that crashed after the HELLO: 3 lines, no ALIVE, no GOODBYE.
    const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    const port = (socket.addr as Deno.NetAddr).port;
    const answering = (async () => {
      for (let n = 0; n < 1_000; n++) {
        const [data, from] = await socket.receive().catch(() => [undefined, undefined]);
        if (!data || !from) return;
        const m = decode(data);
        if (m.command !== Command.HELLO) continue;
        const hello = encode({
          command: Command.HELLO,
          seq: 0,
          sessionId: m.sessionId,
          payload: new Uint8Array(),
        });
        await socket.send(hello, from);
      }
    })();
    const out = await runClient(port, "one\ntwo\nthree\n", ["--timeout", "1"]);
    socket.close();
    await answering;
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      "pudp client: end not confirmed: 3 DATA sent, 0 ALIVE received, no GOODBYE\n",
    );
  },
);

Deno.test("e2e: SIGTERM to a server with open sessions: clients exit 1, server exits 0", async () => {
  const server = await startServer();
  await using _ = server.process;
  await using a = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await using b = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await a.write("from a\n");
  await b.write("from b\n");
  await server.process.stdout.waitFor(
    (t) => t.includes("] from a\n") && t.includes("] from b\n"),
    10_000,
    "both clients' lines",
  );
  server.process.kill("SIGTERM");
  const s = await server.process.exit();
  assert.equal(s.code, 0);
  assert.equal(s.stdout.match(/ Session closed\n/g)?.length, 2);
  assert.match(s.stderr, /2 sessions, 4 messages, 0 lost/);
  for (const c of [a, b]) {
    const out = await c.exit(5000); // stdin still open: the process must end anyway
    assert.equal(out.code, 1);
    assert.equal(out.stderr, "pudp client: server closed the session\n");
  }
});

Deno.test("e2e: SIGINT stops the server like SIGTERM", async () => {
  const server = await startServer(["--no-stdin"]);
  await using _ = server.process;
  server.process.kill("SIGINT");
  const s = await server.process.exit();
  assert.equal(s.code, 0);
  assert.match(s.stderr, /pudp server: 0 sessions/);
});

Deno.test("e2e: EOF on the server's stdin says GOODBYE to every session and exits 0", async () => {
  const server = await startServer();
  await using _ = server.process;
  await using client = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await client.write("hi\n");
  await server.process.stdout.waitFor((t) => t.includes("] hi\n"), 10_000, "line");
  const s = await stopServer(server);
  assert.match(s.stdout, /0x[0-9a-f]{8} Session closed\n$/);
  const c = await client.exit(5000);
  assert.equal(c.code, 1);
  assert.match(c.stderr, /server closed the session/);
});

Deno.test("e2e: --no-stdin keeps a server running with stdin at EOF", async () => {
  await using server = spawnCli(["server", "--no-stdin", "--host", "127.0.0.1", "0"], "null");
  await server.stderr.waitFor(
    (t) => /listening on 127\.0\.0\.1:\d+\n/.test(t),
    15_000,
    "listening",
  );
  const port = Number(server.stderr.text.match(/:(\d+)\n/)![1]);
  const client = await runClient(port, "still here\n");
  assert.equal(client.code, 0, client.stderr);
  await server.stdout.waitFor((t) => t.includes("] still here\n"), 5000, "line");
  server.kill("SIGTERM");
  assert.equal((await server.exit()).code, 0);
});

Deno.test("e2e: a silent session times out: server says GOODBYE, the client exits 1", async () => {
  const server = await startServer(["--timeout", "0.5"]);
  await using _ = server.process;
  await using client = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await client.write("then silence\n");
  const c = await client.exit(10_000);
  assert.equal(c.code, 1);
  assert.equal(c.stderr, "pudp client: server closed the session\n");
  await server.process.stdout.waitFor((t) => / Session closed\n/.test(t), 5000, "closed line");
});

Deno.test("e2e: --magic 0xC461 on both ends works; a mismatched magic never connects", async () => {
  const server = await startServer(["--magic", "0xC461"]);
  await using _ = server.process;
  const ok = await runClient(server.port, "p0p\n", ["--magic", "0xC461"]);
  assert.equal(ok.code, 0, ok.stderr);
  const bad = await runClient(server.port, "pudp\n", ["--timeout", "1"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /no answer from/);
  const out = await stopServer(server);
  assert.equal(createdSessions(out.stdout).length, 1);
  assert.match(out.stdout, /\] p0p\n/);
  assert.doesNotMatch(out.stdout, /pudp\n/);
  assert.match(out.stderr, /[1-9]\d* dropped datagrams/);
});

Deno.test("e2e: IPv6 loopback and host names work", async () => {
  await using server = spawnCli(["server", "--host", "::1", "0"], "piped");
  await server.stderr.waitFor((t) => /listening on \[::1\]:\d+\n/.test(t), 15_000, "listening");
  const port = Number(server.stderr.text.match(/:(\d+)\n/)![1]);
  const v6 = await runClient(port, "over v6\n", [], undefined, "::1");
  assert.equal(v6.code, 0, v6.stderr);
  const name = await runClient(port, "by name\n", [], undefined, "ip6-localhost");
  const byName = name.code === 0; // not every /etc/hosts names ::1
  await server.closeStdin();
  const out = await server.exit();
  assert.match(out.stdout, /\] over v6\n/);
  if (byName) assert.match(out.stdout, /\] by name\n/);
});

Deno.test("e2e: --keep-newlines sends each line with its ending; the server prints it once, --json keeps the bytes", async () => {
  const input = "course\nwindows\r\n\nlast";
  const text = await startServer();
  const json = await startServer(["--json"]);
  await using _t = text.process;
  await using _j = json.process;
  for (const server of [text, json]) {
    const client = await runClient(server.port, input, ["--keep-newlines"]);
    assert.equal(client.code, 0, client.stderr);
  }
  const out = await stopServer(text);
  const [id] = createdSessions(out.stdout);
  // No empty line after each line: the payload's own \n ends the printed line.
  assert.deepEqual(sessionLines(out.stdout, id).slice(1, 6), [
    "[1] course",
    "[2] windows\r",
    "[3] ",
    "[4] last",
    "[5] GOODBYE from client.",
  ]);
  const events = (await stopServer(json)).stdout.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(
    events.filter((e) => e.event === "data").map((e) => e.text),
    ["course\n", "windows\r\n", "\n", "last"],
  );
});

Deno.test("e2e: --max-payload N splits longer lines into N-byte messages, with a warning", async () => {
  const server = await startServer();
  await using _ = server.process;
  const client = await runClient(server.port, "abcdefghij\nabcd\n", ["--max-payload", "4"]);
  assert.equal(client.code, 0, client.stderr);
  assert.match(client.stderr, /warning: line 1 is 10 bytes, more than 4: sent as 3 DATA messages/);
  const kept = await runClient(server.port, "abcd\n", ["--max-payload", "4", "--keep-newlines"]);
  assert.equal(kept.code, 0, kept.stderr);
  assert.match(kept.stderr, /warning: line 1 is 5 bytes, more than 4: sent as 2 DATA messages/);
  const out = await stopServer(server);
  const [first, second] = createdSessions(out.stdout);
  assert.deepEqual(sessionLines(out.stdout, first).slice(1, 5), [
    "[1] abcd",
    "[2] efgh",
    "[3] ij",
    "[4] abcd",
  ]);
  // With --keep-newlines the ending goes with the end of the line, never alone.
  assert.deepEqual(sessionLines(out.stdout, second).slice(1, 3), ["[1] abc", "[2] d"]);
  for (const bad of ["0", "65496", "x"]) {
    const r = await runClient(server.port, "", ["--max-payload", bad]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /^pudp client: bad --max-payload/);
  }
});

Deno.test("e2e: --max-payload never cuts a UTF-8 character: every DATA is text, joined they are the line", async () => {
  // What crashed course servers (UnicodeDecodeError): 1,000 × 日 (3 bytes) cut at byte 1460.
  const server = await startServer(["--json"]);
  await using _ = server.process;
  const line = "日".repeat(1000);
  for (const args of [[], ["--keep-newlines"]]) {
    const client = await runClient(server.port, line + "\r\n", ["--max-payload", "1460", ...args]);
    assert.equal(client.code, 0, client.stderr);
    assert.match(client.stderr, /warning: line 1 is 300\d bytes, more than 1460: sent as 3 DATA/);
  }
  await server.process.stdout.waitFor(
    (t) => t.split('"closed"').length === 3,
    5_000,
    "both sessions closed",
  );
  const out = await stopServer(server);
  const events = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  const sessions = [...new Set(events.map((e) => e.session))];
  assert.equal(sessions.length, 2);
  for (const [i, session] of sessions.entries()) {
    const data = events.filter((e) => e.session === session && e.event === "data");
    assert.equal(data.length, 3);
    for (const d of data) {
      assert.equal(
        d.base64,
        undefined,
        `a DATA payload that is not UTF-8: ${d.base64?.slice(-16)}`,
      );
      assert.ok(new TextEncoder().encode(d.text).length <= 1460);
    }
    assert.equal(data.map((d) => d.text).join(""), i === 0 ? line : line + "\r\n");
  }
});

Deno.test("e2e: --verbose says why each session closed; the summary counts closes by reason", async () => {
  const server = await startServer(["--verbose", "--timeout", "1"]);
  await using _ = server.process;
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: server.port };
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const send = (command: number, seq: number, sessionId: number) =>
      socket.send(encode({ command, seq, sessionId, payload: new Uint8Array() }), to);
    await send(Command.HELLO, 0, 0x11); // left silent: it times out
    await send(Command.HELLO, 0, 0x33); // likewise
    await send(Command.HELLO, 0, 0x22);
    await send(Command.DATA, 5, 0x22);
    await send(Command.DATA, 3, 0x22); // older than the last: protocol error
    const client = await runClient(server.port, "fine\n");
    assert.equal(client.code, 0, client.stderr);
    await server.process.stderr.waitFor(
      (t) => t.split("(timeout)").length === 3,
      10_000,
      "two timeouts",
    );
    await send(Command.HELLO, 0, 0x44); // open at shutdown
    await server.process.stdout.waitFor((t) => t.includes("0x00000044 [0] Session"), 5_000, "44");
    const out = await stopServer(server);
    const reasons = [
      ...out.stderr.matchAll(/^pudp server: (0x[0-9a-f]{8}) closed \((.+)\), client \S+$/gm),
    ]
      .map((m) => `${m[1]} ${m[2]}`).sort();
    assert.equal(reasons.length, 5, out.stderr);
    assert.deepEqual(reasons.filter((r) => !r.includes("goodbye")), [
      "0x00000011 timeout",
      "0x00000022 protocol error: seq 3 after 5",
      "0x00000033 timeout",
      "0x00000044 shutdown",
    ]);
    assert.match(
      out.stderr,
      /closed: 1 goodbye, 2 timeout, 1 protocol error, 0 evicted, 1 shutdown\n/,
    );
    // stdout stays the documented text: no reasons there.
    assert.doesNotMatch(out.stdout, /timeout|protocol error/);
  } finally {
    socket.close();
  }
});

Deno.test("e2e: --bind sends from the given local address; one the machine lacks is a one-line error", async () => {
  const server = await startServer(["--verbose"]);
  await using _ = server.process;
  const out = await runClient(server.port, "from .5\n", ["--bind", "127.0.0.5"]);
  assert.equal(out.code, 0, out.stderr);
  const s = await stopServer(server);
  assert.match(s.stderr, /closed \(goodbye\), client 127\.0\.0\.5:\d+\n/);

  const bad = await runClient(server.port, "x\n", ["--bind", "192.0.2.77"]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /^pudp client: cannot open a UDP socket on 192\.0\.2\.77: [^\n]+\n$/);
});

Deno.test("e2e: a repeated GOODBYE (its reply lost) gets the same GOODBYE again; the session closes once", async () => {
  const server = await startServer(["--timeout", "60"]);
  await using _ = server.process;
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: server.port };
    const id = 0x5eed600d;
    /** Sends a message and waits (bounded) for the server's answer. */
    const ask = async (command: number, seq: number): Promise<Uint8Array> => {
      await socket.send(encode({ command, seq, sessionId: id, payload: new Uint8Array() }), to);
      let timer: ReturnType<typeof setTimeout> | undefined;
      const timeout = new Promise<never>((_, reject) =>
        timer = setTimeout(() => reject(new Error(`no answer to command ${command}`)), 5_000)
      );
      try {
        const [reply] = await Promise.race([socket.receive(new Uint8Array(100)), timeout]);
        return reply;
      } finally {
        clearTimeout(timer);
      }
    };
    assert.equal((await ask(Command.HELLO, 0))[3], Command.HELLO);
    const first = await ask(Command.GOODBYE, 1);
    assert.equal(first[3], Command.GOODBYE);
    const again = await ask(Command.GOODBYE, 1);
    assert.deepEqual(again, first, "the same 12-byte GOODBYE reply");
  } finally {
    socket.close();
  }
  const out = await stopServer(server);
  assert.deepEqual(sessionLines(out.stdout, "0x5eed600d"), [
    "[0] Session created",
    "[1] GOODBYE from client.",
    "Session closed",
  ]);
  // The repeat is a message (answered), not a drop; the session closed once, by GOODBYE.
  assert.match(
    out.stderr,
    /1 sessions, 3 messages, 0 lost, 0 duplicates, 0 dropped datagrams; closed: 1 goodbye, 0 timeout/,
  );
});
