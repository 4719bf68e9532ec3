import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { ByteBuffer } from "../../lib/bytes/byte_buffer.ts";

const pure = { permissions: "none" } as const;
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("byte buffer: appendDecimal writes what String() does, after any prefix", pure, () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.nat({ max: 0xffff_ffff }),
        fc.constantFrom(0, 9, 10, 99, 100, 0xffff_ffff, Number.MAX_SAFE_INTEGER),
      ),
      fc.string({ maxLength: 20, unit: fc.constantFrom("a", "b", " ") }),
      (value, prefix) => {
        const out = new ByteBuffer(16); // small: the digits often make it grow
        out.appendAscii(prefix);
        out.appendDecimal(value);
        out.appendByte(0x2e);
        assert.equal(text(out.take()), `${prefix}${value}.`);
      },
    ),
    { numRuns: 2_000 },
  );
});

Deno.test("byte buffer: appends of every kind keep order; take empties it", pure, () => {
  const out = new ByteBuffer(16);
  out.appendAscii("0x0000002a [");
  out.appendDecimal(1234567);
  out.append(new TextEncoder().encode("] "));
  out.appendFrom(new TextEncoder().encode("HDR:payload"), 4);
  out.appendFrom(new Uint8Array(300).fill(0x78), 0);
  out.appendByte(0x0a);
  assert.equal(out.length, 29 + 300);
  assert.equal(text(out.take()), "0x0000002a [1234567] payload" + "x".repeat(300) + "\n");
  assert.equal(out.length, 0);
  assert.equal(out.take().length, 0);
});
