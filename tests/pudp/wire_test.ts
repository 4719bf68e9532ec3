import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import {
  Command,
  commandName,
  decode,
  encode,
  encodeInto,
  HEADER_SIZE,
  MAX_PAYLOAD,
  type Message,
  P0P_MAGIC,
  PUDP_MAGIC,
  WireError,
} from "../../lib/pudp/wire.ts";

const pure = { permissions: "none" } as const;

Deno.test("wire: HELLO encodes to the fixed 12 bytes", pure, () => {
  const bytes = encode({
    command: Command.HELLO,
    seq: 0,
    sessionId: 0xdeadbeef,
    payload: new Uint8Array(),
  });
  assert.deepEqual(
    [...bytes],
    [0xc3, 0x56, 0x01, 0x00, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef],
  );
});

Deno.test("wire: DATA with payload, big-endian fields", pure, () => {
  const bytes = encode({
    command: Command.DATA,
    seq: 0x01020304,
    sessionId: 1,
    payload: new TextEncoder().encode("hi"),
  });
  assert.deepEqual(
    [...bytes],
    [0xc3, 0x56, 0x01, 0x01, 1, 2, 3, 4, 0, 0, 0, 1, 0x68, 0x69],
  );
});

Deno.test("wire: decodes a fixed GOODBYE vector", pure, () => {
  const msg = decode(new Uint8Array([0xc3, 0x56, 1, 3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0x12, 0x34]));
  assert.equal(msg.command, Command.GOODBYE);
  assert.equal(msg.seq, 0xffffffff);
  assert.equal(msg.sessionId, 0x1234);
  assert.equal(msg.payload.length, 0);
});

Deno.test("wire: bytes after a non-DATA header are ignored", pure, () => {
  const msg = decode(new Uint8Array([0xc3, 0x56, 1, 2, 0, 0, 0, 7, 0, 0, 0, 9, 1, 2, 3]));
  assert.equal(msg.command, Command.ALIVE);
  assert.equal(msg.payload.length, 0);
});

Deno.test("wire: the P0P magic is a parameter", pure, () => {
  const m: Message = { command: Command.ALIVE, seq: 5, sessionId: 6, payload: new Uint8Array() };
  const bytes = encode(m, P0P_MAGIC);
  assert.deepEqual([...bytes.subarray(0, 2)], [0xc4, 0x61]);
  assert.deepEqual(decode(bytes, P0P_MAGIC), m);
  assert.throws(() => decode(bytes, PUDP_MAGIC), WireError);
});

Deno.test("wire: unknown commands decode as numbers", pure, () => {
  const msg = decode(new Uint8Array([0xc3, 0x56, 1, 9, 0, 0, 0, 1, 0, 0, 0, 2]));
  assert.equal(msg.command, 9);
  assert.equal(commandName(9), "CMD9");
  assert.equal(commandName(Command.DATA), "DATA");
});

Deno.test("wire: short, empty, bad magic and bad version throw WireError", pure, () => {
  assert.throws(() => decode(new Uint8Array()), WireError);
  assert.throws(() => decode(new Uint8Array(11)), WireError);
  assert.throws(
    () => decode(new Uint8Array([0xc3, 0x57, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
    WireError,
  );
  assert.throws(
    () => decode(new Uint8Array([0xc3, 0x56, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0])),
    WireError,
  );
});

Deno.test("wire: the largest payload encodes; one more byte throws", pure, () => {
  const max = encode({
    command: Command.DATA,
    seq: 1,
    sessionId: 1,
    payload: new Uint8Array(MAX_PAYLOAD),
  });
  assert.equal(max.length, 65_507);
  assert.throws(
    () =>
      encode({
        command: Command.DATA,
        seq: 1,
        sessionId: 1,
        payload: new Uint8Array(MAX_PAYLOAD + 1),
      }),
    WireError,
  );
});

Deno.test("wire: out-of-range fields throw WireError", pure, () => {
  const p = new Uint8Array();
  assert.throws(() => encode({ command: 256, seq: 0, sessionId: 0, payload: p }), WireError);
  assert.throws(() => encode({ command: 0, seq: -1, sessionId: 0, payload: p }), WireError);
  assert.throws(() => encode({ command: 0, seq: 0, sessionId: 2 ** 32, payload: p }), WireError);
  assert.throws(() => encode({ command: 0, seq: 0.5, sessionId: 0, payload: p }), WireError);
  assert.throws(() => encode({ command: 0, seq: 0, sessionId: 0, payload: p }, 0x10000), WireError);
});

const u32 = fc.integer({ min: 0, max: 0xffffffff });
const message: fc.Arbitrary<Message> = fc.oneof(
  fc.record({
    command: fc.constant<number>(Command.DATA),
    seq: u32,
    sessionId: u32,
    payload: fc.uint8Array({ maxLength: 2048 }),
  }),
  fc.record({
    command: fc.integer({ min: 0, max: 255 }).filter((c) => c !== Command.DATA),
    seq: u32,
    sessionId: u32,
    payload: fc.constant(new Uint8Array()),
  }),
);

Deno.test("wire: property: decode(encode(m)) equals m, for both magics", pure, () => {
  fc.assert(
    fc.property(message, fc.constantFrom(PUDP_MAGIC, P0P_MAGIC), (m, magic) => {
      const back = decode(encode(m, magic), magic);
      assert.equal(back.command, m.command);
      assert.equal(back.seq, m.seq);
      assert.equal(back.sessionId, m.sessionId);
      assert.deepEqual([...back.payload], [...m.payload]);
    }),
    { numRuns: 2000 },
  );
});

Deno.test("wire: property: arbitrary bytes decode or throw WireError, nothing else", pure, () => {
  // Half the cases start with a valid magic and version so decoding goes deep.
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.uint8Array({ maxLength: 64 }).map((b) => new Uint8Array([0xc3, 0x56, 1, ...b])),
  );
  fc.assert(
    fc.property(bytes, (b) => {
      try {
        const m = decode(b);
        assert.ok(b.length >= HEADER_SIZE);
        assert.ok(m.seq >= 0 && m.seq <= 0xffffffff);
        assert.ok(m.sessionId >= 0 && m.sessionId <= 0xffffffff);
        assert.equal(m.payload.length, m.command === Command.DATA ? b.length - HEADER_SIZE : 0);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    }),
    { numRuns: 5000 },
  );
});

Deno.test("wire: encodeInto writes what encode makes, into a reused buffer", pure, () => {
  const out = new Uint8Array(300).fill(0xee);
  for (const len of [0, 1, 59, 128, 129, 250]) {
    const payload = Uint8Array.from({ length: len }, (_, i) => (i * 7 + len) & 0xff);
    const msg = { command: Command.DATA, seq: len, sessionId: 0xdecafbad, payload };
    const n = encodeInto(out, msg.command, msg.seq, msg.sessionId, payload, P0P_MAGIC);
    assert.equal(n, HEADER_SIZE + len);
    assert.deepEqual(out.subarray(0, n), encode(msg, P0P_MAGIC));
  }
  // Only DATA carries its payload; a buffer too short throws.
  assert.equal(encodeInto(out, Command.ALIVE, 1, 2, new Uint8Array(9)), HEADER_SIZE);
  assert.throws(
    () => encodeInto(new Uint8Array(20), Command.DATA, 1, 2, new Uint8Array(9)),
    WireError,
  );
});

Deno.test("wire: datagrams from encode never share bytes", pure, () => {
  // Small datagrams are cut from shared slabs: thousands of them, across
  // slab boundaries, must each keep their own bytes.
  const made: Array<[Uint8Array, number]> = [];
  for (let i = 0; i < 5000; i++) {
    const payload = new Uint8Array(i % 300).fill(i & 0xff);
    made.push([encode({ command: Command.DATA, seq: i, sessionId: 7, payload }), i]);
  }
  for (const [bytes, i] of made) {
    const msg = decode(bytes);
    assert.equal(msg.seq, i);
    assert.equal(msg.payload.length, i % 300);
    assert.ok(msg.payload.every((b) => b === (i & 0xff)));
  }
});
