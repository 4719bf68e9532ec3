/**
 * How the frame family's checks see the bytes of a TCP stream: the
 * messages in it ({@link parseMessages}), the answer the rule gives to a
 * text ({@link answerText}), and a trace describer that decodes each
 * segment against the stream so far ({@link FrameDescriber}).
 *
 * How the describer works: it keeps, for each direction of one
 * connection, where the stream is (how many header bytes of the next
 * message it has, how many payload bytes of the current one are still to
 * come), and describes a segment as the message parts it holds:
 * `message 15 bytes: '0123456789hello'`, `partial: 2 of 4 header bytes`,
 * `message 1048576 bytes, 60 here: '0123…'…`, `1024 more payload bytes
 * (2048 to go)`. The stream probe describes both directions with one
 * function and gives it only the first 64 bytes of a segment; the
 * describer is told which way a segment goes by {@link FrameDescriber.sending}
 * (set around a write), and when a header lies past the bytes it is shown
 * it says it lost the boundaries.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const d = new FrameDescriber();
 * const hello = encodeText("0123456789hello");
 * assert.equal(d.describe(hello.subarray(0, 2), 2), "partial: 2 of 4 header bytes");
 * assert.equal(d.describe(hello.subarray(2), 17), "message 15 bytes: '0123456789hello'");
 * assert.deepEqual(parseMessages(Uint8Array.of(0, 0, 0, 1, 0x41, 0, 0)).messages.length, 1);
 * assert.equal(answerText("ééééééééééabc"), "abc");
 * ```
 *
 * @module
 */

import { escapeBytes } from "../io/terminal_text.ts";
import type { DescribeSegment } from "./stream_probe.ts";

/** Bytes of the length prefix. */
const HEADER = 4;
/** How many payload bytes a trace line shows. */
const SHOWN = 40;

/** The characters the rule drops from the front of a message's text. */
export const DROPPED = 10;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The answer the rule gives to `text`: without its first 10 characters (code points). */
export function answerText(text: string): string {
  return [...text].slice(DROPPED).join("");
}

/** `n` ASCII characters of a repeating pattern (a long message whose answer is easy to check). */
export function longText(n: number): string {
  const unit = "0123456789abcdefghijklmnopqrstuvwxyz";
  return unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
}

/** `text` as one frame message: its UTF-8 byte length (4 bytes, big-endian), then the bytes. */
export function encodeText(text: string): Uint8Array {
  return encodePayload(encoder.encode(text));
}

/** `payload` as one frame message. */
export function encodePayload(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(HEADER + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, HEADER);
  return out;
}

/** The length a 4-byte prefix announces. */
export function lengthOf(bytes: Uint8Array, at = 0): number {
  return new DataView(bytes.buffer, bytes.byteOffset + at, HEADER).getUint32(0);
}

/** The complete messages at the start of a stream, and how many bytes after them are unfinished. */
export interface Parsed {
  /** The payloads of the complete messages, in order. */
  messages: Uint8Array[];
  /** Bytes after the last complete message (an unfinished one). */
  rest: number;
  /** The length the unfinished message announces, when its header is here. */
  announced?: number;
}

/** Splits a stream into its complete messages (views into `bytes`). */
export function parseMessages(bytes: Uint8Array): Parsed {
  const messages: Uint8Array[] = [];
  let at = 0;
  while (bytes.length - at >= HEADER) {
    const length = lengthOf(bytes, at);
    if (bytes.length - at - HEADER < length) {
      return { messages, rest: bytes.length - at, announced: length };
    }
    messages.push(bytes.subarray(at + HEADER, at + HEADER + length));
    at += HEADER + length;
  }
  return { messages, rest: bytes.length - at };
}

/** Where one direction of a stream is, for {@link describeSegment}. */
export interface StreamState {
  /** Header bytes of the next message seen so far (fewer than 4). */
  header: number[];
  /** Payload bytes of the current message still to come. */
  left: number;
  /** The boundaries were lost (a header lay past the bytes shown). */
  lost: boolean;
}

/** A stream at its start. */
export function newStreamState(): StreamState {
  return { header: [], left: 0, lost: false };
}

/**
 * Describes a segment of `length` bytes whose first bytes are `bytes`,
 * against the stream `state` (updated): the message parts it holds.
 */
export function describeSegment(state: StreamState, bytes: Uint8Array, length: number): string {
  const parts: string[] = [];
  let at = 0;
  while (at < length) {
    if (state.lost) {
      parts.push(`${length - at} bytes (message boundaries not followed)`);
      break;
    }
    if (state.left > 0) {
      const take = Math.min(state.left, length - at);
      state.left -= take;
      parts.push(
        `${take} more payload byte${take === 1 ? "" : "s"} ${
          state.left > 0 ? `(${state.left} to go)` : "(message complete)"
        }`,
      );
      at += take;
      continue;
    }
    if (at >= bytes.length) {
      state.lost = true;
      continue;
    }
    while (state.header.length < HEADER && at < length && at < bytes.length) {
      state.header.push(bytes[at++]);
    }
    if (state.header.length < HEADER) {
      if (at < length) {
        state.lost = true;
        continue;
      }
      parts.push(`partial: ${state.header.length} of ${HEADER} header bytes`);
      break;
    }
    const announced = lengthOf(Uint8Array.from(state.header));
    state.header = [];
    const take = Math.min(announced, length - at);
    const shown = bytes.subarray(at, Math.min(at + take, bytes.length, at + SHOWN));
    const preview = `'${decoder.decode(escapeBytes(shown))}'${take > shown.length ? "…" : ""}`;
    at += take;
    state.left = announced - take;
    if (announced === 0) parts.push("message 0 bytes (empty)");
    else if (take === 0) parts.push(`header: a message of ${announced} bytes follows`);
    else if (take === announced) parts.push(`message ${announced} bytes: ${preview}`);
    else parts.push(`message ${announced} bytes, ${take} here: ${preview}`);
  }
  return parts.join("; ");
}

/**
 * The trace describer of one connection: a {@link StreamState} for each
 * direction. Set {@link FrameDescriber.sending} while a write is recorded
 * (see {@link FrameDescriber.write}); segments are otherwise taken as read.
 */
export class FrameDescriber {
  /** True while the checker's own write is being recorded. */
  sending = false;
  readonly #sent: StreamState = newStreamState();
  readonly #received: StreamState = newStreamState();

  /** The describer to give the stream probe. */
  readonly describe: DescribeSegment = (bytes, length) =>
    describeSegment(this.sending ? this.#sent : this.#received, bytes, length);

  /** Calls `write(bytes)` (which records the segment synchronously) as a sent segment. */
  write(write: (bytes: Uint8Array) => Promise<boolean>, bytes: Uint8Array): Promise<boolean> {
    this.sending = true;
    try {
      return write(bytes);
    } finally {
      this.sending = false;
    }
  }
}
