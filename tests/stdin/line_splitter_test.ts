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
  const out: Piece[] = [];
  const s = new LineSplitter(
    maxPiece,
    (p, endOfLine) => out.push({ text: String.fromCharCode(...p), endOfLine }),
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

/**
 * Joins pieces back into lines, checking the piece rules on the way: none
 * over maxPiece, every piece but a line's last full, no line left unfinished.
 */
function rebuild(pieces: Piece[], maxPiece: number): string[] {
  const lines: string[] = [];
  let current = "";
  for (const p of pieces) {
    assert.ok(p.text.length <= maxPiece, "piece within bound");
    if (!p.endOfLine) assert.equal(p.text.length, maxPiece, "non-final pieces are full");
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
  // The ending counts toward maxPiece: "abc\n" fits 4, "abcd\n" does not.
  assert.deepEqual(kept("abc\nabcd\n", 4, [1]), [
    { text: "abc\n", endOfLine: true },
    { text: "abcd", endOfLine: false },
    { text: "\n", endOfLine: true },
  ]);
  assert.deepEqual(kept("abcd", 4, [1]), [{ text: "abcd", endOfLine: true }]);
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
          assert.deepEqual(rebuild(pieces, maxPiece), want);
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
