/**
 * `pudp frame` end to end, as the seed's autograder and a user run it: the
 * real server on 127.0.0.1, driven by the real client and by the
 * {@link FrameSocket} library. The seed's cases (short, medium with
 * --buffer 1024, long, three in series, three back-to-back, a client that
 * leaves and a new one), 100 clients at once, bad clients that disturb
 * nobody, `--json` events, and the client facing a server that closes or
 * resets.
 */

import assert from "node:assert/strict";
import net from "node:net";
import { FrameSocket } from "../../lib/frame/frame_socket.ts";
import { encodeMessage } from "../../lib/frame/wire.ts";
import { spawnCli, startListening } from "../helpers/cli.ts";

const encoder = new TextEncoder();

function startFrame(args: string[] = []) {
  return startListening(["frame", "server", "--host", "127.0.0.1", ...args, "0"]);
}

async function runFrameClient(port: number, input: string, args: string[] = []) {
  await using client = spawnCli(["frame", "client", ...args, "127.0.0.1", String(port)], "piped");
  await client.write(input);
  await client.closeStdin();
  return await client.exit(30_000);
}

/** A text of `n` bytes, all ASCII, that is not the same all along. */
const textOf = (n: number) =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(0x41 + i % 26)).join("");

Deno.test("frame: the client's messages of 32, 1,245 (--buffer 1024) and 650,000 bytes come back minus 10 characters", async () => {
  const server = await startFrame(["--buffer", "1024"]);
  await using _ = server.process;
  for (const size of [32, 1245, 650_000]) {
    const text = textOf(size);
    const out = await runFrameClient(server.port, text + "\n", ["--buffer", "1024"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, text.slice(10) + "\n", `${size} bytes`);
  }
});

Deno.test("frame: three messages in series, three back-to-back, then a new client (library)", async () => {
  const server = await startFrame();
  await using _ = server.process;
  const address = { hostname: "127.0.0.1", port: server.port };
  const first = await FrameSocket.connect(address, { bufferSize: 32 });
  for (const text of ["0123456789 first", "0123456789 second", "0123456789 third"]) {
    await first.sendMessage(text);
    assert.deepEqual(await first.receiveMessage(), { payload: text.slice(10), ok: true });
  }
  for (const text of ["0123456789 one", "0123456789 two", "0123456789 three"]) {
    await first.sendMessage(text);
  }
  const answers = [];
  for (let i = 0; i < 3; i++) answers.push(await first.receiveMessage());
  assert.deepEqual(answers.map((a) => a.payload), [" one", " two", " three"]);
  first.close();
  const second = await FrameSocket.connect(address);
  await second.sendMessage("Four score and seven years ago");
  assert.deepEqual(await second.receiveMessage(), { payload: " and seven years ago", ok: true });
  second.close();
});

Deno.test("frame: 100 clients at once, each gets its own answers", async () => {
  const server = await startFrame();
  await using _ = server.process;
  const address = { hostname: "127.0.0.1", port: server.port };
  const results = await Promise.all(Array.from({ length: 100 }, async (_, i) => {
    const socket = await FrameSocket.connect(address);
    const got = [];
    for (let k = 0; k < 3; k++) {
      await socket.sendMessage(`0123456789${String(i).padStart(3, "0")} message ${k}`);
      got.push((await socket.receiveMessage()).payload);
    }
    socket.close();
    return got;
  }));
  results.forEach((got, i) => {
    assert.deepEqual(got, [0, 1, 2].map((k) => `${String(i).padStart(3, "0")} message ${k}`));
  });
  server.process.kill("SIGINT");
  const out = await server.process.exit(10_000);
  assert.equal(out.code, 0, out.stderr);
  assert.match(out.stderr, /100 connections, 300 messages, 0 protocol errors/);
});

Deno.test("frame: clients that vanish mid-message, send bad UTF-8 or a length alone disturb nobody; --json says why each ended", async () => {
  const server = await startFrame(["--json", "--max-message", "1000"]);
  await using _ = server.process;
  const address = { hostname: "127.0.0.1", port: server.port };
  const good = await FrameSocket.connect(address);
  await good.sendMessage("0123456789before");
  assert.equal((await good.receiveMessage()).payload, "before");

  const raw = async (bytes: Uint8Array, close: boolean) => {
    const conn = await Deno.connect({ ...address, transport: "tcp" });
    await conn.write(bytes);
    if (close) conn.close();
    return conn;
  };
  const full = encodeMessage(encoder.encode("0123456789 lost in the middle"));
  await raw(full.subarray(0, 12), true); // vanishes mid-message
  const badUtf8 = await raw(encodeMessage(new Uint8Array([0xc3, 0x28])), false);
  const lengthAlone = await raw(new Uint8Array([0, 0, 0, 20]), false); // then silence
  const tooLong = await raw(new Uint8Array([0, 0, 0x10, 0]), false); // 4096 > 1000
  // The bad UTF-8 and over-limit connections are closed by the server.
  for (const conn of [badUtf8, tooLong]) {
    assert.equal(await conn.read(new Uint8Array(16)), null);
    conn.close();
  }

  await good.sendMessage("0123456789after");
  assert.equal((await good.receiveMessage()).payload, "after");
  good.close();
  await server.process.stdout.waitFor(
    (t) => (t.match(/"closed"/g) ?? []).length >= 4,
    10_000,
    "closed events",
  );
  lengthAlone.close();
  await server.process.stdout.waitFor(
    (t) => (t.match(/"closed"/g) ?? []).length >= 5,
    10_000,
    "closed events",
  );
  const events = server.process.stdout.lines().map((l) => JSON.parse(l));
  for (const e of events) {
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(e.peer, /^127\.0\.0\.1:\d+$/);
  }
  const messages = events.filter((e) => e.event === "message");
  assert.deepEqual(messages.map((e) => [e.text, e.bytes, e.answer_bytes]), [
    ["0123456789before", 16, 6],
    ["0123456789after", 15, 5],
  ]);
  const reasons = events.filter((e) => e.event === "closed").map((e) => e.reason).sort();
  assert.deepEqual(reasons, [
    "peer closed",
    "peer closed mid-message (12 bytes of it unanswered)",
    "peer closed mid-message (4 bytes of it unanswered)",
    "protocol error: message is not UTF-8",
    "protocol error: message of 4096 bytes exceeds the limit of 1000 " +
    "(the bytes there: '\\x00\\x00\\x10\\x00' (4 bytes))",
  ]);
});

Deno.test("frame client: the server shutting down mid-conversation is exit 1 with one line", async () => {
  const server = await startFrame();
  await using _ = server.process;
  await using client = spawnCli(["frame", "client", "127.0.0.1", String(server.port)], "piped");
  await client.write("0123456789hello\n");
  await client.stdout.waitFor((t) => t === "hello\n", 10_000, "first answer");
  server.process.kill("SIGINT");
  const out = await client.exit(10_000);
  assert.equal(out.code, 1);
  assert.equal(
    out.stderr,
    `pudp frame client: server 127.0.0.1:${server.port} closed the connection\n`,
  );
  assert.equal((await server.process.exit(10_000)).code, 0);
});

Deno.test("frame client: a server that resets the connection is exit 1 with one line", async () => {
  // node:net can send a reset (Deno.Conn cannot); it plays a server that answers once, then resets.
  const listener = net.createServer((socket) => {
    socket.once("data", () => {
      socket.write(encodeMessage(encoder.encode("hi")));
      setTimeout(() => socket.resetAndDestroy(), 100);
    });
  });
  await new Promise<void>((r) => listener.listen(0, "127.0.0.1", r));
  const port = (listener.address() as net.AddressInfo).port;
  try {
    await using client = spawnCli(["frame", "client", "127.0.0.1", String(port)], "piped");
    await client.write("0123456789hello\n");
    const out = await client.exit(10_000);
    assert.equal(out.code, 1);
    assert.equal(out.stdout, "hi\n");
    assert.equal(out.stderr, `pudp frame client: server 127.0.0.1:${port} reset the connection\n`);
  } finally {
    await new Promise((r) => listener.close(r));
  }
});

Deno.test("frame client: nobody listening is exit 1 with one line", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const out = await runFrameClient(port, "x\n");
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    new RegExp(`^pudp frame client: cannot connect to 127\\.0\\.0\\.1:${port}: .+\\n$`),
  );
});
