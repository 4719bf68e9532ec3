/**
 * The PUDP client, as a pure state machine.
 *
 * How this works: the driver feeds events in — `start(now)` once,
 * `handleLine(payload, now)` per stdin line, `handleEof(now)`,
 * `handleDatagram(bytes, from, now)`, `handleTimeout(now)` when the time from
 * `pollTimeout()` has come — and drains `pollTransmit()`. When `result` is
 * set, the session is over and the driver exits with its code.
 *
 * States follow the SPEC client table:
 *
 * ```
 *   hello-wait --HELLO--> ready --DATA sent--> ready-timer --ALIVE--> ready
 *        |                  \________ EOF: GOODBYE sent ________/
 *        | timer                          |
 *        v                                v
 *   closed (1, no answer)              closing --GOODBYE or timer--> closed (0)
 * ```
 *
 * Lines and EOF that arrive before the server's HELLO, or while the window is
 * full, wait in a queue and are sent in order; EOF is always last, so GOODBYE
 * follows the last line. `wantsLines` turns false when the queue is long,
 * which the driver uses to stop reading stdin (backpressure, never a drop).
 *
 * Pacing: the server answers every DATA with one ALIVE, so ALIVEs are a
 * self-clock. With `window` > 0 at most that many DATA are unanswered at
 * once. ALIVEs can be lost, and they do not say which DATA they answer, so a
 * credit that never comes back would stall the client: when the window has
 * been full and no ALIVE has arrived for one retransmission-timeout (RFC 6298
 * estimate from the measured round trips, doubled on each consecutive
 * expiry), the client forgets what is outstanding and sends on. SPEC's
 * `--timeout` timer runs independently of this.
 *
 * @module
 */

import { formatAddress, type PeerAddress, type Transmit } from "../net/transmit.ts";
import { Command, decode, encode, PUDP_MAGIC, WireError } from "./wire.ts";

/** Settings of a {@link ClientSession}. */
export interface ClientOptions {
  /** Session id (random in the driver). */
  sessionId: number;
  /** SPEC timer, in ms. */
  timeoutMs: number;
  /** Magic number on the wire. */
  magic: number;
  /** Most DATA messages without an ALIVE; 0 sends unpaced (classic). */
  window: number;
  /** A line `q` ends the session (stdin is a terminal). */
  quitOnQ: boolean;
  /** Queue length at which `wantsLines` turns false. */
  highWater: number;
  /** How to name the server in messages (`HOST:PORT` as the user typed it). */
  serverLabel?: string;
}

/** Default settings. */
export const DEFAULT_CLIENT_OPTIONS: Omit<ClientOptions, "sessionId"> = {
  timeoutMs: 5_000,
  magic: PUDP_MAGIC,
  window: 32,
  quitOnQ: false,
  highWater: 4_096,
};

/** Bounds of the credit-recovery quiet period, in ms. */
export const MIN_QUIET_MS = 5;
export const MAX_QUIET_MS = 1_000;

/** Client states, named as in the SPEC table. */
export type ClientState = "hello-wait" | "ready" | "ready-timer" | "closing" | "closed";

/** How the session ended: exit code and, for failures, the one-line reason. */
export interface ClientResult {
  code: 0 | 1;
  message?: string;
}

/** What the client counted. */
export interface ClientStats {
  /** DATA messages sent. */
  dataSent: number;
  /** ALIVEs received. */
  alivesReceived: number;
  /** Times the window was reopened after a quiet period. */
  creditRecoveries: number;
  /** Smoothed round-trip time in ms, or undefined before the first sample. */
  srttMs: number | undefined;
}

const EOF = null;

/** One PUDP client session. */
export class ClientSession {
  readonly options: ClientOptions;
  readonly stats: ClientStats = {
    dataSent: 0,
    alivesReceived: 0,
    creditRecoveries: 0,
    srttMs: undefined,
  };
  #state: ClientState = "hello-wait";
  #result: ClientResult | undefined;
  #nextSeq = 0;
  /** Lines (and finally EOF) not yet sent. */
  #queue: Array<Uint8Array | typeof EOF> = [];
  #queueHead = 0;
  #eofSeen = false;
  #tx: Transmit[] = [];
  #txHead = 0;
  /** SPEC timer deadline. */
  #timerAt: number | undefined;
  /** When the HELLO was sent (first round-trip sample). */
  #helloAt = 0;
  /** Send times of the DATA not yet answered, oldest first (pacing). */
  #unanswered: number[] = [];
  #unansweredHead = 0;
  /** Time of the last ALIVE, or of the moment the window filled. */
  #lastProgress = 0;
  #rttVar = 0;
  #backoff = 1;

  /**
   * @param server where the server is; datagrams from elsewhere are ignored
   * @param options settings; `sessionId` is required
   */
  constructor(
    readonly server: PeerAddress,
    options: Partial<ClientOptions> & { sessionId: number },
  ) {
    this.options = { ...DEFAULT_CLIENT_OPTIONS, ...options };
  }

  /** Current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** Set once the session is closed. */
  get result(): ClientResult | undefined {
    return this.#result;
  }

  /** False while the queue of unsent lines is at its high-water mark or after EOF. */
  get wantsLines(): boolean {
    return !this.#eofSeen && this.#queue.length - this.#queueHead < this.options.highWater;
  }

  /** Number of DATA sent and not yet answered (what the window bounds). */
  get inFlight(): number {
    return this.#unanswered.length - this.#unansweredHead;
  }

  /** Sends HELLO and starts the timer. Call once. */
  start(now: number): void {
    this.#helloAt = now;
    this.#send(Command.HELLO, new Uint8Array());
    this.#timerAt = now + this.options.timeoutMs;
  }

  /**
   * One stdin line without its line ending, at most MAX_PAYLOAD bytes (the
   * stdin reader splits longer lines). A `q` line ends the session when
   * `quitOnQ` is set. Lines after EOF are ignored.
   */
  handleLine(payload: Uint8Array, now: number): void {
    if (this.#eofSeen) return;
    if (this.options.quitOnQ && payload.length === 1 && payload[0] === 0x71) {
      return this.handleEof(now);
    }
    this.#queue.push(payload);
    this.#pump(now);
  }

  /** stdin ended: GOODBYE follows the lines already handed in. */
  handleEof(now: number): void {
    if (this.#eofSeen) return;
    this.#eofSeen = true;
    this.#queue.push(EOF);
    this.#pump(now);
  }

  /** One datagram from the socket; anything not from our server and session is ignored. */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    if (this.#state === "closed") return;
    if (from.port !== this.server.port || from.hostname !== this.server.hostname) return;
    let command: number;
    try {
      const msg = decode(bytes, this.options.magic);
      if (msg.sessionId !== this.options.sessionId) return;
      command = msg.command;
    } catch (e) {
      if (e instanceof WireError) return;
      throw e;
    }
    switch (command) {
      case Command.HELLO:
        if (this.#state !== "hello-wait") return;
        this.#sampleRtt(now - this.#helloAt);
        this.#state = "ready";
        this.#timerAt = undefined;
        return this.#pump(now);
      case Command.ALIVE:
        if (this.#state === "hello-wait") return;
        this.stats.alivesReceived++;
        if (this.#unansweredHead < this.#unanswered.length) {
          this.#sampleRtt(now - this.#unanswered[this.#unansweredHead++]);
        }
        this.#lastProgress = now;
        this.#backoff = 1;
        if (this.#state === "ready-timer") {
          this.#state = "ready";
          this.#timerAt = undefined;
        }
        return this.#pump(now);
      case Command.GOODBYE:
        if (this.#state === "closing") return this.#close({ code: 0 });
        return this.#close({ code: 1, message: "server closed the session" });
      default:
        return;
    }
  }

  /** The SPEC timer or the pacing quiet period has expired (early calls are harmless). */
  handleTimeout(now: number): void {
    if (this.#timerAt !== undefined && now >= this.#timerAt) {
      switch (this.#state) {
        case "hello-wait":
          this.#send(Command.GOODBYE, new Uint8Array());
          return this.#close({
            code: 1,
            message: `no answer from ${this.options.serverLabel ?? formatAddress(this.server)}`,
          });
        case "ready-timer":
          this.#send(Command.GOODBYE, new Uint8Array());
          return this.#close({ code: 1, message: "server stopped answering" });
        case "closing":
          return this.#close({ code: 0 });
      }
    }
    const recoverAt = this.#recoverAt();
    if (recoverAt !== undefined && now >= recoverAt) {
      this.stats.creditRecoveries++;
      this.#unanswered = [];
      this.#unansweredHead = 0;
      this.#lastProgress = now;
      this.#backoff = Math.min(this.#backoff * 2, 64);
      this.#pump(now);
    }
  }

  /** The earliest time `handleTimeout` has work to do, or undefined. */
  pollTimeout(): number | undefined {
    const recoverAt = this.#recoverAt();
    if (this.#timerAt === undefined) return recoverAt;
    if (recoverAt === undefined) return this.#timerAt;
    return Math.min(this.#timerAt, recoverAt);
  }

  /** The next datagram to send, or undefined. */
  pollTransmit(): Transmit | undefined {
    if (this.#txHead === this.#tx.length) return undefined;
    const t = this.#tx[this.#txHead++];
    if (this.#txHead === this.#tx.length) {
      this.#tx = [];
      this.#txHead = 0;
    }
    return t;
  }

  /** The current quiet period after which a full window reopens, in ms. */
  get quietMs(): number {
    const srtt = this.stats.srttMs ?? 100;
    const rto = srtt + 4 * this.#rttVar;
    return Math.min(MAX_QUIET_MS, Math.max(MIN_QUIET_MS, rto) * this.#backoff);
  }

  #windowFull(): boolean {
    return this.options.window > 0 && this.inFlight >= this.options.window;
  }

  #recoverAt(): number | undefined {
    if (this.#state !== "ready" && this.#state !== "ready-timer") return undefined;
    if (this.#queueHead === this.#queue.length || !this.#windowFull()) return undefined;
    return this.#lastProgress + this.quietMs;
  }

  /** Sends what the queue holds, as far as the state and the window allow. */
  #pump(now: number): void {
    if (this.#state !== "ready" && this.#state !== "ready-timer") return;
    while (this.#queueHead < this.#queue.length) {
      const item = this.#queue[this.#queueHead];
      if (item === EOF) {
        this.#queueHead++;
        this.#send(Command.GOODBYE, new Uint8Array());
        this.#state = "closing";
        this.#timerAt = now + this.options.timeoutMs;
        break;
      }
      if (this.#windowFull()) return;
      this.#queue[this.#queueHead++] = EOF; // release the line's memory
      this.#send(Command.DATA, item);
      this.stats.dataSent++;
      this.#unanswered.push(now);
      // The quiet period of a full window counts from the send that filled it.
      if (this.#windowFull()) this.#lastProgress = now;
      if (this.#state === "ready") {
        this.#state = "ready-timer";
        this.#timerAt = now + this.options.timeoutMs;
      }
    }
    if (this.#queueHead === this.#queue.length) {
      this.#queue = [];
      this.#queueHead = 0;
    }
    if (this.#unansweredHead > 1024 && this.#unansweredHead * 2 > this.#unanswered.length) {
      this.#unanswered = this.#unanswered.slice(this.#unansweredHead);
      this.#unansweredHead = 0;
    }
  }

  #sampleRtt(sample: number): void {
    const r = Math.max(0, sample);
    const srtt = this.stats.srttMs;
    if (srtt === undefined) {
      this.stats.srttMs = r;
      this.#rttVar = r / 2;
    } else {
      this.#rttVar = 0.75 * this.#rttVar + 0.25 * Math.abs(srtt - r);
      this.stats.srttMs = 0.875 * srtt + 0.125 * r;
    }
  }

  #send(command: number, payload: Uint8Array): void {
    const data = encode(
      { command, seq: this.#nextSeq, sessionId: this.options.sessionId, payload },
      this.options.magic,
    );
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    this.#tx.push({ data, to: this.server });
  }

  #close(result: ClientResult): void {
    this.#state = "closed";
    this.#result = result;
    this.#timerAt = undefined;
    this.#queue = [];
    this.#queueHead = 0;
  }
}
