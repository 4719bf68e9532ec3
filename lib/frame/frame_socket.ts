/**
 * The frame codec as a small library, with the seed's three operations:
 * {@link FrameSocket.sendMessage}, {@link FrameSocket.receiveMessage}
 * (the payload plus a success flag) and {@link FrameSocket.close}.
 *
 * `receiveMessage` reads at most `bufferSize` bytes at a time and keeps
 * what it read past the message for the next call, so messages of any size
 * come back whole and distinct however TCP split them; when the server
 * closes or resets the connection it answers `{ payload: "", ok: false }`
 * and {@link FrameSocket.ended} says how. Using a socket after `close()`
 * (send or receive) throws a {@link ClosedSocketError}; a receive already
 * waiting when it is closed answers `ok: false` (`ended`: `closed`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TcpConnection } from "../net/tcp.ts";
 *
 * // A server for one message that answers as `pudp frame server` does: the
 * // text without its first 10 characters. It is a FrameSocket too.
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const served = (async () => {
 *   const peer = new FrameSocket(new TcpConnection(await listener.accept()));
 *   const { payload } = await peer.receiveMessage();
 *   await peer.sendMessage(payload.slice(10));
 *   peer.close();
 * })();
 *
 * const socket = await FrameSocket.connect({ hostname: "127.0.0.1", port: listener.addr.port });
 * await socket.sendMessage("Four score and seven years ago");
 * assert.deepEqual(await socket.receiveMessage(), { payload: " and seven years ago", ok: true });
 * await served;
 * // The server has closed: no more messages.
 * assert.deepEqual(await socket.receiveMessage(), { payload: "", ok: false });
 * assert.deepEqual(socket.ended, { kind: "eof" });
 * socket.close();
 * // A closed socket cannot be used: send and receive throw.
 * await assert.rejects(socket.sendMessage("too late"), ClosedSocketError);
 * await assert.rejects(socket.receiveMessage(), /FrameSocket is closed/);
 * listener.close();
 * ```
 *
 * @module
 */

import { NEED_MORE, ReceiveBuffer, type StreamDecoder } from "../bytes/receive_buffer.ts";
import { type ReadEnd, TcpConnection } from "../net/tcp.ts";
import type { PeerAddress } from "../runtime/transmit.ts";
import { DEFAULT_FRAME_OPTIONS } from "./echo_machine.ts";
import { encodeMessage, frameDecoder, HEADER_SIZE, WireError } from "./wire.ts";

/** Settings of a {@link FrameSocket}. */
export interface FrameSocketOptions {
  /** The most bytes one read takes (default 1024). */
  bufferSize?: number;
  /** The largest payload accepted (default 16 MiB); a longer one fails the receive. */
  maxMessage?: number;
}

/** What {@link FrameSocket.receiveBytes} gives: a payload, or why there is none. */
export type Received =
  | { ok: true; payload: Uint8Array }
  | { ok: false; end: ReadEnd | { kind: "invalid"; reason: string } };

/** Thrown by a send or receive on a {@link FrameSocket} after its `close()`. */
export class ClosedSocketError extends Error {
  /** The error's name, as stack traces show it. */
  override name = "ClosedSocketError";
  /**
   * The error of one call on a closed socket.
   * @param operation what was called (`sendMessage`, `receiveMessage`…)
   */
  constructor(operation: string) {
    super(`FrameSocket is closed: ${operation}() after close()`);
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One frame connection. */
export class FrameSocket {
  readonly #buf: Uint8Array;
  readonly #rx: ReceiveBuffer;
  readonly #decode: StreamDecoder<Uint8Array>;
  #ended: Received & { ok: false } | undefined;
  #closed = false;

  /** Wraps a connected TCP connection. */
  constructor(readonly conn: TcpConnection, options: FrameSocketOptions = {}) {
    const bufferSize = options.bufferSize ?? DEFAULT_FRAME_OPTIONS.readSize;
    const maxMessage = options.maxMessage ?? DEFAULT_FRAME_OPTIONS.maxMessage;
    this.#buf = new Uint8Array(bufferSize);
    this.#rx = new ReceiveBuffer(maxMessage + HEADER_SIZE + bufferSize);
    this.#decode = frameDecoder(maxMessage);
  }

  /** Connects to a frame server. Throws ExchangeError `cannot connect to HOST:PORT: …`. */
  static async connect(address: PeerAddress, options?: FrameSocketOptions): Promise<FrameSocket> {
    return new FrameSocket(await TcpConnection.connect(address), options);
  }

  /** Sends one message (text is encoded as UTF-8); resolves once it is written. */
  async sendMessage(message: string | Uint8Array): Promise<void> {
    if (this.#closed) throw new ClosedSocketError("sendMessage");
    this.conn.write(encodeMessage(typeof message === "string" ? encoder.encode(message) : message));
    await this.conn.drained();
  }

  /** Receives one message as text; `ok: false` (and an empty payload) when none can come. */
  async receiveMessage(): Promise<{ payload: string; ok: boolean }> {
    if (this.#closed) throw new ClosedSocketError("receiveMessage");
    const r = await this.receiveBytes();
    return r.ok ? { payload: decoder.decode(r.payload), ok: true } : { payload: "", ok: false };
  }

  /** Receives one message's payload (a copy), or why the stream has no more. */
  async receiveBytes(): Promise<Received> {
    if (this.#closed) throw new ClosedSocketError("receiveBytes");
    if (this.#ended) return this.#ended;
    for (;;) {
      try {
        const m = this.#rx.decode(this.#decode);
        if (m !== NEED_MORE) return { ok: true, payload: m.slice() };
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
        return this.#end({ kind: "invalid", reason: e.message });
      }
      const n = await this.conn.readInto(this.#buf);
      if (typeof n !== "number") return this.#end(n);
      this.#rx.push(this.#buf.subarray(0, n));
    }
  }

  /** How the stream ended, once a receive found it ended. */
  get ended(): (Received & { ok: false })["end"] | undefined {
    return this.#ended?.end;
  }

  /** Whether sending failed because the peer reset the connection. */
  get peerReset(): boolean {
    return this.conn.peerReset;
  }

  /**
   * The bytes received and not taken as a message (an unfinished or bad
   * answer: what a foreign peer actually sent), a view valid until the next
   * receive.
   */
  pending(): Uint8Array {
    return this.#rx.view();
  }

  /** Whether `close()` was called: then sending and receiving throw. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the connection; later sends and receives throw {@link ClosedSocketError}. */
  close(): void {
    this.#closed = true;
    this.conn.close();
  }

  #end(end: (Received & { ok: false })["end"]): Received {
    this.#ended = { ok: false, end };
    return this.#ended;
  }
}
