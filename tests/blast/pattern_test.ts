import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { checkPattern, patternAt, patternByte, PERIOD } from "../../lib/blast/pattern.ts";

const pure = { permissions: "none" } as const;

Deno.test("blast pattern: printable, periodic in PERIOD and no shorter small period", pure, () => {
  const first = patternAt(0, PERIOD + 10);
  for (const b of first) assert.ok(b >= 0x21 && b <= 0x7e);
  assert.deepEqual(first.subarray(PERIOD), first.subarray(0, 10));
  for (let p = 1; p < 300; p++) {
    assert.notDeepEqual(first.subarray(p, p + 64), first.subarray(0, 64), `period ${p}`);
  }
});

Deno.test("blast pattern: any slice equals the bytes by position", pure, () => {
  fc.assert(fc.property(fc.nat({ max: 2 ** 40 }), fc.nat({ max: 3000 }), (offset, length) => {
    const slice = patternAt(offset, length);
    for (let i = 0; i < length; i += 97) assert.equal(slice[i], patternByte(offset + i));
    assert.equal(checkPattern(slice.slice(), offset), undefined);
  }));
});

Deno.test(
  "blast pattern: a wrong byte is found where it is; a missing one shifts the rest",
  pure,
  () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 2 ** 33 }),
        fc.integer({ min: 2, max: 5000 }),
        fc.nat(),
        (offset, length, where) => {
          const at = where % length;
          const bytes = patternAt(offset, length).slice();
          bytes[at] ^= 0x01;
          assert.deepEqual(checkPattern(bytes, offset), { wrong: 1, first: offset + at });
          const missing = new Uint8Array([...patternAt(offset, length)].filter((_, i) => i !== at));
          // Byte j of what is left is pattern byte j + 1 from `at` on: the first
          // j ≥ at where those two differ is the first mismatch (none when the
          // removed byte only began a run of equal bytes that reaches the end).
          let shifted = at;
          while (
            shifted < length - 1 &&
            patternByte(offset + shifted) === patternByte(offset + shifted + 1)
          ) {
            shifted++;
          }
          const found = checkPattern(missing, offset);
          if (shifted === length - 1) assert.equal(found, undefined);
          else assert.equal(found?.first, offset + shifted);
        },
        // Found by CI: the last two bytes are both "C", so dropping the first leaves valid bytes.
      ),
      { examples: [[2210942907, 9, 1808453581]] },
    );
  },
);
