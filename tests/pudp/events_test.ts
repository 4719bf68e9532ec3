/**
 * The server's events as `--json` renders them: every event, every close
 * reason, payloads as text or base64, from the pure machine with a fixed
 * wall clock; and the same run through the text renderer gives the documented lines.
 */

import assert from "node:assert/strict";
import { JsonLinesSink } from "../../lib/events/json_lines.ts";
import { EventQueue } from "../../lib/events/sink.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";
import { type ServerEvent, serverJsonFields } from "../../lib/pudp/events.ts";
import { ServerMachine } from "../../lib/pudp/server_machine.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import { Command, encode } from "../../lib/pudp/wire.ts";

const pure = { permissions: "none" } as const;
const A: PeerAddress = { hostname: "127.0.0.1", port: 4000 };
const B: PeerAddress = { hostname: "::1", port: 4001 };
const TIME = "2026-01-02T03:04:05.678Z";

function dgram(command: number, seq: number, payload: Uint8Array | string = "", id = 0xc0ffee) {
  const bytes = typeof payload === "string" ? new TextEncoder().encode(payload) : payload;
  return encode({ command, seq, sessionId: id, payload: bytes });
}

/** Feeds one script to a machine with the given sink. */
function script(sink: { emit(e: ServerEvent): void }): void {
  const s = new ServerMachine({ timeoutMs: 1000, maxGap: 5, maxSessions: 2 }, sink);
  s.handleDatagram(dgram(Command.HELLO, 0), A, 0);
  s.handleDatagram(dgram(Command.DATA, 1, "héllo"), A, 1);
  s.handleDatagram(dgram(Command.DATA, 4, new Uint8Array([0xff, 0x00, 0x41])), A, 2);
  s.handleDatagram(dgram(Command.DATA, 4, "again"), A, 3);
  s.handleDatagram(dgram(Command.DATA, 1, "stale"), B, 3); // another address
  s.handleDatagram(new Uint8Array(3), B, 3); // not PUDP
  s.handleDatagram(dgram(Command.DATA, 1, "", 7), B, 3); // no such session
  s.handleDatagram(dgram(Command.GOODBYE, 5), A, 4);
  s.handleDatagram(dgram(Command.GOODBYE, 5), A, 4); // its reply was lost: answered again
  s.handleDatagram(dgram(Command.HELLO, 0, "", 1), A, 5);
  s.handleDatagram(dgram(Command.DATA, 9, "far\n", 1), A, 6); // gap of 8 > --max-gap 5
  s.handleDatagram(dgram(Command.DATA, 3, "", 1), A, 6); // older than the last
  s.handleDatagram(dgram(Command.HELLO, 1, "", 5), B, 7); // a HELLO that is not seq 0
  s.handleDatagram(dgram(Command.HELLO, 0, "", 2), B, 7);
  s.handleDatagram(dgram(Command.ALIVE, 1, "", 2), B, 8);
  s.handleDatagram(dgram(Command.HELLO, 0, "", 3), B, 9);
  s.handleTimeout(1009);
  // The table (2) fills: the half-open session 4 is evicted for session 8;
  // then every session is established and session 9's HELLO is dropped.
  s.handleDatagram(dgram(Command.HELLO, 0, "", 4), A, 2000);
  s.handleDatagram(dgram(Command.HELLO, 0, "", 6), A, 2000);
  s.handleDatagram(dgram(Command.DATA, 1, "x", 6), A, 2000);
  s.handleDatagram(dgram(Command.HELLO, 0, "", 8), B, 2001);
  s.handleDatagram(dgram(Command.DATA, 1, "y", 8), B, 2001);
  s.handleDatagram(dgram(Command.HELLO, 0, "", 9), B, 2002);
  s.shutdown();
}

Deno.test(
  "server events: --json prints every event with event, time, peer and its fields",
  pure,
  () => {
    const sink = new JsonLinesSink(serverJsonFields, () => new Date(TIME));
    script(sink);
    const lines = new TextDecoder().decode(sink.take()).trimEnd().split("\n").map((l) =>
      JSON.parse(l)
    );
    const a = { time: TIME, peer: "127.0.0.1:4000" };
    const b = { time: TIME, peer: "[::1]:4001" };
    assert.deepEqual(lines, [
      { event: "created", ...a, session: "0x00c0ffee", seq: 0 },
      { event: "data", ...a, session: "0x00c0ffee", seq: 1, text: "héllo" },
      { event: "lost", ...a, session: "0x00c0ffee", first: 2, last: 3, count: 2 },
      { event: "data", ...a, session: "0x00c0ffee", seq: 4, base64: "/wBB" },
      { event: "duplicate", ...a, session: "0x00c0ffee", seq: 4 },
      { event: "dropped", ...b, session: "0x00c0ffee", reason: "wrong address" },
      { event: "dropped", ...b, reason: "not PUDP" },
      { event: "dropped", ...b, session: "0x00000007", reason: "unknown session" },
      { event: "goodbye", ...a, session: "0x00c0ffee", seq: 5 },
      { event: "closed", ...a, session: "0x00c0ffee", reason: "goodbye" },
      { event: "goodbye_repeated", ...a, session: "0x00c0ffee", seq: 5 },
      { event: "created", ...a, session: "0x00000001", seq: 0 },
      { event: "lost", ...a, session: "0x00000001", first: 1, last: 8, count: 8 },
      { event: "data", ...a, session: "0x00000001", seq: 9, text: "far\n" },
      { event: "closed", ...a, session: "0x00000001", reason: "protocol error: seq 3 after 9" },
      { event: "dropped", ...b, session: "0x00000005", reason: "HELLO seq not 0" },
      { event: "created", ...b, session: "0x00000002", seq: 0 },
      {
        event: "closed",
        ...b,
        session: "0x00000002",
        reason: "protocol error: ALIVE inside a session",
      },
      { event: "created", ...b, session: "0x00000003", seq: 0 },
      { event: "closed", ...b, session: "0x00000003", reason: "timeout" },
      { event: "created", ...a, session: "0x00000004", seq: 0 },
      { event: "created", ...a, session: "0x00000006", seq: 0 },
      { event: "data", ...a, session: "0x00000006", seq: 1, text: "x" },
      { event: "table_full", ...b, limit: 2, action: "evicting" },
      { event: "closed", ...a, session: "0x00000004", reason: "evicted" },
      { event: "created", ...b, session: "0x00000008", seq: 0 },
      { event: "data", ...b, session: "0x00000008", seq: 1, text: "y" },
      { event: "dropped", ...b, session: "0x00000009", reason: "session table full" },
      { event: "closed", ...a, session: "0x00000006", reason: "shutdown" },
      { event: "closed", ...b, session: "0x00000008", reason: "shutdown" },
    ]);
  },
);

Deno.test(
  "server events: the text renderer of the same run prints the documented lines only",
  pure,
  () => {
    const sink = new ServerTextSink(false);
    script(sink);
    assert.equal(
      new TextDecoder("utf-8").decode(sink.take()),
      [
        "0x00c0ffee [0] Session created",
        "0x00c0ffee [1] héllo",
        "0x00c0ffee [2] Lost packet!",
        "0x00c0ffee [3] Lost packet!",
        "0x00c0ffee [4] \ufffd\u0000A",
        "0x00c0ffee [4] Duplicate packet!",
        "0x00c0ffee [5] GOODBYE from client.",
        "0x00c0ffee Session closed",
        "0x00000001 [0] Session created",
        "0x00000001 [1-8] Lost packets! (8)",
        "0x00000001 [9] far",
        "0x00000001 Session closed",
        "0x00000002 [0] Session created",
        "0x00000002 Session closed",
        "0x00000003 [0] Session created",
        "0x00000003 Session closed",
        "0x00000004 [0] Session created",
        "0x00000006 [0] Session created",
        "0x00000006 [1] x",
        "0x00000004 Session closed",
        "0x00000008 [0] Session created",
        "0x00000008 [1] y",
        "0x00000006 Session closed",
        "0x00000008 Session closed",
        "",
      ].join("\n"),
    );
  },
);

Deno.test(
  "server events: a queue keeps copies, so reused events and buffers cannot change them",
  pure,
  () => {
    const queue = new EventQueue<ServerEvent>();
    const s = new ServerMachine({}, queue);
    const buf = dgram(Command.HELLO, 0);
    s.handleDatagram(buf, A, 0);
    const data = dgram(Command.DATA, 1, "first");
    s.handleDatagram(data, A, 1);
    data.fill(0); // the driver reuses its receive buffer
    s.handleDatagram(dgram(Command.DATA, 2, "second"), A, 2);
    const [created, first, second] = queue.drain();
    assert.equal(created.event, "created");
    assert.ok(first.event === "data" && second.event === "data");
    assert.equal(new TextDecoder().decode(first.data.subarray(first.offset)), "first");
    assert.equal(first.seq, 1);
    assert.equal(new TextDecoder().decode(second.data.subarray(second.offset)), "second");
  },
);
