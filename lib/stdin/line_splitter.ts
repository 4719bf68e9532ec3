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
 * Pieces are views into the input chunk or an internal buffer: the sink must
 * copy what it keeps before returning.
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

/** Incremental line splitter with bounded memory. */
export class LineSplitter {
  readonly #maxPiece: number;
  readonly #sink: PieceSink;
  readonly #keepEndings: boolean;
  /**
   * Bytes of the current line not yet handed out. When endings are dropped
   * it holds at most maxPiece + 1 bytes between calls: at maxPiece + 2 bytes
   * without a newline the line certainly has more than maxPiece bytes of
   * content (at most one trailing `\r` is not content), so the first maxPiece
   * go out as a piece. When endings are kept every byte is content: at
   * maxPiece + 1 bytes the first maxPiece go out.
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
        this.#appendPartial(chunk.subarray(start));
        return;
      }
      this.#finishLine(chunk.subarray(start, this.#keepEndings ? nl + 1 : nl));
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

  #appendPartial(bytes: Uint8Array): void {
    const cap = this.#pending.length;
    let at = 0;
    while (at < bytes.length) {
      const n = Math.min(cap - this.#pendingLen, bytes.length - at);
      this.#pending.set(bytes.subarray(at, at + n), this.#pendingLen);
      this.#pendingLen += n;
      at += n;
      if (this.#pendingLen === cap) {
        this.#sink(this.#pending.subarray(0, this.#maxPiece), false);
        this.#pending.copyWithin(0, this.#maxPiece, cap);
        this.#pendingLen = cap - this.#maxPiece;
      }
    }
  }

  #finishLine(rest: Uint8Array): void {
    let content: Uint8Array;
    if (this.#pendingLen === 0) {
      content = rest;
    } else {
      this.#appendPartial(rest);
      content = this.#pending.subarray(0, this.#pendingLen);
      this.#pendingLen = 0;
    }
    if (!this.#keepEndings && content.length > 0 && content[content.length - 1] === CR) {
      content = content.subarray(0, content.length - 1);
    }
    this.#emitPieces(content);
  }

  #emitPieces(content: Uint8Array): void {
    if (content.length <= this.#maxPiece) {
      this.#sink(content, true);
      return;
    }
    for (let off = 0; off < content.length; off += this.#maxPiece) {
      const end = Math.min(off + this.#maxPiece, content.length);
      this.#sink(content.subarray(off, end), end === content.length);
    }
  }
}
