import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import {
  Command,
  commandName,
  decode,
  encode,
  encodeInto,
  foreignHeader,
  HEADER_SIZE,
  KNOWN_VARIANTS,
  MAX_PAYLOAD,
  type Message,
  P0P_MAGIC,
  PUDP_MAGIC,
  variantHint,
  VERSION,
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
    const n = encodeInto(out, msg, P0P_MAGIC);
    assert.equal(n, HEADER_SIZE + len);
    assert.deepEqual(out.subarray(0, n), encode(msg, P0P_MAGIC));
  }
  // Only DATA carries its payload; a buffer too short throws.
  assert.equal(
    encodeInto(out, { command: Command.ALIVE, seq: 1, sessionId: 2, payload: new Uint8Array(9) }),
    HEADER_SIZE,
  );
  assert.throws(
    () =>
      encodeInto(new Uint8Array(20), {
        command: Command.DATA,
        seq: 1,
        sessionId: 2,
        payload: new Uint8Array(9),
      }),
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

Deno.test("wire: the version is a parameter (--wire-version); another version throws", pure, () => {
  const m: Message = { command: Command.DATA, seq: 7, sessionId: 9, payload: Uint8Array.of(1) };
  const bytes = encode(m, 0xe86d, 2);
  assert.deepEqual([...bytes.subarray(0, 4)], [0xe8, 0x6d, 2, Command.DATA]);
  assert.deepEqual(decode(bytes, 0xe86d, 2), m);
  assert.throws(() => decode(bytes, 0xe86d), WireError);
  assert.throws(() => encode(m, PUDP_MAGIC, 256), WireError);
});

/** A header of `magic` and `version` for `command`, and `extra` payload bytes. */
function header(
  magic: number,
  version: number,
  command: number = Command.HELLO,
  extra = 0,
): Uint8Array {
  return encode(
    { command: Command.DATA, seq: 0, sessionId: 1, payload: new Uint8Array(extra) },
    magic,
    version,
  ).map((b, i) => i === 3 ? command : b);
}

/** The hint a server speaking `magic` and `version` gives for `bytes`, or undefined. */
function hintFor(bytes: Uint8Array, magic = PUDP_MAGIC, version = VERSION): string | undefined {
  const foreign = foreignHeader(bytes, magic, version);
  return foreign && `${foreign.reason}: ${variantHint(foreign, magic, version)}`;
}

Deno.test("wire: the known variants are the handout's, P0P and 0xE86D version 2", pure, () => {
  assert.deepEqual(
    KNOWN_VARIANTS.map((v) => [v.magic, v.version]),
    [[0xc356, 1], [0xc461, 1], [0xe86d, 2]],
  );
});

Deno.test(
  "wire: a known variant's header gets its name and the flags that talk to it",
  pure,
  () => {
    assert.equal(
      hintFor(header(P0P_MAGIC, 1)),
      "other magic: looks like P0P (magic 0xC461): try --magic 0xC461",
    );
    assert.equal(
      hintFor(header(0xe86d, 2, Command.DATA, 5)),
      "other magic: looks like PUDP v2 (magic 0xE86D, version 2): try --magic 0xE86D --wire-version 2",
    );
    // The other way round: the handout's peers, seen by a pudp running --magic 0xC461.
    assert.equal(
      hintFor(header(PUDP_MAGIC, 1), P0P_MAGIC),
      "other magic: looks like the handout's PUDP (magic 0xC356): try --magic 0xC356",
    );
    assert.equal(
      hintFor(header(PUDP_MAGIC, 1), PUDP_MAGIC, 2),
      "other version: looks like the handout's PUDP (version 1): try --wire-version 1",
    );
  },
);

Deno.test("wire: an unknown PUDP-shaped header is named by what differs", pure, () => {
  assert.equal(
    hintFor(header(PUDP_MAGIC, 2)),
    "other version: looks like PUDP (version 2): try --wire-version 2",
  );
  assert.equal(
    hintFor(header(0xabcd, 1, Command.GOODBYE)),
    "other magic: looks like PUDP (magic 0xABCD): try --magic 0xABCD",
  );
  assert.equal(
    hintFor(header(0x0123, 3, Command.DATA, 40)),
    "other magic: looks like PUDP (magic 0x0123, version 3): try --magic 0x0123 --wire-version 3",
  );
});

Deno.test("wire: what is not PUDP-shaped, or ours, or short, gets no hint", pure, () => {
  const text = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n");
  assert.equal(hintFor(text), undefined);
  assert.equal(hintFor(header(PUDP_MAGIC, 1)), undefined, "ours decodes: not foreign");
  assert.equal(hintFor(header(P0P_MAGIC, 1).subarray(0, 11)), undefined, "too short");
  assert.equal(hintFor(new Uint8Array()), undefined);
  assert.equal(hintFor(header(0xabcd, 1, 7)), undefined, "no such command");
  assert.equal(hintFor(header(0xabcd, 1, Command.HELLO, 3)), undefined, "a HELLO is 12 bytes");
  assert.equal(hintFor(header(0xabcd, 0)), undefined, "version 0: not plausible");
  assert.equal(hintFor(header(0xabcd, 200)), undefined, "version 200: not plausible");
});

Deno.test("wire: property: random bytes are foreign only when PUDP-shaped", pure, () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 0, maxLength: 40 }), (bytes) => {
      const foreign = foreignHeader(bytes, PUDP_MAGIC, VERSION);
      if (foreign === undefined) return;
      assert.ok(bytes.length >= HEADER_SIZE && bytes[3] <= Command.GOODBYE);
      assert.match(
        variantHint(foreign, PUDP_MAGIC, VERSION),
        /^looks like .+ \((magic 0x[0-9A-F]{4}|version \d+)(, version \d+)?\): try --/,
      );
    }),
  );
});
