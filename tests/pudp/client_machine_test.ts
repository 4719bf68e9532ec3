import assert from "node:assert/strict";
import {
  ClientMachine,
  HELLO_REPEAT_MS,
  INTERRUPT_WAIT_MS,
} from "../../lib/pudp/client_machine.ts";
import { FIRST_ALIVE_RTO_MS, MAX_RTO_MS, MIN_RTO_MS } from "../../lib/pudp/rtt_estimator.ts";
import { Command, decode, encode, P0P_MAGIC } from "../../lib/pudp/wire.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";

const pure = { permissions: "none" } as const;
const SERVER: PeerAddress = { hostname: "127.0.0.1", port: 9000 };
const ID = 0x1234abcd;
const T = 5000;
const enc = new TextEncoder();

let serverSeq = 0;
/** A reply numbered like a server with no other clients: +1 per message. */
function reply(command: number, sessionId = ID, magic?: number): Uint8Array {
  return encode({ command, seq: serverSeq++, sessionId, payload: new Uint8Array() }, magic);
}

function harness(opts: Partial<ConstructorParameters<typeof ClientMachine>[1]> = {}) {
  const client = new ClientMachine(SERVER, { sessionId: ID, timeoutMs: T, window: 0, ...opts });
  return {
    client,
    /** Sent messages as `COMMAND seq [payload]`. */
    sent(): string[] {
      const out: string[] = [];
      for (let t = client.pollTransmit(); t; t = client.pollTransmit()) {
        assert.deepEqual(t.to, SERVER);
        const m = decode(t.data, opts.magic);
        assert.equal(m.sessionId, ID);
        const name = ["HELLO", "DATA", "ALIVE", "GOODBYE"][m.command];
        out.push(
          m.command === Command.DATA
            ? `${name} ${m.seq} ${new TextDecoder().decode(m.payload)}`
            : `${name} ${m.seq}`,
        );
      }
      return out;
    },
    from(command: number, now: number) {
      client.handleDatagram(reply(command, ID, opts.magic), SERVER, now);
    },
  };
}

/**
 * Runs the client's timers, with nothing arriving, until it closes (at most
 * 1,000 of them); returns the time it closed.
 */
function runTimers(client: ClientMachine): number {
  for (let i = 0; i < 1_000; i++) {
    const at = client.pollTimeout();
    assert.ok(at !== undefined, "a client waiting for its server has a timer");
    client.handleTimeout(at);
    if (client.result) return at;
  }
  assert.fail("the client did not close");
}

/** A client whose HELLO was answered at t=0, with its HELLO drained. */
function ready(opts: Partial<ConstructorParameters<typeof ClientMachine>[1]> = {}) {
  const h = harness(opts);
  h.client.start(0);
  h.from(Command.HELLO, 0);
  h.sent();
  return h;
}

Deno.test("client: start sends HELLO with seq 0 and starts the timer", pure, () => {
  const h = harness();
  h.client.start(100);
  assert.deepEqual(h.sent(), ["HELLO 0"]);
  assert.equal(h.client.state, "hello-wait");
  assert.equal(h.client.pollTimeout(), 100 + HELLO_REPEAT_MS, "the first HELLO repeat");
  assert.equal(runTimers(h.client), 100 + T, "the timer");
});

Deno.test(
  "client: lines and EOF that arrive before the HELLO reply are sent after it, in order",
  pure,
  () => {
    const h = harness();
    h.client.start(0);
    h.sent();
    h.client.handleLine(enc.encode("one"), 1);
    h.client.handleLine(enc.encode("two"), 2);
    h.client.handleEof(3);
    assert.deepEqual(h.sent(), []);
    h.from(Command.HELLO, 10);
    assert.deepEqual(h.sent(), ["DATA 1 one", "DATA 2 two", "GOODBYE 3"]);
    assert.equal(h.client.state, "closing");
    assert.equal(runTimers(h.client), 10 + T);
  },
);

Deno.test("client: HELLO then nothing queued goes to ready with no timer", pure, () => {
  const h = ready();
  assert.equal(h.client.state, "ready");
  assert.equal(h.client.pollTimeout(), undefined);
});

Deno.test("client: no HELLO reply within the timeout sends GOODBYE and fails", pure, () => {
  const h = harness({ serverLabel: "example.net:9000" });
  h.client.start(0);
  h.sent();
  h.client.handleTimeout(T - 1);
  assert.equal(h.client.result, undefined);
  h.client.handleTimeout(T);
  // One repeat for the late call at T - 1 (a timer that fires late does not catch up).
  assert.deepEqual(h.sent(), ["HELLO 0", "GOODBYE 1"]);
  assert.equal(h.client.state, "closed");
  assert.deepEqual(h.client.result, { code: 1, message: "no answer from example.net:9000" });
  // Without a label the address is used, IPv6 in brackets.
  const v6 = new ClientMachine({ hostname: "::1", port: 7 }, { sessionId: 1, timeoutMs: 1 });
  v6.start(0);
  v6.handleTimeout(1);
  assert.deepEqual(v6.result, { code: 1, message: "no answer from [::1]:7" });
});

Deno.test("client: ready + line sends DATA and starts the timer", pure, () => {
  const h = ready();
  h.client.handleLine(enc.encode("hi"), 50);
  assert.deepEqual(h.sent(), ["DATA 1 hi"]);
  assert.equal(h.client.state, "ready-timer");
  assert.equal(h.client.pollTimeout(), 50 + T);
});

Deno.test("client: ready + ALIVE is ignored", pure, () => {
  const h = ready();
  h.from(Command.ALIVE, 5);
  assert.equal(h.client.state, "ready");
  assert.equal(h.client.pollTimeout(), undefined);
  assert.deepEqual(h.sent(), []);
});

Deno.test("client: ready-timer + line sends DATA and the timer keeps running", pure, () => {
  const h = ready();
  h.client.handleLine(enc.encode("a"), 50);
  h.client.handleLine(enc.encode("b"), 900);
  assert.deepEqual(h.sent(), ["DATA 1 a", "DATA 2 b"]);
  assert.equal(h.client.state, "ready-timer");
  assert.equal(h.client.pollTimeout(), 50 + T);
});

Deno.test("client: ready-timer + ALIVE stops the timer", pure, () => {
  const h = ready();
  h.client.handleLine(enc.encode("a"), 50);
  h.from(Command.ALIVE, 60);
  assert.equal(h.client.state, "ready");
  assert.equal(h.client.pollTimeout(), undefined);
});

Deno.test(
  "client: ready-timer + timer sends GOODBYE and fails: server stopped answering",
  pure,
  () => {
    const h = ready();
    h.client.handleLine(enc.encode("a"), 50);
    h.sent();
    h.client.handleTimeout(50 + T);
    assert.deepEqual(h.sent(), ["GOODBYE 2"]);
    assert.deepEqual(h.client.result, { code: 1, message: "server stopped answering" });
  },
);

Deno.test("client: EOF in ready or ready-timer sends GOODBYE and starts the timer", pure, () => {
  const r = ready();
  r.client.handleEof(10);
  assert.deepEqual(r.sent(), ["GOODBYE 1"]);
  assert.equal(r.client.state, "closing");
  assert.equal(runTimers(r.client), 10 + T);
  const rt = ready();
  rt.client.handleLine(enc.encode("x"), 10);
  rt.client.handleEof(20);
  assert.deepEqual(rt.sent(), ["DATA 1 x", "GOODBYE 2"]);
  assert.equal(rt.client.state, "closing");
  assert.equal(runTimers(rt.client), 20 + T);
});

Deno.test("client: a q line ends the session only when quitOnQ is set", pure, () => {
  const tty = ready({ quitOnQ: true });
  tty.client.handleLine(enc.encode("q"), 10);
  tty.client.handleLine(enc.encode("after"), 11);
  assert.deepEqual(tty.sent(), ["GOODBYE 1"]);
  assert.equal(tty.client.state, "closing");
  const pipe = ready({ quitOnQ: false });
  pipe.client.handleLine(enc.encode("q"), 10);
  assert.deepEqual(pipe.sent(), ["DATA 1 q"]);
  assert.equal(pipe.client.state, "ready-timer");
});

Deno.test("client: closing + ALIVE is ignored; GOODBYE or the timer ends with 0", pure, () => {
  const g = ready();
  g.client.handleEof(0);
  g.from(Command.ALIVE, 1);
  assert.equal(g.client.state, "closing");
  g.from(Command.GOODBYE, 2);
  assert.deepEqual(g.client.result, { code: 0 });
  const t = ready();
  t.client.handleEof(0);
  t.client.handleTimeout(T);
  assert.deepEqual(t.client.result, { code: 0 }, "no DATA: nothing to confirm");
});

Deno.test(
  "client: at the closing timer, exit 0 only if every DATA was answered by an ALIVE",
  pure,
  () => {
    // Every DATA answered, the server's GOODBYE lost: the end is known.
    const a = ready();
    for (const line of ["a", "b", "c"]) a.client.handleLine(enc.encode(line), 0);
    for (let i = 0; i < 3; i++) a.from(Command.ALIVE, 1);
    a.client.handleEof(2);
    assert.equal(runTimers(a.client) <= 2 + T, true);
    assert.deepEqual(a.client.result, { code: 0 });
    // A server that answered the HELLO and then nothing (it crashed): not a success.
    const b = ready();
    for (const line of ["a", "b", "c"]) b.client.handleLine(enc.encode(line), 0);
    b.client.handleEof(0);
    runTimers(b.client);
    assert.deepEqual(b.client.result, {
      code: 1,
      message: "end not confirmed: 3 DATA sent, 0 ALIVE received, no GOODBYE",
    });
    // One ALIVE missing is enough to say so.
    const c = ready();
    for (const line of ["a", "b"]) c.client.handleLine(enc.encode(line), 0);
    c.from(Command.ALIVE, 1);
    c.client.handleEof(1);
    runTimers(c.client);
    assert.equal(c.client.result?.code, 1);
    assert.match(c.client.result?.message ?? "", /2 DATA sent, 1 ALIVE received/);
    // The server's GOODBYE confirms the end whatever was answered.
    const d = ready();
    d.client.handleLine(enc.encode("a"), 0);
    d.client.handleEof(0);
    d.from(Command.GOODBYE, 1);
    assert.deepEqual(d.client.result, { code: 0 });
  },
);

Deno.test(
  "client: GOODBYE from the server before closing fails: server closed the session",
  pure,
  () => {
    for (const setup of ["hello-wait", "ready", "ready-timer"] as const) {
      const h = harness();
      h.client.start(0);
      if (setup !== "hello-wait") h.from(Command.HELLO, 1);
      if (setup === "ready-timer") h.client.handleLine(enc.encode("x"), 2);
      assert.equal(h.client.state, setup);
      h.sent();
      h.from(Command.GOODBYE, 3);
      assert.deepEqual(h.client.result, { code: 1, message: "server closed the session" }, setup);
      assert.deepEqual(h.sent(), [], "no GOODBYE back");
      assert.equal(h.client.pollTimeout(), undefined);
    }
  },
);

Deno.test(
  "client: datagrams from another address, session or magic, or undecodable, are ignored",
  pure,
  () => {
    const h = harness();
    h.client.start(0);
    h.client.handleDatagram(reply(Command.HELLO), { hostname: "127.0.0.1", port: 9001 }, 1);
    h.client.handleDatagram(reply(Command.HELLO), { hostname: "127.0.0.2", port: 9000 }, 1);
    h.client.handleDatagram(reply(Command.HELLO, ID + 1), SERVER, 1);
    h.client.handleDatagram(reply(Command.HELLO, ID, P0P_MAGIC), SERVER, 1);
    h.client.handleDatagram(new Uint8Array(3), SERVER, 1);
    h.client.handleDatagram(new Uint8Array(), SERVER, 1);
    assert.equal(h.client.state, "hello-wait");
    h.client.handleDatagram(reply(Command.GOODBYE, ID + 1), SERVER, 2);
    assert.equal(h.client.result, undefined);
  },
);

Deno.test("client: the magic is a setting", pure, () => {
  const h = harness({ magic: P0P_MAGIC });
  h.client.start(0);
  assert.deepEqual(h.sent(), ["HELLO 0"]);
  h.from(Command.HELLO, 1);
  assert.equal(h.client.state, "ready");
});

Deno.test("pacing: DATA beyond the window wait for ALIVEs; GOODBYE waits behind them", pure, () => {
  const h = ready({ window: 2 });
  for (const s of "abcdefgh") h.client.handleLine(enc.encode(s), 1);
  assert.deepEqual(h.sent(), ["DATA 1 a"], "the window starts at one");
  for (const [at, next] of [[2, "DATA 2 b"], [3, "DATA 3 c"], [4, "DATA 4 d"], [5, "DATA 5 e"]]) {
    h.from(Command.ALIVE, at as number);
    assert.deepEqual(h.sent(), [next], "a few ALIVEs first show how busy the server is");
  }
  h.from(Command.ALIVE, 6);
  assert.deepEqual(h.sent(), ["DATA 6 f", "DATA 7 g"], "then the window grows by one");
  assert.equal(h.client.inFlight, 2);
  h.client.handleEof(7);
  assert.deepEqual(h.sent(), [], "GOODBYE waits behind the queued line");
  h.from(Command.ALIVE, 8);
  assert.deepEqual(h.sent(), ["DATA 8 h"]);
  h.from(Command.ALIVE, 9);
  assert.deepEqual(h.sent(), ["GOODBYE 9"], "GOODBYE takes a place in the window too");
});

Deno.test("pacing: window 0 sends unpaced", pure, () => {
  const h = ready({ window: 0 });
  for (let i = 0; i < 1000; i++) h.client.handleLine(enc.encode(`${i}`), 1);
  assert.equal(h.sent().length, 1000);
});

Deno.test(
  "pacing: with no ALIVE, the window lets a probe go once per RTO, backing off to MAX_RTO_MS",
  pure,
  () => {
    const h = ready({ window: 2, timeoutMs: 32_000 }); // srtt 0: RTO = MIN_RTO_MS
    const input = ["v", "w", "x", "y", "z", "a", "b", "c", "d", "e", "f", "g"];
    for (const s of input) h.client.handleLine(enc.encode(s), 10);
    h.client.handleEof(10);
    assert.equal(h.client.pollTimeout(), 10 + FIRST_ALIVE_RTO_MS, "patient for the first ALIVE");
    for (let i = 0; i < 5; i++) h.from(Command.ALIVE, 10);
    const sent = h.sent();
    // From now on no ALIVE comes: each RTO lets one more go (limbo ends reopen nothing new).
    const sendTimes: number[] = [];
    for (let i = 0; i < 100 && h.client.state !== "closing"; i++) {
      const t = h.client.pollTimeout()!;
      h.client.handleTimeout(t);
      const now = h.sent();
      if (now.length > 0) sendTimes.push(t);
      sent.push(...now);
    }
    assert.deepEqual(sent, [...input.map((s, i) => `DATA ${i + 1} ${s}`), "GOODBYE 13"]);
    const gaps = sendTimes.map((t, i) => t - (i === 0 ? 10 : sendTimes[i - 1]));
    assert.equal(gaps[0], MIN_RTO_MS);
    for (let i = 1; i < gaps.length; i++) {
      assert.ok(gaps[i] >= gaps[i - 1] && gaps[i] <= MAX_RTO_MS, `growing, bounded: ${gaps}`);
    }
  },
);

Deno.test("pacing: the probe interval never exceeds a sixteenth of the timer", pure, () => {
  const h = ready({ window: 1, timeoutMs: 400 });
  for (let i = 0; i < 100; i++) h.client.handleLine(enc.encode(`${i}`), 0);
  h.from(Command.ALIVE, 1); // RTO now known; then silence
  h.sent();
  let last = 1;
  let probes = 0;
  while (h.client.result === undefined) {
    const t = h.client.pollTimeout()!;
    assert.ok(t - last <= 25, `a wait of ${t - last} ms is over a sixteenth of 400`);
    last = t;
    h.client.handleTimeout(t);
    probes += h.sent().filter((m) => m.startsWith("DATA")).length;
  }
  assert.ok(probes >= 16, `${probes} DATA in the 400 ms before giving up`);
  assert.deepEqual(h.client.result, { code: 1, message: "server stopped answering" });
  assert.ok(last <= 1 + 400 + 25, `reported at ${last}: within the timer and one probe interval`);
});

Deno.test("client: the HELLO is repeated (seq 0) until answered; then no more", pure, () => {
  const h = harness({ timeoutMs: 4_000 });
  h.client.start(0);
  assert.deepEqual(h.sent(), ["HELLO 0"]);
  assert.equal(h.client.pollTimeout(), HELLO_REPEAT_MS);
  h.client.handleTimeout(HELLO_REPEAT_MS);
  h.client.handleTimeout(2 * HELLO_REPEAT_MS);
  assert.deepEqual(h.sent(), ["HELLO 0", "HELLO 0"]);
  h.client.handleLine(enc.encode("one"), 450);
  h.from(Command.HELLO, 500);
  assert.deepEqual(h.sent(), ["DATA 1 one"]);
  assert.equal(h.client.stats.repeats, 2);
  h.from(Command.ALIVE, 501);
  assert.equal(h.client.pollTimeout(), undefined, "nothing left to repeat");
});

Deno.test("client: a HELLO never answered ends with 'no answer' at the timer", pure, () => {
  const h = harness({ timeoutMs: 4_000 });
  h.client.start(0);
  for (
    let t = h.client.pollTimeout()!;
    h.client.result === undefined;
    t = h.client.pollTimeout()!
  ) {
    h.client.handleTimeout(t);
  }
  const sent = h.sent();
  assert.deepEqual(sent.slice(0, 20), Array(20).fill("HELLO 0"), "one every 200 ms");
  assert.deepEqual(sent.slice(20), ["GOODBYE 1"]);
  assert.deepEqual(h.client.result, { code: 1, message: "no answer from 127.0.0.1:9000" });
});

Deno.test("client: the GOODBYE is repeated (same seq) until the server's GOODBYE", pure, () => {
  const h = ready({ timeoutMs: 4_000, window: 4 });
  h.client.handleLine(enc.encode("x"), 5);
  h.from(Command.ALIVE, 5); // a round trip of 0: the RTO is MIN_RTO_MS
  h.client.handleEof(10);
  assert.deepEqual(h.sent(), ["DATA 1 x", "GOODBYE 2"]);
  const at: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t = h.client.pollTimeout()!;
    at.push(t);
    h.client.handleTimeout(t);
  }
  assert.deepEqual(h.sent(), ["GOODBYE 2", "GOODBYE 2", "GOODBYE 2"]);
  assert.deepEqual(at, [10 + MIN_RTO_MS, 10 + 3 * MIN_RTO_MS, 10 + 7 * MIN_RTO_MS], "doubling");
  h.from(Command.GOODBYE, at[2] + 1);
  assert.deepEqual(h.client.result, { code: 0 });
  assert.deepEqual(h.sent(), []);
});

Deno.test("pacing: the --timeout timer fires while the window waits", pure, () => {
  const h = ready({ window: 1 });
  for (const s of ["a", "b"]) h.client.handleLine(enc.encode(s), 10);
  for (let i = 0; i < 50 && h.client.result === undefined; i++) {
    h.client.handleTimeout(h.client.pollTimeout()!);
  }
  assert.deepEqual(h.client.result, { code: 1, message: "server stopped answering" });
});

Deno.test("pacing: large lines are bounded by bytes in flight", pure, () => {
  const h = ready({ window: 32, windowBytes: 100_000 });
  const big = new Uint8Array(60_000);
  for (let i = 0; i < 3; i++) h.client.handleLine(big, 1);
  assert.equal(h.sent().length, 1, "a second 60 kB line would exceed 100 kB");
  h.from(Command.ALIVE, 2);
  assert.equal(h.sent().length, 1);
});

Deno.test("backpressure: wantsLines turns false at the high-water mark and after EOF", pure, () => {
  const h = harness({ highWater: 3 });
  h.client.start(0);
  for (let i = 0; i < 3; i++) h.client.handleLine(enc.encode("x"), 1);
  assert.equal(h.client.wantsLines, false);
  h.from(Command.HELLO, 2);
  assert.equal(h.client.wantsLines, true);
  h.client.handleEof(3);
  assert.equal(h.client.wantsLines, false);
});

Deno.test("backpressure: lines are wanted again only when the queue is down to half", pure, () => {
  const h = ready({ highWater: 8, window: 1 });
  h.sent();
  for (let i = 0; i < 9; i++) h.client.handleLine(enc.encode("x"), 1);
  // one DATA in flight, 8 queued: at the mark
  assert.equal(h.client.wantsLines, false);
  for (let n = 0; n < 3; n++) {
    h.from(Command.ALIVE, 2);
    assert.equal(h.client.wantsLines, false, `after ${n + 1} ALIVEs, 8-${n + 1} queued`);
  }
  h.from(Command.ALIVE, 2); // 4 queued: half
  assert.equal(h.client.wantsLines, true);
});

Deno.test(
  "client: an interrupt sends GOODBYE at once and closes with its code at the server's GOODBYE",
  pure,
  () => {
    const h = ready();
    h.client.handleLine(enc.encode("one"), 10);
    h.client.handleLine(enc.encode("two"), 10);
    assert.deepEqual(h.sent(), ["DATA 1 one", "DATA 2 two"]);
    h.client.handleInterrupt(130, 20);
    assert.deepEqual(h.sent(), ["GOODBYE 3"]);
    assert.equal(h.client.state, "closing");
    assert.equal(h.client.wantsLines, false);
    h.client.handleLine(enc.encode("after"), 21); // not sent
    assert.deepEqual(h.sent(), []);
    h.from(Command.GOODBYE, 30);
    assert.deepEqual(h.client.result, { code: 130 });
  },
);

Deno.test(
  "client: an interrupt with a silent server ends after INTERRUPT_WAIT_MS, never later",
  pure,
  () => {
    const h = harness();
    h.client.start(0);
    h.sent();
    h.client.handleInterrupt(143, 100); // still waiting for the HELLO reply
    assert.deepEqual(h.sent(), ["GOODBYE 1"]);
    h.client.handleTimeout(100 + INTERRUPT_WAIT_MS - 1);
    assert.equal(h.client.result, undefined);
    h.client.handleTimeout(100 + INTERRUPT_WAIT_MS);
    assert.deepEqual(h.client.result, { code: 143 });
    // After EOF's GOODBYE, an interrupt sends no second GOODBYE but shortens the wait.
    const e = ready();
    e.client.handleEof(0);
    assert.deepEqual(e.sent(), ["GOODBYE 1"]);
    e.client.handleInterrupt(130, 10);
    assert.deepEqual(e.sent(), []);
    assert.equal(runTimers(e.client), 10 + INTERRUPT_WAIT_MS);
  },
);

Deno.test(
  "client: a server answering in another variant is named once, with the hint and its first bytes",
  pure,
  () => {
    const h = harness();
    h.client.start(0);
    h.client.handleDatagram(new Uint8Array(), SERVER, 1); // empty: nothing to say
    assert.equal(h.client.pollNotice(), undefined);
    for (let i = 0; i < 3; i++) {
      h.client.handleDatagram(reply(Command.HELLO, ID, P0P_MAGIC), SERVER, 2);
    }
    assert.deepEqual(h.client.pollNotice(), {
      line: "the server answers in another PUDP: looks like P0P (magic 0xC461): try --magic 0xC461",
      verboseOnly: false,
    });
    const bytes = h.client.pollNotice();
    assert.equal(bytes?.verboseOnly, true);
    assert.match(
      bytes!.line,
      /^an answer that does not decode: '\\xc4a\\x01\\x00.*' \(12 bytes\)$/,
    );
    assert.equal(h.client.pollNotice(), undefined, "once");
    h.client.handleDatagram(reply(Command.HELLO, ID, 0xe86d), SERVER, 3);
    assert.equal(h.client.pollNotice(), undefined, "once, whatever comes next");
    assert.equal(h.client.state, "hello-wait");
  },
);

Deno.test(
  "client: an answer that is not PUDP shows its first bytes (--verbose) and no hint",
  pure,
  () => {
    const h = harness();
    h.client.start(0);
    h.client.handleDatagram(enc.encode("\x1b]0;hi\x07 not pudp"), SERVER, 1);
    assert.deepEqual(h.client.pollNotice(), {
      line: "an answer that does not decode: '\\x1b]0;hi\\x07 not pudp' (16 bytes)",
      verboseOnly: true,
    });
    // A later P0P answer still gets its hint.
    h.client.handleDatagram(reply(Command.HELLO, ID, P0P_MAGIC), SERVER, 2);
    assert.equal(h.client.pollNotice()?.verboseOnly, false);
    assert.equal(h.client.pollNotice(), undefined);
  },
);

Deno.test("client: the version is a setting (--wire-version)", pure, () => {
  const h = harness({ magic: 0xe86d, version: 2 });
  h.client.start(0);
  const t = h.client.pollTransmit()!;
  assert.deepEqual([...t.data.subarray(0, 3)], [0xe8, 0x6d, 2]);
  h.client.handleDatagram(
    encode({ command: Command.HELLO, seq: 0, sessionId: ID, payload: new Uint8Array() }, 0xe86d, 2),
    SERVER,
    1,
  );
  assert.equal(h.client.state, "ready");
});
