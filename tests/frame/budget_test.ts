/**
 * The frame server's budget for unfinished messages (`--max-buffered`), as
 * pure machine logic: reads are refused past it, a small new message still
 * goes through, a completed message or a closed connection frees room and
 * wakes the refused, the oldest unfinished message always proceeds (no
 * deadlock); and the receive buffer gives its memory back.
 */

import assert from "node:assert/strict";
import { EventQueue } from "../../lib/events/sink.ts";
import {
  budgetShares,
  DEFAULT_FRAME_OPTIONS,
  FrameEchoServer,
} from "../../lib/frame/echo_machine.ts";
import type { FrameEvent } from "../../lib/frame/events.ts";
import { encodeMessage, frameDecoder, HEADER_SIZE } from "../../lib/frame/wire.ts";
import { NEED_MORE, ReceiveBuffer } from "../../lib/bytes/receive_buffer.ts";

const pure = { permissions: "none" } as const;
const KiB = 1024;
const peer = { hostname: "127.0.0.1", port: 40000 };

/** A budget of 64 KiB read 1 KiB at a time: 48 KiB shared, a 16 KiB reserve, a 16 KiB floor. */
function machine() {
  const events = new EventQueue<FrameEvent>();
  const server = new FrameEchoServer(
    { ...DEFAULT_FRAME_OPTIONS, readSize: KiB, maxBuffered: 64 * KiB },
    events,
  );
  return { server, events };
}

/** A message of `n` ASCII bytes, whole on the wire. */
const message = (n: number) => encodeMessage(new Uint8Array(n).fill(0x41));

function resumed(server: FrameEchoServer): number[] {
  const ids = [];
  for (let id = server.pollResume(); id !== undefined; id = server.pollResume()) ids.push(id);
  return ids;
}

Deno.test("budget: the shares of a budget", pure, () => {
  assert.deepEqual(budgetShares(64 * KiB), { reserve: 16 * KiB, floor: 16 * KiB });
  assert.deepEqual(budgetShares(256 * 1024 * KiB), { reserve: 64 * 1024 * KiB, floor: 64 * KiB });
});

Deno.test(
  "budget: past it reads are refused, a small new message still goes through, a completed message wakes the refused",
  pure,
  () => {
    const { server } = machine();
    const big = message(100 * KiB);
    for (const id of [1, 2, 3]) server.handleConnect(id, peer, 0);
    server.handleStreamBytes(1, big.subarray(0, 30 * KiB), 0); // the oldest unfinished message
    server.handleStreamBytes(2, big.subarray(0, 17.5 * KiB), 0);
    assert.equal(server.buffered, 47.5 * KiB);
    assert.equal(server.mayRead(2), false, "47.5 KiB + a read is past the 48 KiB shared part");
    assert.equal(server.mayRead(1), true, "the oldest unfinished message always proceeds");

    // A new connection with a small message is served out of the reserve.
    assert.equal(server.mayRead(3), true);
    server.handleStreamBytes(3, encodeMessage(new TextEncoder().encode("0123456789small")), 0);
    const answer = server.pollTransmit();
    assert.equal(answer?.connection, 3);
    assert.equal(new TextDecoder().decode(answer.data.subarray(HEADER_SIZE)), "small");
    assert.equal(server.mayRead(3), true);
    assert.deepEqual(resumed(server), [], "nothing freed yet: 2 still waits");
    assert.equal(server.stats.paused, 1);

    // The oldest completes: its bytes are freed and 2 may read again.
    server.handleStreamBytes(1, big.subarray(30 * KiB), 0);
    assert.equal(server.pollTransmit()?.connection, 1);
    assert.equal(server.buffered, 17.5 * KiB);
    assert.deepEqual(resumed(server), [2]);
    assert.equal(server.mayRead(2), true);
    assert.ok(server.stats.peakBuffered <= 64 * KiB);
  },
);

Deno.test(
  "budget: a closed connection frees its room (the closed event says what is left) and wakes the refused",
  pure,
  () => {
    const { server, events } = machine();
    const big = message(100 * KiB);
    for (const id of [1, 2, 3]) server.handleConnect(id, peer, 0);
    server.handleStreamBytes(1, big.subarray(0, 20 * KiB), 0);
    server.handleStreamBytes(2, big.subarray(0, 20 * KiB), 0);
    server.handleStreamBytes(3, big.subarray(0, 20 * KiB), 0); // the machine takes what a read hands in
    assert.equal(server.mayRead(2), false);
    assert.equal(server.mayRead(3), false);
    server.handleStreamEnd(2, 0);
    assert.equal(server.buffered, 40 * KiB);
    assert.deepEqual(resumed(server), [2, 3], "2 is gone (its pause ends), 3 has room");
    server.handleStreamGone(3, "peer reset");
    server.handleStreamEnd(1, 0);
    assert.equal(server.buffered, 0);
    const closed = [...events.drain()].filter((e) => e.event === "closed");
    assert.deepEqual(closed.map((e) => e.event === "closed" && e.buffered), [
      40 * KiB,
      20 * KiB,
      0,
    ]);
  },
);

Deno.test(
  "budget: no deadlock: when every unfinished message waits for room, the oldest proceeds and frees it",
  pure,
  () => {
    const { server } = machine();
    const big = message(60 * KiB); // each one alone is most of the budget
    const ids = [1, 2, 3];
    const sent = new Map(ids.map((id) => [id, 0]));
    for (const id of ids) server.handleConnect(id, peer, 0);
    const answered = new Set<number>();
    // Every connection sends as fast as it is let, a read at a time.
    for (let round = 0; answered.size < ids.length; round++) {
      assert.ok(round < 1000, "no progress: deadlock");
      const allowed = ids.filter((id) => !answered.has(id) && server.mayRead(id));
      assert.ok(allowed.length > 0, "some connection may always read");
      for (const id of allowed) {
        const at = sent.get(id)!;
        server.handleStreamBytes(id, big.subarray(at, at + KiB), 0);
        sent.set(id, Math.min(big.length, at + KiB));
      }
      for (let t = server.pollTransmit(); t; t = server.pollTransmit()) answered.add(t.connection);
      resumed(server);
      assert.ok(server.buffered <= 64 * KiB + big.length, `held ${server.buffered}`);
    }
    assert.equal(server.buffered, 0);
    assert.ok(server.stats.paused > 0, "the budget did hold some back");
  },
);

Deno.test(
  "receive buffer: grows no further than the message needs, shrinks back after it, and is released",
  pure,
  () => {
    const rx = new ReceiveBuffer(16 * 1024 * KiB, 4 * KiB);
    const decode = frameDecoder(16 * 1024 * KiB);
    const big = message(3 * 1024 * KiB + 5);
    rx.push(big.subarray(0, HEADER_SIZE));
    rx.expect(big.length);
    let at = HEADER_SIZE;
    for (; at + KiB < big.length; at += KiB) {
      rx.push(big.subarray(at, at + KiB));
      assert.equal(rx.decode(decode), NEED_MORE);
    }
    assert.equal(rx.capacity, big.length, "not doubled past the message");
    rx.push(big.subarray(at));
    rx.push(message(3).subarray(0, 2)); // the next message's start
    assert.equal((rx.decode(decode) as Uint8Array).length, 3 * 1024 * KiB + 5);
    assert.equal(rx.decode(decode), NEED_MORE);
    assert.equal(rx.capacity, 4 * KiB, "back to its initial size");
    assert.equal(rx.length, 2);
    rx.release();
    assert.equal(rx.capacity, 0);
    assert.equal(rx.length, 0);
  },
);
