/** The pure parts of `pudp check frame`: the cases as data, the trace describer, the scripted server. */

import assert from "node:assert/strict";
import { selectCases } from "../../lib/check/case_model.ts";
import { FRAME_CLIENT_CASES } from "../../lib/check/frame_client_cases.ts";
import { FRAME_FAMILY } from "../../lib/check/frame_family.ts";
import {
  FRAME_NORMAL,
  type FrameOutput,
  FrameScriptedServer,
} from "../../lib/check/frame_scripted_server.ts";
import { FRAME_SERVER_CASES } from "../../lib/check/frame_server_cases.ts";
import {
  answerText,
  describeSegment,
  encodeText,
  FrameDescriber,
  newStreamState,
  parseMessages,
} from "../../lib/check/frame_trace.ts";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** Every output due by `now`. */
function drain(server: FrameScriptedServer, now: number): FrameOutput[] {
  server.handleTimeout(now);
  const out: FrameOutput[] = [];
  for (let o = server.pollTransmit(); o; o = server.pollTransmit()) out.push(o);
  return out;
}

/** The data outputs joined. */
function bytesOf(outs: FrameOutput[]): Uint8Array {
  const parts = outs.flatMap((o) => o.kind === "data" ? [o.bytes] : []);
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  return all;
}

Deno.test({
  name: "check frame: case ids are unique, role/section/name, each with a title, a row and a level",
  permissions: "none",
  fn() {
    const all = [...FRAME_SERVER_CASES, ...FRAME_CLIENT_CASES];
    assert.equal(new Set(all.map((c) => c.id)).size, all.length);
    for (const c of all) {
      assert.match(c.id, /^(server|client)\/[a-z]+\/[a-z-]+$/, c.id);
      assert.ok(c.title && c.row, c.id);
      assert.ok(c.level === "course" || c.level === "strict", c.id);
      assert.doesNotMatch(c.row + c.title, /SPEC|seed/i, c.id);
    }
    assert.ok(FRAME_SERVER_CASES.every((c) => c.id.startsWith("server/")));
    assert.ok(FRAME_CLIENT_CASES.every((c) => c.id.startsWith("client/")));
    assert.equal(FRAME_FAMILY.serverCases, FRAME_SERVER_CASES);
    assert.equal(FRAME_FAMILY.transport, "tcp");
    assert.equal(selectCases(FRAME_SERVER_CASES, [], false).length, 10);
    assert.equal(selectCases(FRAME_CLIENT_CASES, [], false).length, 10);
    // Sections stay together in the report, as declared.
    for (const cases of [FRAME_SERVER_CASES, FRAME_CLIENT_CASES]) {
      const sections = cases.map((c) => c.id.split("/")[1]);
      assert.deepEqual(
        sections,
        sections.toSorted((a, b) => sections.indexOf(a) - sections.indexOf(b)),
      );
    }
  },
});

Deno.test({
  name: "check frame: the answer drops 10 code points; messages parse however they are split",
  permissions: "none",
  fn() {
    assert.equal(answerText("Four score and seven years ago"), " and seven years ago");
    assert.equal(answerText("ééééééééééabc"), "abc");
    assert.equal(answerText("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂x"), "x");
    assert.equal(answerText("short"), "");
    const a = encodeText("ééééééééééabc");
    assert.deepEqual([...a.subarray(0, 4)], [0, 0, 0, 23]);
    const two = new Uint8Array([...a, ...encodeText("hi"), 0, 0]);
    const p = parseMessages(two);
    assert.deepEqual(p.messages.map(text), ["ééééééééééabc", "hi"]);
    assert.equal(p.rest, 2);
    assert.equal(p.announced, undefined);
    const cut = parseMessages(a.subarray(0, 10));
    assert.deepEqual([cut.messages.length, cut.rest, cut.announced], [0, 10, 23]);
  },
});

Deno.test({
  name: "check frame: the describer follows each direction's message boundaries",
  permissions: "none",
  fn() {
    const d = new FrameDescriber();
    const m = encodeText("0123456789one byte at a time");
    // Sent in parts, an answer read in between: each direction keeps its own state.
    d.sending = true;
    assert.equal(d.describe(m.subarray(0, 1), 1), "partial: 1 of 4 header bytes");
    d.sending = false;
    assert.equal(d.describe(encodeText(""), 4), "message 0 bytes (empty)");
    d.sending = true;
    assert.equal(d.describe(m.subarray(1, 4), 3), "header: a message of 28 bytes follows");
    assert.equal(d.describe(m.subarray(4), 28), "28 more payload bytes (message complete)");
    d.sending = false;
    // write() marks the segment recorded during the call as sent.
    const recorded: string[] = [];
    d.write(
      (b) => (recorded.push(d.describe(b, b.length)), Promise.resolve(true)),
      encodeText("hi"),
    );
    assert.deepEqual(recorded, ["message 2 bytes: 'hi'"]);
    assert.equal(d.sending, false);
    // A big message: its start, then its continuation.
    const s = newStreamState();
    const big = encodeText("x".repeat(1000));
    assert.equal(
      describeSegment(s, big.subarray(0, 64), 504),
      `message 1000 bytes, 500 here: '${"x".repeat(40)}'…`,
    );
    assert.equal(
      describeSegment(s, big.subarray(504, 568), 300),
      "300 more payload bytes (200 to go)",
    );
    assert.equal(
      describeSegment(s, new Uint8Array([...big.subarray(804), ...encodeText("0123456789")]), 214),
      "200 more payload bytes (message complete); message 10 bytes: '0123456789'",
    );
    // A header past the bytes shown: the boundaries are lost, and said so from then on.
    const lost = newStreamState();
    const sixty = encodeText("y".repeat(60));
    assert.equal(
      describeSegment(lost, sixty, 100),
      `message 60 bytes: '${"y".repeat(40)}'…; 36 bytes (message boundaries not followed)`,
    );
    assert.equal(describeSegment(lost, sixty, 5), "5 bytes (message boundaries not followed)");
    // Control characters are escaped.
    assert.equal(
      describeSegment(newStreamState(), encodeText("a\x1b[31m"), 10),
      "message 6 bytes: 'a\\x1b[31m'",
    );
  },
});

Deno.test({
  name: "check frame: the scripted server answers by the rule, reassembling the client's bytes",
  permissions: "none",
  fn() {
    const server = new FrameScriptedServer(FRAME_NORMAL);
    const both = new Uint8Array([...encodeText("ééééééééééabc"), ...encodeText("0123456789x")]);
    for (let i = 0; i < both.length; i++) server.handleBytes(both.subarray(i, i + 1), i);
    assert.deepEqual(server.received.map((r) => r.text), ["ééééééééééabc", "0123456789x"]);
    assert.deepEqual(server.received.map((r) => r.at), [26, both.length - 1]);
    const out = drain(server, 100);
    assert.deepEqual(parseMessages(bytesOf(out)).messages.map(text), ["abc", "x"]);
    assert.equal(server.pollTimeout(), undefined);
    server.handleEnd(120);
    assert.equal(server.endedAt, 120);

    const silent = new FrameScriptedServer({ ...FRAME_NORMAL, answer: false });
    silent.handleBytes(encodeText("0123456789x"), 0);
    assert.deepEqual(drain(silent, 10_000), []);
    assert.equal(silent.received.length, 1);

    const big = new FrameScriptedServer({ ...FRAME_NORMAL, maxMessage: 10 });
    big.handleBytes(Uint8Array.of(0, 0, 0, 11, 1, 2), 0);
    assert.match(big.error!, /message of 11 bytes exceeds the limit of 10/);
    assert.deepEqual(drain(big, 10), []);
    assert.equal(big.malformed().length, 0);
    const bad = new FrameScriptedServer(FRAME_NORMAL);
    bad.handleBytes(Uint8Array.of(0, 0, 0, 1, 0xff), 0);
    assert.equal(bad.malformed().length, 1);
  },
});

Deno.test({
  name: "check frame: the scripted server in virtual time: slow, split, coalesced, ending",
  permissions: "none",
  fn() {
    // Slow: each answer 1500 ms after its message.
    const slow = new FrameScriptedServer({ ...FRAME_NORMAL, delayMs: 1500 });
    slow.handleBytes(encodeText("0123456789a"), 0);
    slow.handleBytes(encodeText("0123456789b"), 10);
    assert.deepEqual(drain(slow, 1499), []);
    assert.equal(slow.pollTimeout(), 1500);
    assert.equal(text(bytesOf(drain(slow, 1500))).slice(4), "a");
    assert.equal(text(bytesOf(drain(slow, 1510))).slice(4), "b");

    // Split: a byte per segment, 10 ms apart; a second answer queues after the first.
    const split = new FrameScriptedServer({ ...FRAME_NORMAL, splitBytes: 1, splitMs: 10 });
    split.handleBytes(
      new Uint8Array([...encodeText("0123456789ab"), ...encodeText("0123456789c")]),
      0,
    );
    const segments: FrameOutput[] = [];
    for (let t = 0; t <= 200; t += 5) segments.push(...drain(split, t));
    assert.equal(segments.length, 6 + 5);
    assert.ok(segments.every((o) => o.kind === "data" && o.bytes.length === 1));
    assert.deepEqual(parseMessages(bytesOf(segments)).messages.map(text), ["ab", "c"]);

    // Coalesced: held until 500 ms without a message, then one segment.
    const c = new FrameScriptedServer({ ...FRAME_NORMAL, coalesceMs: 500 });
    c.handleBytes(encodeText("0123456789one"), 0);
    c.handleBytes(encodeText("0123456789two"), 100);
    assert.deepEqual(drain(c, 599), []);
    assert.equal(c.pollTimeout(), 600);
    const one = drain(c, 600);
    assert.equal(one.length, 1);
    assert.deepEqual(parseMessages(bytesOf(one)).messages.map(text), ["one", "two"]);

    // Ending after the first answer: the answer, then the end; later messages are not answered.
    for (const how of ["close", "reset"] as const) {
      const e = new FrameScriptedServer({ ...FRAME_NORMAL, endAfter: 1, end: how });
      e.handleBytes(encodeText("0123456789one"), 0);
      const out = drain(e, 0);
      assert.deepEqual(out.map((o) => o.kind), ["data", "end"]);
      assert.deepEqual(out[1], { kind: "end", how });
      e.handleBytes(encodeText("0123456789two"), 5);
      assert.deepEqual(drain(e, 1000), []);
      assert.equal(e.received.length, 2);
      assert.equal(e.answered, 1);
    }
    // Coalesced and ending: the held answers go out together, then the end.
    const ce = new FrameScriptedServer({ ...FRAME_NORMAL, coalesceMs: 500, endAfter: 2 });
    ce.handleBytes(encodeText("0123456789one"), 0);
    assert.deepEqual(drain(ce, 1), []);
    ce.handleBytes(encodeText("0123456789two"), 2);
    assert.deepEqual(drain(ce, 2).map((o) => o.kind), ["data", "end"]);
  },
});
