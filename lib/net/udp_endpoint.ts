/**
 * A UDP socket as every driver uses it: bound with a clear error, a send
 * queue ({@link DatagramSender}), and one receive loop with one reused
 * buffer (Deno allocates 64 KiB per datagram without one).
 *
 * @module
 */

import { errorText, ExchangeError } from "../util/errors.ts";
import { DatagramSender } from "./datagram_sender.ts";
import { formatAddress, type PeerAddress, type Transmit } from "../runtime/transmit.ts";
import { openUdpSocket, type UdpIo, UdpIoUnavailable, type UdpSocket } from "./udp_socket.ts";

/** Largest UDP datagram. */
const RECEIVE_BUFFER = 65_536;

/** How an endpoint sends. */
export interface UdpEndpointOptions {
  /** Sends overlapped at most (1: strictly in order; see {@link DatagramSender}). */
  maxInFlight?: number;
  /** Called with each failed send; sending goes on. */
  onSendError?: (error: unknown, t: Transmit) => void;
  /** Called with each datagram once sent (to reuse its memory). */
  onSent?: (t: Transmit) => void;
  /** Which socket (`--udp-io`; default `auto`: the batched one when possible). */
  io?: UdpIo;
  /** Says which socket was opened (`--verbose`). */
  log?: (line: string) => void;
}

/** One bound UDP socket with its send queue and receive loop. */
export class UdpEndpoint {
  /** Sends the datagrams queued with `send`, in order. */
  readonly sender: DatagramSender;
  #closing = false;
  #receiving: Promise<void> = Promise.resolve();

  private constructor(readonly socket: UdpSocket, options: UdpEndpointOptions) {
    this.sender = new DatagramSender(
      socket,
      options.onSendError ?? (() => {}),
      options.maxInFlight,
      options.onSent,
    );
  }

  /**
   * Binds `address` (port 0 picks one). Throws ExchangeError
   * `cannot listen on HOST:PORT: …`, or for port 0 (a client's socket)
   * `cannot open a UDP socket[ on HOST]: …`; with `io: "ffi"` where the
   * batched socket cannot be used, ExchangeError `--udp-io ffi is not possible here: …`.
   */
  static bind(address: PeerAddress, options: UdpEndpointOptions = {}): UdpEndpoint {
    try {
      const log = options.log;
      const socket = openUdpSocket(address, {
        io: options.io,
        log,
        onTruncated: log &&
          ((from, size) =>
            log(`dropped a datagram of ${size} bytes from ${formatAddress(from)}: too large`)),
      });
      return new UdpEndpoint(socket, options);
    } catch (e) {
      if (e instanceof UdpIoUnavailable) throw new ExchangeError(e.message);
      const wildcard = address.hostname === "0.0.0.0" || address.hostname === "::";
      const where = address.port !== 0
        ? `cannot listen on ${formatAddress(address)}`
        : wildcard
        ? "cannot open a UDP socket"
        : `cannot open a UDP socket on ${address.hostname}`;
      throw new ExchangeError(`${where}: ${errorText(e)}`);
    }
  }

  /** The address the socket is bound to. */
  get address(): Deno.NetAddr {
    return this.socket.addr as Deno.NetAddr;
  }

  /** Queues a datagram. */
  send(t: Transmit): void {
    this.sender.push(t);
  }

  /**
   * Receives until the endpoint is closed. `handle` gets a view into the
   * reused buffer (copy what you keep); when it returns a promise, the next
   * receive waits for it (backpressure). A receive error other than the
   * close goes to `onError` and ends the loop.
   */
  receive(
    handle: (bytes: Uint8Array, from: Deno.NetAddr) => void | Promise<void>,
    onError: (e: unknown) => void,
  ): Promise<void> {
    const batched = this.socket.batched;
    if (batched) {
      this.#receiving = batched.receiveBatches(handle, (e) => {
        if (!this.#closing && !(e instanceof Deno.errors.BadResource)) onError(e);
      });
      return this.#receiving;
    }
    this.#receiving = (async () => {
      const buf = new Uint8Array(RECEIVE_BUFFER);
      while (!this.#closing) {
        let datagram: [Uint8Array, Deno.Addr];
        try {
          datagram = await this.socket.receive(buf);
        } catch (e) {
          if (!this.#closing && !(e instanceof Deno.errors.BadResource)) onError(e);
          return;
        }
        if (this.#closing) return;
        const wait = handle(datagram[0], datagram[1] as Deno.NetAddr);
        if (wait) await wait;
      }
    })();
    return this.#receiving;
  }

  /** Sends what is queued, closes the socket and waits for the receive loop to end. */
  async close(): Promise<void> {
    await this.sender.drained();
    this.#closing = true;
    try {
      this.socket.close();
    } catch {
      // closed already
    }
    await this.#receiving;
    await this.socket.batched?.closed;
  }
}
