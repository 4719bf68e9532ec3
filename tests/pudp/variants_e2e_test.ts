/**
 * Other PUDP variants, end to end on loopback: a client or server that speaks
 * another magic or version is named on stderr once, with the flags that would
 * talk to it (`--json`: the `dropped` event's hint); `--verbose` says why the
 * server dropped what it dropped, once per client and reason; `--magic
 * 0xE86D --wire-version 2` on both ends talks. Every process is stopped by
 * its pid (the helpers' `await using`), every wait is bounded.
 */

import assert from "node:assert/strict";
import { Command, encode, P0P_MAGIC } from "../../lib/pudp/wire.ts";
import { runClient, spawnCli, startServer, stopServer } from "../helpers/cli.ts";

const LOCAL = { hostname: "127.0.0.1", transport: "udp" } as const;

/** A datagram of `magic` and `version`. */
function datagram(command: number, seq: number, magic: number, version = 1): Uint8Array {
  const payload = new TextEncoder().encode(command === Command.DATA ? "x" : "");
  return encode({ command, seq, sessionId: 0xfeed, payload }, magic, version);
}

/** Sends `datagrams` from a new socket to `port` on loopback, then closes it. */
async function sendFrom(port: number, datagrams: Uint8Array[]): Promise<number> {
  const socket = Deno.listenDatagram({ ...LOCAL, port: 0 });
  try {
    for (const d of datagrams) await socket.send(d, { ...LOCAL, port });
    return (socket.addr as Deno.NetAddr).port;
  } finally {
    socket.close();
  }
}

/** Lines of `text` that contain `part`. */
function linesWith(text: string, part: string): string[] {
  return text.split("\n").filter((l) => l.includes(part));
}

Deno.test("variants: P0P and version-2 datagrams get a hint on stderr, once per client", async () => {
  const server = await startServer();
  await using _ = server.process;
  const p0p = await sendFrom(server.port, Array(5).fill(datagram(Command.HELLO, 0, P0P_MAGIC)));
  const v2 = await sendFrom(server.port, Array(3).fill(datagram(Command.HELLO, 0, 0xc356, 2)));
  // A valid HELLO last: the server reads its socket in order, so once this session is printed
  // every datagram before it has been judged.
  await sendFrom(server.port, [datagram(Command.HELLO, 0, 0xc356)]);
  await server.process.stdout.waitFor((t) => t.includes("Session created"), 10_000, "the HELLO");
  await server.process.stderr.waitFor(
    (t) => t.includes("try --magic 0xC461") && t.includes("try --wire-version 2"),
    10_000,
    "both hints",
  );
  const out = await stopServer(server);
  assert.deepEqual(linesWith(out.stderr, "looks like"), [
    `pudp server: dropped from 127.0.0.1:${p0p}: other magic: ` +
    "looks like P0P (magic 0xC461): try --magic 0xC461",
    `pudp server: dropped from 127.0.0.1:${v2}: other version: ` +
    "looks like PUDP (version 2): try --wire-version 2",
  ]);
  assert.match(out.stdout, /^0x0000feed \[0\] Session created\n/);
  assert.match(out.stderr, /: 1 sessions, .*, 8 dropped datagrams;/);
});

Deno.test("variants: --json carries the hint in the first dropped event of the client", async () => {
  const server = await startServer(["--json"]);
  await using _ = server.process;
  await sendFrom(server.port, Array(4).fill(datagram(Command.HELLO, 0, P0P_MAGIC)));
  await server.process.stdout.waitFor(
    (t) => t.split("\n").length > 4,
    10_000,
    "four dropped events",
  );
  const out = await stopServer(server);
  const events = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(events.map(({ time: _t, peer: _p, ...rest }) => rest), [
    {
      event: "dropped",
      reason: "other magic",
      hint: "looks like P0P (magic 0xC461): try --magic 0xC461",
    },
    { event: "dropped", reason: "other magic" },
    { event: "dropped", reason: "other magic" },
    { event: "dropped", reason: "other magic" },
  ]);
  assert.equal(linesWith(out.stderr, "looks like P0P").length, 1, "stderr says it too");
});

Deno.test("variants: --verbose says why each kind of drop happened, once per client", async () => {
  const server = await startServer(["--verbose"]);
  await using _ = server.process;
  const noise = new TextEncoder().encode("not a pudp datagram at all");
  const from = await sendFrom(server.port, [
    ...Array(5).fill(datagram(Command.DATA, 3, 0xc356)), // unknown session
    ...Array(5).fill(noise),
  ]);
  await server.process.stderr.waitFor(
    (t) => t.includes("not PUDP"),
    10_000,
    "the not-PUDP line",
  );
  const out = await stopServer(server);
  assert.deepEqual(linesWith(out.stderr, "dropped from"), [
    `pudp server: dropped from 127.0.0.1:${from}: unknown session 0x0000feed`,
    `pudp server: dropped from 127.0.0.1:${from}: not PUDP`,
  ]);
  assert.match(out.stderr, /, 10 dropped datagrams;/);
  // Without --verbose, only hints about other variants are said.
  const quiet = await startServer();
  await using __ = quiet.process;
  // The HELLO after them, from the same socket, arrives after them.
  await sendFrom(quiet.port, [datagram(Command.DATA, 3, 0xc356), noise, datagram(0, 0, 0xc356)]);
  await quiet.process.stdout.waitFor((t) => t.includes("Session created"), 10_000, "the HELLO");
  const quietOut = await stopServer(quiet);
  assert.deepEqual(linesWith(quietOut.stderr, "dropped from"), []);
  assert.match(quietOut.stderr, /, 2 dropped datagrams;/);
});

Deno.test("variants: --magic 0xE86D --wire-version 2 on both ends talks; a v1 client gets the hint", async () => {
  const flags = ["--magic", "0xE86D", "--wire-version", "2"];
  const server = await startServer(flags);
  await using _ = server.process;
  const ok = await runClient(server.port, "over v2\n", flags);
  assert.equal(ok.code, 0, ok.stderr);
  const v1 = await runClient(server.port, "v1\n", ["--timeout", "1"]);
  assert.equal(v1.code, 1);
  assert.match(v1.stderr, /no answer from 127\.0\.0\.1:\d+/);
  const out = await stopServer(server);
  assert.match(out.stdout, /^0x[0-9a-f]{8} \[1\] over v2$/m);
  assert.equal(
    linesWith(out.stderr, "looks like").map((l) => l.replace(/^.*: other magic: /, "")).join(),
    "looks like the handout's PUDP (magic 0xC356, version 1): try --magic 0xC356 --wire-version 1",
  );
});

Deno.test("variants: a server answering in P0P: the client says so once; --verbose shows its bytes", async () => {
  // A server that answers every datagram in P0P: its own header, magic 0xC461.
  const p0p = Deno.listenDatagram({ ...LOCAL, port: 0 });
  const port = (p0p.addr as Deno.NetAddr).port;
  const answering = (async () => {
    try {
      for (;;) {
        const [data, from] = await p0p.receive();
        const answer = data.slice(0, 12);
        answer[0] = 0xc4;
        answer[1] = 0x61;
        answer[3] = Command.HELLO;
        await p0p.send(answer, from);
      }
    } catch {
      // closed
    }
  })();
  try {
    await using client = spawnCli(
      ["client", "--verbose", "--timeout", "1", "127.0.0.1", String(port)],
      "piped",
    );
    await client.write("hi\n");
    await client.closeStdin();
    const out = await client.exit(15_000);
    assert.equal(out.code, 1);
    assert.deepEqual(linesWith(out.stderr, "looks like"), [
      "pudp client: the server answers in another PUDP: " +
      "looks like P0P (magic 0xC461): try --magic 0xC461",
    ]);
    const bytes = linesWith(out.stderr, "does not decode");
    assert.equal(bytes.length, 1, out.stderr);
    assert.match(bytes[0], /: '\\xc4a\\x01\\x00.*' \(12 bytes\)$/);
    assert.match(out.stderr, /no answer from 127\.0\.0\.1:\d+/);
  } finally {
    p0p.close();
    await answering;
  }
});
