import assert from "node:assert/strict";
import { ClientSession, INTERRUPT_WAIT_MS } from "../../lib/pudp/client_session.ts";
import { FIRST_ALIVE_QUIET_MS, MIN_QUIET_MS } from "../../lib/pudp/pacing.ts";
import { Command, decode, encode, P0P_MAGIC } from "../../lib/pudp/wire.ts";
import type { PeerAddress } from "../../lib/net/transmit.ts";

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

function harness(opts: Partial<ConstructorParameters<typeof ClientSession>[1]> = {}) {
  const client = new ClientSession(SERVER, { sessionId: ID, timeoutMs: T, window: 0, ...opts });
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

/** A client whose HELLO was answered at t=0, with its HELLO drained. */
function ready(opts: Partial<ConstructorParameters<typeof ClientSession>[1]> = {}) {
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
  assert.equal(h.client.pollTimeout(), 100 + T);
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
    assert.equal(h.client.pollTimeout(), 10 + T);
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
  assert.deepEqual(h.sent(), ["GOODBYE 1"]);
  assert.equal(h.client.state, "closed");
  assert.deepEqual(h.client.result, { code: 1, message: "no answer from example.net:9000" });
  // Without a label the address is used, IPv6 in brackets.
  const v6 = new ClientSession({ hostname: "::1", port: 7 }, { sessionId: 1, timeoutMs: 1 });
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
  assert.equal(r.client.pollTimeout(), 10 + T);
  const rt = ready();
  rt.client.handleLine(enc.encode("x"), 10);
  rt.client.handleEof(20);
  assert.deepEqual(rt.sent(), ["DATA 1 x", "GOODBYE 2"]);
  assert.equal(rt.client.state, "closing");
  assert.equal(rt.client.pollTimeout(), 20 + T);
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
  assert.deepEqual(t.client.result, { code: 0 });
});

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

Deno.test("pacing: lost ALIVEs never stall the session; the SPEC timer still holds", pure, () => {
  const h = ready({ window: 2, timeoutMs: 60_000 }); // srtt 0: quiet = MIN_QUIET_MS
  for (const s of ["v", "w", "x", "y", "z", "a", "b", "c", "d", "e"]) {
    h.client.handleLine(enc.encode(s), 10);
  }
  h.client.handleEof(10);
  assert.equal(h.client.pollTimeout(), 10 + FIRST_ALIVE_QUIET_MS, "patient for the first ALIVE");
  for (let i = 0; i < 5; i++) h.from(Command.ALIVE, 10);
  assert.deepEqual(
    h.sent(),
    ["v", "w", "x", "y", "z", "a", "b"].map((s, i) => `DATA ${i + 1} ${s}`),
  );
  // From now on no ALIVE comes.
  const recoverAt = h.client.pollTimeout()!;
  assert.equal(recoverAt, 10 + MIN_QUIET_MS);
  h.client.handleTimeout(recoverAt - 1);
  assert.deepEqual(h.sent(), []);
  // No ALIVE ever comes: each quiet period releases one message, waits twice as long.
  const sent: string[] = [];
  const gaps: number[] = [];
  let last = 10;
  for (let i = 0; i < 10 && h.client.state !== "closing"; i++) {
    const at = h.client.pollTimeout()!;
    gaps.push(at - last);
    last = at;
    h.client.handleTimeout(at);
    const now = h.sent();
    assert.equal(now.length, 1, `one message per expiry: ${now}`);
    sent.push(...now);
  }
  assert.deepEqual(sent, ["DATA 8 c", "DATA 9 d", "DATA 10 e", "GOODBYE 11"]);
  assert.deepEqual(gaps, [1, 2, 4, 8].map((k) => k * MIN_QUIET_MS));
  // Still nothing from the server: the closing timer ends it (exit 0 per SPEC).
  h.client.handleTimeout(h.client.pollTimeout()!);
  assert.deepEqual(h.client.result, { code: 0 });
});

Deno.test("pacing: the SPEC timer fires while the window waits", pure, () => {
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
    assert.equal(h.client.pollTimeout(), 20 + INTERRUPT_WAIT_MS);
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
    assert.equal(e.client.pollTimeout(), 10 + INTERRUPT_WAIT_MS);
  },
);
