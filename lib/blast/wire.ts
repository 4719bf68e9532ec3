/**
 * The `pudp blast` wire: the request line both transports share, and the
 * segment header that UDP datagrams and TCP stream segments carry.
 *
 * A request is one line of ASCII (sent with "\n" over TCP, as the whole
 * body of a REQUEST datagram over UDP), so `nc` can speak it:
 *
 *     ECHO <text>                         answered with the same line
 *     GET bytes=N [size=S] [rate=R] [token=T]   the server sends N pattern bytes
 *     PUT bytes=N [size=S] [rate=R]       the client sends N pattern bytes
 *     GET count=N interval=MS [size=S]    the server sends N segments, one every MS
 *     PUT count=N interval=MS [size=S]    the client does
 *     GET|PUT time=MS [size=S] [rate=R]   for MS ms, at most the server's limit
 *
 * A timed request (`time=MS`, `--time`) is never refused for its size: the
 * server bounds it by its `--max-bytes` ({@link timedBound}) and says the
 * bound in its answer (TCP: `OK bytes=N`; UDP: the ACCEPT's total is the
 * most segments the run may have). Over TCP its data is the pattern, then
 * `\n` and `DONE <sender's figures as JSON>` (the pattern has no line end),
 * so the receiver knows the end from the sender; over UDP the END marker
 * says how many segments went. A sender that reaches the bound before the
 * time says `"limited":true` in its figures.
 *
 * A TCP server answers `OK` or `REFUSED <reason>` on a line
 * ({@link formatAnswer}, {@link parseAnswer}); a receiving server ends a PUT
 * with `DONE <report as JSON>` ({@link formatDone}, {@link parseDone}); an
 * echo is answered with its own line. A request over the server's limit is
 * refused with the reason {@link refusal} gives. Over UDP a transfer
 * (GET or PUT) also carries `token=T` (hex), the token of the server's
 * CHALLENGE that proves the client receives at its address; TCP ignores it.
 *
 * Segment header (big-endian, 24 bytes), then the body:
 *
 *      0       2       3       4               8               12
 *     +-------+-------+-------+---------------+---------------+
 *     | magic | type  |   0   |    run id     |      seq      |
 *     +-------+-------+-------+---------------+---------------+
 *     12              16                              24
 *     +---------------+-------------------------------+
 *     |     total     |  sent: ms since the Unix epoch |
 *     |               |  (IEEE 754 double)             |
 *     +---------------+-------------------------------+
 *
 * - magic 0xB1A5; run id: the client's random number for one run.
 * - REQUEST (client → server): body is the request line; seq counts retries.
 * - ACCEPT / REFUSE (server → client): REFUSE's body is the reason.
 * - DATA: seq from 0; total = segments in the transfer; body = the pattern
 *   bytes at offset seq × (size − 24).
 * - END: the end marker, seq = total; body = the sender's figures as JSON.
 * - END_ACK (receiver → sender), REPORT (receiving server → client: the
 *   receiver's report as JSON).
 * - ECHO (server → client): body is the echoed text; seq and sent are the
 *   request's.
 * - CHALLENGE (server → client): the answer to a transfer REQUEST without a
 *   valid token; body is the token (ASCII hex) to repeat the request with.
 * - ACK (receiver → sender, GET over UDP): the client is still receiving,
 *   sent every {@link ACK_INTERVAL_MS}; seq = segments received so far,
 *   total = the run's.
 * - REQUEST, END and ECHO go again every {@link RETRY_MS} until answered; a
 *   receiver that saw an END with gaps waits {@link LINGER_MS} for late
 *   segments before it reports.
 *
 * Bad bytes throw {@link WireError}, and nothing else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const request = parseRequest("GET bytes=1000000 size=1400 rate=0");
 * assert.equal(formatRequest(request), "GET bytes=1000000 size=1400 rate=0");
 * assert.equal(request.kind, "transfer");
 * assert.deepEqual(transferShape(request), { segments: 727, bytes: 1000000 });
 * const header = { type: SegmentType.Data, run: 7, seq: 0, total: 727, sent: 0 };
 * const segment = encodeSegment(header, new Uint8Array(16));
 * assert.deepEqual(decodeHeader(segment, emptyHeader()), header);
 * assert.equal(segment.length, SEGMENT_HEADER + 16);
 * assert.equal(
 *   refusal(request, 1000),
 *   "1000000 bytes is over this server's limit of 1000 bytes (--max-bytes)",
 * );
 * assert.equal(formatAnswer({ kind: "refused", reason: "busy" }), "REFUSED busy");
 * assert.deepEqual(parseAnswer("OK"), { kind: "ok" });
 * assert.deepEqual(parseDone<{ bytes: number }>('DONE {"bytes":5}'), { bytes: 5 });
 * assert.throws(() => parseRequest("GET bytes=1 count=2"), WireError);
 *
 * // --time: the server bounds a timed request by its limit, and says the bound.
 * const timed = parseRequest("GET time=1000 size=1400 rate=0");
 * assert.equal(timed.kind === "transfer" && timed.timeMs, 1000);
 * assert.equal(formatRequest(timed), "GET time=1000 size=1400 rate=0");
 * assert.equal(refusal(timed, 1000), undefined); // never over the limit: bounded by it
 * assert.equal(timed.kind === "transfer" && timedBound(timed, 14_000, true).count, 10);
 * assert.deepEqual(parseAnswer("OK bytes=14000"), { kind: "ok", bytes: 14000 });
 * ```
 *
 * @module
 */

import { WireError } from "../bytes/wire_error.ts";

export { WireError };

/** The first two bytes of every blast datagram. */
export const BLAST_MAGIC = 0xb1a5;

/** Bytes of the segment header. */
export const SEGMENT_HEADER = 24;

/** The largest UDP payload (65,535 − 8 − 20). */
export const MAX_DATAGRAM = 65_507;

/** The longest request line (and so the longest echo text). */
export const MAX_REQUEST_LINE = 8192;

/** Resend interval of REQUEST, END and ECHO (UDP), in ms. */
export const RETRY_MS = 200;

/** How long a UDP receiver waits for late segments after an END that left gaps, in ms. */
export const LINGER_MS = 250;

/** A downloading UDP client sends an ACK this often, in ms. */
export const ACK_INTERVAL_MS = 100;

/** Datagram and segment types. */
export const SegmentType = {
  Request: 1,
  Accept: 2,
  Refuse: 3,
  Data: 4,
  End: 5,
  EndAck: 6,
  Report: 7,
  Echo: 8,
  Challenge: 9,
  Ack: 10,
} as const;

/** One of {@link SegmentType}. */
export type SegmentTypeCode = (typeof SegmentType)[keyof typeof SegmentType];

const TYPE_NAMES: Record<number, string> = {
  1: "request",
  2: "accept",
  3: "refuse",
  4: "data",
  5: "end",
  6: "end-ack",
  7: "report",
  8: "echo",
  9: "challenge",
  10: "ack",
};

/** The lower-case name of a segment type (`data`, `end`, …). */
export function segmentTypeName(type: number): string {
  return TYPE_NAMES[type] ?? `type ${type}`;
}

/** A decoded segment header. */
export interface SegmentHeader {
  /** The segment type (see {@link SegmentType}). */
  type: SegmentTypeCode;
  /** The run id the segment belongs to. */
  run: number;
  /** The segment's sequence number within its run. */
  seq: number;
  /** Segments in the whole run. */
  total: number;
  /** Send time, ms since the Unix epoch. */
  sent: number;
}

/** A header to decode into (one per receive loop, so decoding allocates nothing). */
export function emptyHeader(): SegmentHeader {
  return { type: SegmentType.Data, run: 0, seq: 0, total: 0, sent: 0 };
}

/** Writes a header into the first 24 bytes of `into` (a view whose buffer the DataView spans). */
export function writeHeader(into: DataView, h: SegmentHeader): void {
  into.setUint16(0, BLAST_MAGIC);
  into.setUint8(2, h.type);
  into.setUint8(3, 0);
  into.setUint32(4, h.run);
  into.setUint32(8, h.seq);
  into.setUint32(12, h.total);
  into.setFloat64(16, h.sent);
}

/** A whole segment: header and body. */
export function encodeSegment(h: SegmentHeader, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(SEGMENT_HEADER + body.length);
  writeHeader(new DataView(out.buffer), h);
  out.set(body, SEGMENT_HEADER);
  return out;
}

/** Decodes the header of `bytes` into `into`; throws WireError when it is not a blast segment. */
export function decodeHeader(bytes: Uint8Array, into: SegmentHeader): SegmentHeader {
  if (bytes.length < SEGMENT_HEADER) {
    throw new WireError(`${bytes.length} bytes is shorter than a blast header`);
  }
  const view = viewOf(bytes.buffer as ArrayBuffer);
  const at = bytes.byteOffset;
  if (view.getUint16(at) !== BLAST_MAGIC) throw new WireError("not a blast segment (bad magic)");
  const type = view.getUint8(at + 2);
  if (type < SegmentType.Request || type > SegmentType.Ack) {
    throw new WireError(`unknown segment type ${type}`);
  }
  into.type = type as SegmentTypeCode;
  into.run = view.getUint32(at + 4);
  into.seq = view.getUint32(at + 8);
  into.total = view.getUint32(at + 12);
  into.sent = view.getFloat64(at + 16);
  return into;
}

let lastView: DataView | undefined;

/** A DataView over all of `buffer`, kept for the next call (receive buffers are reused). */
function viewOf(buffer: ArrayBuffer): DataView {
  if (lastView?.buffer !== buffer) lastView = new DataView(buffer);
  return lastView;
}

/** Which way the data goes: from the server (GET) or to it (PUT). */
export type Direction = "get" | "put";

/** A transfer request: bytes, or a count of segments at an interval. */
export interface TransferRequest {
  /** A transfer of bytes or segments. */
  kind: "transfer";
  /** `get`: the server sends; `put`: the client sends. */
  direction: Direction;
  /** Pattern bytes to send (bytes mode), else undefined. */
  bytes: number | undefined;
  /** Segments to send (stream mode), else undefined. */
  count: number | undefined;
  /** ms between segments (stream mode), else 0. */
  intervalMs: number;
  /** Datagram (UDP) or segment (TCP stream) size, header included. */
  size: number;
  /** Send rate in bit/s (0: as fast as possible). */
  rate: number;
  /** UDP: the server's CHALLENGE token (hex), once the client has one; absent before. */
  token?: string;
  /**
   * A timed transfer (`time=MS`): how long the sender sends, in ms. Then
   * `bytes` and `count` are undefined on the wire; a side that runs it sets
   * the bound ({@link timedBound}: `bytes` over TCP, `count` over UDP).
   */
  timeMs?: number;
}

/** An echo request. */
export interface EchoRequest {
  /** An echo request. */
  kind: "echo";
  /** The text to echo. */
  text: string;
}

/** What a client asks. */
export type Request = TransferRequest | EchoRequest;

/** The request as its line (no line end). */
export function formatRequest(r: Request): string {
  if (r.kind === "echo") return `ECHO ${r.text}`;
  const verb = r.direction === "get" ? "GET" : "PUT";
  const amount = r.timeMs !== undefined
    ? `time=${r.timeMs}${r.intervalMs > 0 ? ` interval=${r.intervalMs}` : ""}`
    : r.bytes !== undefined
    ? `bytes=${r.bytes}`
    : `count=${r.count} interval=${r.intervalMs}`;
  const token = r.token === undefined ? "" : ` token=${r.token}`;
  return `${verb} ${amount} size=${r.size} rate=${r.rate}${token}`;
}

/** Default segment size: fits a 1,500-byte MTU with IPv6 and UDP headers to spare. */
export const DEFAULT_SIZE = 1400;

const KEYS = new Set(["bytes", "count", "interval", "size", "rate", "time"]);

/** The longest timed transfer (`time=MS`): a day. */
export const MAX_TIME_MS = 86_400_000;

/** Parses a request line (without its line end); throws WireError `bad request: …`. */
export function parseRequest(line: string): Request {
  if (line.startsWith("ECHO ")) return { kind: "echo", text: line.slice(5) };
  if (line === "ECHO") return { kind: "echo", text: "" };
  const words = line.split(" ").filter((w) => w.length > 0);
  const verb = words.shift();
  if (verb !== "GET" && verb !== "PUT") {
    throw new WireError(`bad request: expected ECHO, GET or PUT, got '${clip(line)}'`);
  }
  const values = new Map<string, number>();
  let token: string | undefined;
  for (const word of words) {
    if (word.startsWith("token=")) {
      const t = /^token=([0-9a-f]{1,64})$/.exec(word);
      if (!t || token !== undefined) {
        throw new WireError(`bad request: unknown or repeated '${clip(word)}'`);
      }
      token = t[1];
      continue;
    }
    const m = /^([a-z]+)=(\d+(?:\.\d+)?)$/.exec(word);
    if (!m || !KEYS.has(m[1]) || values.has(m[1])) {
      throw new WireError(`bad request: unknown or repeated '${clip(word)}'`);
    }
    values.set(m[1], Number(m[2]));
  }
  const whole = (key: string, min: number, max: number): number | undefined => {
    const v = values.get(key);
    if (v === undefined) return undefined;
    if (!Number.isSafeInteger(v) || v < min || v > max) {
      throw new WireError(`bad request: ${key}=${v} is not a whole number from ${min} to ${max}`);
    }
    return v;
  };
  const bytes = whole("bytes", 0, Number.MAX_SAFE_INTEGER);
  const count = whole("count", 0, 0xffff_ffff - 1);
  const size = whole("size", SEGMENT_HEADER, MAX_DATAGRAM) ?? DEFAULT_SIZE;
  const rate = whole("rate", 0, Number.MAX_SAFE_INTEGER) ?? 0;
  const intervalMs = values.get("interval") ?? 0;
  const timeMs = whole("time", 1, MAX_TIME_MS);
  if ([bytes, count, timeMs].filter((v) => v !== undefined).length !== 1) {
    throw new WireError("bad request: give one of bytes=, count= and time=");
  }
  if (intervalMs > 3_600_000) throw new WireError("bad request: interval over an hour");
  const direction = verb === "GET" ? "get" : "put";
  const request: TransferRequest = {
    kind: "transfer",
    direction,
    bytes,
    count,
    intervalMs,
    size,
    rate,
  };
  if (token !== undefined) request.token = token;
  if (timeMs !== undefined) request.timeMs = timeMs;
  return request;
}

function clip(text: string): string {
  return text.length > 40 ? text.slice(0, 40) + "…" : text;
}

/** Payload bytes each segment of `size` carries. */
export function payloadPerSegment(size: number): number {
  return size - SEGMENT_HEADER;
}

/** How many segments a transfer has, and the bytes of pattern they carry together. */
export function transferShape(r: TransferRequest): { segments: number; bytes: number } {
  const per = payloadPerSegment(r.size);
  if (r.count !== undefined) return { segments: r.count, bytes: r.count * per };
  const bytes = r.bytes!;
  return { segments: per === 0 ? 0 : Math.ceil(bytes / per), bytes };
}

/**
 * The bytes a request asks a server to move, the number `--max-bytes`
 * bounds: for a segment stream count × size (headers included), for a
 * transfer of bytes the bytes, for an echo its text (UTF-8).
 */
export function requestBytes(r: Request): number {
  if (r.kind === "echo") return new TextEncoder().encode(r.text).length;
  if (r.timeMs !== undefined) return 0; // bounded by the limit itself: timedBound()
  if (r.count !== undefined) return r.count * r.size;
  return r.bytes!;
}

/** Text for refusing a request over the limit (`what`: the request's amount, `bytes` by default). */
export function overLimitText(bytes: number, maxBytes: number, what = `${bytes} bytes`): string {
  return `${what} is over this server's limit of ${maxBytes} bytes (--max-bytes)`;
}

/**
 * Checks a parsed request against the limit: the refusal text, or
 * undefined. Every kind is bounded ({@link requestBytes}): a segment stream
 * by count × size, headers included (so `count=4294967294 size=24` is 103 GB,
 * not 0 bytes of payload), a transfer by its bytes, an echo by its text. A
 * segment must hold its header, and a transfer of bytes some payload too.
 */
export function refusal(request: Request, maxBytes: number): string | undefined {
  if (request.kind === "transfer") {
    if (request.size < SEGMENT_HEADER) {
      return `size=${request.size} is smaller than the ${SEGMENT_HEADER}-byte segment header`;
    }
    const payload = request.timeMs !== undefined ||
      (request.bytes !== undefined && request.bytes > 0);
    if (payload && request.size <= SEGMENT_HEADER) {
      return `size=${request.size} leaves no room for payload after the ${SEGMENT_HEADER}-byte header`;
    }
    if (request.count !== undefined) {
      const total = requestBytes(request);
      if (total > maxBytes) {
        const what = `${request.count} segments of ${request.size} bytes (${total} bytes)`;
        return overLimitText(total, maxBytes, what);
      }
      return undefined;
    }
  }
  const bytes = requestBytes(request);
  if (bytes <= maxBytes) return undefined;
  return request.kind === "echo"
    ? overLimitText(bytes, maxBytes, `an echo of ${bytes} bytes`)
    : overLimitText(bytes, maxBytes);
}

/**
 * The most a timed request may move on a server whose limit is `maxBytes`:
 * the request with `bytes` set to the limit (TCP, `udp` false), or `count`
 * to the whole segments of `size` it holds (UDP; headers included, as
 * {@link requestBytes} counts them). Other requests are returned as they are.
 */
export function timedBound(r: TransferRequest, maxBytes: number, udp: boolean): TransferRequest {
  if (r.timeMs === undefined) return r;
  return udp
    ? { ...r, bytes: undefined, count: Math.min(Math.floor(maxBytes / r.size), 0xffff_fffe) }
    : { ...r, bytes: maxBytes, count: undefined };
}

/**
 * A TCP server's answer to a transfer request; for a timed one, `bytes` is
 * the most the run may move (`OK bytes=N`).
 */
export type Answer = { kind: "ok"; bytes?: number } | { kind: "refused"; reason: string };

/** The answer as its line (no line end): `OK`, `OK bytes=N` or `REFUSED <reason>`. */
export function formatAnswer(a: Answer): string {
  if (a.kind === "refused") return `REFUSED ${a.reason}`;
  return a.bytes === undefined ? "OK" : `OK bytes=${a.bytes}`;
}

/** Parses an answer line (without its line end); throws WireError for anything else. */
export function parseAnswer(line: string): Answer {
  if (line === "OK") return { kind: "ok" };
  const bound = /^OK bytes=(\d{1,16})$/.exec(line);
  if (bound && Number.isSafeInteger(Number(bound[1]))) {
    return { kind: "ok", bytes: Number(bound[1]) };
  }
  if (line.startsWith("REFUSED")) return { kind: "refused", reason: line.slice(8) };
  throw new WireError(`bad answer: '${clip(line)}'`);
}

/** The line that ends a TCP upload (no line end): `DONE ` and the receiver's report as JSON. */
export function formatDone(report: unknown): string {
  return `DONE ${JSON.stringify(report)}`;
}

/** Parses a `DONE <JSON>` line: the report; throws WireError when it is not one. */
export function parseDone<T>(line: string): T {
  if (!line.startsWith("DONE ")) throw new WireError(`not a DONE line: '${clip(line)}'`);
  return parseJson<T>(line.slice(5));
}

const jsonDecoder = new TextDecoder();

/**
 * Parses JSON: a DONE line's report, or the body of an END (the sender's
 * figures) or a REPORT (the receiver's); throws WireError when it is not JSON.
 */
export function parseJson<T>(text: string | Uint8Array): T {
  try {
    return JSON.parse(typeof text === "string" ? text : jsonDecoder.decode(text)) as T;
  } catch {
    throw new WireError("not JSON");
  }
}
