/**
 * The frame codec: fixed byte vectors, the limit checked on the header
 * alone, and property tests — any list of messages, split at any byte
 * boundaries, decodes back to the same list; a truncated tail is "need
 * more", never a message. Also the answer rule (characters, not bytes).
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { dropCharacters } from "../../lib/frame/echo_machine.ts";
import { encodeMessage, frameDecoder, WireError } from "../../lib/frame/wire.ts";
import { NEED_MORE, ReceiveBuffer } from "../../lib/bytes/receive_buffer.ts";
import { concatBytes } from "../../lib/bytes/concat.ts";

const pure = { permissions: "none" } as const;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

Deno.test("frame wire: fixed vectors", pure, () => {
  assert.deepEqual([...encodeMessage(encoder.encode("hi"))], [0, 0, 0, 2, 0x68, 0x69]);
  assert.deepEqual([...encodeMessage(new Uint8Array(0))], [0, 0, 0, 0]);
  const big = encodeMessage(new Uint8Array(0x01020304 & 0xffff));
  assert.deepEqual([...big.subarray(0, 4)], [0, 0, 0x03, 0x04]);
  const decode = frameDecoder(1000);
  assert.equal(decode(new Uint8Array([0, 0, 0])), NEED_MORE);
  assert.equal(decode(new Uint8Array([0, 0, 0, 2, 0x68])), NEED_MORE);
  const m = decode(new Uint8Array([0, 0, 0, 2, 0x68, 0x69, 0, 0]));
  assert.ok(m !== NEED_MORE);
  assert.equal(decoder.decode(m.value), "hi");
  assert.equal(m.size, 6);
});

Deno.test(
  "frame wire: a length over the limit is an error on the 4 header bytes alone",
  pure,
  () => {
    const decode = frameDecoder(1000);
    assert.throws(() => decode(new Uint8Array([0, 0, 0x03, 0xe9])), WireError);
    assert.throws(() => decode(new Uint8Array([0xff, 0xff, 0xff, 0xff])), /4294967295 bytes/);
    assert.notEqual(decode(new Uint8Array([0, 0, 0x03, 0xe8])), undefined); // 1000: allowed
    assert.equal(decode(new Uint8Array([0, 0, 0x03, 0xe8])), NEED_MORE);
  },
);

/** Feeds `stream` in pieces cut at `cuts` and decodes every message it can. */
function decodeAll(stream: Uint8Array, cuts: number[], max = 1 << 20): Uint8Array[] {
  const rx = new ReceiveBuffer(max + 4 + stream.length);
  const decode = frameDecoder(max);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const cut of [...cuts, stream.length]) {
    rx.push(stream.subarray(at, cut));
    at = cut;
    for (let m = rx.decode(decode); m !== NEED_MORE; m = rx.decode(decode)) out.push(m.slice());
  }
  return out;
}

const messages = fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 });

Deno.test("frame wire: any messages, split anywhere, decode to the same messages", pure, () => {
  fc.assert(
    fc.property(
      messages,
      fc.array(fc.nat(), { maxLength: 20 }),
      (msgs, rawCuts) => {
        const stream = concatBytes(msgs.map(encodeMessage));
        const whole = decodeAll(stream, []);
        const byteByByte = decodeAll(stream, Array.from({ length: stream.length }, (_, i) => i));
        const cuts = [...new Set(rawCuts.map((c) => c % (stream.length + 1)))].sort((a, b) =>
          a - b
        );
        const random = decodeAll(stream, cuts);
        for (const got of [whole, byteByByte, random]) {
          assert.deepEqual(got.map((m) => [...m]), msgs.map((m) => [...m]));
        }
      },
    ),
  );
});

Deno.test("frame wire: a truncated tail is need-more, never a message", pure, () => {
  fc.assert(
    fc.property(messages.filter((m) => m.length > 0), fc.nat(), (msgs, cut) => {
      const stream = concatBytes(msgs.map(encodeMessage));
      const lastSize = 4 + msgs[msgs.length - 1].length;
      const drop = 1 + cut % lastSize; // 1..lastSize bytes of the last message missing
      const got = decodeAll(stream.subarray(0, stream.length - drop), []);
      assert.deepEqual(got.map((m) => [...m]), msgs.slice(0, -1).map((m) => [...m]));
    }),
  );
});

Deno.test("frame answer: the first 10 characters are dropped, counted as code points", pure, () => {
  const answer = (s: string) => decoder.decode(dropCharacters(encoder.encode(s), 10));
  assert.equal(answer("Four score and seven years ago"), " and seven years ago");
  assert.equal(answer("short"), "");
  assert.equal(answer(""), "");
  assert.equal(answer("0123456789"), "");
  assert.equal(answer("éééééééééé-après"), "-après");
  assert.equal(answer("🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂🙂x"), "🙂x");
  fc.assert(
    fc.property(fc.string({ unit: "binary", maxLength: 40 }), (s) => {
      assert.equal(answer(s), [...s].slice(10).join(""));
    }),
  );
});
