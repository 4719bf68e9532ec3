/**
 * The classic blast wire: the protocol of the seed's own 2015 program
 * (`ardei`, Python): bare text, no terminator, no header, one request per
 * TCP connection or UDP datagram.
 *
 *     any text                     answered with the text upper-cased
 *     N (decimal digits)           answered with `file_prepared`, then N bytes of `A`
 *     stream-<ms>-<count>-<size>   answered with count chunks of size bytes of `A`, ms apart
 *
 * Then the server closes the connection (TCP) or goes silent (UDP): the end
 * of an answer is the close, or (UDP) a silence. Over UDP `file_prepared`
 * is a datagram of its own and the bytes follow in datagrams of
 * {@link CLASSIC_UDP_CHUNK} bytes; each stream chunk is one datagram.
 *
 * A request is at most {@link CLASSIC_MAX_REQUEST} bytes of UTF-8 (what the
 * 2015 server's `recv(1024)` takes). Bad bytes (empty, too long, not UTF-8,
 * a `stream-` request with a chunk size or interval out of range) throw
 * {@link WireError}, and nothing else; a text that starts with `stream-` but
 * is not three whole numbers is any text (an echo).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = (s: string) => new TextEncoder().encode(s);
 * assert.deepEqual(parseClassicRequest(text("hello")), { kind: "echo", text: "hello" });
 * assert.equal(classicEchoAnswer("hello"), "HELLO");
 * assert.deepEqual(parseClassicRequest(text("1000")), { kind: "file", bytes: 1000 });
 * assert.deepEqual(parseClassicRequest(text("stream-10-5-100")), {
 *   kind: "stream",
 *   intervalMs: 10,
 *   count: 5,
 *   size: 100,
 * });
 * assert.equal(formatClassicRequest({ kind: "stream", intervalMs: 10, count: 5, size: 100 }), "stream-10-5-100");
 * assert.equal(classicAnswerBytes({ kind: "stream", intervalMs: 10, count: 5, size: 100 }), 500);
 * assert.equal(classicRefusal({ kind: "file", bytes: 123456790 }, 123456789), "123456790 bytes is over this server's limit of 123456789");
 * assert.deepEqual(countWrong(text("AAxA"), 0), { wrong: 1, first: 2 });
 * assert.throws(() => parseClassicRequest(new Uint8Array([0xff])), WireError);
 * assert.throws(() => parseClassicRequest(text("")), WireError);
 * ```
 *
 * @module
 */

import { WireError } from "../bytes/wire_error.ts";
import { escapeBytes } from "../io/terminal_text.ts";

export { WireError };

/** Longest request, in bytes (the 2015 server reads with `recv(1024)`). */
export const CLASSIC_MAX_REQUEST = 1024;
/** The notice that a file's bytes follow. */
export const FILE_PREPARED = "file_prepared";
/** {@link FILE_PREPARED} as bytes. */
export const FILE_PREPARED_BYTES: Uint8Array = new TextEncoder().encode(FILE_PREPARED);
/** The byte every file and stream byte is: `A`. */
export const CLASSIC_FILL = 0x41;
/**
 * Bytes of `A` per UDP datagram of a file: what a `recvfrom(1024)` (the
 * common read of 2015-era Python clients) takes whole.
 */
export const CLASSIC_UDP_CHUNK = 1024;
/** Largest stream chunk (one UDP datagram's payload). */
export const CLASSIC_MAX_CHUNK = 65_507;
/** Longest interval between stream chunks, in ms (an hour). */
export const CLASSIC_MAX_INTERVAL_MS = 3_600_000;

/** A classic request. */
export type ClassicRequest =
  | { kind: "echo"; text: string }
  | { kind: "file"; bytes: number }
  | { kind: "stream"; intervalMs: number; count: number; size: number };

const strict = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/** Decodes one request (a TCP connection's request bytes, or a UDP datagram). */
export function parseClassicRequest(bytes: Uint8Array): ClassicRequest {
  if (bytes.length === 0) throw new WireError("empty request");
  if (bytes.length > CLASSIC_MAX_REQUEST) {
    throw new WireError(`request longer than ${CLASSIC_MAX_REQUEST} bytes`);
  }
  let text: string;
  try {
    text = strict.decode(bytes);
  } catch {
    throw new WireError("request is not UTF-8 text");
  }
  if (/^[0-9]+$/.test(text)) return { kind: "file", bytes: Number(text) };
  const m = /^stream-([0-9]+)-([0-9]+)-([0-9]+)$/.exec(text);
  if (m) {
    const [intervalMs, count, size] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (size < 1 || size > CLASSIC_MAX_CHUNK) {
      throw new WireError(`stream chunk size ${m[3]} is not 1 to ${CLASSIC_MAX_CHUNK}`);
    }
    if (intervalMs > CLASSIC_MAX_INTERVAL_MS) {
      throw new WireError(`stream interval ${m[1]} ms is over ${CLASSIC_MAX_INTERVAL_MS}`);
    }
    return { kind: "stream", intervalMs, count, size };
  }
  return { kind: "echo", text };
}

/** The request as the classic client sends it (without a terminator). */
export function formatClassicRequest(r: ClassicRequest): string {
  switch (r.kind) {
    case "echo":
      return r.text;
    case "file":
      return String(r.bytes);
    case "stream":
      return `stream-${r.intervalMs}-${r.count}-${r.size}`;
  }
}

/** {@link formatClassicRequest} as bytes. */
export function encodeClassicRequest(r: ClassicRequest): Uint8Array {
  return encoder.encode(formatClassicRequest(r));
}

/** The answer to an echo: the text upper-cased (as Python's `str.upper`, for ASCII exactly). */
export function classicEchoAnswer(text: string): string {
  return text.toUpperCase();
}

/** Bytes of `A` a file or stream request is answered with (0 for an echo). */
export function classicAnswerBytes(r: ClassicRequest): number {
  return r.kind === "file" ? r.bytes : r.kind === "stream" ? r.count * r.size : 0;
}

/** Why a server over `maxBytes` does not answer `r` (it closes, or stays silent), or undefined. */
export function classicRefusal(r: ClassicRequest, maxBytes: number): string | undefined {
  const bytes = classicAnswerBytes(r);
  if (bytes <= maxBytes) return undefined;
  const what = r.kind === "stream"
    ? `${r.count} chunks of ${r.size} bytes (${bytes} bytes)`
    : `${bytes} bytes`;
  return `${what} is over this server's limit of ${maxBytes}`;
}

let fill = new Uint8Array(0);

/** `n` bytes of `A` (a shared view: never written to). */
export function fillBytes(n: number): Uint8Array {
  if (fill.length < n) fill = new Uint8Array(Math.max(n, 64 * 1024)).fill(CLASSIC_FILL);
  return fill.subarray(0, n);
}

/** Bytes of `payload` that are not `A`, and the offset of the first (plus `offset`), or undefined. */
export function countWrong(
  payload: Uint8Array,
  offset: number,
): { wrong: number; first: number } | undefined {
  let wrong = 0;
  let first = -1;
  for (let i = 0; i < payload.length; i++) {
    if (payload[i] !== CLASSIC_FILL) {
      if (wrong++ === 0) first = i;
    }
  }
  return wrong === 0 ? undefined : { wrong, first: offset + first };
}

/** Bytes shown of something foreign. */
export const PREVIEW_BYTES = 48;

/** The first {@link PREVIEW_BYTES} of `bytes`, escaped for a terminal, with `…` when cut. */
export function previewBytes(bytes: Uint8Array, max = PREVIEW_BYTES): string {
  const cut = bytes.subarray(0, max);
  const text = new TextDecoder().decode(escapeBytes(cut));
  return bytes.length > max ? `${text}…` : text;
}

/**
 * A foreign answer to the request line `sent`, for a failure line: its first
 * bytes escaped, and a hint when it is `sent` upper-cased (a classic server).
 */
export function foreignAnswer(sent: string, got: string): string {
  const shown = `'${previewBytes(encoder.encode(got))}'`;
  const classic = got !== sent && got.startsWith(classicEchoAnswer(sent));
  return classic
    ? `${shown} (the request upper-cased: a classic blast server? try --classic)`
    : shown;
}

/** Whether `bytes` starts with a blast segment header (the magic). */
export function isBlastDatagram(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0xb1 && bytes[1] === 0xa5;
}

/** Whether `bytes` could be a classic request (text that parses as one). */
export function looksClassic(bytes: Uint8Array): boolean {
  try {
    parseClassicRequest(bytes);
    return true;
  } catch (e) {
    if (e instanceof WireError) return false;
    throw e;
  }
}
