import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { parseByteSize } from "../../lib/cli/flags.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  formatRequest,
  parseRequest,
  type Request,
  SegmentType,
  transferShape,
  WireError,
} from "../../lib/blast/wire.ts";

const pure = { permissions: "none" } as const;

Deno.test("blast wire: a DATA header is these 24 bytes", pure, () => {
  const bytes = encodeSegment(
    { type: SegmentType.Data, run: 0x01020304, seq: 5, total: 6, sent: 1.5 },
    new Uint8Array([0x41]),
  );
  assert.deepEqual(
    [...bytes],
    [
      0xb1,
      0xa5,
      4,
      0,
      1,
      2,
      3,
      4,
      0,
      0,
      0,
      5,
      0,
      0,
      0,
      6,
      0x3f,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0,
      0x41,
    ],
  );
  assert.deepEqual(decodeHeader(bytes, emptyHeader()), {
    type: SegmentType.Data,
    run: 0x01020304,
    seq: 5,
    total: 6,
    sent: 1.5,
  });
});

Deno.test("blast wire: headers round-trip, also at an offset into a bigger buffer", pure, () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 8 }),
    fc.nat({ max: 0xffff_ffff }),
    fc.nat({ max: 0xffff_ffff }),
    fc.double({ noNaN: true }),
    fc.nat({ max: 100 }),
    (type, run, seq, sent, offset) => {
      const h = { type: type as 1, run, seq, total: seq, sent };
      const big = new Uint8Array(offset + 30);
      big.set(encodeSegment(h), offset);
      assert.deepEqual(decodeHeader(big.subarray(offset), emptyHeader()), h);
    },
  ));
});

Deno.test(
  "blast wire: short, foreign or unknown datagrams throw WireError and nothing else",
  pure,
  () => {
    const good = encodeSegment({ type: SegmentType.End, run: 1, seq: 2, total: 2, sent: 0 });
    assert.throws(() => decodeHeader(good.subarray(0, 23), emptyHeader()), WireError);
    const foreign = good.slice();
    foreign[0] = 0xc3;
    assert.throws(() => decodeHeader(foreign, emptyHeader()), WireError);
    const unknown = good.slice();
    unknown[2] = 9;
    assert.throws(() => decodeHeader(unknown, emptyHeader()), /unknown segment type 9/);
    fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
      try {
        decodeHeader(bytes, emptyHeader());
      } catch (e) {
        assert.ok(e instanceof WireError);
      }
    }));
  },
);

const requestArb: fc.Arbitrary<Request> = fc.oneof(
  fc.string({ unit: "grapheme" }).filter((t) => !t.includes("\n")).map((text) => ({
    kind: "echo" as const,
    text,
  })),
  fc.record({
    kind: fc.constant("transfer" as const),
    direction: fc.constantFrom("get" as const, "put" as const),
    bytes: fc.option(fc.nat(), { nil: undefined }),
    count: fc.nat({ max: 0xffff_fffe }),
    intervalMs: fc.constantFrom(0, 1, 2.5, 1000),
    size: fc.integer({ min: 25, max: 65_507 }),
    rate: fc.nat(),
  }).map((r) =>
    r.bytes !== undefined ? { ...r, count: undefined, intervalMs: 0 } : { ...r, bytes: undefined }
  ),
);

Deno.test("blast wire: every request comes back from its line", pure, () => {
  fc.assert(fc.property(requestArb, (r) => {
    assert.deepEqual(parseRequest(formatRequest(r)), r);
  }));
});

Deno.test(
  "blast wire: a typed request line works, defaults included; bad ones are WireErrors",
  pure,
  () => {
    assert.deepEqual(parseRequest("GET bytes=1000"), {
      kind: "transfer",
      direction: "get",
      bytes: 1000,
      count: undefined,
      intervalMs: 0,
      size: 1400,
      rate: 0,
    });
    assert.deepEqual(parseRequest("ECHO  two  spaces "), { kind: "echo", text: " two  spaces " });
    for (
      const bad of [
        "HELLO",
        "GET",
        "GET bytes=1 count=2",
        "GET bytes=1 bytes=2",
        "GET bytes=-1",
        "PUT count=1 size=23",
        "GET bytes=1 colour=2",
        "GET count=1.5",
      ]
    ) {
      assert.throws(() => parseRequest(bad), WireError, bad);
    }
  },
);

Deno.test(
  "blast wire: a transfer's shape: segments of size - 24 bytes, the last one short",
  pure,
  () => {
    const get = (bytes: number, size: number) =>
      transferShape({
        kind: "transfer",
        direction: "get",
        bytes,
        count: undefined,
        intervalMs: 0,
        size,
        rate: 0,
      });
    assert.deepEqual(get(1376 * 3, 1400), { segments: 3, bytes: 4128 });
    assert.deepEqual(get(1376 * 3 + 1, 1400), { segments: 4, bytes: 4129 });
    assert.deepEqual(get(0, 1400), { segments: 0, bytes: 0 });
  },
);

Deno.test("blast sizes: k/M/G are powers of 1000, KiB/MiB/GiB of 1024", pure, () => {
  assert.equal(parseByteSize("4G"), 4e9);
  assert.equal(parseByteSize("4GiB"), 4 * 2 ** 30);
  assert.equal(parseByteSize("1.5M"), 1_500_000);
  assert.equal(parseByteSize("64k"), 64_000);
  assert.equal(parseByteSize("64KiB"), 65_536);
  assert.equal(parseByteSize("123456789"), 123_456_789);
  assert.equal(parseByteSize("1.5"), undefined);
  assert.equal(parseByteSize("4 G"), undefined);
  assert.equal(parseByteSize("4Gb"), undefined);
});
