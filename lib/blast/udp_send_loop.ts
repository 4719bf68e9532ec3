/**
 * The one send loop of a blast UDP endpoint: control datagrams first, then
 * DATA as fast as the machine hands them out, one send at a time; and
 * {@link BlastUdpLoop}, that loop joined to the machine's {@link TimerLoop}: the
 * driver of both blast UDP machines, client and server.
 *
 * Why one loop with one send in flight: sends that overlap can reach the
 * wire out of order (see {@link DatagramSender}), and blast counts
 * reordering, so it must not cause any; and overlapping sends measured
 * slower here (1.84 Gbit/s with one in flight, 1.66 with 4 or 16); pudp's
 * batched socket keeps the order of everything queued, so there the loop
 * queues a batch and flushes it with one `sendmmsg`. Each
 * DATA is written into one reused buffer: nothing is allocated per segment.
 *
 * @module
 */

import type { TimedMachine } from "../runtime/machine.ts";
import { epochNow, TimerLoop } from "../runtime/timer_loop.ts";
import type { PeerAddress, Transmit } from "../runtime/transmit.ts";
import type { UdpSocket } from "../net/udp_socket.ts";
import { MAX_DATAGRAM } from "./wire.ts";

/** What the send loop takes datagrams from. */
export interface SendSource {
  /** The next control datagram, or undefined. */
  pollTransmit(): Transmit | undefined;
  /** The next DATA due at `now`, written into `buf`: its length and destination, or undefined. */
  fillData(
    buf: Uint8Array,
    view: DataView,
    now: number,
  ): { length: number; to: PeerAddress } | undefined;
}

/** Sends a machine's datagrams on one socket. */
export class DatagramSendLoop {
  readonly #buf = new Uint8Array(MAX_DATAGRAM);
  readonly #view = new DataView(this.#buf.buffer);
  #running = false;
  #stopped = false;
  #data: Uint8Array = this.#buf;
  readonly #to = { hostname: "", port: 0, transport: "udp" } as Deno.NetAddr;

  /**
   * A send loop of `source`'s due segments onto `socket`.
   * @param socket where to send
   * @param source the machine
   * @param clock the machine's clock
   * @param onIdle called when the loop stops for want of anything due (re-arm the timer)
   * @param onError called with each failed send; sending goes on
   */
  constructor(
    readonly socket: UdpSocket,
    readonly source: SendSource,
    readonly clock: () => number,
    readonly onIdle: () => void,
    readonly onError: (e: unknown) => void,
  ) {}

  /** Whether the loop is sending now. */
  get running(): boolean {
    return this.#running;
  }

  /** Starts the loop if it is not running and something is due (checked without a promise). */
  kick(): void {
    if (!this.#running && !this.#stopped && this.#next()) this.#run();
  }

  /** No more sends after the one in flight. */
  stop(): void {
    this.#stopped = true;
  }

  /** The datagram to send next: `#data` and `#to` are set; false when nothing is due. */
  #next(): boolean {
    const t = this.source.pollTransmit();
    if (t !== undefined) {
      this.#data = t.data;
      this.#to.hostname = t.to.hostname;
      this.#to.port = t.to.port;
      return true;
    }
    const d = this.source.fillData(this.#buf, this.#view, this.clock());
    if (d === undefined) return false;
    this.#data = this.#buf.subarray(0, d.length);
    this.#to.hostname = d.to.hostname;
    this.#to.port = d.to.port;
    return true;
  }

  readonly #failed = (e: unknown): void => this.onError(e);

  /**
   * Sends what `#next` found, and on while something is due. On the batched
   * socket each datagram is copied into its queue (in order) and every full
   * batch is flushed with one `sendmmsg`, then awaited (the socket writable,
   * timers and receives run); the last partial batch leaves at the end of
   * the turn.
   */
  async #run(): Promise<void> {
    this.#running = true;
    const batched = this.socket.batched;
    if (batched) {
      let queued = 0;
      do {
        batched.queue(this.#data, this.#to, this.#failed);
        if (++queued === batched.batchSize) {
          queued = 0;
          await batched.flush();
        }
      } while (!this.#stopped && this.#next());
      this.#running = false;
      this.onIdle();
      return;
    }
    do {
      try {
        await this.socket.send(this.#data, this.#to);
      } catch (e) {
        this.onError(e);
      }
    } while (!this.#stopped && this.#next());
    this.#running = false;
    this.onIdle();
  }
}

/**
 * A blast UDP machine's send loop and timer loop, wired together: after every
 * event ({@link BlastUdpLoop.afterEvent}) the driver's `drain` runs, then the send loop is
 * kicked, then the alarm is set from the machine's `pollTimeout()` (its
 * pacing included); when the send loop runs out of due datagrams it runs the
 * loop again. Nothing runs after {@link BlastUdpLoop.stop}.
 */
export class BlastUdpLoop {
  /** The send loop. */
  readonly sender: DatagramSendLoop;
  /** The clock, the alarm and `afterEvent()`. */
  readonly loop: TimerLoop;
  #stopped = false;

  /**
   * The send loop and timer loop of `machine` on `socket`, on the epoch clock.
   * @param socket where to send
   * @param machine the blast machine (client or server)
   * @param drain the driver's part of the drain (events, the end of a run); may call `stop`
   * @param onSendError called with each failed send; sending goes on
   */
  constructor(
    socket: UdpSocket,
    machine: SendSource & TimedMachine,
    drain: () => void,
    onSendError: (e: unknown) => void,
  ) {
    this.sender = new DatagramSendLoop(socket, machine, epochNow, this.afterEvent, onSendError);
    this.loop = new TimerLoop(machine, () => {
      if (this.#stopped) return;
      drain();
      if (!this.#stopped) this.sender.kick();
    }, epochNow);
  }

  /** Call after feeding the machine an input (nothing happens once stopped). */
  readonly afterEvent = (): void => {
    if (!this.#stopped) this.loop.afterEvent();
  };

  /** Whether {@link stop} was called. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** No more drains, sends (after the one in flight) or alarms. */
  stop(): void {
    this.#stopped = true;
    this.loop.cancel();
    this.sender.stop();
  }
}
