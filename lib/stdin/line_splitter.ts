/**
 * Splits a byte stream into lines, and long lines into bounded pieces.
 *
 * A line ends at `\n`; one `\r` before it is dropped too, unless the splitter
 * keeps line endings (`keepEndings`: the pieces then carry every byte of the
 * input, `\r\n` included). A line longer than `maxPiece` bytes (ending
 * included when kept) is handed out as several pieces, all but the last
 * marked as not ending the line, so memory stays bounded whatever the input.
 * Bytes after the last `\n` form a final line at {@link LineSplitter.end}.
 *
 * Where a long line is cut:
 * - never inside a UTF-8 character: a cut that would fall on a continuation
 *   byte moves back to the character's first byte (the lead byte found at
 *   most 3 bytes back whose length reaches past the cut), so a piece may be
 *   up to 3 bytes shorter than `maxPiece`. Bytes that are not UTF-8 (no such
 *   lead byte) are cut at `maxPiece` as they come, and so is a character that
 *   cannot fit in a piece at all (`maxPiece` < 4 and a 4-byte character):
 *   stepping back never makes an empty piece, so splitting always advances.
 * - with `keepEndings`, the line ending stays with its line: the last piece
 *   holds the ending together with the end of the line's content (the last
 *   character at least), and `\r\n` is never cut between `\r` and `\n`;
 *   pieces may be a few bytes shorter for that. When `maxPiece` is too small
 *   for the last character and the ending together (below 6 bytes), a whole
 *   character wins: the ending may then be a piece of its own, `\r\n` still
 *   whole (below 2 bytes nothing can hold it: cut at `maxPiece`).
 *
 * Pieces are views into the input chunk or an internal buffer: the sink must
 * copy what it keeps before returning. No buffer is allocated per line.
 *
 * @module
 */

/** Receives each piece; `endOfLine` is false for all but the last piece of a long line. */
export type PieceSink = (piece: Uint8Array, endOfLine: boolean) => void;

const LF = 0x0a;
const CR = 0x0d;
const Q = 0x71;

/** True for the line `q`, with or without its line ending (the quit line of a terminal). */
export function isQuitLine(line: Uint8Array): boolean {
  let end = line.length;
  if (end > 0 && line[end - 1] === LF) end--;
  if (end > 0 && line[end - 1] === CR) end--;
  return end === 1 && line[0] === Q;
}

/**
 * Where a cut before `buf[p]` lands once moved back to a UTF-8 character
 * boundary, not below `from`: `p` itself when `buf[p]` starts a character or
 * the bytes around it are not valid UTF-8 (cut as they come), the first byte
 * of the character that `p` falls inside otherwise. Returns `from` when that
 * character starts at `from` (the piece would be empty). `buf[p]` must exist.
 */
function charStart(buf: Uint8Array, from: number, p: number): number {
  if ((buf[p] & 0xc0) !== 0x80) return p; // not a continuation byte
  let q = p;
  while (q > from && p - q < 3 && (buf[q] & 0xc0) === 0x80) q--;
  const lead = buf[q];
  const length = lead >= 0xf0 ? (lead <= 0xf4 ? 4 : 0) : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  return q + length > p ? q : p;
}

/** Incremental line splitter with bounded memory. */
export class LineSplitter {
  readonly #maxPiece: number;
  readonly #sink: PieceSink;
  readonly #keepEndings: boolean;
  /**
   * Bytes of the current line not yet handed out, never a `\n`. Between
   * calls it holds fewer than its length: maxPiece + 2 bytes when endings are
   * dropped, maxPiece + 1 when they are kept. When it fills, a piece of at
   * most maxPiece bytes goes out, cut by {@link LineSplitter.#cut}, and the
   * rest moves to the front:
   * - endings dropped: at maxPiece + 2 bytes without a newline the line
   *   certainly has more than maxPiece bytes of content (at most one trailing
   *   `\r` is not content), and at least 2 bytes stay after the cut, so the
   *   last piece is never empty;
   * - endings kept: the cut leaves at least one byte before a trailing `\r`
   *   (which a `\n` may yet join as the ending), so the last piece is never
   *   only the ending; the `\n` is added after the cuts, when it is seen.
   * A cut moved back to a character boundary leaves more behind (up to
   * maxPiece bytes; the buffer holds at least maxPiece + 1): still room.
   */
  readonly #pending: Uint8Array;
  #pendingLen = 0;

  /**
   * A splitter that hands `sink` pieces of at most `maxPiece` bytes.
   * @param maxPiece most bytes in one piece
   * @param sink receives each piece
   * @param keepEndings hand out each line with its `\n` (or `\r\n`)
   */
  constructor(maxPiece: number, sink: PieceSink, keepEndings = false) {
    if (!Number.isInteger(maxPiece) || maxPiece < 1) throw new RangeError("maxPiece must be >= 1");
    this.#maxPiece = maxPiece;
    this.#sink = sink;
    this.#keepEndings = keepEndings;
    this.#pending = new Uint8Array(maxPiece + (keepEndings ? 1 : 2));
  }

  /** Feeds the next chunk of input. */
  push(chunk: Uint8Array): void {
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(LF, start);
      if (nl < 0) {
        this.#appendPartial(chunk, start, chunk.length);
        return;
      }
      this.#finishLine(chunk, start, nl);
      start = nl + 1;
    }
  }

  /** The input ended: hands out a final line that had no newline. */
  end(): void {
    if (this.#pendingLen > 0) {
      this.#emitPieces(this.#pending.subarray(0, this.#pendingLen));
      this.#pendingLen = 0;
    }
  }

  /** Appends `bytes[from, to)` (no `\n`) to the pending line, handing out full pieces. */
  #appendPartial(bytes: Uint8Array, from: number, to: number): void {
    const pending = this.#pending;
    const cap = pending.length;
    let at = from;
    while (at < to) {
      const n = Math.min(cap - this.#pendingLen, to - at);
      pending.set(bytes.subarray(at, at + n), this.#pendingLen);
      this.#pendingLen += n;
      at += n;
      if (this.#pendingLen === cap) {
        // Kept endings: a trailing \r may become the ending's, so it is not content to leave.
        const contentEnd = this.#keepEndings && pending[cap - 1] === CR ? cap - 1 : cap;
        const cut = this.#cut(pending, 0, this.#maxPiece, contentEnd);
        this.#sink(pending.subarray(0, cut), false);
        pending.copyWithin(0, cut, cap);
        this.#pendingLen = cap - cut;
      }
    }
  }

  /** The line whose content (and ending) is pending plus `chunk[start, nl]` is complete. */
  #finishLine(chunk: Uint8Array, start: number, nl: number): void {
    let content: Uint8Array;
    if (this.#pendingLen === 0) {
      content = chunk.subarray(start, this.#keepEndings ? nl + 1 : nl);
    } else {
      this.#appendPartial(chunk, start, nl);
      // Fewer than cap bytes are pending after #appendPartial: room for the \n.
      if (this.#keepEndings) this.#pending[this.#pendingLen++] = LF;
      content = this.#pending.subarray(0, this.#pendingLen);
      this.#pendingLen = 0;
    }
    if (!this.#keepEndings && content.length > 0 && content[content.length - 1] === CR) {
      content = content.subarray(0, content.length - 1);
    }
    this.#emitPieces(content);
  }

  /** Hands out the rest of a line (with its ending when kept), in pieces if long. */
  #emitPieces(content: Uint8Array): void {
    const length = content.length;
    if (length <= this.#maxPiece) {
      this.#sink(content, true);
      return;
    }
    let contentEnd = length; // where the line ending starts (kept endings only)
    if (this.#keepEndings && content[length - 1] === LF) {
      contentEnd = length >= 2 && content[length - 2] === CR ? length - 2 : length - 1;
    }
    let off = 0;
    while (length - off > this.#maxPiece) {
      const cut = this.#cut(content, off, off + this.#maxPiece, contentEnd);
      this.#sink(content.subarray(off, cut), false);
      off = cut;
    }
    this.#sink(content.subarray(off), true);
  }

  /**
   * Where the piece of `buf` starting at `off` ends: at most `limit`
   * (< buf.length), and more than `off`. Best: a character boundary before
   * `contentEnd`, so that some content goes with the line ending. Else (a
   * `maxPiece` too small for that): a character boundary, not between `\r`
   * and `\n`. Else `limit`, as the bytes come.
   */
  #cut(buf: Uint8Array, off: number, limit: number, contentEnd: number): number {
    const before = Math.min(limit, contentEnd - 1);
    if (before > off) {
      const at = charStart(buf, off, before);
      if (at > off) return at;
    }
    if (before === limit) return limit;
    const at = charStart(buf, off, limit);
    if (at === off) return limit;
    return buf[at] === LF && buf[at - 1] === CR && at - 1 > off ? at - 1 : at;
  }
}
