/**
 * PUDP wire format: one message per UDP datagram.
 *
 * ```
 *  0      2       3       4               8               12
 *  +------+-------+-------+---------------+---------------+------------
 *  | magic|version|command| sequence (u32)| session (u32) | payload…
 *  +------+-------+-------+---------------+---------------+------------
 * ```
 *
 * All fields are big-endian. Only DATA carries a payload (the rest of the
 * datagram); bytes after the header of any other command are ignored.
 * Decoding is pure and throws {@link WireError} — and nothing else — for
 * bytes that are not a PUDP message. Unknown command values decode: deciding
 * what they mean is the session's job.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const hi = new TextEncoder().encode("hi");
 * const bytes = encode({ command: Command.DATA, seq: 1, sessionId: 0x1234abcd, payload: hi });
 * assert.deepEqual(bytes, Uint8Array.of(
 *   0xc3, 0x56, 1, 1, // magic, version, command
 *   0, 0, 0, 1, // sequence number
 *   0x12, 0x34, 0xab, 0xcd, // session id
 *   0x68, 0x69, // payload
 * ));
 * const msg = decode(bytes);
 * assert.deepEqual(msg, { command: Command.DATA, seq: 1, sessionId: 0x1234abcd, payload: hi });
 * assert.equal(commandName(msg.command), "DATA");
 * assert.throws(() => decode(bytes.subarray(0, 5)), WireError); // too short for a header
 * ```
 *
 * @module
 */

/** Magic number of PUDP, as the course's programs send it. */
export const PUDP_MAGIC = 0xc356;
/** Magic number of the original CSE 461 "P0P" peers, which differ only there. */
export const P0P_MAGIC = 0xc461;
/** The handout's protocol version, sent and expected by default (`--wire-version`). */
export const VERSION = 1;
/** Size of the fixed header in bytes. */
export const HEADER_SIZE = 12;
/** Largest payload: the largest UDP payload over IPv4 (65,507) less the header. */
export const MAX_PAYLOAD = 65_507 - HEADER_SIZE;
/** Largest value of a u32 field. */
export const MAX_U32 = 0xffff_ffff;

/** Command codes. Other values may arrive on the wire and decode as numbers. */
export const Command = {
  HELLO: 0,
  DATA: 1,
  ALIVE: 2,
  GOODBYE: 3,
} as const;

/** The name of a command code, for logs and dissection (`CMD7` when unknown). */
export function commandName(command: number): string {
  switch (command) {
    case Command.HELLO:
      return "HELLO";
    case Command.DATA:
      return "DATA";
    case Command.ALIVE:
      return "ALIVE";
    case Command.GOODBYE:
      return "GOODBYE";
    default:
      return `CMD${command}`;
  }
}

/** One decoded PUDP message. */
export interface Message {
  /** Command code (see {@link Command}); any u8. */
  command: number;
  /** Sequence number, u32. */
  seq: number;
  /** Session id, u32. */
  sessionId: number;
  /** DATA payload; empty for other commands. */
  payload: Uint8Array;
}

import { WireError } from "../bytes/wire_error.ts";

export { WireError };

function checkU32(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) {
    throw new WireError(`${name} ${value} is not a u32`);
  }
}

/**
 * Writes a 12-byte header into `out` at offset 0, with `magic` and `version`
 * (`--magic`, `--wire-version`). Throws WireError on bad field values.
 */
export function writeHeader(
  out: Uint8Array,
  command: number,
  seq: number,
  sessionId: number,
  magic: number = PUDP_MAGIC,
  version: number = VERSION,
): void {
  if (!Number.isInteger(command) || command < 0 || command > 0xff) {
    throw new WireError(`command ${command} is not a u8`);
  }
  if (!Number.isInteger(version) || version < 0 || version > 0xff) {
    throw new WireError(`version ${version} is not a u8`);
  }
  if (!Number.isInteger(magic) || magic < 0 || magic > 0xffff) {
    throw new WireError(`magic ${magic} is not a u16`);
  }
  checkU32("sequence", seq);
  checkU32("session id", sessionId);
  if (out.length < HEADER_SIZE) throw new WireError("buffer shorter than a header");
  out[0] = magic >>> 8;
  out[1] = magic & 0xff;
  out[2] = version;
  out[3] = command;
  out[4] = seq >>> 24;
  out[5] = (seq >>> 16) & 0xff;
  out[6] = (seq >>> 8) & 0xff;
  out[7] = seq & 0xff;
  out[8] = sessionId >>> 24;
  out[9] = (sessionId >>> 16) & 0xff;
  out[10] = (sessionId >>> 8) & 0xff;
  out[11] = sessionId & 0xff;
}

/**
 * Encodes `msg` into `out` at offset 0 and returns the datagram's length
 * (the payload is written only for DATA). For a sender that reuses its
 * buffers: `out` must not be in a send that has not completed. Throws
 * WireError if a field is out of range, the payload exceeds MAX_PAYLOAD or
 * `out` is too short.
 */
export function encodeInto(
  out: Uint8Array,
  msg: Message,
  magic: number = PUDP_MAGIC,
  version: number = VERSION,
): number {
  const payload = msg.payload;
  const len = msg.command === Command.DATA ? payload.length : 0;
  if (len > MAX_PAYLOAD) throw new WireError(`payload of ${len} bytes exceeds ${MAX_PAYLOAD}`);
  if (out.length < HEADER_SIZE + len) throw new WireError("buffer shorter than the datagram");
  writeHeader(out, msg.command, msg.seq, msg.sessionId, magic, version);
  if (len <= SMALL_PAYLOAD) {
    for (let i = 0; i < len; i++) out[HEADER_SIZE + i] = payload[i];
  } else {
    out.set(payload, HEADER_SIZE);
  }
  return HEADER_SIZE + len;
}

/** Payloads up to this length are copied byte by byte (faster than `set` for short lines). */
const SMALL_PAYLOAD = 128;

/**
 * Encodes a message into a new datagram. The payload is written only for DATA.
 * Throws WireError if a field is out of range or the payload exceeds MAX_PAYLOAD.
 *
 * The datagram's bytes are the caller's alone, but small datagrams are views
 * into a shared slab (its `buffer` holds other datagrams too): a DATA per
 * line then costs one small object, not an ArrayBuffer of its own.
 */
export function encode(
  msg: Message,
  magic: number = PUDP_MAGIC,
  version: number = VERSION,
): Uint8Array {
  const payload = msg.command === Command.DATA ? msg.payload : EMPTY;
  if (payload.length > MAX_PAYLOAD) {
    throw new WireError(`payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD}`);
  }
  const size = HEADER_SIZE + payload.length;
  let out: Uint8Array;
  if (size > SLAB_MAX_DATAGRAM) {
    out = new Uint8Array(size);
  } else {
    if (slabUsed + size > SLAB_BYTES) {
      slab = new ArrayBuffer(SLAB_BYTES);
      slabUsed = 0;
    }
    out = new Uint8Array(slab, slabUsed, size);
    slabUsed += size;
  }
  encodeInto(out, msg, magic, version);
  return out;
}

const EMPTY = new Uint8Array(0);
/** Size of the slabs small datagrams are cut from; a slab is freed with its last datagram. */
const SLAB_BYTES = 64 * 1024;
/** Larger datagrams get an ArrayBuffer of their own. */
const SLAB_MAX_DATAGRAM = 2048;
let slab = new ArrayBuffer(SLAB_BYTES);
let slabUsed = 0;

/** The header fields of a message (the payload is the rest of the datagram). */
export type Header = Omit<Message, "payload">;

/**
 * Decodes the header of one datagram into `into` (reused by a server, so a
 * message costs no allocation). Throws WireError if the datagram is shorter
 * than a header or has another magic or version than `magic` and `version`.
 */
export function decodeHeader(
  bytes: Uint8Array,
  magic: number,
  into: Header,
  version: number = VERSION,
): void {
  if (bytes.length < HEADER_SIZE) {
    throw new WireError(`datagram of ${bytes.length} bytes is shorter than a header`);
  }
  const got = (bytes[0] << 8) | bytes[1];
  if (got !== magic) throw new WireError(`bad magic 0x${got.toString(16).padStart(4, "0")}`);
  if (bytes[2] !== version) throw new WireError(`unsupported version ${bytes[2]}`);
  into.command = bytes[3];
  into.seq = readU32(bytes, 4);
  into.sessionId = readU32(bytes, 8);
}

/**
 * Decodes one datagram. The payload is a view into `bytes` (copy it to keep it
 * past the next receive into the same buffer). Throws WireError if the datagram
 * is shorter than a header or has another magic or version than `magic` and
 * `version`.
 */
export function decode(
  bytes: Uint8Array,
  magic: number = PUDP_MAGIC,
  version: number = VERSION,
): Message {
  const header = { command: 0, seq: 0, sessionId: 0 };
  decodeHeader(bytes, magic, header, version);
  const payload = header.command === Command.DATA ? bytes.subarray(HEADER_SIZE) : EMPTY;
  return { ...header, payload };
}

function readU32(b: Uint8Array, at: number): number {
  return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
}

/** A PUDP variant seen among the course's peers: its magic and version, and what to call it. */
export interface KnownVariant {
  /** Its magic number. */
  readonly magic: number;
  /** Its version byte. */
  readonly version: number;
  /** What it is, for the hint (`P0P`). */
  readonly name: string;
}

/**
 * The variants of PUDP the course's peers speak. A datagram dropped for its
 * magic or version is compared with these (on the drop path only) to say
 * which flags would talk to its sender.
 */
export const KNOWN_VARIANTS: readonly KnownVariant[] = [
  { magic: PUDP_MAGIC, version: VERSION, name: "the handout's PUDP" },
  { magic: P0P_MAGIC, version: VERSION, name: "P0P" },
  { magic: 0xe86d, version: 2, name: "PUDP v2" },
];

/** Why a datagram with a PUDP-shaped header of another variant was dropped. */
export type ForeignReason = "other magic" | "other version";

/** A datagram that is PUDP, but not the variant we speak: what it is and how to talk to it. */
export interface ForeignHeader {
  /** `other magic`, or `other version` when only the version differs. */
  reason: ForeignReason;
  /** Its magic number. */
  magic: number;
  /** Its version byte. */
  version: number;
  /** The known variant it matches, if any. */
  known?: KnownVariant;
}

/** Highest version byte a PUDP-shaped header of an unknown variant may carry. */
const MAX_PLAUSIBLE_VERSION = 15;

/**
 * Whether a datagram that did not decode with `magic` and `version` is PUDP
 * of another variant: a {@link KnownVariant}, or any PUDP-shaped header
 * (a command 0–3, exactly 12 bytes unless DATA, and our magic or a version
 * from 1 to 15). Undefined for anything else (too short, random bytes).
 * Pure and cheap; called only for datagrams already being dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const hello = encode({ command: Command.HELLO, seq: 0, sessionId: 1, payload: new Uint8Array() }, P0P_MAGIC);
 * const foreign = foreignHeader(hello, PUDP_MAGIC, VERSION)!;
 * assert.equal(foreign.reason, "other magic");
 * assert.equal(variantHint(foreign, PUDP_MAGIC, VERSION), "looks like P0P (magic 0xC461): try --magic 0xC461");
 * assert.equal(foreignHeader(new TextEncoder().encode("hello, world!\n"), PUDP_MAGIC, VERSION), undefined);
 * ```
 */
export function foreignHeader(
  bytes: Uint8Array,
  magic: number,
  version: number,
): ForeignHeader | undefined {
  if (bytes.length < HEADER_SIZE) return undefined;
  const got = (bytes[0] << 8) | bytes[1];
  const gotVersion = bytes[2];
  if (got === magic && gotVersion === version) return undefined; // ours: not why it was dropped
  const command = bytes[3];
  if (command > Command.GOODBYE) return undefined;
  const reason: ForeignReason = got === magic ? "other version" : "other magic";
  for (const known of KNOWN_VARIANTS) {
    if (known.magic === got && known.version === gotVersion) {
      return { reason, magic: got, version: gotVersion, known };
    }
  }
  if (command !== Command.DATA && bytes.length !== HEADER_SIZE) return undefined;
  if (got !== magic && (gotVersion < 1 || gotVersion > MAX_PLAUSIBLE_VERSION)) return undefined;
  return { reason, magic: got, version: gotVersion };
}

/** `0xC461`: a magic number as the flags take it. */
export function magicText(magic: number): string {
  return "0x" + magic.toString(16).toUpperCase().padStart(4, "0");
}

/**
 * What a {@link ForeignHeader} looks like and the flags that would talk to
 * its sender, given ours: `looks like P0P (magic 0xC461): try --magic
 * 0xC461`, `looks like PUDP (version 2): try --wire-version 2`.
 */
export function variantHint(foreign: ForeignHeader, magic: number, version: number): string {
  const differs: string[] = [];
  const flags: string[] = [];
  if (foreign.magic !== magic) {
    differs.push(`magic ${magicText(foreign.magic)}`);
    flags.push(`--magic ${magicText(foreign.magic)}`);
  }
  if (foreign.version !== version) {
    differs.push(`version ${foreign.version}`);
    flags.push(`--wire-version ${foreign.version}`);
  }
  const name = foreign.known?.name ?? "PUDP";
  return `looks like ${name} (${differs.join(", ")}): try ${flags.join(" ")}`;
}
