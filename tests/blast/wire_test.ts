import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { parseByteSize } from "../../lib/cli/flags.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  formatAnswer,
  formatDone,
  formatRequest,
  parseAnswer,
  parseDone,
  parseJson,
  parseRequest,
  refusal,
  type Request,
  requestBytes,
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
    unknown[2] = 11;
    assert.throws(() => decodeHeader(unknown, emptyHeader()), /unknown segment type 11/);
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

Deno.test(
  "blast refusal: --max-bytes bounds every kind: count × size with headers, bytes, echo text",
  pure,
  () => {
    const refused = (line: string, max = 1000) => refusal(parseRequest(line), max);
    const limit = "is over this server's limit of 1000 bytes (--max-bytes)";
    // Zero payload per segment used to add up to 0 bytes: 300,000 headers were sent.
    assert.equal(
      refused("GET count=300000 interval=0 size=24"),
      `300000 segments of 24 bytes (7200000 bytes) ${limit}`,
    );
    assert.equal(
      refused("GET count=4294967294 interval=0 size=24"),
      `4294967294 segments of 24 bytes (103079215056 bytes) ${limit}`,
    );
    assert.match(refused("PUT count=4294967294 interval=0")!, /\(6012954211600 bytes\) is over/);
    assert.match(refused("PUT count=1 size=1001")!, /1 segments of 1001 bytes \(1001 bytes\)/);
    assert.equal(refused("GET count=41 size=24"), undefined, "984 bytes");
    assert.equal(refused("GET count=10 size=100"), undefined, "exactly the limit");
    assert.equal(refused("GET count=0 size=24"), undefined);
    assert.equal(refused("GET bytes=1001"), `1001 bytes ${limit}`);
    assert.equal(refused("PUT bytes=1000"), undefined);
    assert.equal(refused("GET bytes=123456789", 123_456_789), undefined, "the seed's limit");
    assert.equal(refused("ECHO " + "x".repeat(1001)), `an echo of 1001 bytes ${limit}`);
    assert.equal(refused("ECHO " + "é".repeat(500)), undefined, "1000 bytes of UTF-8");
    // A segment must hold its header; a transfer of bytes, payload too.
    assert.match(refused("GET bytes=10 size=24")!, /size=24 leaves no room for payload/);
    const tiny: Request = {
      kind: "transfer",
      direction: "put",
      bytes: undefined,
      count: 1,
      intervalMs: 0,
      size: 23,
      rate: 0,
    };
    assert.match(refusal(tiny, 1000)!, /size=23 is smaller than the 24-byte segment header/);
    assert.equal(requestBytes(parseRequest("GET count=3 size=100")), 300);
  },
);

Deno.test("blast wire: a UDP transfer's token= (hex) round-trips; a bad or repeated one is refused", () => {
  const request = parseRequest("GET bytes=10 token=00ff");
  assert.equal(request.kind === "transfer" && request.token, "00ff");
  assert.equal(formatRequest(request), "GET bytes=10 size=1400 rate=0 token=00ff");
  assert.equal("token" in parseRequest("GET bytes=10"), false, "no token: none in the request");
  for (const bad of ["GET bytes=1 token=XY", "GET bytes=1 token=", "GET bytes=1 token=a token=b"]) {
    assert.throws(() => parseRequest(bad), WireError, bad);
  }
});

Deno.test("blast wire: the TCP answer lines round-trip; anything else is a WireError", pure, () => {
  assert.equal(formatAnswer({ kind: "ok" }), "OK");
  assert.equal(formatAnswer({ kind: "refused", reason: "busy: 2 runs" }), "REFUSED busy: 2 runs");
  assert.deepEqual(parseAnswer("OK"), { kind: "ok" });
  assert.deepEqual(parseAnswer("REFUSED too big"), { kind: "refused", reason: "too big" });
  assert.deepEqual(parseAnswer("REFUSED"), { kind: "refused", reason: "" });
  fc.assert(
    fc.property(fc.string(), (reason) => {
      const line = formatAnswer({ kind: "refused", reason });
      assert.deepEqual(parseAnswer(line), { kind: "refused", reason });
    }),
  );
  for (const bad of ["", "ok", "OK ", "DONE {}", "GET bytes=1"]) {
    assert.throws(() => parseAnswer(bad), WireError, JSON.stringify(bad));
  }
});

Deno.test("blast wire: DONE carries the report as JSON; a bad one is a WireError", pure, () => {
  const report = { bytes: 5, expected_bytes: 5, complete: true, first_corrupt_at: null };
  const line = formatDone(report);
  assert.equal(line, 'DONE {"bytes":5,"expected_bytes":5,"complete":true,"first_corrupt_at":null}');
  assert.deepEqual(parseDone(line), report);
  for (const bad of ["DONE", "DONE {", "OK", "done {}", ""]) {
    assert.throws(() => parseDone(bad), WireError, JSON.stringify(bad));
  }
  assert.deepEqual(parseJson(new TextEncoder().encode('{"segments":3}')), { segments: 3 });
  assert.throws(() => parseJson(new Uint8Array([0xff, 0x7b])), WireError);
});
