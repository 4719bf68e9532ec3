/**
 * The frame server, as a pure state machine.
 *
 * How this works: every connection has its own receive buffer. Bytes are
 * appended as they come, however TCP split them, and each complete message
 * is answered at once with one message: its text without the first
 * {@link DROPPED_CHARACTERS} characters (code points, as Python's slicing
 * counts them; a shorter text gets an empty answer). A connection ends
 * alone, never disturbing another, when its peer closes or resets, when it
 * announces a message longer than `maxMessage` (before any of it is held),
 * or when a payload is not UTF-8; the `closed` event says which.
 *
 * The budget (`maxBuffered`, `--max-buffered`): the bytes held for
 * unfinished messages, summed over all connections ({@link FrameEchoServer.buffered}),
 * are kept under it by not reading (backpressure: TCP flow control then holds
 * the sender). Before each read of `readSize` bytes the driver asks
 * {@link FrameEchoServer.mayRead}; a connection may read when
 *
 * 1. the total plus the read stays within the budget minus a reserve of a
 *    quarter of it ({@link budgetShares}); or
 * 2. its own unfinished message is small (it stays within the floor,
 *    64 KiB) and the bytes of all such small messages stay within the
 *    reserve: so a new client with a small message is served while big
 *    messages have taken the rest; or
 * 3. its unfinished message is the oldest one held: it may always proceed
 *    (up to `maxMessage`), so the server can never deadlock with every
 *    connection waiting for room that only a completed message would free.
 *    This is the one way past the budget: by at most one message.
 *
 * A refused connection waits (`pollResume()` names it once it may read
 * again) until room frees up: a message completes and is answered, or a
 * connection closes. A closed connection's receive buffer is released at
 * once, and a buffer grown for a large message shrinks back after it. The
 * totals are checked before each read, so connections reading at the same
 * moment may pass them by one read (`readSize`) each.
 *
 * Inputs (time passed in): `handleConnect`, `handleStreamBytes`,
 * `handleStreamEnd`, `handleStreamGone` (the {@link StreamMachine} inputs)
 * and `shutdown()`; `mayRead(connection)` before each read. Outputs:
 * `pollTransmit()` (answer bytes for a connection), `pollClose()`
 * (connections to close once their answers are written), `pollResume()`
 * (refused connections that may read again) and events to the sink. It has
 * no deadlines (no `pollTimeout`): its driver drains it after every event.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import type { FrameEvent } from "./events.ts";
 * import { encodeMessage } from "./wire.ts";
 *
 * const server = new FrameEchoServer(DEFAULT_FRAME_OPTIONS, new EventQueue<FrameEvent>());
 * server.handleConnect(1, { hostname: "127.0.0.1", port: 40000 }, 0);
 * const message = encodeMessage(new TextEncoder().encode("0123456789hello"));
 * server.handleStreamBytes(1, message.subarray(0, 6), 0);
 * assert.equal(server.pollTransmit(), undefined); // a part: nothing to answer yet
 * server.handleStreamBytes(1, message.subarray(6), 1);
 * const hello = new TextEncoder().encode("hello"); // the text less its first 10 characters
 * const data = Uint8Array.of(0, 0, 0, 5, ...hello); // with its length
 * assert.deepEqual(server.pollTransmit(), { connection: 1, data });
 * ```
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import type { EventSink } from "../events/sink.ts";
import { NEED_MORE, ReceiveBuffer, type StreamDecoder } from "../bytes/receive_buffer.ts";
import type { StreamMachine } from "../net/stream_server.ts";
import type { PeerAddress } from "../runtime/transmit.ts";
import { Fifo } from "../util/fifo.ts";
import { firstBytes } from "../io/terminal_text.ts";
import type { FrameEvent, FrameMessageEvent } from "./events.ts";
import { announcedLength, encodeMessage, frameDecoder, HEADER_SIZE, WireError } from "./wire.ts";

/** The server's answer drops this many characters from the front of each message. */
export const DROPPED_CHARACTERS = 10;

/** Settings of a {@link FrameEchoServer}. */
export interface FrameServerOptions {
  /** The largest payload accepted, in bytes. */
  maxMessage: number;
  /** The most bytes one read hands in (the receive buffer's slack). */
  readSize: number;
  /** The budget for bytes held for unfinished messages, over all connections. */
  maxBuffered: number;
}

/** Defaults, as `pudp frame server --help` and docs/frame.md list them. */
export const DEFAULT_FRAME_OPTIONS: FrameServerOptions = {
  maxMessage: 16 * 1024 * 1024,
  readSize: 1024,
  maxBuffered: 256 * 1024 * 1024,
};

/** The most bytes a message may hold and still count as small. */
export const SMALL_MESSAGE_FLOOR = 64 * 1024;

/**
 * How a budget is shared: `reserve` bytes (a quarter) only small messages
 * may use, each holding at most `floor` bytes.
 */
export function budgetShares(maxBuffered: number): { reserve: number; floor: number } {
  const reserve = Math.floor(maxBuffered / 4);
  return { reserve, floor: Math.min(SMALL_MESSAGE_FLOOR, reserve) };
}

/** Answer bytes for one connection. */
export interface FrameTransmit {
  /** The connection to send it on. */
  connection: number;
  /** The bytes, a whole message with its length prefix. */
  data: Uint8Array;
}

/** What the server counted. */
export interface FrameStats {
  /** Connections accepted. */
  connections: number;
  /** Messages answered. */
  messages: number;
  /** Connections ended by bad input (too long, not UTF-8). */
  errors: number;
  /** Reads refused for the budget (each waited for room). */
  paused: number;
  /** The most bytes held for unfinished messages at once. */
  peakBuffered: number;
}

/**
 * The payload without its first `count` characters. `utf8` must be valid
 * UTF-8: a character starts at every byte that is not a continuation byte.
 */
export function dropCharacters(utf8: Uint8Array, count: number): Uint8Array {
  let seen = 0;
  for (let i = 0; i < utf8.length; i++) {
    if ((utf8[i] & 0xc0) !== 0x80) {
      if (seen === count) return utf8.subarray(i);
      seen++;
    }
  }
  return utf8.subarray(utf8.length);
}

class Connection {
  messages = 0;
  closing = false;
  /** Bytes held for its unfinished message, as last counted in the totals. */
  held = 0;
  constructor(readonly id: number, readonly peer: PeerAddress, readonly rx: ReceiveBuffer) {}
}

/** The frame server's state: its connections and what they still need. */
export class FrameEchoServer implements StreamMachine {
  /** Counters since the start, for the summary line. */
  readonly stats: FrameStats = {
    connections: 0,
    messages: 0,
    errors: 0,
    paused: 0,
    peakBuffered: 0,
  };
  readonly #connections = new Map<number, Connection>();
  readonly #transmits = new Fifo<FrameTransmit>();
  readonly #closes = new Fifo<number>();
  readonly #resumes = new Fifo<number>();
  /** Connections holding part of a message, oldest message first. */
  readonly #unfinished = new Map<number, Connection>();
  /** Connections refused a read, in the order they were refused. */
  readonly #waiting = new Set<number>();
  /** Bytes held for unfinished messages, all connections. */
  #held = 0;
  /** The part of {@link #held} in small messages (at most the floor each). */
  #small = 0;
  readonly #reserve: number;
  readonly #floor: number;
  readonly #decoder: StreamDecoder<Uint8Array>;
  /** Reused for every message (a sink must not keep events). */
  readonly #message: FrameMessageEvent;

  /** A server with no connections yet; events go to `events`. */
  constructor(readonly options: FrameServerOptions, readonly events: EventSink<FrameEvent>) {
    this.#decoder = frameDecoder(options.maxMessage);
    ({ reserve: this.#reserve, floor: this.#floor } = budgetShares(options.maxBuffered));
    this.#message = {
      event: "message",
      peer: { hostname: "", port: 0 },
      connection: 0,
      payload: new Uint8Array(0),
      answerBytes: 0,
    };
  }

  handleConnect(connection: number, peer: PeerAddress, _now: number): void {
    // A message, its header, and one read that may already hold the next message's start.
    const limit = this.options.maxMessage + HEADER_SIZE + this.options.readSize;
    this.#connections.set(connection, new Connection(connection, peer, new ReceiveBuffer(limit)));
    this.stats.connections++;
    this.events.emit({ event: "connected", peer, connection });
  }

  handleStreamBytes(connection: number, bytes: Uint8Array, _now: number): void {
    const c = this.#connections.get(connection);
    if (!c || c.closing) return;
    let completed = false;
    try {
      c.rx.push(bytes);
      for (let m = c.rx.decode(this.#decoder); m !== NEED_MORE; m = c.rx.decode(this.#decoder)) {
        completed = true;
        this.#answer(c, m);
      }
      if (c.rx.length >= HEADER_SIZE) c.rx.expect(HEADER_SIZE + announcedLength(c.rx.view()));
      this.#account(c, completed);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.stats.errors++;
      // What the peer actually sent (a foreign client may send text with no length prefix).
      const there = c.rx.length > 0 ? ` (the bytes there: ${firstBytes(c.rx.view(), 16)})` : "";
      this.#close(c, `protocol error: ${e.message}${there}`);
    }
    this.#wake();
  }

  /** Bytes held for unfinished messages now, over all connections. */
  get buffered(): number {
    return this.#held;
  }

  /**
   * Whether the connection may read (up to `readSize` bytes) now; when not,
   * it waits until `pollResume()` names it. Unknown connections may (the
   * read then finds the connection closed).
   */
  mayRead(connection: number): boolean {
    const c = this.#connections.get(connection);
    if (!c || this.#allowed(c, 0)) return true;
    if (!this.#waiting.has(connection)) this.stats.paused++;
    this.#waiting.add(connection);
    return false;
  }

  /** The next connection refused by `mayRead` that may read again (or is gone). */
  pollResume(): number | undefined {
    return this.#resumes.shift();
  }

  /** Whether `c` may read, with `extra` bytes already promised to others. */
  #allowed(c: Connection, extra: number): boolean {
    const read = this.options.readSize;
    if (this.#unfinished.keys().next().value === c.id) return true;
    if (this.#held + extra + read <= this.options.maxBuffered - this.#reserve) return true;
    return c.held + read <= this.#floor && this.#small + extra + read <= this.#reserve;
  }

  /** Counts what `c` holds now in the totals; `restarted` when a message of it completed. */
  #account(c: Connection, restarted: boolean): void {
    const held = c.closing ? 0 : c.rx.length;
    this.#held += held - c.held;
    this.#small += (held <= this.#floor ? held : 0) - (c.held <= this.#floor ? c.held : 0);
    if (held === 0 || restarted) this.#unfinished.delete(c.id);
    if (held > 0 && !this.#unfinished.has(c.id)) this.#unfinished.set(c.id, c);
    c.held = held;
    if (this.#held > this.stats.peakBuffered) this.stats.peakBuffered = this.#held;
  }

  /** Names the waiting connections that may read now (room freed up) or are gone. */
  #wake(): void {
    let promised = 0;
    for (const id of this.#waiting) {
      const c = this.#connections.get(id);
      if (c && !this.#allowed(c, promised)) continue;
      if (c) promised += this.options.readSize;
      this.#waiting.delete(id);
      this.#resumes.push(id);
    }
  }

  handleStreamEnd(connection: number, _now: number): void {
    const c = this.#connections.get(connection);
    if (!c || c.closing) return;
    const held = c.rx.length;
    this.#close(
      c,
      held === 0 ? "peer closed" : `peer closed mid-message (${held} bytes of it unanswered)`,
    );
    this.#wake();
  }

  handleStreamGone(connection: number, why: string): void {
    const c = this.#connections.get(connection);
    if (!c) return;
    if (!c.closing) this.#close(c, why);
    this.#connections.delete(connection);
    this.#wake();
  }

  /** Closes every connection (answers already queued are still written). */
  shutdown(): void {
    for (const c of this.#connections.values()) if (!c.closing) this.#close(c, "shutdown");
    this.#wake();
  }

  /** The next answer to write. */
  pollTransmit(): FrameTransmit | undefined {
    return this.#transmits.shift();
  }

  /** The next connection to close once what was queued for it is written. */
  pollClose(): number | undefined {
    return this.#closes.shift();
  }

  #answer(c: Connection, payload: Uint8Array): void {
    if (!isUtf8(payload)) throw new WireError("message is not UTF-8");
    const answer = dropCharacters(payload, DROPPED_CHARACTERS);
    c.messages++;
    this.stats.messages++;
    const e = this.#message;
    e.peer = c.peer;
    e.connection = c.id;
    e.payload = payload;
    e.answerBytes = answer.length;
    this.events.emit(e);
    this.#transmits.push({ connection: c.id, data: encodeMessage(answer) });
  }

  #close(c: Connection, reason: string): void {
    c.closing = true;
    this.#connections.delete(c.id);
    this.#account(c, true);
    c.rx.release();
    this.#closes.push(c.id);
    this.events.emit({
      event: "closed",
      peer: c.peer,
      connection: c.id,
      messages: c.messages,
      reason,
      buffered: this.#held,
    });
  }
}
