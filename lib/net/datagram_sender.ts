/**
 * Sends datagrams in the order a state machine produced them.
 *
 * `Deno.DatagramConn.send` is asynchronous; awaiting each send before the
 * next keeps datagrams in order without blocking the caller, which only
 * queues. Errors are reported to a callback and do not stop later sends.
 *
 * @module
 */

import { SerialLoop } from "../io/serial_loop.ts";
import { Fifo } from "../util/fifo.ts";
import type { Transmit } from "./transmit.ts";

/** The part of a UDP socket the sender needs. */
export interface DatagramSink {
  send(data: Uint8Array, to: Deno.Addr): Promise<number>;
}

/** An ordered send queue over one socket. */
export class DatagramSender {
  readonly #queue = new Fifo<Transmit>();
  readonly #loop: SerialLoop<Transmit>;

  /**
   * @param socket where to send
   * @param onError called with each failed send; sending goes on
   */
  constructor(
    readonly socket: DatagramSink,
    readonly onError: (error: unknown, t: Transmit) => void,
  ) {
    this.#loop = new SerialLoop(() => this.#queue.shift(), (t) => this.#send(t));
  }

  /** Queues a datagram; sending starts at once if idle. */
  push(t: Transmit): void {
    this.#queue.push(t);
    this.#loop.wake();
  }

  /** Resolves when everything queued so far has been sent (or failed). */
  drained(): Promise<void> {
    return this.#loop.idle();
  }

  async #send(t: Transmit): Promise<void> {
    try {
      await this.socket.send(t.data, {
        transport: "udp",
        hostname: t.to.hostname,
        port: t.to.port,
      });
    } catch (e) {
      this.onError(e, t);
    }
  }
}
