import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { EventQueue } from "../../lib/events/sink.ts";
import type { DroppedEvent, ServerEvent } from "../../lib/pudp/events.ts";
import { DROP_NOTICE_LIMITS, DropNotices } from "../../lib/pudp/drop_notices.ts";
import { FULL_NOTICE_MS, ServerMachine } from "../../lib/pudp/server_machine.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import { Command, decode, encode, type Message, P0P_MAGIC } from "../../lib/pudp/wire.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";

const pure = { permissions: "none" } as const;
const A: PeerAddress = { hostname: "127.0.0.1", port: 4000 };
const B: PeerAddress = { hostname: "127.0.0.1", port: 4001 };
const ID = 0x00c0ffee;
const HEX = "0x00c0ffee";

function dgram(
  command: number,
  seq: number,
  text = "",
  sessionId = ID,
  magic?: number,
): Uint8Array {
  return encode({ command, seq, sessionId, payload: new TextEncoder().encode(text) }, magic);
}

/** A server plus helpers that drain its output as lines and its transmits as messages. */
function harness(opts: ConstructorParameters<typeof ServerMachine>[0] = {}, escape = false) {
  const output = new ServerTextSink(escape);
  const server = new ServerMachine({ timeoutMs: 5000, ...opts }, output);
  return {
    server,
    lines(): string[] {
      const text = new TextDecoder().decode(output.take());
      return text === "" ? [] : text.replace(/\n$/, "").split("\n");
    },
    sent(): Array<Message & { to: PeerAddress }> {
      const out = [];
      for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
        out.push({ ...decode(t.data, opts.magic), to: t.to });
      }
      return out;
    },
  };
}

/** A harness with one session opened by A and its output drained. */
function opened(opts: ConstructorParameters<typeof ServerMachine>[0] = {}, escape = false) {
  const h = harness(opts, escape);
  h.server.handleDatagram(dgram(Command.HELLO, 0), A, 0);
  h.lines();
  h.sent();
  return h;
}

Deno.test("server: HELLO with an unknown id creates a session and replies HELLO", pure, () => {
  const h = harness();
  h.server.handleDatagram(dgram(Command.HELLO, 0), A, 0);
  assert.deepEqual(h.lines(), [`${HEX} [0] Session created`]);
  const sent = h.sent();
  assert.equal(sent.length, 1);
  assert.equal(sent[0].command, Command.HELLO);
  assert.equal(sent[0].sessionId, ID);
  assert.equal(sent[0].seq, 0);
  assert.deepEqual(sent[0].to, A);
  assert.equal(h.server.openSessions, 1);
  assert.equal(h.server.stats.sessions, 1);
});

Deno.test("server: anything else with an unknown id is dropped and counted", pure, () => {
  const h = harness();
  for (const c of [Command.DATA, Command.ALIVE, Command.GOODBYE, 9]) {
    h.server.handleDatagram(dgram(c, 1, "x"), A, 0);
  }
  assert.deepEqual(h.lines(), []);
  assert.deepEqual(h.sent(), []);
  assert.equal(h.server.openSessions, 0);
  assert.equal(h.server.stats.dropped, 4);
});

Deno.test(
  "server: short, empty, bad-magic and bad-version datagrams are dropped and counted",
  pure,
  () => {
    const h = harness();
    const good = dgram(Command.HELLO, 0);
    const badVersion = good.slice();
    badVersion[2] = 2;
    for (
      const d of [
        new Uint8Array(),
        good.subarray(0, 11),
        dgram(Command.HELLO, 0, "", ID, P0P_MAGIC),
        badVersion,
      ]
    ) {
      h.server.handleDatagram(d, A, 0);
    }
    assert.deepEqual(h.lines(), []);
    assert.deepEqual(h.sent(), []);
    assert.equal(h.server.stats.dropped, 4);
  },
);

Deno.test("server: a message for a known session from another address is dropped", pure, () => {
  const h = opened();
  h.server.handleDatagram(dgram(Command.DATA, 1, "hijack"), B, 1);
  h.server.handleDatagram(dgram(Command.GOODBYE, 1), { hostname: "127.0.0.2", port: A.port }, 1);
  h.server.handleDatagram(dgram(Command.HELLO, 0), B, 1);
  assert.deepEqual(h.lines(), []);
  assert.deepEqual(h.sent(), []);
  assert.equal(h.server.stats.dropped, 3);
  // The session still belongs to A.
  h.server.handleDatagram(dgram(Command.DATA, 1, "mine"), A, 2);
  assert.deepEqual(h.lines(), [`${HEX} [1] mine`]);
});

Deno.test("server: DATA in order replies ALIVE and prints the payload", pure, () => {
  const h = opened();
  h.server.handleDatagram(dgram(Command.DATA, 1, "hello world"), A, 1);
  h.server.handleDatagram(dgram(Command.DATA, 2, ""), A, 2);
  assert.deepEqual(h.lines(), [`${HEX} [1] hello world`, `${HEX} [2] `]);
  const sent = h.sent();
  assert.deepEqual(sent.map((m) => m.command), [Command.ALIVE, Command.ALIVE]);
  assert.deepEqual(sent.map((m) => m.to), [A, A]);
});

Deno.test(
  "server: sequence numbers sent come from one counter shared by all sessions",
  pure,
  () => {
    const h = harness();
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 1), A, 0);
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 2), B, 0);
    h.server.handleDatagram(dgram(Command.DATA, 1, "a", 1), A, 0);
    h.server.handleDatagram(dgram(Command.DATA, 1, "b", 2), B, 0);
    const sent = h.sent();
    assert.deepEqual(sent.map((m) => [m.sessionId, m.seq]), [[1, 0], [2, 1], [1, 2], [2, 3]]);
  },
);

Deno.test(
  "server: a gap prints one Lost line per missing number, then handles the message",
  pure,
  () => {
    const h = opened();
    h.server.handleDatagram(dgram(Command.DATA, 4, "four"), A, 1);
    assert.deepEqual(h.lines(), [
      `${HEX} [1] Lost packet!`,
      `${HEX} [2] Lost packet!`,
      `${HEX} [3] Lost packet!`,
      `${HEX} [4] four`,
    ]);
    assert.deepEqual(h.sent().map((m) => m.command), [Command.ALIVE]);
    assert.equal(h.server.stats.lost, 3);
    // A GOODBYE after a gap: Lost lines, then the goodbye.
    h.server.handleDatagram(dgram(Command.GOODBYE, 6), A, 2);
    assert.deepEqual(h.lines(), [
      `${HEX} [5] Lost packet!`,
      `${HEX} [6] GOODBYE from client.`,
      `${HEX} Session closed`,
    ]);
    assert.deepEqual(h.sent().map((m) => m.command), [Command.GOODBYE]);
  },
);

Deno.test("server: a repeat of the last message prints Duplicate and sends nothing", pure, () => {
  const h = opened();
  h.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 1);
  h.lines();
  h.sent();
  h.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 2);
  assert.deepEqual(h.lines(), [`${HEX} [1] Duplicate packet!`]);
  assert.deepEqual(h.sent(), []);
  assert.equal(h.server.stats.duplicates, 1);
  assert.equal(h.server.openSessions, 1);
});

Deno.test(
  "server: a repeated HELLO (nothing else received yet) is a duplicate that gets the HELLO reply again",
  pure,
  () => {
    const g = opened();
    g.server.handleDatagram(dgram(Command.HELLO, 0), A, 1);
    assert.deepEqual(g.lines(), [`${HEX} [0] Duplicate packet!`]);
    const again = g.sent();
    assert.deepEqual(again.map((m) => [m.command, m.sessionId]), [[Command.HELLO, ID]]);
    assert.equal(g.server.stats.duplicates, 1);
    // Once a DATA has come, a HELLO is no repeat: a protocol error, as before.
    g.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 2);
    g.lines();
    g.sent();
    g.server.handleDatagram(dgram(Command.HELLO, 0), A, 3);
    assert.deepEqual(g.sent().map((m) => m.command), [Command.GOODBYE]);
    assert.equal(g.server.openSessions, 0);
  },
);

Deno.test("server: a message older than the last is a protocol error: GOODBYE, close", pure, () => {
  const h = opened();
  h.server.handleDatagram(dgram(Command.DATA, 1, "a"), A, 1);
  h.server.handleDatagram(dgram(Command.DATA, 2, "b"), A, 1);
  h.lines();
  h.sent();
  h.server.handleDatagram(dgram(Command.DATA, 0, "old"), A, 2);
  assert.deepEqual(h.lines(), [`${HEX} Session closed`]);
  assert.deepEqual(h.sent().map((m) => m.command), [Command.GOODBYE]);
  assert.equal(h.server.openSessions, 0);
  assert.equal(h.server.stats.protocolErrors, 1);
});

Deno.test(
  "server: a gap larger than --max-gap is one summary line, and the session goes on",
  pure,
  () => {
    const h = opened({ maxGap: 5 });
    h.server.handleDatagram(dgram(Command.DATA, 6, "ok: gap of 5"), A, 1);
    assert.equal(h.lines().length, 6);
    h.sent();
    h.server.handleDatagram(dgram(Command.DATA, 13, "gap of 6"), A, 2);
    assert.deepEqual(h.lines(), [`${HEX} [7-12] Lost packets! (6)`, `${HEX} [13] gap of 6`]);
    assert.deepEqual(h.sent().map((m) => m.command), [Command.ALIVE]);
    // However large the gap: one line, and what follows is handled in order.
    h.server.handleDatagram(dgram(Command.DATA, 0xffff_fff0, "far"), A, 3);
    h.server.handleDatagram(dgram(Command.DATA, 0xffff_fff1, "next"), A, 4);
    assert.deepEqual(h.lines(), [
      `${HEX} [14-4294967279] Lost packets! (4294967266)`,
      `${HEX} [4294967280] far`,
      `${HEX} [4294967281] next`,
    ]);
    assert.equal(h.server.openSessions, 1);
    assert.equal(h.server.stats.protocolErrors, 0);
    assert.equal(h.server.stats.lost, 5 + 6 + 4294967266);
  },
);

Deno.test(
  "server: a session prints at most --max-gap Lost packet! lines in all, then summaries",
  pure,
  () => {
    const h = opened({ maxGap: 5 });
    h.server.handleDatagram(dgram(Command.DATA, 4, "after 3"), A, 1); // 3 of the 5
    assert.equal(h.lines().length, 4);
    h.server.handleDatagram(dgram(Command.DATA, 7, "after 2"), A, 2); // 5 of the 5
    assert.equal(h.lines().length, 3);
    h.server.handleDatagram(dgram(Command.DATA, 9, "after 1"), A, 3); // over: a summary
    assert.deepEqual(h.lines(), [`${HEX} [8-8] Lost packets! (1)`, `${HEX} [9] after 1`]);
    // Another session has its own budget.
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 7), B, 4);
    h.server.handleDatagram(dgram(Command.DATA, 3, "b", 7), B, 5);
    assert.equal(h.lines().length, 1 + 2 + 1);
    assert.equal(h.server.stats.lost, 3 + 2 + 1 + 2, "the count is exact either way");
  },
);

Deno.test(
  "server: 100 DATA each skipping 10,000 numbers make about one line each, not a million",
  pure,
  () => {
    // The default --max-gap is 10,000: each gap alone is within it, which
    // used to print 10,000 Lost lines per datagram (×27,000 amplification).
    const h = opened();
    let lines = 0;
    for (let i = 1; i <= 100; i++) {
      h.server.handleDatagram(dgram(Command.DATA, i * 10_001, `x${i}`), A, i);
      lines += h.lines().length;
      h.sent();
    }
    assert.ok(lines <= 10_000 + 2 * 100, `${lines} lines`);
    assert.equal(h.server.stats.lost, 100 * 10_000);
  },
);

Deno.test(
  "server: a course client blasting 58,936 lines with a big hole loses only the hole",
  pure,
  () => {
    // The tail after a gap over --max-gap (10,000) used to be cut off.
    const h = opened();
    const N = 58_936;
    const hole = { from: 20_000, to: 35_000 }; // 15,001 numbers never arrive
    let printed = 0;
    for (let seq = 1; seq <= N; seq++) {
      if (seq >= hole.from && seq <= hole.to) continue;
      h.server.handleDatagram(dgram(Command.DATA, seq, `line ${seq}\n`), A, seq);
      printed += h.lines().length;
      h.sent();
    }
    h.server.handleDatagram(dgram(Command.GOODBYE, N + 1), A, N + 1);
    assert.deepEqual(h.lines(), [
      `${HEX} [${N + 1}] GOODBYE from client.`,
      `${HEX} Session closed`,
    ]);
    assert.equal(printed, N - 15_001 + 1, "every line that came, plus one summary line");
    assert.equal(h.server.stats.lost, 15_001);
    assert.equal(h.server.stats.goodbyes, 1);
  },
);

Deno.test(
  "server: a HELLO with a sequence number other than 0 opens nothing (dropped, counted)",
  pure,
  () => {
    // A course client that sends GOODBYE (seq 0) before HELLO (seq 1).
    const h = harness();
    h.server.handleDatagram(dgram(Command.GOODBYE, 0), A, 0);
    h.server.handleDatagram(dgram(Command.HELLO, 1), A, 1);
    h.server.handleDatagram(dgram(Command.HELLO, 0xffff_ffff, "", 2), A, 1);
    assert.deepEqual(h.lines(), []);
    assert.deepEqual(h.sent(), []);
    assert.equal(h.server.openSessions, 0);
    assert.equal(h.server.pollTimeout(), undefined, "nothing held open");
    assert.equal(h.server.stats.dropped, 3);
    assert.equal(h.server.stats.sessions, 0);
  },
);

Deno.test("server: a payload that ends with a newline gets no second one", pure, () => {
  const raw = opened();
  raw.server.handleDatagram(dgram(Command.DATA, 1, "course line\n"), A, 1);
  raw.server.handleDatagram(dgram(Command.DATA, 2, "windows\r\n"), A, 2);
  raw.server.handleDatagram(dgram(Command.DATA, 3, "\n"), A, 3);
  raw.server.handleDatagram(dgram(Command.DATA, 4, ""), A, 4);
  raw.server.handleDatagram(dgram(Command.DATA, 5, "two\n\n"), A, 5);
  assert.deepEqual(raw.lines(), [
    `${HEX} [1] course line`,
    `${HEX} [2] windows\r`,
    `${HEX} [3] `,
    `${HEX} [4] `,
    `${HEX} [5] two`,
    ``,
  ]);
  // On a terminal the ending is not escaped, what comes before it is.
  const esc = opened({}, true);
  esc.server.handleDatagram(dgram(Command.DATA, 1, "course line\n"), A, 1);
  esc.server.handleDatagram(dgram(Command.DATA, 2, "a\nb\n"), A, 2);
  esc.server.handleDatagram(dgram(Command.DATA, 3, "\n"), A, 3);
  assert.deepEqual(esc.lines(), [`${HEX} [1] course line`, `${HEX} [2] a\\x0ab`, `${HEX} [3] `]);
});

Deno.test("server: GOODBYE replies GOODBYE and closes", pure, () => {
  const h = opened();
  h.server.handleDatagram(dgram(Command.GOODBYE, 1), A, 1);
  assert.deepEqual(h.lines(), [`${HEX} [1] GOODBYE from client.`, `${HEX} Session closed`]);
  const sent = h.sent();
  assert.deepEqual(sent.map((m) => [m.command, m.sessionId]), [[Command.GOODBYE, ID]]);
  assert.equal(h.server.openSessions, 0);
  // The id is free again: later messages are unknown, a HELLO opens anew.
  h.server.handleDatagram(dgram(Command.DATA, 2, "late"), A, 2);
  assert.deepEqual(h.lines(), []);
  h.server.handleDatagram(dgram(Command.HELLO, 0), B, 3);
  assert.deepEqual(h.lines(), [`${HEX} [0] Session created`]);
});

Deno.test(
  "server: HELLO, ALIVE or an unknown command inside a session is a protocol error",
  pure,
  () => {
    for (const command of [Command.HELLO, Command.ALIVE, 7, 255]) {
      const h = opened();
      h.server.handleDatagram(dgram(command, 1), A, 1);
      assert.deepEqual(h.lines(), [`${HEX} Session closed`], `command ${command}`);
      assert.deepEqual(h.sent().map((m) => m.command), [Command.GOODBYE]);
      assert.equal(h.server.openSessions, 0);
    }
  },
);

Deno.test(
  "server: --timeout of silence sends GOODBYE and closes; activity extends it",
  pure,
  () => {
    const h = harness({ timeoutMs: 5000 });
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 1), A, 0);
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 2), B, 1000);
    h.lines();
    h.sent();
    assert.equal(h.server.pollTimeout(), 5000);
    h.server.handleDatagram(dgram(Command.DATA, 1, "keep", 1), A, 3000); // session 1 now until 8000
    h.lines();
    h.sent();
    assert.equal(h.server.pollTimeout(), 6000);
    h.server.handleTimeout(5999);
    assert.deepEqual(h.lines(), []);
    h.server.handleTimeout(6000);
    assert.deepEqual(h.lines(), ["0x00000002 Session closed"]);
    assert.deepEqual(h.sent().map((m) => [m.command, m.sessionId, m.to]), [[
      Command.GOODBYE,
      2,
      B,
    ]]);
    assert.equal(h.server.pollTimeout(), 8000);
    h.server.handleTimeout(8000);
    assert.deepEqual(h.lines(), ["0x00000001 Session closed"]);
    assert.equal(h.server.pollTimeout(), undefined);
    assert.equal(h.server.stats.timeouts, 2);
  },
);

Deno.test("server: a duplicate also counts as activity", pure, () => {
  const h = opened({ timeoutMs: 100 });
  h.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 50);
  h.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 120);
  assert.equal(h.server.pollTimeout(), 220);
});

Deno.test("server: the deadline list closes exactly the expired sessions, on time", pure, () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 0, max: 300 })), {
        maxLength: 60,
      }),
      (events) => {
        const timeout = 100;
        const h = harness({ timeoutMs: timeout });
        const deadline = new Map<number, number>();
        const nextSeq = new Map<number, number>();
        let now = 0;
        for (const [id, step] of events) {
          now += step;
          // Let the timer fire as the driver would, then check against the model.
          for (let at = h.server.pollTimeout(); at !== undefined && at <= now;) {
            assert.ok(at >= 0);
            h.server.handleTimeout(at);
            for (const [sid, d] of deadline) if (d <= at) deadline.delete(sid);
            const next = h.server.pollTimeout();
            assert.ok(next === undefined || next > at, "the timer makes progress");
            at = next;
          }
          assert.equal(h.server.openSessions, deadline.size);
          const open = deadline.has(id + 1);
          const seq = open ? nextSeq.get(id + 1)! : 0;
          const peer = { hostname: "127.0.0.1", port: 5000 + id };
          h.server.handleDatagram(
            dgram(open ? Command.DATA : Command.HELLO, seq, "x", id + 1),
            peer,
            now,
          );
          deadline.set(id + 1, now + timeout);
          nextSeq.set(id + 1, seq + 1);
          assert.equal(
            h.server.pollTimeout(),
            Math.min(...deadline.values()),
            "the earliest deadline",
          );
        }
      },
    ),
    { numRuns: 500 },
  );
});

Deno.test("server: shutdown says GOODBYE to every session", pure, () => {
  const h = harness();
  h.server.handleDatagram(dgram(Command.HELLO, 0, "", 1), A, 0);
  h.server.handleDatagram(dgram(Command.HELLO, 0, "", 2), B, 0);
  h.lines();
  h.sent();
  h.server.shutdown();
  assert.deepEqual(h.lines(), ["0x00000001 Session closed", "0x00000002 Session closed"]);
  assert.deepEqual(h.sent().map((m) => [m.command, m.sessionId]), [[Command.GOODBYE, 1], [
    Command.GOODBYE,
    2,
  ]]);
  assert.equal(h.server.openSessions, 0);
  assert.equal(h.server.pollTimeout(), undefined);
});

Deno.test("server: payload bytes are printed as received unless escaping is on", pure, () => {
  const payload = "bell\x07 esc\x1b[31m tab\t del\x7f csi\u009b é";
  const raw = opened();
  raw.server.handleDatagram(dgram(Command.DATA, 1, payload), A, 1);
  assert.deepEqual(raw.lines(), [`${HEX} [1] ${payload}`]);
  const esc = opened({}, true);
  esc.server.handleDatagram(dgram(Command.DATA, 1, payload), A, 1);
  assert.deepEqual(esc.lines(), [
    `${HEX} [1] bell\\x07 esc\\x1b[31m tab\t del\\x7f csi\\xc2\\x9b é`,
  ]);
  // A newline inside a payload cannot forge a line on a terminal either.
  esc.server.handleDatagram(dgram(Command.DATA, 2, "a\nb\r"), A, 2);
  assert.deepEqual(esc.lines(), [`${HEX} [2] a\\x0ab\\x0d`]);
});

Deno.test("server: the magic is a setting", pure, () => {
  const h = harness({ magic: P0P_MAGIC });
  h.server.handleDatagram(dgram(Command.HELLO, 0), A, 0);
  assert.deepEqual(h.lines(), []);
  h.server.handleDatagram(dgram(Command.HELLO, 0, "", ID, P0P_MAGIC), A, 0);
  assert.deepEqual(h.lines(), [`${HEX} [0] Session created`]);
  assert.equal(h.sent()[0].command, Command.HELLO);
});

Deno.test(
  "server: a full table evicts the oldest half-open session for a new HELLO",
  pure,
  () => {
    const h = harness({ maxSessions: 3 });
    const hello = (id: number, at: number) =>
      h.server.handleDatagram(dgram(Command.HELLO, 0, "", id), A, at);
    hello(1, 0);
    hello(2, 1);
    hello(3, 2);
    // Session 1 sends data (established); 2 only repeats its HELLO (still half-open).
    h.server.handleDatagram(dgram(Command.DATA, 1, "one", 1), A, 3);
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 2), A, 3);
    h.lines();
    h.sent();
    hello(4, 4);
    assert.deepEqual(h.lines(), ["0x00000002 Session closed", "0x00000004 [0] Session created"]);
    assert.deepEqual(h.sent().map((m) => [m.command, m.sessionId]), [
      [Command.GOODBYE, 2],
      [Command.HELLO, 4],
    ]);
    hello(5, 5); // evicts 3, the next oldest half-open
    hello(6, 6); // evicts 4
    assert.deepEqual(h.lines(), [
      "0x00000003 Session closed",
      "0x00000005 [0] Session created",
      "0x00000004 Session closed",
      "0x00000006 [0] Session created",
    ]);
    // Session 1 is established and untouched: its next line is printed.
    h.server.handleDatagram(dgram(Command.DATA, 2, "two", 1), A, 7);
    assert.deepEqual(h.lines(), ["0x00000001 [2] two"]);
    assert.equal(h.server.stats.evicted, 3);
    assert.equal(h.server.openSessions, 3);
  },
);

Deno.test(
  "server: when every session is established a HELLO is dropped; the cap is reported once a minute",
  pure,
  () => {
    const events = new EventQueue<ServerEvent>();
    const server = new ServerMachine({ timeoutMs: 600_000, maxSessions: 2 }, events);
    for (const id of [1, 2]) {
      server.handleDatagram(dgram(Command.HELLO, 0, "", id), A, 0);
      server.handleDatagram(dgram(Command.DATA, 1, "x", id), A, 0);
    }
    events.drain();
    const full = (at: number) => {
      server.handleDatagram(dgram(Command.HELLO, 0, "", 9), B, at);
      return events.drain().map((e) =>
        e.event === "table_full"
          ? `full ${e.limit} ${e.action}`
          : `${e.event} ${"reason" in e ? e.reason : ""}`
      );
    };
    assert.deepEqual(full(1000), ["full 2 dropping", "dropped session table full"]);
    assert.deepEqual(full(2000), ["dropped session table full"]);
    assert.deepEqual(full(1000 + FULL_NOTICE_MS - 1), ["dropped session table full"]);
    assert.deepEqual(full(1000 + FULL_NOTICE_MS), [
      "full 2 dropping",
      "dropped session table full",
    ]);
    assert.equal(server.openSessions, 2);
    assert.equal(server.stats.dropped, 4);
    assert.equal(server.stats.evicted, 0);
  },
);

Deno.test("server: every close is counted by its reason", pure, () => {
  const h = harness({ timeoutMs: 100, maxSessions: 2 });
  const s = h.server;
  s.handleDatagram(dgram(Command.HELLO, 0, "", 1), A, 0);
  s.handleDatagram(dgram(Command.GOODBYE, 1, "", 1), A, 0); // goodbye
  s.handleDatagram(dgram(Command.HELLO, 0, "", 2), A, 0);
  s.handleDatagram(dgram(Command.ALIVE, 1, "", 2), A, 0); // protocol error
  s.handleDatagram(dgram(Command.HELLO, 0, "", 3), A, 0);
  s.handleTimeout(100); // timeout
  s.handleDatagram(dgram(Command.HELLO, 0, "", 4), A, 200);
  s.handleDatagram(dgram(Command.HELLO, 0, "", 5), A, 200);
  s.handleDatagram(dgram(Command.HELLO, 0, "", 6), A, 200); // evicts 4
  s.shutdown(); // 5 and 6
  const { goodbyes, protocolErrors, timeouts, evicted, shutdowns } = s.stats;
  assert.deepEqual(
    { goodbyes, protocolErrors, timeouts, evicted, shutdowns },
    { goodbyes: 1, protocolErrors: 1, timeouts: 1, evicted: 1, shutdowns: 2 },
  );
});

Deno.test("server: a recycled reply's memory is reused for the next one", pure, () => {
  const h = opened();
  h.server.handleDatagram(dgram(Command.DATA, 1, "a"), A, 1);
  const first = h.server.pollTransmit()!;
  const firstSeq = decode(first.data).seq;
  h.server.recycle(first);
  h.server.handleDatagram(dgram(Command.DATA, 2, "b"), A, 2);
  const second = h.server.pollTransmit()!;
  assert.equal(second.data, first.data, "same bytes reused");
  const m = decode(second.data);
  assert.deepEqual([m.command, m.seq, m.sessionId], [Command.ALIVE, firstSeq + 1, ID]);
  // Without recycling, each reply has its own bytes.
  h.server.handleDatagram(dgram(Command.DATA, 3, "c"), A, 3);
  assert.notEqual(h.server.pollTransmit()!.data, second.data);
});

/** Every datagram the server would send, as copies of its bytes with the address. */
function transmits(server: ServerMachine): { bytes: Uint8Array; to: PeerAddress }[] {
  const out = [];
  for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
    out.push({ bytes: t.data.slice(), to: t.to });
  }
  return out;
}

/** A session opened by A, one DATA, then closed by A's GOODBYE (seq 2) at time 10; its reply. */
function closedByGoodbye(opts: ConstructorParameters<typeof ServerMachine>[0] = {}) {
  const h = opened({ timeoutMs: 1000, ...opts });
  h.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 5);
  h.sent();
  h.server.handleDatagram(dgram(Command.GOODBYE, 2), A, 10);
  assert.deepEqual(h.lines(), [
    `${HEX} [1] x`,
    `${HEX} [2] GOODBYE from client.`,
    `${HEX} Session closed`,
  ]);
  const [reply] = transmits(h.server);
  assert.equal(reply.bytes.length, 12);
  return { ...h, reply };
}

Deno.test(
  "server: a GOODBYE repeated within --timeout of the close gets the same GOODBYE reply, silently",
  pure,
  () => {
    const h = closedByGoodbye();
    const repeat = dgram(Command.GOODBYE, 2);
    assert.equal(repeat.length, 12);
    for (const at of [11, 500, 1009]) {
      h.server.handleDatagram(repeat, A, at);
      // One 12-byte reply for one 12-byte request, the very bytes of the first.
      assert.deepEqual(transmits(h.server), [h.reply], `at ${at}`);
    }
    assert.deepEqual(h.lines(), [], "nothing printed: the session closed once");
    assert.equal(h.server.stats.repeatedGoodbyes, 3);
    assert.equal(h.server.stats.messages, 3 + 3, "HELLO, DATA, GOODBYE, and the 3 repeats");
    assert.equal(h.server.stats.goodbyes, 1);
    assert.equal(h.server.stats.duplicates, 0, "not printed as Duplicate packet!");
    assert.equal(h.server.stats.dropped, 0);
    assert.equal(h.server.openSessions, 0);
    // The repeats took no sequence number from the server's counter.
    h.server.handleDatagram(dgram(Command.HELLO, 0, "", 2), B, 1009);
    assert.equal(decode(h.server.pollTransmit()!.data).seq, decode(h.reply.bytes).seq + 1);
    // The repeat is an event (for --json), not a line.
    const events = new EventQueue<ServerEvent>();
    const s = new ServerMachine({ timeoutMs: 1000 }, events);
    s.handleDatagram(dgram(Command.HELLO, 0), A, 0);
    s.handleDatagram(dgram(Command.GOODBYE, 1), A, 1);
    events.drain();
    s.handleDatagram(dgram(Command.GOODBYE, 1), A, 2);
    assert.deepEqual(events.drain(), [
      { event: "goodbye_repeated", peer: A, session: HEX, seq: 1 },
    ]);
  },
);

Deno.test("server: a repeated GOODBYE after --timeout is unknown: dropped, no reply", pure, () => {
  // Its deadline handled by the timer…
  const h = closedByGoodbye();
  assert.equal(h.server.pollTimeout(), 1010, "the TIME_WAIT deadline");
  assert.equal(h.server.rememberedGoodbyes, 1);
  h.server.handleTimeout(1010);
  assert.equal(h.server.rememberedGoodbyes, 0, "given back at its deadline");
  assert.equal(h.server.pollTimeout(), undefined);
  h.server.handleDatagram(dgram(Command.GOODBYE, 2), A, 1011);
  assert.deepEqual(transmits(h.server), []);
  assert.equal(h.server.stats.dropped, 1);
  // …or not handled yet: the deadline still holds.
  const g = closedByGoodbye();
  g.server.handleDatagram(dgram(Command.GOODBYE, 2), A, 1010);
  assert.deepEqual(transmits(g.server), []);
  assert.equal(g.server.stats.dropped, 1);
  assert.equal(g.server.stats.repeatedGoodbyes, 0);
  assert.equal(g.server.rememberedGoodbyes, 0);
});

Deno.test(
  "server: only that GOODBYE from that address is answered; anything else for the id is dropped",
  pure,
  () => {
    const h = closedByGoodbye();
    const others: [Uint8Array, PeerAddress][] = [
      [dgram(Command.GOODBYE, 2), B], // another port
      [dgram(Command.GOODBYE, 2), { hostname: "127.0.0.2", port: A.port }], // another host
      [dgram(Command.GOODBYE, 3), A], // another seq
      [dgram(Command.GOODBYE, 1), A],
      [dgram(Command.DATA, 2, "x"), A],
      [dgram(Command.DATA, 3, "x"), A],
      [dgram(Command.ALIVE, 2), A],
      [dgram(Command.GOODBYE, 2, "", ID + 1), A], // another id
    ];
    for (const [bytes, from] of others) h.server.handleDatagram(bytes, from, 20);
    assert.deepEqual(transmits(h.server), []);
    assert.deepEqual(h.lines(), []);
    assert.equal(h.server.stats.dropped, others.length);
    assert.equal(h.server.stats.repeatedGoodbyes, 0);
    // Still remembered for the right one.
    h.server.handleDatagram(dgram(Command.GOODBYE, 2), A, 21);
    assert.deepEqual(transmits(h.server), [h.reply]);
  },
);

Deno.test(
  "server: a GOODBYE for a session closed by timeout, protocol error, eviction or shutdown is not answered",
  pure,
  () => {
    const closes: [string, (h: ReturnType<typeof opened>) => void][] = [
      ["timeout", (h) => h.server.handleTimeout(1000)],
      ["protocol error", (h) => h.server.handleDatagram(dgram(Command.ALIVE, 1), A, 1)],
      ["evicted", (h) => h.server.handleDatagram(dgram(Command.HELLO, 0, "", 2), B, 1)],
      ["shutdown", (h) => h.server.shutdown()],
    ];
    for (const [reason, close] of closes) {
      const h = opened({ timeoutMs: 1000, maxSessions: 1 });
      close(h);
      assert.ok(h.lines().includes(`${HEX} Session closed`), reason);
      h.sent();
      for (const seq of [1, 2]) h.server.handleDatagram(dgram(Command.GOODBYE, seq), A, 2);
      assert.deepEqual(transmits(h.server), [], reason);
      assert.equal(h.server.rememberedGoodbyes, 0, reason);
      assert.equal(h.server.stats.repeatedGoodbyes, 0, reason);
    }
    // Shutdown forgets the sessions closed by GOODBYE too: a server that stops answers no more.
    const h = closedByGoodbye();
    h.server.shutdown();
    assert.equal(h.server.pollTimeout(), undefined);
    h.server.handleDatagram(dgram(Command.GOODBYE, 2), A, 20);
    assert.deepEqual(transmits(h.server), []);
  },
);

Deno.test("server: a HELLO with a remembered id opens a new session, as before", pure, () => {
  const h = closedByGoodbye();
  h.server.handleDatagram(dgram(Command.HELLO, 0), A, 20);
  assert.deepEqual(h.lines(), [`${HEX} [0] Session created`]);
  assert.deepEqual(h.sent().map((m) => m.command), [Command.HELLO]);
  assert.equal(h.server.rememberedGoodbyes, 0, "the old session is forgotten");
  assert.equal(h.server.pollTimeout(), 1020, "only the new session's deadline");
  // Its GOODBYE closes it as any, and is remembered in turn.
  h.server.handleDatagram(dgram(Command.GOODBYE, 1), A, 30);
  const [reply] = transmits(h.server);
  h.server.handleDatagram(dgram(Command.GOODBYE, 1), A, 31);
  assert.deepEqual(transmits(h.server), [reply]);
  assert.notDeepEqual(reply.bytes, h.reply.bytes, "the new reply, with its own seq");
});

Deno.test(
  "server: the remembered GOODBYEs stay within maxSessions, however many sessions close",
  pure,
  () => {
    const CAP = 8;
    const events = new EventQueue<ServerEvent>();
    const server = new ServerMachine({ timeoutMs: 60_000, maxSessions: CAP }, events);
    const peer = (id: number) => ({ hostname: "127.0.0.1", port: 10_000 + id });
    const replies = new Map<number, Uint8Array>();
    for (let id = 1; id <= 10 * CAP; id++) {
      server.handleDatagram(dgram(Command.HELLO, 0, "", id), peer(id), id);
      server.handleDatagram(dgram(Command.GOODBYE, 1, "", id), peer(id), id);
      replies.set(id, transmits(server)[1].bytes);
      assert.ok(server.rememberedGoodbyes <= CAP, `${server.rememberedGoodbyes} remembered`);
    }
    assert.equal(server.rememberedGoodbyes, CAP);
    assert.equal(server.openSessions, 0);
    events.drain();
    // The newest CAP are answered; the older ones were forgotten, oldest first.
    for (let id = 1; id <= 10 * CAP; id++) {
      server.handleDatagram(dgram(Command.GOODBYE, 1, "", id), peer(id), 1000);
      const sent = transmits(server);
      if (id > 9 * CAP) assert.deepEqual(sent, [{ bytes: replies.get(id)!, to: peer(id) }]);
      else assert.deepEqual(sent, [], `session ${id} forgotten`);
    }
    assert.equal(server.stats.repeatedGoodbyes, CAP);
    assert.equal(server.stats.dropped, 9 * CAP);
    // Every deadline passed: nothing is held.
    server.handleTimeout(10 * CAP + 60_000);
    assert.equal(server.rememberedGoodbyes, 0);
    assert.equal(server.pollTimeout(), undefined);
  },
);

/** A server whose events are kept; `dropped()` drains its dropped events. */
function eventHarness(opts: ConstructorParameters<typeof ServerMachine>[0] = {}) {
  const events = new EventQueue<ServerEvent>();
  const server = new ServerMachine({ timeoutMs: 5000, ...opts }, events);
  return {
    server,
    dropped(): DroppedEvent[] {
      const out: DroppedEvent[] = [];
      for (let e = events.poll(); e; e = events.poll()) if (e.event === "dropped") out.push(e);
      return out;
    },
  };
}

Deno.test(
  "server: another variant's datagrams are dropped with a hint, on the first of each client only",
  pure,
  () => {
    const h = eventHarness();
    for (let i = 0; i < 5; i++) {
      h.server.handleDatagram(dgram(Command.HELLO, 0, "", ID, P0P_MAGIC), A, i);
    }
    const p0p = "looks like P0P (magic 0xC461): try --magic 0xC461";
    assert.deepEqual(
      h.dropped().map((e) => [e.reason, e.first, e.hint]),
      [["other magic", true, p0p], ...Array(4).fill(["other magic", false, undefined])],
    );
    const v2 = encode(
      { command: Command.DATA, seq: 1, sessionId: ID, payload: new Uint8Array(3) },
      0xe86d,
      2,
    );
    h.server.handleDatagram(v2, B, 10);
    h.server.handleDatagram(v2, B, 11);
    assert.deepEqual(h.dropped().map((e) => [e.reason, e.first, e.hint]), [
      [
        "other magic",
        true,
        "looks like PUDP v2 (magic 0xE86D, version 2): try --magic 0xE86D --wire-version 2",
      ],
      ["other magic", false, undefined],
    ]);
    const version2 = dgram(Command.HELLO, 0);
    version2[2] = 2;
    h.server.handleDatagram(version2, A, 20);
    const [e] = h.dropped();
    assert.deepEqual([e.reason, e.first, e.hint], [
      "other version",
      true,
      "looks like PUDP (version 2): try --wire-version 2",
    ]);
    assert.equal(h.server.stats.dropped, 8);
    assert.equal(h.server.pollTransmit(), undefined, "never an answer to what does not decode");
  },
);

Deno.test("server: not PUDP, and other reasons, are first once per client and reason", pure, () => {
  const h = eventHarness();
  const noise = new TextEncoder().encode("hello there, server");
  h.server.handleDatagram(noise, A, 0);
  h.server.handleDatagram(noise, A, 1);
  h.server.handleDatagram(dgram(Command.DATA, 1, "x"), A, 2); // unknown session
  h.server.handleDatagram(dgram(Command.DATA, 2, "x"), A, 3);
  h.server.handleDatagram(noise, B, 4);
  assert.deepEqual(h.dropped().map((e) => [e.reason, e.first, e.hint, e.peer.port]), [
    ["not PUDP", true, undefined, A.port],
    ["not PUDP", false, undefined, A.port],
    ["unknown session", true, undefined, A.port],
    ["unknown session", false, undefined, A.port],
    ["not PUDP", true, undefined, B.port],
  ]);
});

Deno.test("server: a flood from many addresses gets a bounded number of first drops", pure, () => {
  const h = eventHarness();
  const p0p = dgram(Command.HELLO, 0, "", ID, P0P_MAGIC);
  const peers = 5_000;
  for (let i = 0; i < peers; i++) {
    h.server.handleDatagram(p0p, { hostname: "10.0.0.1", port: 1 + i }, 0);
  }
  const drops = h.dropped();
  assert.equal(drops.length, peers, "every drop is an event (and counted)");
  assert.equal(drops.filter((e) => e.first).length, DROP_NOTICE_LIMITS.burst);
  // Ten seconds later: ten more, one a second.
  for (let i = 0; i < peers; i++) {
    h.server.handleDatagram(p0p, { hostname: "10.0.0.2", port: 1 + i }, 10_000);
  }
  assert.equal(h.dropped().filter((e) => e.first).length, 10);
});

Deno.test("drop notices: the memory of clients is capped, the oldest forgotten first", pure, () => {
  const notices = new DropNotices({ maxPeers: 3, burst: 1_000, refillMs: 1 });
  for (let i = 0; i < 100; i++) {
    assert.equal(notices.first({ hostname: "10.0.0.1", port: i }, 0, i), true);
    assert.ok(notices.size <= 3);
  }
  assert.equal(notices.size, 3);
  assert.equal(notices.first({ hostname: "10.0.0.1", port: 99 }, 0, 200), false, "remembered");
  assert.equal(notices.first({ hostname: "10.0.0.1", port: 0 }, 0, 200), true, "forgotten");
  assert.equal(notices.first({ hostname: "10.0.0.1", port: 99 }, 3, 201), true, "another reason");
  assert.equal(notices.size, 3);
});

Deno.test("drop notices: the budget refills one per interval, up to its burst", pure, () => {
  const notices = new DropNotices({ maxPeers: 100, burst: 2, refillMs: 1000 });
  const peer = (port: number) => ({ hostname: "10.0.0.1", port });
  assert.deepEqual([1, 2, 3].map((p) => notices.first(peer(p), 0, 0)), [true, true, false]);
  assert.equal(notices.first(peer(3), 0, 999), false);
  assert.equal(notices.first(peer(3), 0, 1000), true, "a refused notice is not remembered");
  assert.deepEqual(
    [4, 5, 6].map((p) => notices.first(peer(p), 0, 60_000)),
    [true, true, false],
    "never more than the burst after a long quiet",
  );
});

Deno.test("server: the version is a setting (--wire-version)", pure, () => {
  const h = harness({ magic: 0xe86d, version: 2 });
  const hello = encode(
    { command: Command.HELLO, seq: 0, sessionId: ID, payload: new Uint8Array() },
    0xe86d,
    2,
  );
  h.server.handleDatagram(hello, A, 0);
  assert.deepEqual(h.lines(), [`${HEX} [0] Session created`]);
  const out = [];
  for (let t = h.server.pollTransmit(); t; t = h.server.pollTransmit()) out.push(t.data);
  assert.equal(out.length, 1);
  assert.deepEqual(decode(out[0], 0xe86d, 2).command, Command.HELLO);
  h.server.handleDatagram(dgram(Command.HELLO, 0, "", ID + 1, 0xe86d), A, 1); // version 1
  assert.equal(h.server.stats.dropped, 1);
});
