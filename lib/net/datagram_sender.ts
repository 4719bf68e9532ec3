/**
 * Sends datagrams in the order a state machine produced them.
 *
 * `Deno.DatagramConn.send` is asynchronous; awaiting each send before the
 * next keeps datagrams in order without blocking the caller, which only
 * queues. Errors are reported to a callback and do not stop later sends.
 *
 * @module
 */

import type { Transmit } from "./transmit.ts";

/** The part of a UDP socket the sender needs. */
export interface DatagramSink {
  send(data: Uint8Array, to: Deno.Addr): Promise<number>;
}

/** An ordered send queue over one socket. */
export class DatagramSender {
  #queue: Transmit[] = [];
  #head = 0;
  #running: Promise<void> | undefined;

  /**
   * @param socket where to send
   * @param onError called with each failed send; sending goes on
   */
  constructor(
    readonly socket: DatagramSink,
    readonly onError: (error: unknown, t: Transmit) => void,
  ) {}

  /** Queues a datagram; sending starts at once if idle. */
  push(t: Transmit): void {
    this.#queue.push(t);
    if (this.#running !== undefined) return;
    // `.finally` runs as a microtask: it clears `#running` only after this assignment.
    const running: Promise<void> = this.#run().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
  }

  /** Resolves when everything queued so far has been sent (or failed). */
  async drained(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    while (this.#head < this.#queue.length) {
      const t = this.#queue[this.#head++];
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
    this.#queue = [];
    this.#head = 0;
  }
}
