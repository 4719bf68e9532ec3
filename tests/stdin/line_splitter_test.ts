import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { isQuitLine, LineSplitter } from "../../lib/stdin/line_splitter.ts";

const pure = { permissions: "none" } as const;
const enc = new TextEncoder();

interface Piece {
  text: string;
  endOfLine: boolean;
}

/** Runs input through a splitter in the given chunk sizes; pieces decoded as latin1 strings. */
function split(
  input: Uint8Array,
  maxPiece: number,
  chunkSizes: number[] = [input.length || 1],
  keepEndings = false,
): Piece[] {
  return splitBytes(input, maxPiece, chunkSizes, keepEndings).map((p) => ({
    text: String.fromCharCode(...p.bytes),
    endOfLine: p.endOfLine,
  }));
}

/**
 * Joins pieces back into lines, checking the piece rules on the way: none
 * over maxPiece, every piece but a line's last nearly full (a cut may move
 * back up to 3 bytes to a character boundary, and with kept endings up to 2
 * more so that the ending goes with some content), no line left unfinished.
 */
function rebuild(pieces: Piece[], maxPiece: number, keepEndings = false): string[] {
  const shortest = Math.max(1, maxPiece - (keepEndings ? 5 : 3));
  const lines: string[] = [];
  let current = "";
  for (const p of pieces) {
    assert.ok(p.text.length <= maxPiece, "piece within bound");
    if (!p.endOfLine) assert.ok(p.text.length >= shortest, "non-final pieces are nearly full");
    current += p.text;
    if (p.endOfLine) {
      lines.push(current);
      current = "";
    }
  }
  assert.equal(current, "", "no unfinished line");
  return lines;
}

function lines(text: string, maxPiece = 100, chunks?: number[]): Piece[] {
  return split(enc.encode(text), maxPiece, chunks);
}

Deno.test("splitter: lines end at \\n, and one \\r before it is dropped", pure, () => {
  assert.deepEqual(lines("a\nbb\r\n\nc\r\r\n"), [
    { text: "a", endOfLine: true },
    { text: "bb", endOfLine: true },
    { text: "", endOfLine: true },
    { text: "c\r", endOfLine: true },
  ]);
});

Deno.test("splitter: a last line without a newline is kept; a lone \\r in it too", pure, () => {
  assert.deepEqual(lines("x\ntail\r"), [{ text: "x", endOfLine: true }, {
    text: "tail\r",
    endOfLine: true,
  }]);
  assert.deepEqual(lines(""), []);
});

Deno.test(
  "splitter: a line longer than maxPiece comes in full pieces, the last marked",
  pure,
  () => {
    assert.deepEqual(lines("abcdefghij\n", 4), [
      { text: "abcd", endOfLine: false },
      { text: "efgh", endOfLine: false },
      { text: "ij", endOfLine: true },
    ]);
    // Exactly maxPiece, with \r\n split across chunks: one piece, no empty tail.
    assert.deepEqual(lines("abcd\r\n", 4, [1]), [{ text: "abcd", endOfLine: true }]);
    assert.deepEqual(lines("abcdefgh\r\n", 4, [5, 1]), [
      { text: "abcd", endOfLine: false },
      { text: "efgh", endOfLine: true },
    ]);
  },
);

Deno.test("splitter: with keepEndings every line keeps its \\n or \\r\\n", pure, () => {
  const kept = (text: string, maxPiece = 100, chunks?: number[]) =>
    split(enc.encode(text), maxPiece, chunks, true);
  assert.deepEqual(kept("a\nbb\r\n\ntail"), [
    { text: "a\n", endOfLine: true },
    { text: "bb\r\n", endOfLine: true },
    { text: "\n", endOfLine: true },
    { text: "tail", endOfLine: true },
  ]);
  // The ending counts toward maxPiece: "abc\n" fits 4, "abcd\n" does not, and its
  // ending goes with the end of the content, never alone; \r\n stays whole.
  for (const chunks of [[1], [2, 3], [100]]) {
    assert.deepEqual(kept("abc\nabcd\n", 4, chunks), [
      { text: "abc\n", endOfLine: true },
      { text: "abc", endOfLine: false },
      { text: "d\n", endOfLine: true },
    ]);
    assert.deepEqual(kept("abcd\r\nxy\r\n", 4, chunks), [
      { text: "abc", endOfLine: false },
      { text: "d\r\n", endOfLine: true },
      { text: "xy\r\n", endOfLine: true },
    ]);
    assert.deepEqual(kept("abcdefg\r\n", 4, chunks), [
      { text: "abcd", endOfLine: false },
      { text: "ef", endOfLine: false },
      { text: "g\r\n", endOfLine: true },
    ]);
  }
  assert.deepEqual(kept("abcd", 4, [1]), [{ text: "abcd", endOfLine: true }]);
  // Too small for a character and \r\n: \r\n alone, still whole; at 1 byte, as the bytes come.
  assert.deepEqual(kept("a\r\n", 2), [{ text: "a", endOfLine: false }, {
    text: "\r\n",
    endOfLine: true,
  }]);
  assert.deepEqual(kept("\r\n", 1), [{ text: "\r", endOfLine: false }, {
    text: "\n",
    endOfLine: true,
  }]);
});

Deno.test("splitter: isQuitLine is q with or without its ending", pure, () => {
  for (const yes of ["q", "q\n", "q\r\n"]) assert.ok(isQuitLine(enc.encode(yes)), yes);
  for (const no of ["", "\n", "qq", "q \n", "Q", "\rq"]) assert.ok(!isQuitLine(enc.encode(no)), no);
});

Deno.test(
  "splitter: property: with keepEndings the pieces are the input, cut after each \\n and at maxPiece",
  pure,
  () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(10, 13, 65, 66), { maxLength: 300 }),
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        (bytes, maxPiece, chunks) => {
          const input = new Uint8Array(bytes);
          const text = String.fromCharCode(...input);
          const want = text.split(/(?<=\n)/).filter((l) => l !== "");
          const pieces = split(input, maxPiece, chunks, true);
          assert.ok(pieces.every((p) => p.text.length >= 1), "no empty piece");
          assert.deepEqual(rebuild(pieces, maxPiece, true), want);
        },
      ),
      { numRuns: 2000 },
    );
  },
);

Deno.test(
  "splitter: property: pieces rebuild the lines exactly, whatever the chunking",
  pure,
  () => {
    const byte = fc.oneof(
      fc.constant(10),
      fc.constant(13),
      fc.constant(13),
      fc.integer({ min: 0, max: 255 }),
    );
    fc.assert(
      fc.property(
        fc.array(byte, { maxLength: 300 }),
        fc.integer({ min: 1, max: 9 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        (bytes, maxPiece, chunks) => {
          const input = new Uint8Array(bytes);
          const text = String.fromCharCode(...input);
          const expected = text.split("\n");
          const last = expected.pop()!; // after the last \n: a final line only if non-empty
          const want = expected.map((l) => l.endsWith("\r") ? l.slice(0, -1) : l);
          if (last !== "") want.push(last);

          assert.deepEqual(rebuild(split(input, maxPiece, chunks), maxPiece), want);
        },
      ),
      { numRuns: 3000 },
    );
  },
);

/** Throws on bytes that are not UTF-8; keeps a byte-order mark (U+FEFF is a character like any). */
const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** Runs input through a splitter in the given chunk sizes; pieces as copies of their bytes. */
function splitBytes(
  input: Uint8Array,
  maxPiece: number,
  chunkSizes: number[],
  keepEndings: boolean,
): { bytes: Uint8Array; endOfLine: boolean }[] {
  const out: { bytes: Uint8Array; endOfLine: boolean }[] = [];
  const s = new LineSplitter(
    maxPiece,
    (p, endOfLine) => out.push({ bytes: p.slice(), endOfLine }),
    keepEndings,
  );
  let at = 0;
  for (let i = 0; at < input.length; i++) {
    const n = Math.max(1, chunkSizes[i % chunkSizes.length]);
    s.push(input.subarray(at, at + n));
    at += n;
  }
  s.end();
  return out;
}

Deno.test("splitter: a long line is never cut inside a UTF-8 character", pure, () => {
  // 1,000 × 日 (3 bytes each) at --max-payload 1460: 486 characters a piece, 2 bytes short.
  const line = "日".repeat(1000);
  for (const keepEndings of [false, true]) {
    for (const chunks of [[3000 + 2], [1], [7, 1460, 2], [4096]]) {
      const pieces = splitBytes(enc.encode(line + "\r\n"), 1460, chunks, keepEndings);
      assert.deepEqual(pieces.map((p) => p.bytes.length), [1458, 1458, keepEndings ? 86 : 84]);
      assert.deepEqual(pieces.map((p) => p.endOfLine), [false, false, true]);
      assert.equal(
        pieces.map((p) => strictUtf8.decode(p.bytes)).join(""),
        keepEndings ? line + "\r\n" : line,
      );
    }
  }
  // 2-, 3- and 4-byte characters: each cut moves back to the character's first byte.
  const text = (pieces: { bytes: Uint8Array }[]) => pieces.map((p) => strictUtf8.decode(p.bytes));
  assert.deepEqual(text(splitBytes(enc.encode("aé🙂日b"), 4, [100], false)), ["aé", "🙂", "日b"]);
  assert.deepEqual(text(splitBytes(enc.encode("aé🙂日b"), 4, [1], false)), ["aé", "🙂", "日b"]);
  // With kept endings the last character goes with the ending.
  assert.deepEqual(text(splitBytes(enc.encode("ab日\r\n"), 6, [1], true)), ["ab", "日\r\n"]);
  assert.deepEqual(text(splitBytes(enc.encode("ab🙂\r\n"), 6, [100], true)), ["ab", "🙂\r\n"]);
});

Deno.test(
  "splitter: a character that cannot fit, or bytes that are not UTF-8, are cut at maxPiece",
  pure,
  () => {
    const sizes = (input: number[], maxPiece: number) =>
      splitBytes(new Uint8Array(input), maxPiece, [1], false).map((p) => p.bytes.length);
    // 🙂 is F0 9F 99 82: at maxPiece 3 stepping back would leave nothing, so 3 + 1.
    assert.deepEqual(sizes([0xf0, 0x9f, 0x99, 0x82], 3), [3, 1]);
    assert.deepEqual(sizes([0x61, 0xf0, 0x9f, 0x99, 0x82], 3), [1, 3, 1]);
    // Continuation bytes with no lead, and a lead byte with too few: as they come.
    assert.deepEqual(sizes([0x80, 0x80, 0x80, 0x80, 0x80, 0x80], 4), [4, 2]);
    assert.deepEqual(sizes([0x61, 0x61, 0x61, 0xe6, 0x97, 0x61], 4), [3, 3]);
    assert.deepEqual(sizes([0x61, 0x61, 0xc3, 0xa9, 0xa9, 0xa9, 0x61], 4), [4, 3]);
  },
);

Deno.test(
  "splitter: property: every piece of valid UTF-8 is valid UTF-8, whatever maxPiece ≥ 4 and chunking",
  pure,
  () => {
    const char = fc.oneof(
      fc.constantFrom("\n", "\r", "\r\n", "a", "\t"),
      fc.integer({ min: 0x80, max: 0x7ff }),
      fc.integer({ min: 0x800, max: 0xd7ff }),
      fc.integer({ min: 0xe000, max: 0xffff }),
      fc.integer({ min: 0x10000, max: 0x10ffff }),
    ).map((c) => typeof c === "string" ? c : String.fromCodePoint(c));
    fc.assert(
      fc.property(
        fc.array(char, { maxLength: 120 }),
        fc.integer({ min: 4, max: 16 }),
        fc.array(fc.integer({ min: 1, max: 40 }), { minLength: 1, maxLength: 6 }),
        fc.boolean(),
        (chars, maxPiece, chunks, keepEndings) => {
          const input = enc.encode(chars.join(""));
          const text = strictUtf8.decode(input);
          let want: string[];
          if (keepEndings) {
            want = text.split(/(?<=\n)/).filter((l) => l !== "");
          } else {
            want = text.split("\n");
            const last = want.pop()!;
            want = want.map((l) => l.endsWith("\r") ? l.slice(0, -1) : l);
            if (last !== "") want.push(last);
          }
          const pieces = splitBytes(input, maxPiece, chunks, keepEndings);
          const got: string[] = [];
          let line: string[] = [];
          for (const [i, p] of pieces.entries()) {
            assert.ok(p.bytes.length <= maxPiece, "piece within bound");
            if (!p.endOfLine) assert.ok(p.bytes.length >= maxPiece - (keepEndings ? 5 : 3));
            line.push(strictUtf8.decode(p.bytes)); // throws on a piece that is not UTF-8
            if (keepEndings && maxPiece >= 6) {
              // The smallest maxPiece that holds a 4-byte character and \r\n together.
              const only = line.length > 1 && /^\r?\n$/.test(line.at(-1)!);
              assert.ok(!only, `a piece made only of the line ending: ${JSON.stringify(line)}`);
            }
            if (keepEndings && i > 0 && p.bytes[0] === 0x0a) {
              assert.notEqual(pieces[i - 1].bytes.at(-1), 0x0d, "\\r\\n cut in two");
            }
            if (p.endOfLine) {
              got.push(line.join(""));
              line = [];
            }
          }
          assert.deepEqual(line, [], "no unfinished line");
          assert.deepEqual(got, want);
        },
      ),
      // A line that is only U+FEFF: the decoder must not take it for a BOM (CI found it).
      { numRuns: 3000, examples: [[["\uFEFF"], 4, [1], false]] },
    );
  },
);
