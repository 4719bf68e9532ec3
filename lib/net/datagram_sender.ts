/**
 * Sends the datagrams a state machine produced, without blocking it.
 *
 * `Deno.DatagramConn.send` is asynchronous, and sends that are in flight at
 * the same time can complete, and reach the wire, in any order (measured: 63
 * of 300,000 datagrams overtook another with 64 in flight). So:
 * - `maxInFlight: 1` (the default) awaits each send before the next: strict
 *   order, for a client whose DATA must arrive in sequence;
 * - a larger limit overlaps sends, which saves one event-loop turn per
 *   datagram, for a server whose replies to different clients (and
 *   ALIVEs to one) need no order.
 *
 * On pudp's batched socket ({@link LibcUdpSocket}) each datagram is copied
 * into the socket's queue at once and leaves in order with the others of
 * its turn (one `sendmmsg`): `maxInFlight` does not apply.
 *
 * Errors are reported to a callback and do not stop later sends.
 *
 * @module
 */

import { Fifo } from "../util/fifo.ts";
import type { PeerAddress, Transmit } from "../runtime/transmit.ts";
import type { LibcUdpSocket } from "./libc_udp.ts";

/** The bytes of a failed batched send as reported: they were recycled already. */
const NO_BYTES = new Uint8Array(0);

/** The part of a UDP socket the sender needs. */
export interface DatagramSink {
  /** Sends one datagram; resolves with the bytes sent. */
  send(data: Uint8Array, to: Deno.NetAddr): Promise<number>;
  /** The batched socket's calls, when it is one (see `UdpSocket`). */
  readonly batched?: LibcUdpSocket;
}

/**
 * One send in flight. Its completion handlers are made once and the slot is
 * reused, so a send allocates no closures.
 */
class SendSlot {
  t: Transmit | undefined;
  readonly done: () => void;
  readonly failed: (e: unknown) => void;

  constructor(finish: (slot: SendSlot, error?: { e: unknown }) => void) {
    this.done = () => finish(this);
    this.failed = (e) => finish(this, { e });
  }
}

/** A send queue over one socket. */
export class DatagramSender {
  readonly #queue = new Fifo<Transmit>();
  readonly #maxInFlight: number;
  /** Slots of finished sends, kept for the next ones (at most `maxInFlight` are ever made). */
  readonly #freeSlots: SendSlot[] = [];
  #inFlight = 0;
  #idleWaiters: (() => void)[] = [];

  /**
   * A sender onto `socket`.
   * @param socket where to send
   * @param onError called with each failed send; sending goes on
   * @param maxInFlight sends overlapped at most (1: strictly in order)
   * @param onDone called with each datagram once its send has finished (to reuse its memory)
   */
  constructor(
    readonly socket: DatagramSink,
    readonly onError: (error: unknown, t: Transmit) => void,
    maxInFlight = 1,
    readonly onDone?: (t: Transmit) => void,
  ) {
    this.#maxInFlight = Math.max(1, maxInFlight);
  }

  /** Queues a datagram; it goes out at once if fewer than `maxInFlight` are being sent. */
  push(t: Transmit): void {
    const batched = this.socket.batched;
    if (batched) {
      // The bytes are copied now, so the datagram's memory can go back at
      // once; a failure, reported later, names its destination only.
      batched.queue(t.data, t.to, this.#batchFailed, t.to);
      this.onDone?.(t);
      return;
    }
    this.#queue.push(t);
    this.#startSends();
  }

  /** Resolves when everything queued so far has been sent (or failed). */
  drained(): Promise<void> {
    if (this.socket.batched) return this.socket.batched.flush();
    if (this.#inFlight === 0 && this.#queue.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #startSends(): void {
    while (this.#inFlight < this.#maxInFlight) {
      const t = this.#queue.shift();
      if (t === undefined) break;
      this.#inFlight++;
      const slot = this.#freeSlots.pop() ?? new SendSlot(this.#finish);
      slot.t = t;
      // Deno's send reads only hostname and port of the address: no object per send.
      this.socket.send(t.data, t.to as Deno.NetAddr).then(slot.done, slot.failed);
    }
  }

  readonly #batchFailed = (e: unknown, to: PeerAddress): void =>
    this.onError(e, { data: NO_BYTES, to });

  readonly #finish = (slot: SendSlot, error?: { e: unknown }): void => {
    const t = slot.t!;
    slot.t = undefined;
    this.#freeSlots.push(slot);
    if (error) this.onError(error.e, t);
    this.onDone?.(t);
    this.#inFlight--;
    this.#startSends();
    if (this.#inFlight === 0 && this.#queue.size === 0) {
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const w of waiters) w();
    }
  };
}
