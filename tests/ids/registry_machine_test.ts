/**
 * The ids server machine with numeric time: grants, refusals, repeats,
 * expiry, idle exit, malformed requests, and TCP framing (lines split
 * anywhere, unterminated requests, EOF, RESET closes, too long closes); no
 * reply to a reply or to bytes that are not text, ERRORs rate limited per
 * address with a bounded table, none with --course, and the --max-ids cap.
 */

import assert from "node:assert/strict";
import { EventQueue } from "../../lib/events/sink.ts";
import type { IdsEvent } from "../../lib/ids/events.ts";
import {
  FULL_NOTICE_MS,
  IdRegistry,
  type IdsOptions,
  PARTIAL_LINE_MS,
} from "../../lib/ids/registry_machine.ts";
import {
  ERROR_ADDRESSES,
  ERROR_BURST,
  ERROR_RATE,
  ERROR_TOTAL_BURST,
  ERROR_TOTAL_RATE,
} from "../../lib/ids/error_limiter.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";

const pure = { permissions: "none" } as const;
const A: PeerAddress = { hostname: "10.0.0.1", port: 1111 };
const B: PeerAddress = { hostname: "10.0.0.2", port: 2222 };
const enc = (s: string) => new TextEncoder().encode(s);

function harness(idTtlMs = 30_000, idleExitMs = 120_000, more: Partial<IdsOptions> = {}) {
  const events = new EventQueue<IdsEvent>();
  const m = new IdRegistry({ idTtlMs, idleExitMs, ...more }, events, 0);
  return {
    m,
    /** Replies as `to text` (datagrams) or `#conn text` (streams). */
    sent(): string[] {
      const out: string[] = [];
      for (let t = m.pollTransmit(); t; t = m.pollTransmit()) {
        const text = new TextDecoder().decode(t.data);
        out.push(t.kind === "datagram" ? `${t.to.port} ${text}` : `#${t.connection} ${text}`);
      }
      return out;
    },
    closes(): number[] {
      const out: number[] = [];
      for (let c = m.pollClose(); c !== undefined; c = m.pollClose()) out.push(c);
      return out;
    },
    events(): string[] {
      return events.drain().map((e) => {
        const { event, peer, ...rest } = e;
        return `${event} ${peer.port} ${JSON.stringify(rest)}`;
      });
    },
  };
}

Deno.test("ids machine: OK for a free id, RESET while held, OK again after the ttl", pure, () => {
  const h = harness(1000);
  h.m.handleDatagram(enc("HELLO 8877"), A, 10);
  h.m.handleDatagram(enc("HELLO 8877\n"), B, 20);
  assert.deepEqual(h.sent(), ["1111 OK 8877 10.0.0.1 1111", "2222 RESET 8877"]);
  assert.equal(h.m.pollTimeout(), 1010);
  h.m.handleTimeout(1009);
  assert.equal(h.m.heldIds, 1);
  h.m.handleTimeout(1010);
  assert.equal(h.m.heldIds, 0);
  h.m.handleDatagram(enc("HELLO 8877"), B, 1020);
  assert.deepEqual(h.sent(), ["2222 OK 8877 10.0.0.2 2222"]);
  assert.deepEqual(h.events(), [
    'ok 1111 {"id":"8877","transport":"udp","repeat":false}',
    'reset 2222 {"id":"8877","transport":"udp","holder":"10.0.0.1:1111"}',
    'expired 1111 {"id":"8877"}',
    'ok 2222 {"id":"8877","transport":"udp","repeat":false}',
  ]);
  assert.deepEqual(h.m.stats, {
    requests: 3,
    ok: 2,
    reset: 1,
    errors: 0,
    expired: 1,
    dropped: 0,
    full: 0,
    connections: 0,
  });
});

Deno.test(
  "ids machine: a repeat from the holder's own address is OK again and keeps the ttl",
  pure,
  () => {
    const h = harness(1000);
    h.m.handleDatagram(enc("HELLO x"), A, 0);
    h.m.handleDatagram(enc("HELLO x"), A, 500); // its OK was lost
    assert.deepEqual(h.sent(), ["1111 OK x 10.0.0.1 1111", "1111 OK x 10.0.0.1 1111"]);
    assert.equal(h.m.pollTimeout(), 1000, "the id still expires 1 s after it was taken");
    assert.match(h.events()[1], /"repeat":true/);
  },
);

Deno.test("ids machine: malformed requests get ERROR and leave the registry alone", pure, () => {
  const h = harness();
  h.m.handleDatagram(enc("HELLO a"), A, 0);
  for (const bad of ["", "HELLO", "HELLO a b", "BYE a", "HELLO " + "z".repeat(65)]) {
    h.m.handleDatagram(enc(bad), B, 1);
  }
  h.m.handleDatagram(enc("HELLO b"), B, 2);
  assert.deepEqual(h.sent(), [
    "1111 OK a 10.0.0.1 1111",
    "2222 ERROR empty request",
    "2222 ERROR expected 'HELLO <id>'",
    "2222 ERROR expected 'HELLO <id>'",
    "2222 ERROR expected 'HELLO <id>'",
    "2222 ERROR id longer than 64 characters",
    "2222 OK b 10.0.0.2 2222",
  ]);
  assert.equal(h.m.heldIds, 2);
  assert.equal(h.m.stats.errors, 5);
});

Deno.test(
  "ids machine: no request for idleExitMs finishes it; every request restarts the wait",
  pure,
  () => {
    const h = harness(1000, 2000);
    assert.equal(h.m.pollTimeout(), 2000);
    h.m.handleDatagram(enc("junk"), A, 1500); // a malformed request is a request too
    h.m.handleTimeout(1500);
    h.m.handleTimeout(2000);
    assert.equal(h.m.finished, false);
    h.m.handleTimeout(3499);
    assert.equal(h.m.finished, false);
    h.m.handleTimeout(3500);
    assert.equal(h.m.finished, true);
    assert.equal(h.m.pollTimeout(), undefined);
    const never = harness(1000, 0);
    assert.equal(never.m.pollTimeout(), undefined);
  },
);

Deno.test(
  "ids machine: TCP requests are lines, split anywhere; RESET closes the connection",
  pure,
  () => {
    const h = harness();
    h.m.handleConnect(1, A, 0);
    h.m.handleConnect(2, B, 0);
    for (const piece of ["HEL", "LO on", "e\r\nHELLO two\nHE"]) {
      h.m.handleStreamBytes(
        1,
        enc(piece),
        1,
      );
    }
    assert.deepEqual(h.sent(), ["#1 OK one 10.0.0.1 1111\n", "#1 OK two 10.0.0.1 1111\n"]);
    h.m.handleStreamBytes(2, enc("HELLO one\nHELLO three\n"), 2);
    assert.deepEqual(h.sent(), ["#2 RESET one\n"], "nothing after the RESET is read");
    assert.deepEqual(h.closes(), [2]);
    h.m.handleStreamBytes(1, enc("LLO three\n"), 3);
    assert.deepEqual(h.sent(), ["#1 OK three 10.0.0.1 1111\n"]);
    assert.deepEqual(h.events().filter((e) => e.startsWith("closed")), [
      'closed 2222 {"connection":2,"reason":"reset sent"}',
    ]);
  },
);

Deno.test("ids machine: an unterminated TCP request counts after a pause or at EOF", pure, () => {
  const h = harness();
  h.m.handleConnect(1, A, 0);
  h.m.handleStreamBytes(1, enc("HELLO 1234"), 100); // a course client: no newline, then it waits
  assert.deepEqual(h.sent(), []);
  assert.equal(h.m.pollTimeout(), 100 + PARTIAL_LINE_MS);
  h.m.handleTimeout(100 + PARTIAL_LINE_MS);
  assert.deepEqual(h.sent(), ["#1 OK 1234 10.0.0.1 1111\n"]);
  h.m.handleConnect(2, B, 0);
  h.m.handleStreamBytes(2, enc("HELLO 99"), 300);
  h.m.handleStreamEnd(2, 310); // then it half-closes
  assert.deepEqual(h.sent(), ["#2 OK 99 10.0.0.2 2222\n"]);
  assert.deepEqual(h.closes(), [2]);
  h.m.handleStreamEnd(1, 400);
  assert.deepEqual(h.closes(), [1]);
});

Deno.test(
  "ids machine: a TCP line over the limit gets ERROR and ends only that connection",
  pure,
  () => {
    const h = harness();
    h.m.handleConnect(1, A, 0);
    h.m.handleConnect(2, B, 0);
    h.m.handleStreamBytes(1, new Uint8Array(5000).fill(0x41), 1);
    assert.deepEqual(h.sent(), ["#1 ERROR request longer than 1024 bytes\n"]);
    assert.deepEqual(h.closes(), [1]);
    h.m.handleStreamBytes(2, enc("HELLO fine\n"), 2);
    assert.deepEqual(h.sent(), ["#2 OK fine 10.0.0.2 2222\n"]);
    h.m.handleStreamGone(2, "peer reset");
    h.m.shutdown();
    assert.deepEqual(h.closes(), []);
    assert.deepEqual(h.events().filter((e) => e.startsWith("closed")), [
      'closed 1111 {"connection":1,"reason":"request too long"}',
      'closed 2222 {"connection":2,"reason":"peer reset"}',
    ]);
  },
);

Deno.test(
  "ids machine: a message that looks like a reply, or is not text, gets nothing (no loops)",
  pure,
  () => {
    const h = harness(30_000, 2000);
    const replies = [
      "OK 8877 10.0.0.9 9",
      "RESET 8877",
      "ERROR expected 'HELLO <id>'",
      "error: huh",
    ];
    for (const r of replies) h.m.handleDatagram(enc(r), A, 1000);
    h.m.handleDatagram(new Uint8Array([0, 1, 2, 0xff]), A, 1000);
    h.m.handleDatagram(new Uint8Array(3000).fill(0xff), A, 1000); // long too: still "not text"
    assert.deepEqual(h.sent(), []);
    assert.deepEqual(h.events().map((e) => e.replace(/ .*"reason":"([^"]*)".*/, " $1")), [
      "dropped reply",
      "dropped reply",
      "dropped reply",
      "dropped reply",
      "dropped not text",
      "dropped not text",
    ]);
    assert.equal(h.m.stats.requests, 0);
    assert.equal(h.m.stats.dropped, 6);
    assert.equal(h.m.pollTimeout(), 2000, "not a request: the idle clock runs on");
    // over TCP, such a line is skipped and the connection goes on
    h.m.handleConnect(1, B, 1000);
    h.m.handleStreamBytes(1, enc("ERROR bad\n\x01\x02\nOK x y 1\nHELLO z\n"), 1001);
    assert.deepEqual(h.sent(), ["#1 OK z 10.0.0.2 2222\n"]);
    assert.deepEqual(h.closes(), []);
    assert.equal(h.m.stats.dropped, 9);
  },
);

Deno.test(
  "ids machine: 1,000 malformed datagrams from one address in 1 s get at most burst + 1 s of ERRORs",
  pure,
  () => {
    const h = harness();
    for (let i = 0; i < 1000; i++) h.m.handleDatagram(enc("junk"), A, 5000 + i);
    const sent = h.sent();
    assert.ok(sent.length >= ERROR_BURST, `${sent.length} ERRORs`);
    assert.ok(sent.length <= ERROR_BURST + ERROR_RATE, `${sent.length} ERRORs`);
    assert.equal(h.m.stats.errors, sent.length);
    assert.equal(h.m.stats.dropped, 1000 - sent.length);
    assert.equal(h.m.stats.requests, 1000);
    const dropped = h.events().filter((e) => e.startsWith("dropped"));
    assert.equal(dropped.length, 1000 - sent.length);
    assert.equal(
      dropped[0],
      `dropped 1111 {"reason":"rate limited","transport":"udp","error":"expected 'HELLO <id>'"}`,
    );
    // another address is not starved; the flooder's well-formed requests still get answers
    h.m.handleDatagram(enc("junk"), B, 6000);
    h.m.handleDatagram(enc("HELLO mine"), A, 6000);
    assert.deepEqual(h.sent(), [
      "2222 ERROR expected 'HELLO <id>'",
      "1111 OK mine 10.0.0.1 1111",
    ]);
    // a second later the flooder gets ERRORs again, a few
    for (let i = 0; i < 100; i++) h.m.handleDatagram(enc("junk"), A, 8000);
    assert.equal(h.sent().length, ERROR_BURST);
  },
);

Deno.test(
  "ids machine: malformed requests from 10,000 addresses: the limiter's table stays bounded",
  pure,
  () => {
    const h = harness();
    for (let i = 0; i < 10_000; i++) {
      const from = { hostname: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 7 };
      h.m.handleDatagram(enc("junk"), from, 1000 + i / 10); // 10,000 in one second
      assert.ok(h.m.limitedAddresses <= ERROR_ADDRESSES);
    }
    assert.equal(h.m.limitedAddresses, ERROR_ADDRESSES);
    const sent = h.sent().length;
    assert.ok(sent <= ERROR_TOTAL_BURST + ERROR_TOTAL_RATE, `${sent} ERRORs in all`);
    assert.equal(h.m.stats.dropped, 10_000 - sent);
  },
);

Deno.test("ids machine: --course sends no ERROR at all; drops are counted", pure, () => {
  const h = harness(30_000, 120_000, { course: true, maxIds: 1 });
  for (const bad of ["", "junk", "HELLO a b", "HELLO " + "z".repeat(65)]) {
    h.m.handleDatagram(enc(bad), A, 1);
  }
  h.m.handleDatagram(enc("HELLO a"), A, 2);
  h.m.handleDatagram(enc("HELLO b"), B, 3); // the table is full: no ERROR either
  assert.deepEqual(h.sent(), ["1111 OK a 10.0.0.1 1111"]);
  assert.equal(h.m.stats.errors, 0);
  assert.equal(h.m.stats.dropped, 5);
  assert.equal(h.m.stats.requests, 6);
  h.m.handleConnect(1, B, 4);
  h.m.handleStreamBytes(1, enc("nonsense\n"), 5);
  h.m.handleStreamBytes(1, new Uint8Array(5000).fill(0x41), 6);
  assert.deepEqual(h.sent(), [], "too long over TCP: closed without an ERROR");
  assert.deepEqual(h.closes(), [1]);
  assert.ok(
    h.events().some((e) =>
      e.includes('"reason":"course","transport":"udp","error":"empty request"')
    ),
  );
});

Deno.test(
  "ids machine: --max-ids: a new id past the cap gets ERROR id table full, said once a minute",
  pure,
  () => {
    const h = harness(10_000, 0, { maxIds: 2 });
    h.m.handleDatagram(enc("HELLO a"), A, 0);
    h.m.handleDatagram(enc("HELLO b"), A, 1);
    h.m.handleDatagram(enc("HELLO c"), B, 2);
    h.m.handleDatagram(enc("HELLO d"), B, 3);
    h.m.handleDatagram(enc("HELLO a"), A, 4); // the holder's repeat: still OK
    h.m.handleDatagram(enc("HELLO b"), B, 5); // a held id: still RESET
    assert.deepEqual(h.sent(), [
      "1111 OK a 10.0.0.1 1111",
      "1111 OK b 10.0.0.1 1111",
      "2222 ERROR id table full",
      "2222 ERROR id table full",
      "1111 OK a 10.0.0.1 1111",
      "2222 RESET b",
    ]);
    assert.equal(h.m.heldIds, 2);
    assert.equal(h.m.stats.full, 2);
    const notices = () => h.events().filter((e) => e.startsWith("table_full"));
    assert.deepEqual(notices(), ['table_full 2222 {"limit":2}']);
    h.m.handleDatagram(enc("HELLO e"), B, FULL_NOTICE_MS - 1);
    assert.deepEqual(notices(), [], "said at most once a minute");
    h.m.handleTimeout(10_000); // a and b expire
    h.m.handleDatagram(enc("HELLO c"), B, 10_001);
    assert.deepEqual(h.sent().slice(-1), ["2222 OK c 10.0.0.2 2222"]);
    // many requests for new ids: the table never grows past the cap
    for (let i = 0; i < 1000; i++) {
      h.m.handleDatagram(enc(`HELLO n${i}`), A, FULL_NOTICE_MS + 100 + i);
    }
    assert.equal(h.m.heldIds, 2);
    assert.deepEqual(notices(), ['table_full 1111 {"limit":2}']);
  },
);
