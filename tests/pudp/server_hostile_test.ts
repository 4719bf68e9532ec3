/**
 * The server state machine against arbitrary datagrams from several
 * addresses (fast-check), some of them repeats: it never throws, sessions
 * never leak, a session id stays bound to the address that opened it, and a
 * repeated GOODBYE for a closed session gets one reply, to that address.
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { ServerMachine } from "../../lib/pudp/server_machine.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import { Command, decode, encode, HEADER_SIZE, PUDP_MAGIC } from "../../lib/pudp/wire.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";

const pure = { permissions: "none" } as const;
const TIMEOUT_MS = 1000;
const MAX_SESSIONS = 6;

const addresses: PeerAddress[] = [
  { hostname: "127.0.0.1", port: 4000 },
  { hostname: "127.0.0.1", port: 4001 },
  { hostname: "127.0.0.2", port: 4000 },
  { hostname: "::1", port: 4000 },
];

/** Datagrams that matter to the server: a few ids, small seqs, any command, any tail. */
const wellFormed = fc.record({
  command: fc.integer({ min: 0, max: 5 }),
  seq: fc.oneof(fc.integer({ min: 0, max: 12 }), fc.constantFrom(0xffff_ffff, 0x8000_0000)),
  sessionId: fc.integer({ min: 1, max: 8 }),
  payload: fc.uint8Array({ maxLength: 20 }),
}).map((m) => encode(m));

/** A well-formed datagram with bytes flipped, cut or extended. */
const mutated = fc.tuple(
  wellFormed,
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
    maxLength: 4,
  }),
  fc.integer({ min: -14, max: 4 }),
).map(([bytes, flips, resize]) => {
  const b = new Uint8Array(Math.max(0, bytes.length + resize));
  b.set(bytes.subarray(0, b.length));
  for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
  return b;
});

const datagram = fc.oneof(wellFormed, mutated, fc.uint8Array({ maxLength: 40 }));

/** Sends one of the last 2 datagrams again, from the same address (a repeat): which, modulo. */
const again = fc.oneof(
  { arbitrary: fc.constant(null), weight: 3 },
  { arbitrary: fc.nat(), weight: 1 },
);

const anyEvent = fc.record({
  bytes: datagram,
  from: fc.integer({ min: 0, max: addresses.length - 1 }),
  step: fc.integer({ min: 0, max: 400 }),
  again,
});

/**
 * Datagrams shaped like sessions (HELLO 0, DATA, GOODBYE on a few ids, each
 * id from its own address), so that sessions open and close by GOODBYE, and
 * repeats of those GOODBYEs come.
 */
const sessionEvent = fc.record({
  command: fc.constantFrom(Command.HELLO, Command.DATA, Command.GOODBYE),
  seq: fc.integer({ min: 0, max: 3 }),
  sessionId: fc.integer({ min: 1, max: 3 }),
  step: fc.integer({ min: 0, max: 400 }),
  again,
}).map(({ command, seq, sessionId, step, again }) => ({
  bytes: encode({
    command,
    seq: command === Command.HELLO ? 0 : seq,
    sessionId,
    payload: new Uint8Array(),
  }),
  from: sessionId % 2,
  step,
  again,
}));

const event = fc.oneof(anyEvent, sessionEvent);

Deno.test(
  "server: arbitrary datagrams from several addresses never throw, leak or rebind",
  pure,
  () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 120, size: "max" }), (events) => {
        const output = new ServerTextSink();
        const server = new ServerMachine(
          { timeoutMs: TIMEOUT_MS, maxSessions: MAX_SESSIONS },
          output,
        );
        /** The address each open session was created by (from its HELLO reply). */
        const boundTo = new Map<number, PeerAddress>();
        /** The address of each closed session (a repeated GOODBYE may be answered there). */
        const closedFor = new Map<number, PeerAddress>();
        let now = 0;
        const drain = () => {
          let sent = 0;
          for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
            sent++;
            const reply = decode(t.data, PUDP_MAGIC);
            const bound = boundTo.get(reply.sessionId);
            if (reply.command === Command.HELLO) {
              // A new session, or a repeated HELLO answered again (to the same address).
              if (bound !== undefined) assert.deepEqual(t.to, bound, "HELLO again, same address");
              boundTo.set(reply.sessionId, t.to);
              closedFor.delete(reply.sessionId);
            } else if (bound === undefined) {
              // Only a GOODBYE again, to the address of a closed session.
              assert.equal(reply.command, Command.GOODBYE, "only GOODBYE to a closed session");
              const closed = closedFor.get(reply.sessionId);
              assert.ok(closed, `reply for session ${reply.sessionId} that was never created`);
              assert.deepEqual(t.to, closed, "a repeated GOODBYE is answered to its address");
            } else {
              assert.deepEqual(
                t.to,
                bound,
                "replies go only to the address that opened the session",
              );
            }
            if (reply.command === Command.GOODBYE && bound !== undefined) {
              boundTo.delete(reply.sessionId);
              closedFor.set(reply.sessionId, bound);
            }
            server.recycle(t);
          }
          output.take();
          return sent;
        };
        for (const [i, next] of events.entries()) {
          const e = next.again !== null && i > 0
            ? events[i - 1 - (next.again % Math.min(i, 2))]
            : next;
          now += next.step;
          for (
            let at = server.pollTimeout();
            at !== undefined && at <= now;
            at = server.pollTimeout()
          ) {
            server.handleTimeout(at);
            drain();
          }
          const repeats = server.stats.repeatedGoodbyes;
          server.handleDatagram(e.bytes, addresses[e.from], now);
          const sent = drain();
          if (server.stats.repeatedGoodbyes > repeats) {
            assert.equal(sent, 1, "one reply to a repeated GOODBYE, no more");
          }
          assert.ok(server.openSessions <= MAX_SESSIONS);
          assert.ok(server.rememberedGoodbyes <= MAX_SESSIONS);
          assert.equal(
            server.openSessions,
            boundTo.size,
            "every open session is known by its HELLO",
          );
        }
        // No leak: once every deadline has passed, nothing is left open.
        server.handleTimeout(now + TIMEOUT_MS);
        drain();
        assert.equal(server.openSessions, 0);
        assert.equal(server.rememberedGoodbyes, 0);
        assert.equal(server.pollTimeout(), undefined);
        const s = server.stats;
        assert.equal(s.dropped + s.messages, events.length, "every datagram counted once");
      }),
      { numRuns: 1000 },
    );
  },
);

Deno.test(
  "server: a datagram shorter than a header, or of another magic, is dropped and counted",
  pure,
  () => {
    const server = new ServerMachine({ timeoutMs: TIMEOUT_MS }, new ServerTextSink());
    for (let n = 0; n < HEADER_SIZE; n++) server.handleDatagram(new Uint8Array(n), addresses[0], 0);
    server.handleDatagram(
      encode({ command: 0, seq: 0, sessionId: 1, payload: new Uint8Array() }, 0x1234),
      addresses[0],
      0,
    );
    assert.equal(server.stats.dropped, HEADER_SIZE + 1);
    assert.equal(server.openSessions, 0);
    assert.equal(server.pollTransmit(), undefined);
  },
);
