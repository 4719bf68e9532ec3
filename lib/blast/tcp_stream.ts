/**
 * Blast over TCP: the reading and writing both ends share. A
 * {@link BlastStream} reads request and answer lines and then hands out
 * whatever follows them; the send functions write pattern bytes or paced
 * segments with backpressure (at most {@link WRITE_AHEAD} bytes queued),
 * {@link SegmentAssembler} cuts a byte stream back into fixed-size segments,
 * {@link sendTransfer} sends a whole transfer (a server's GET, a client's
 * PUT) and {@link receive} takes one in; {@link endReason} says how a read
 * ended.
 *
 * @module
 */

import { FIRST_READ_SIZE, type ReadEnd, type TcpConnection } from "../net/tcp.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import { errorText } from "../util/errors.ts";
import { ByteReceiver, type ReceiverReport, SegmentReceiver } from "./receiver.ts";
import { patternAt } from "./pattern.ts";
import { SegmentSource, type SenderFigures } from "./segment_source.ts";
import {
  decodeHeader,
  emptyHeader,
  SEGMENT_HEADER,
  SegmentType,
  type TransferRequest,
  WireError,
} from "./wire.ts";

/** One read takes at most this much (and one pattern write is this big). */
export const CHUNK = 1024 * 1024;
/** Writing pauses while this many bytes wait to be written. */
export const WRITE_AHEAD = 4 * CHUNK;

const decoder = new TextDecoder();

/** A line too long to be a request or an answer. */
export const TOO_LONG = { kind: "too long" } as const;

/**
 * A TCP connection read through one reused buffer, lines first. The buffer
 * starts small (an idle connection costs a few KiB) and grows, up to
 * {@link CHUNK}, when it fills.
 */
export class BlastStream {
  #buf = new Uint8Array(FIRST_READ_SIZE);
  #start = 0;
  #end = 0;
  #filled = false;

  /** Reads lines and segments from `conn`. */
  constructor(readonly conn: TcpConnection) {}

  /** What arrived and was not read yet (a view): a line's start while its newline has not come. */
  get buffered(): Uint8Array {
    return this.#buf.subarray(this.#start, this.#end);
  }

  /** The next line (without "\n" or "\r\n"), how the stream ended, or TOO_LONG past `max` bytes. */
  async readLine(max: number): Promise<string | ReadEnd | typeof TOO_LONG> {
    for (;;) {
      const nl = this.#buf.subarray(this.#start, this.#end).indexOf(0x0a);
      if (nl >= 0) {
        let line = this.#buf.subarray(this.#start, this.#start + nl);
        this.#start += nl + 1;
        if (line.at(-1) === 0x0d) line = line.subarray(0, -1);
        return decoder.decode(line);
      }
      if (this.#end - this.#start > max) return TOO_LONG;
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      }
      if (this.#end === this.#buf.length) this.#grow();
      const n = await this.conn.readInto(this.#buf.subarray(this.#end));
      if (typeof n !== "number") return n;
      this.#end += n;
    }
  }

  /** The bytes after what was read so far: what the buffer holds first, then a read (a view). */
  async readChunk(): Promise<Uint8Array | ReadEnd> {
    if (this.#start < this.#end) {
      const rest = this.#buf.subarray(this.#start, this.#end);
      this.#start = this.#end = 0;
      return rest;
    }
    this.#start = this.#end = 0;
    if (this.#filled) this.#grow(); // the last read filled it: reads come faster than that
    const n = await this.conn.readInto(this.#buf);
    if (typeof n !== "number") return n;
    this.#filled = n === this.#buf.length;
    return this.#buf.subarray(0, n);
  }

  /**
   * Gives back `rest`, the tail of the view the last {@link readChunk}
   * returned (nothing read since): the next read returns it first.
   */
  unread(rest: Uint8Array): void {
    if (rest.length === 0) return;
    const at = rest.byteOffset - this.#buf.byteOffset;
    if (rest.buffer !== this.#buf.buffer || at < 0 || at + rest.length > this.#buf.length) {
      throw new RangeError("unread: not the last chunk's bytes");
    }
    this.#start = at;
    this.#end = at + rest.length;
  }

  /** A bigger buffer (4×, at most {@link CHUNK}) with what this one holds. */
  #grow(): void {
    if (this.#buf.length >= CHUNK) return;
    const bigger = new Uint8Array(Math.min(this.#buf.length * 4, CHUNK));
    bigger.set(this.#buf.subarray(0, this.#end));
    this.#buf = bigger;
  }
}

/** How {@link sendPattern} writes: its chunks, its backpressure, when it stops early. */
export interface PatternPace {
  /** The largest write (default {@link CHUNK}). */
  chunk?: number;
  /** Wait while more than this many bytes are queued (default {@link WRITE_AHEAD}). */
  ahead?: number;
  /** Asked before each write: true stops the sending there. */
  stop?: () => boolean;
}

/**
 * Writes up to `bytes` pattern bytes, until a write fails or `pace.stop`
 * says so; `onProgress` gets the count after each write is queued. Returns
 * the bytes queued, once they are written.
 */
export async function sendPattern(
  conn: TcpConnection,
  bytes: number,
  onProgress?: (sent: number) => void,
  pace: PatternPace = {},
): Promise<number> {
  const { chunk = CHUNK, ahead = WRITE_AHEAD, stop } = pace;
  let sent = 0;
  while (sent < bytes && conn.writeError === undefined) {
    if (stop?.()) break;
    const n = Math.min(chunk, bytes - sent);
    conn.write(patternAt(sent, n));
    sent += n;
    onProgress?.(sent);
    if (conn.pendingWrite > ahead) await conn.drained();
  }
  await conn.drained();
  return sent;
}

/** Writes every segment of `source`, each when it is due on `clock`. */
export async function sendSegments(
  conn: TcpConnection,
  source: SegmentSource,
  clock: () => number,
  onProgress?: (sent: number) => void,
): Promise<void> {
  const size = source.request.size;
  while (!source.done && conn.writeError === undefined) {
    const now = clock();
    const due = source.dueAt(now)!;
    if (due > now) {
      await conn.drained();
      await new Promise((r) => setTimeout(r, Math.max(0, due - clock())));
      continue;
    }
    const buf = new Uint8Array(size); // the write queue keeps it
    const length = source.fill(buf, new DataView(buf.buffer), now);
    conn.write(buf.subarray(0, length));
    onProgress?.(source.figures.bytes);
    if (conn.pendingWrite > WRITE_AHEAD) await conn.drained();
  }
  await conn.drained();
}

/**
 * Sends the whole transfer `request` asks for: its pattern bytes, or its
 * segments (numbered for run `run`) each when due. Returns the sender's
 * figures; `onProgress` gets the bytes sent so far.
 */
export async function sendTransfer(
  conn: TcpConnection,
  request: TransferRequest,
  run: number,
  onProgress?: (sent: number) => void,
): Promise<SenderFigures> {
  const started = epochNow();
  if (request.bytes !== undefined) {
    await sendPattern(conn, request.bytes, onProgress);
    return { segments: 0, bytes: request.bytes, seconds: (epochNow() - started) / 1000 };
  }
  const source = new SegmentSource(request, run);
  await sendSegments(conn, source, epochNow, onProgress);
  return source.figures;
}

/**
 * Cuts a byte stream into the fixed-size segments of a TCP stream transfer
 * and feeds them to a {@link SegmentReceiver}: whole segments straight from
 * the chunk, a segment split across chunks through one buffer.
 */
export class SegmentAssembler {
  readonly #partial: Uint8Array;
  #have = 0;
  readonly #header = emptyHeader();
  /** Bytes that are not blast DATA segments of this run (or numbered past its count). */
  invalid = 0;

  /** Feeds the segments of a TCP stream to `receiver`, stamped with `clock`. */
  constructor(readonly receiver: SegmentReceiver, readonly clock: () => number) {
    this.#partial = new Uint8Array(receiver.request.size);
  }

  /** Bytes of the stream arrived (a view). */
  feed(chunk: Uint8Array): void {
    const size = this.#partial.length;
    let at = 0;
    if (this.#have > 0) {
      const take = Math.min(size - this.#have, chunk.length);
      this.#partial.set(chunk.subarray(0, take), this.#have);
      this.#have += take;
      at = take;
      if (this.#have < size) return;
      this.#segment(this.#partial);
      this.#have = 0;
    }
    for (; at + size <= chunk.length; at += size) this.#segment(chunk.subarray(at, at + size));
    if (at < chunk.length) {
      this.#partial.set(chunk.subarray(at));
      this.#have = chunk.length - at;
    }
  }

  #segment(bytes: Uint8Array): void {
    try {
      const h = decodeHeader(bytes, this.#header);
      if (h.type !== SegmentType.Data) throw new WireError("not DATA");
      // Counted out of range and dropped by the receiver; the stream is not blast's.
      if (!this.receiver.tally.inRange(h.seq)) this.invalid += bytes.length;
      this.receiver.handleData(h, bytes.subarray(SEGMENT_HEADER), this.clock());
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.invalid += bytes.length;
    }
  }
}

/**
 * Receives a transfer (a server's PUT, a client's GET): every byte or
 * segment the request announced (then the report and no end), or what came
 * before the stream ended (and how).
 */
export async function receive(
  stream: BlastStream,
  request: TransferRequest,
  clock: () => number = epochNow,
  onProgress?: (bytes: number) => void,
): Promise<{ report: ReceiverReport; end: ReadEnd | undefined }> {
  if (request.bytes !== undefined) {
    const receiver = new ByteReceiver(request.bytes);
    while (!receiver.complete) {
      const chunk = await stream.readChunk();
      if (!(chunk instanceof Uint8Array)) return { report: receiver.report(), end: chunk };
      receiver.handleBytes(chunk, clock());
      onProgress?.(receiver.bytes);
    }
    return { report: receiver.report(), end: undefined };
  }
  const receiver = new SegmentReceiver(request);
  const assembler = new SegmentAssembler(receiver, clock);
  const total = request.count!;
  while (
    receiver.tally.received + receiver.tally.counts.duplicated < total && assembler.invalid === 0
  ) {
    const chunk = await stream.readChunk();
    if (!(chunk instanceof Uint8Array)) return { report: receiver.report(), end: chunk };
    assembler.feed(chunk);
    onProgress?.(receiver.bytes);
  }
  receiver.handleEnd(total);
  return { report: receiver.report(), end: undefined };
}

/** The `closed` reason for how a read ended (`peer closed`, `peer reset`, `shutdown`, …). */
export function endReason(end: { kind: string; error?: unknown; reason?: string }): string {
  switch (end.kind) {
    case "eof":
      return "peer closed";
    case "reset":
      return "peer reset";
    case "closed":
      return "shutdown";
    case "idle":
      return end.reason ?? "idle";
    default:
      return `error: ${errorText(end.error)}`;
  }
}
