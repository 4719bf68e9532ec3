/**
 * The ids codec: fixed vectors for requests and replies, and properties:
 * any bytes parse or throw WireError (nothing else); lines come back the
 * same however the stream is split.
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import {
  decodeLine,
  formatReply,
  MAX_LINE,
  parseReply,
  parseRequest,
  WireError,
} from "../../lib/ids/wire.ts";
import { NEED_MORE, ReceiveBuffer } from "../../lib/bytes/receive_buffer.ts";

const pure = { permissions: "none" } as const;
const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("ids wire: requests parse, with or without a line ending", pure, () => {
  assert.deepEqual(parseRequest(enc("HELLO 8877")), { id: "8877" });
  assert.deepEqual(parseRequest(enc("HELLO 8877\n")), { id: "8877" });
  assert.deepEqual(parseRequest(enc("HELLO  a-b_c!~\r\n")), { id: "a-b_c!~" });
  assert.deepEqual(parseRequest(enc("HELLO " + "x".repeat(64))), { id: "x".repeat(64) });
});

Deno.test("ids wire: malformed requests throw WireError with the reason ERROR gives", pure, () => {
  const cases: [Uint8Array, string][] = [
    [enc(""), "empty request"],
    [enc("\r\n"), "empty request"],
    [enc("HELLO"), "expected 'HELLO <id>'"],
    [enc("hello 1"), "expected 'HELLO <id>'"],
    [enc("HELLO 1 2"), "expected 'HELLO <id>'"],
    [enc("GET / HTTP/1.0"), "expected 'HELLO <id>'"],
    [enc("HELLO " + "x".repeat(65)), "id longer than 64 characters"],
    [enc("HELLO " + "x".repeat(MAX_LINE)), `request longer than ${MAX_LINE} bytes`],
    [new Uint8Array([0x48, 0x00, 0xff]), "request is not text"],
    [enc("HELLO é"), "request is not text"],
    [enc("HELLO a\tb"), "request is not text"],
  ];
  for (const [bytes, reason] of cases) {
    assert.throws(() => parseRequest(bytes), (e) => e instanceof WireError && e.message === reason);
  }
});

Deno.test("ids wire: replies format and parse back", pure, () => {
  assert.equal(formatReply({ kind: "ok", id: "8877", ip: "::1", port: 5 }), "OK 8877 ::1 5");
  assert.equal(formatReply({ kind: "reset", id: "8877" }), "RESET 8877");
  assert.equal(formatReply({ kind: "error", reason: "empty request" }), "ERROR empty request");
  assert.deepEqual(parseReply(enc("OK 8877 10.0.0.2 5555\n")), {
    kind: "ok",
    id: "8877",
    ip: "10.0.0.2",
    port: 5555,
  });
  assert.deepEqual(parseReply(enc("RESET 8877")), { kind: "reset", id: "8877" });
  assert.deepEqual(parseReply(enc("ERROR expected 'HELLO <id>'")), {
    kind: "error",
    reason: "expected 'HELLO <id>'",
  });
  assert.throws(() => parseReply(enc("HUH")), WireError);
  assert.throws(() => parseReply(new Uint8Array([0xff])), WireError);
});

Deno.test("ids wire: property: any bytes parse or throw WireError, nothing else", pure, () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 1200 }), (bytes) => {
    for (const parse of [parseRequest, parseReply]) {
      try {
        parse(bytes);
      } catch (e) {
        assert.ok(e instanceof WireError, String(e));
      }
    }
  }));
});

Deno.test("ids wire: property: lines come back the same however the stream is split", pure, () => {
  const line = fc.string({
    unit: fc.constantFrom("H", "E", "L", "O", " ", "1", "\r"),
    maxLength: 40,
  });
  fc.assert(fc.property(
    fc.array(line, { maxLength: 20 }),
    fc.array(fc.integer({ min: 1, max: 50 }), { minLength: 1, maxLength: 20 }),
    (lines, cuts) => {
      const bytes = enc(lines.map((l) => l + "\n").join("") + "tail");
      const rx = new ReceiveBuffer(MAX_LINE + 2, 8);
      const got: string[] = [];
      for (let at = 0, i = 0; at < bytes.length; i++) {
        const size = cuts[i % cuts.length];
        rx.push(bytes.subarray(at, at + size));
        at += size;
        for (let l = rx.decode(decodeLine); l !== NEED_MORE; l = rx.decode(decodeLine)) {
          got.push(new TextDecoder().decode(l));
        }
      }
      assert.deepEqual(got, lines);
      assert.equal(new TextDecoder().decode(rx.view()), "tail", "a truncated tail is need-more");
    },
  ));
});

Deno.test(
  "ids wire: a line longer than the limit is a WireError before it is all buffered",
  pure,
  () => {
    const rx = new ReceiveBuffer(MAX_LINE + 2);
    rx.push(new Uint8Array(MAX_LINE + 1).fill(0x41));
    assert.equal(rx.decode(decodeLine), NEED_MORE);
    assert.throws(() => rx.push(new Uint8Array(10).fill(0x41)), WireError);
  },
);
