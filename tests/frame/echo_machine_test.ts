/**
 * The frame server machine, pure: answers however the bytes are split,
 * connections that never disturb each other, and every way a connection
 * ends (limit, bad UTF-8, EOF mid-message, reset, shutdown), each told by
 * its `closed` event.
 */

import assert from "node:assert/strict";
import { EventQueue } from "../../lib/events/sink.ts";
import { DEFAULT_FRAME_OPTIONS, FrameEchoServer } from "../../lib/frame/echo_machine.ts";
import type { FrameEvent } from "../../lib/frame/events.ts";
import { encodeMessage, HEADER_SIZE } from "../../lib/frame/wire.ts";

const pure = { permissions: "none" } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();
const peer = (port: number) => ({ hostname: "127.0.0.1", port });

function setup(maxMessage = 1000) {
  const events = new EventQueue<FrameEvent>();
  const server = new FrameEchoServer(
    { ...DEFAULT_FRAME_OPTIONS, maxMessage, readSize: 16 },
    events,
  );
  /** Answers written so far to each connection, decoded. */
  const answers = () => {
    const out: Record<number, string[]> = {};
    for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
      const length = new DataView(t.data.buffer).getUint32(0);
      assert.equal(t.data.length, HEADER_SIZE + length);
      (out[t.connection] ??= []).push(decoder.decode(t.data.subarray(HEADER_SIZE)));
    }
    return out;
  };
  const closes = () => {
    const out: number[] = [];
    for (let id = server.pollClose(); id !== undefined; id = server.pollClose()) out.push(id);
    return out;
  };
  return { server, events, answers, closes };
}

const message = (text: string) => encodeMessage(encoder.encode(text));

Deno.test("frame machine: each message answered minus 10 characters, however split", pure, () => {
  const { server, events, answers } = setup();
  server.handleConnect(1, peer(1000), 0);
  const stream = new Uint8Array([
    ...message("Four score and seven years ago"),
    ...message("short"),
    ...message("0123456789ABC"),
  ]);
  for (let i = 0; i < stream.length; i += 7) {
    server.handleStreamBytes(1, stream.subarray(i, i + 7), 0);
  }
  assert.deepEqual(answers(), { 1: [" and seven years ago", "", "ABC"] });
  const kinds = events.drain().map((e) => e.event);
  assert.deepEqual(kinds, ["connected", "message", "message", "message"]);
  assert.equal(server.stats.messages, 3);
});

Deno.test("frame machine: a bad connection ends alone; the others go on", pure, () => {
  const { server, events, answers, closes } = setup(1000);
  for (const id of [1, 2, 3, 4]) server.handleConnect(id, peer(1000 + id), 0);
  events.drain();
  // 2 announces more than --max-message: closed on the header, nothing of it held.
  server.handleStreamBytes(2, new Uint8Array([0, 0, 0x03, 0xe9]), 0);
  // 3 sends bytes that are not UTF-8.
  server.handleStreamBytes(3, encodeMessage(new Uint8Array([0xff, 0xfe, 0x41])), 0);
  // 4 sends a length and nothing else, then goes away.
  server.handleStreamBytes(4, new Uint8Array([0, 0, 0, 50]), 0);
  server.handleStreamEnd(4, 0);
  // 1 is answered in between and after.
  server.handleStreamBytes(1, message("0123456789one"), 0);
  server.handleStreamBytes(2, message("0123456789ignored"), 0); // after its close: ignored
  server.handleStreamBytes(1, message("0123456789two"), 0);
  assert.deepEqual(answers(), { 1: ["one", "two"] });
  assert.deepEqual(closes(), [2, 3, 4]);
  const closed = events.drain().filter((e) => e.event === "closed");
  assert.deepEqual(closed.map((e) => [e.connection, e.reason]), [
    [
      2,
      "protocol error: message of 1001 bytes exceeds the limit of 1000 " +
      "(the bytes there: '\\x00\\x00\\x03\\xe9' (4 bytes))",
    ],
    [3, "protocol error: message is not UTF-8"],
    [4, "peer closed mid-message (4 bytes of it unanswered)"],
  ]);
  assert.equal(server.stats.errors, 2);
});

Deno.test("frame machine: a message of exactly --max-message is answered", pure, () => {
  const { server, answers } = setup(1000);
  server.handleConnect(1, peer(1), 0);
  const text = "x".repeat(1000);
  server.handleStreamBytes(1, message(text), 0);
  assert.deepEqual(answers(), { 1: [text.slice(10)] });
});

Deno.test("frame machine: orderly close, reset and shutdown are each a closed reason", pure, () => {
  const { server, events, closes } = setup();
  for (const id of [1, 2, 3]) server.handleConnect(id, peer(id), 0);
  server.handleStreamBytes(1, message("0123456789a"), 0);
  server.handleStreamEnd(1, 0);
  server.handleStreamGone(2, "peer reset");
  server.shutdown();
  const closed = events.drain().filter((e) => e.event === "closed");
  assert.deepEqual(closed.map((e) => [e.connection, e.reason, e.messages]), [
    [1, "peer closed", 1],
    [2, "peer reset", 0],
    [3, "shutdown", 0],
  ]);
  assert.deepEqual(closes(), [1, 2, 3]);
});
