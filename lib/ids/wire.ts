/**
 * The ids protocol of the course: text requests and replies.
 *
 * ```
 * request:  HELLO <id>                      id: 1–64 visible ASCII characters
 * replies:  OK <id> <client-ip> <client-port>   the id is now held for the client
 *           RESET <id>                          the id is in use
 *           ERROR <reason>                      the request was malformed
 * ```
 *
 * Over UDP a datagram is one message. Over TCP a message is a line ended by
 * `\n` (a `\r` before it is dropped); see {@link decodeLine}. Bytes that are
 * not a request or reply throw {@link WireError}, whose message is the reason
 * an `ERROR` reply gives.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRequest(new TextEncoder().encode("HELLO 8877\n")), { id: "8877" });
 * assert.equal(
 *   formatReply({ kind: "ok", id: "8877", ip: "10.0.0.2", port: 5555 }),
 *   "OK 8877 10.0.0.2 5555",
 * );
 * ```
 *
 * @module
 */

import { WireError } from "../bytes/wire_error.ts";
import { type Decoded, NEED_MORE } from "../bytes/receive_buffer.ts";

export { WireError };

/** Longest id. */
export const MAX_ID_LENGTH = 64;
/** Longest request or reply line, in bytes, without its line ending. */
export const MAX_LINE = 1024;

/** A parsed request. */
export interface IdRequest {
  /** The id asked for. */
  id: string;
}

/** A reply. */
export type IdReply =
  | { kind: "ok"; id: string; ip: string; port: number }
  | { kind: "reset"; id: string }
  | { kind: "error"; reason: string };

/** Whether `id` is 1–64 visible ASCII characters. */
export function isValidId(id: string): boolean {
  return id.length >= 1 && id.length <= MAX_ID_LENGTH && /^[\x21-\x7e]+$/.test(id);
}

const NOT_TEXT = "request is not text";

/**
 * The text of one message without a trailing `\n` or `\r\n`; WireError if
 * it is empty, not printable ASCII (checked first, whatever its length) or
 * too long.
 */
function messageText(bytes: Uint8Array): string {
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  if (end === 0) throw new WireError("empty request");
  for (let i = 0; i < end; i++) {
    const b = bytes[i];
    if (b < 0x20 || b > 0x7e) throw new WireError(NOT_TEXT);
  }
  if (end > MAX_LINE) throw new WireError(`request longer than ${MAX_LINE} bytes`);
  return String.fromCharCode(...bytes.subarray(0, end));
}

/** Parses one request (a datagram, or a line without its `\n`). Throws WireError with the reason. */
export function parseRequest(bytes: Uint8Array): IdRequest {
  return parseRequestText(messageText(bytes));
}

function parseRequestText(text: string): IdRequest {
  const words = text.trim().split(/ +/);
  if (words[0] !== "HELLO" || words.length !== 2) {
    throw new WireError("expected 'HELLO <id>'");
  }
  const id = words[1];
  if (id.length > MAX_ID_LENGTH) throw new WireError(`id longer than ${MAX_ID_LENGTH} characters`);
  return { id };
}

/**
 * Why a server gives a message no reply at all: it looks like a reply
 * (`OK …`, `RESET …`, `ERROR …`, in any case), or it is not printable text.
 */
export type IgnoredMessage = "reply" | "not text";

/** What a server makes of one message (see {@link classifyRequest}). */
export type RequestVerdict =
  | { kind: "request"; id: string }
  | { kind: "malformed"; reason: string }
  | { kind: "ignored"; reason: IgnoredMessage };

/** A message whose first word is a reply's: answering it could start a loop between two servers. */
const REPLY_SHAPED = /^\s*(OK|RESET|ERROR)\b/i;

/**
 * Judges one message (a datagram, or a line without its `\n`): a request
 * for an id; a malformed request, with the reason an `ERROR` reply gives;
 * or a message a server must not answer at all, because it looks like a
 * reply or is not printable ASCII (answering those could make two servers
 * talk to each other forever).
 */
export function classifyRequest(bytes: Uint8Array): RequestVerdict {
  let text: string;
  try {
    text = messageText(bytes);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    if (e.message === NOT_TEXT) return { kind: "ignored", reason: "not text" };
    return { kind: "malformed", reason: e.message };
  }
  if (REPLY_SHAPED.test(text)) return { kind: "ignored", reason: "reply" };
  try {
    return { kind: "request", id: parseRequestText(text).id };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { kind: "malformed", reason: e.message };
  }
}

/** The text of a request. */
export function formatRequest(id: string): string {
  return `HELLO ${id}`;
}

/** The text of a reply (no line ending). */
export function formatReply(reply: IdReply): string {
  switch (reply.kind) {
    case "ok":
      return `OK ${reply.id} ${reply.ip} ${reply.port}`;
    case "reset":
      return `RESET ${reply.id}`;
    case "error":
      return `ERROR ${reply.reason}`;
  }
}

/** Parses a reply (what a client receives). Throws WireError when it is none of the three. */
export function parseReply(bytes: Uint8Array): IdReply {
  let text: string;
  try {
    text = messageText(bytes);
  } catch {
    throw new WireError("the reply is not text");
  }
  const words = text.trim().split(/ +/);
  if (words[0] === "OK" && words.length === 4 && /^\d{1,5}$/.test(words[3])) {
    return { kind: "ok", id: words[1], ip: words[2], port: Number(words[3]) };
  }
  if (words[0] === "RESET" && words.length === 2) return { kind: "reset", id: words[1] };
  if (words[0] === "ERROR") return { kind: "error", reason: text.trim().slice(6) };
  throw new WireError(`unexpected reply '${text.slice(0, 80)}'`);
}

/**
 * The stream codec over TCP: one line, ended by `\n`, returned without it.
 * NEED_MORE while a line is incomplete; WireError once more than
 * {@link MAX_LINE} bytes have come without one.
 */
export function decodeLine(bytes: Uint8Array): Decoded<Uint8Array> | typeof NEED_MORE {
  const end = bytes.indexOf(0x0a);
  if (end < 0) {
    if (bytes.length > MAX_LINE + 1) throw new WireError(`request longer than ${MAX_LINE} bytes`);
    return NEED_MORE;
  }
  return { value: bytes.subarray(0, end), size: end + 1 };
}
