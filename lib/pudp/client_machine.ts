/**
 * The PUDP client, as a pure state machine.
 *
 * How this works: the driver feeds events in — `start(now)` once,
 * `handleLine(payload, now)` per stdin line, `handleEof(now)`,
 * `handleDatagram(bytes, from, now)`, `handleTimeout(now)` when the time from
 * `pollTimeout()` has come — and drains `pollTransmit()` and `pollNotice()`
 * (what to say about answers that did not decode: another PUDP variant's,
 * with the flags that would talk to it). When `result` is set, the session
 * is over and the driver exits with its code.
 *
 * States follow the PUDP client's table:
 *
 * ```
 *   hello-wait --HELLO--> ready --DATA sent--> ready-timer --ALIVE--> ready
 *   (HELLO again           \________ EOF: GOODBYE sent ________/
 *    each probe interval)                 |
 *        | timer                          v
 *        v                             closing (GOODBYE again each probe interval)
 *   closed (1, no answer)                 | GOODBYE, or the timer
 *                                         v
 *                   closed (0 on GOODBYE, or at the timer when every DATA
 *                   was answered by an ALIVE; else 1, "end not confirmed")
 * ```
 *
 * Loss: the HELLO is repeated (same seq 0) every {@link HELLO_REPEAT_MS}
 * until the server's HELLO or the timer, and the GOODBYE (same seq) at
 * growing probe intervals until the server's GOODBYE or the timer, so one
 * lost datagram does not end the session. Our server answers a repeated
 * HELLO with its HELLO again; a course server answers nothing, which changes
 * nothing. DATA is never repeated (PUDP has no retransmission); while lines
 * wait and no ALIVE comes, the pacing window reopens once per RTO (see
 * {@link PacingWindow}), which never exceeds a sixteenth of the timer, so a
 * live server always has several DATA to answer before the timer ends the
 * session.
 *
 * Lines and EOF that arrive before the server's HELLO, or while the window is
 * full, wait in a queue and are sent in order; EOF is always last, so GOODBYE
 * follows the last line. `wantsLines` turns false when the queue is long,
 * which the driver uses to stop reading stdin (backpressure, never a drop).
 *
 * Pacing: with `window` > 0 a {@link PacingWindow} bounds the DATA sent and
 * not yet answered by an ALIVE, and reopens by itself when ALIVEs are lost.
 * The `--timeout` timer runs independently of it. All deadlines (the `--timeout`
 * timer, the window reopening while lines wait for it, the HELLO/GOODBYE
 * repeats) are timers in one {@link TimerTable}. The window's deadline moves
 * with the pacing state, so every event ends by bringing its timer up to
 * date; `pollTimeout()` only reads the table.
 *
 * Interrupted (`handleInterrupt`, the driver's SIGINT/SIGTERM/SIGHUP): GOODBYE goes
 * at once, lines not yet sent are dropped, and the session closes with the
 * signal's exit code at the server's GOODBYE or after at most
 * {@link INTERRUPT_WAIT_MS}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command, decode, encode } from "./wire.ts";
 *
 * const server = { hostname: "127.0.0.1", port: 9000 };
 * const sessionId = 0xdecafbad;
 * const session = new ClientMachine(server, { sessionId, timeoutMs: 5000 });
 * const sent = () => {
 *   const { data, to } = session.pollTransmit()!;
 *   assert.equal(to, server);
 *   return decode(data);
 * };
 * const reply = (command: number, seq: number, now: number) => {
 *   const bytes = encode({ command, seq, sessionId, payload: new Uint8Array() });
 *   session.handleDatagram(bytes, server, now);
 * };
 *
 * session.start(0);
 * assert.equal(sent().command, Command.HELLO);
 * assert.equal(session.pollTimeout(), HELLO_REPEAT_MS); // no answer by then: HELLO again
 * const line = new TextEncoder().encode("first line");
 * session.handleLine(line, 1);
 * session.handleEof(2);
 * assert.equal(session.pollTransmit(), undefined); // both wait for the server's HELLO
 * reply(Command.HELLO, 0, 10);
 * assert.deepEqual(sent(), { command: Command.DATA, seq: 1, sessionId, payload: line });
 * assert.equal(session.pollTransmit(), undefined); // the window starts at one message
 * reply(Command.ALIVE, 1, 20);
 * assert.equal(sent().command, Command.GOODBYE);
 * reply(Command.GOODBYE, 2, 30);
 * assert.deepEqual(session.result, { code: 0 }); // the session is over
 * ```
 *
 * @module
 */

import { formatAddress, type PeerAddress, type Transmit } from "../runtime/transmit.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { isQuitLine } from "../stdin/line_splitter.ts";
import { Fifo } from "../util/fifo.ts";
import { PacingWindow } from "./pacing_window.ts";
import { firstBytes } from "../io/terminal_text.ts";
import {
  Command,
  decode,
  encode,
  foreignHeader,
  type Message,
  PUDP_MAGIC,
  variantHint,
  VERSION,
  WireError,
} from "./wire.ts";

/** Settings of a {@link ClientMachine}. */
export interface ClientOptions {
  /** Session id (random in the driver). */
  sessionId: number;
  /** The `--timeout` timer, in ms. */
  timeoutMs: number;
  /** Magic number on the wire. */
  magic: number;
  /** Version byte on the wire (`--wire-version`). */
  version: number;
  /** Most DATA messages without an ALIVE; 0 sends unpaced (classic). */
  window: number;
  /** Most payload bytes without an ALIVE (one message is always allowed). */
  windowBytes: number;
  /** A line `q` ends the session (stdin is a terminal). */
  quitOnQ: boolean;
  /**
   * Queue length at which `wantsLines` turns false; it turns true again when
   * the queue is down to half of it, so lines are taken in batches.
   */
  highWater: number;
  /** How to name the server in messages (`HOST:PORT` as the user typed it). */
  serverLabel?: string;
}

/** Default settings. */
export const DEFAULT_CLIENT_OPTIONS: Omit<ClientOptions, "sessionId"> = {
  timeoutMs: 5_000,
  magic: PUDP_MAGIC,
  version: VERSION,
  window: 32,
  windowBytes: 64 * 1024,
  quitOnQ: false,
  highWater: 4_096,
};

/** Client states. */
export type ClientState = "hello-wait" | "ready" | "ready-timer" | "closing" | "closed";

/** How the session ended: exit code and, for failures, the one-line reason. */
export interface ClientResult {
  /** 0 done, 1 the exchange failed, 130/143/129 interrupted by SIGINT/SIGTERM/SIGHUP. */
  code: number;
  /** One line for stderr, when the session failed. */
  message?: string;
}

/**
 * Something the driver says on stderr about the server's answers that did
 * not decode: once, when they are PUDP of another variant, the hint (always
 * said); once, the first bytes of the first such answer (`--verbose`).
 */
export interface ClientNotice {
  /** The line, without the program's prefix; peer bytes in it are escaped. */
  line: string;
  /** Said only with `--verbose`. */
  verboseOnly: boolean;
}

/** Longest wait for the server's GOODBYE after an interrupt, in ms. */
export const INTERRUPT_WAIT_MS = 1000;

/**
 * Interval of the HELLO repeats, in ms (at most a sixteenth of the timer).
 * Fixed, not backed off: there is no round trip to go by yet, and a HELLO
 * every 200 ms costs nothing, while 25 tries in a 5 s timer get through 30%
 * loss both ways (each try: 51% fail) all but once in ten million.
 */
export const HELLO_REPEAT_MS = 200;

/** Fewest probes (DATA, HELLO or GOODBYE) a silent server gets within one `--timeout`. */
export const PROBES_PER_TIMEOUT = 16;

/** What a timer of the client is for. */
type ClientTimer = "spec" | "window" | "repeat";

/** What the client counted. */
export interface ClientStats {
  /** DATA messages sent. */
  dataSent: number;
  /** Payload bytes of those. */
  dataBytes: number;
  /** ALIVEs received. */
  alivesReceived: number;
  /** HELLOs and GOODBYEs sent again because no answer came. */
  repeats: number;
}

const EOF = null;

/** One PUDP client session. */
export class ClientMachine {
  /** The options in effect, defaults filled in. */
  readonly options: ClientOptions;
  /** Counters since the start, for the summary line. */
  readonly stats: ClientStats = {
    dataSent: 0,
    dataBytes: 0,
    alivesReceived: 0,
    repeats: 0,
  };
  /** The ALIVE-clocked window (inert when `window` is 0). */
  readonly pacing: PacingWindow;
  #state: ClientState = "hello-wait";
  #result: ClientResult | undefined;
  #nextSeq = 0;
  /** Lines (and finally EOF) not yet sent. */
  readonly #queue = new Fifo<Uint8Array | typeof EOF>();
  #eofSeen = false;
  /** The queue reached highWater and has not yet drained to half of it. */
  #backlogged = false;
  readonly #tx = new Fifo<Transmit>();
  readonly #timers = new TimerTable<ClientTimer>();
  /** The `--timeout` timer. */
  readonly #specTimer = new Timer<ClientTimer>("spec");
  /** When the pacing window opens by itself while lines wait for it. */
  readonly #windowTimer = new Timer<ClientTimer>("window");
  /** When the HELLO or the GOODBYE is sent again. */
  readonly #repeatTimer = new Timer<ClientTimer>("repeat");
  /** The HELLO or GOODBYE being repeated, as sent. */
  #repeated: Uint8Array | undefined;
  /** The interval to the next GOODBYE repeat, in ms (doubles each time). */
  #repeatMs = 0;
  /** The exit code of an interrupt, once one came. */
  #interruptCode: number | undefined;
  /** When the HELLO was sent (first round-trip sample). */
  #helloAt = 0;
  /** What to say about answers that did not decode (at most two, ever). */
  readonly #notices = new Fifo<ClientNotice>();
  /** The hint about another PUDP variant has been given. */
  #hintGiven = false;
  /** The first bytes of an answer that did not decode have been shown. */
  #bytesShown = false;

  /**
   * A session that has not started: call `start(now)`.
   * @param server where the server is; datagrams from elsewhere are ignored
   * @param options settings; `sessionId` is required
   */
  constructor(
    readonly server: PeerAddress,
    options: Partial<ClientOptions> & { sessionId: number },
  ) {
    this.options = { ...DEFAULT_CLIENT_OPTIONS, ...options };
    this.pacing = new PacingWindow(
      this.options.window,
      this.options.windowBytes,
      this.#longestProbeMs,
    );
  }

  /** Current state. */
  get state(): ClientState {
    return this.#state;
  }

  /** Set once the session is closed. */
  get result(): ClientResult | undefined {
    return this.#result;
  }

  /**
   * False after EOF, and from the moment the queue of unsent lines reaches its
   * high-water mark until it has drained to half of it.
   */
  get wantsLines(): boolean {
    return !this.#eofSeen && !this.#backlogged;
  }

  /** Number of DATA sent and not yet answered (what the window bounds). */
  get inFlight(): number {
    return this.pacing.inFlight;
  }

  /**
   * The longest a live server waits for the next probe: a sixteenth of the
   * timer. Backing off further would leave a lossy path too few tries: at
   * 30% loss both ways a probe and its answer get through only half the
   * time, and 9 failures in a row, which a 5 s timer backed off to 1 s
   * allows, came in 1 of 10 runs; 16 or more tries fail together less than
   * once in 50,000.
   */
  get #longestProbeMs(): number {
    return Math.max(1, this.options.timeoutMs / PROBES_PER_TIMEOUT);
  }

  /** Sends HELLO and starts the timer. Call once. */
  start(now: number): void {
    this.#helloAt = now;
    const hello = this.#send(Command.HELLO, new Uint8Array());
    this.#timers.set(this.#specTimer, now + this.options.timeoutMs);
    this.#repeatEvery(hello, Math.min(HELLO_REPEAT_MS, this.#longestProbeMs), now);
    this.#syncWindowTimer();
  }

  /** Repeats `datagram` (the HELLO or GOODBYE just sent) after `ms` unless answered. */
  #repeatEvery(datagram: Uint8Array, ms: number, now: number): void {
    this.#repeated = datagram;
    this.#repeatMs = ms;
    this.#timers.set(this.#repeatTimer, now + ms);
  }

  /**
   * One stdin line (without its line ending, unless `--keep-newlines`), at
   * most MAX_PAYLOAD bytes (the stdin reader splits longer lines). A `q`
   * line ends the session when `quitOnQ` is set. Lines after EOF are ignored.
   */
  handleLine(payload: Uint8Array, now: number): void {
    if (this.#eofSeen) return;
    if (this.options.quitOnQ && isQuitLine(payload)) {
      return this.handleEof(now);
    }
    this.#queue.push(payload);
    if (this.#queue.size >= this.options.highWater) this.#backlogged = true;
    this.#sendAllowed(now);
    this.#syncWindowTimer();
  }

  /** stdin ended: GOODBYE follows the lines already handed in. */
  handleEof(now: number): void {
    if (this.#eofSeen) return;
    this.#eofSeen = true;
    this.#queue.push(EOF);
    this.#sendAllowed(now);
    this.#syncWindowTimer();
  }

  /** One datagram from the socket; anything not from our server and session is ignored. */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    this.#receive(bytes, from, now);
    this.#syncWindowTimer();
  }

  /** What {@link handleDatagram} does, but for the window timer. */
  #receive(bytes: Uint8Array, from: PeerAddress, now: number): void {
    if (this.#state === "closed") return;
    if (from.port !== this.server.port || from.hostname !== this.server.hostname) return;
    let msg: Message;
    try {
      msg = decode(bytes, this.options.magic, this.options.version);
    } catch (e) {
      if (e instanceof WireError) return this.#undecodable(bytes);
      throw e;
    }
    if (msg.sessionId !== this.options.sessionId) return;
    switch (msg.command) {
      case Command.HELLO:
        if (this.#state !== "hello-wait") return;
        // After a repeat, which HELLO this answers is unknown: no sample (Karn).
        if (this.stats.repeats === 0) this.pacing.sampleRtt(now - this.#helloAt);
        this.#state = "ready";
        this.#timers.clear(this.#specTimer);
        this.#timers.clear(this.#repeatTimer);
        return this.#sendAllowed(now);
      case Command.ALIVE:
        if (this.#state === "hello-wait") return;
        this.stats.alivesReceived++;
        this.pacing.onAlive(msg.seq, now);
        if (this.#state === "ready-timer") {
          this.#state = "ready";
          this.#timers.clear(this.#specTimer);
        }
        return this.#sendAllowed(now);
      case Command.GOODBYE:
        if (this.#state === "closing") return this.#close({ code: this.#interruptCode ?? 0 });
        return this.#close({ code: 1, message: "server closed the session" });
      default:
        return;
    }
  }

  /**
   * SIGINT, SIGTERM or SIGHUP: say GOODBYE now and close with `code` (130, 143, 129) at the
   * server's GOODBYE or after {@link INTERRUPT_WAIT_MS} (or `--timeout`, if
   * shorter). Lines not yet sent are not sent.
   */
  handleInterrupt(code: number, now: number): void {
    if (this.#state === "closed") return;
    if (this.#state !== "closing") this.#sendGoodbye(now);
    this.#interruptCode = code;
    this.#state = "closing";
    this.#eofSeen = true;
    this.#queue.clear();
    this.#timers.set(this.#specTimer, now + Math.min(INTERRUPT_WAIT_MS, this.options.timeoutMs));
    this.#syncWindowTimer();
  }

  /** The `--timeout` timer or the pacing quiet period has expired (early calls are harmless). */
  handleTimeout(now: number): void {
    for (let due = this.#timers.popDue(now); due !== undefined; due = this.#timers.popDue(now)) {
      if (due === "window") {
        this.pacing.handleTimeout(now);
        this.#sendAllowed(now);
        continue;
      }
      if (due === "repeat") {
        this.#repeat(now);
        continue;
      }
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
          return this.#close(this.#closingTimerResult());
      }
    }
    this.#syncWindowTimer();
  }

  /**
   * An answer from the server's address that did not decode: the first time
   * it is PUDP of another variant, a notice with the hint; the first time at
   * all (an empty datagram aside), a `--verbose` notice with its first bytes.
   */
  #undecodable(bytes: Uint8Array): void {
    if (bytes.length === 0 || (this.#hintGiven && this.#bytesShown)) return;
    const { magic, version } = this.options;
    if (!this.#hintGiven) {
      const foreign = foreignHeader(bytes, magic, version);
      if (foreign !== undefined) {
        this.#hintGiven = true;
        this.#notices.push({
          line: `the server answers in another PUDP: ${variantHint(foreign, magic, version)}`,
          verboseOnly: false,
        });
      }
    }
    if (!this.#bytesShown) {
      this.#bytesShown = true;
      this.#notices.push({
        line: `an answer that does not decode: ${firstBytes(bytes)}`,
        verboseOnly: true,
      });
    }
  }

  /** The next thing to say about the server's answers (see {@link ClientNotice}), or undefined. */
  pollNotice(): ClientNotice | undefined {
    return this.#notices.shift();
  }

  /** The earliest time `handleTimeout` has work to do, or undefined (a pure query). */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /**
   * Points the window timer at when the window opens by itself. The pacing
   * state moves with every event, so every event ends with this.
   */
  #syncWindowTimer(): void {
    const opensAt = this.#windowOpensAt();
    if (opensAt === undefined) this.#timers.clear(this.#windowTimer);
    else if (opensAt !== this.#windowTimer.at) this.#timers.set(this.#windowTimer, opensAt);
  }

  /** The next datagram to send, or undefined. */
  pollTransmit(): Transmit | undefined {
    return this.#tx.shift();
  }

  /**
   * When the window opens by itself (quiet period, spacing), while something
   * waits for it. After every event the queue is sent from, so a waiting queue
   * means a closed window.
   */
  #windowOpensAt(): number | undefined {
    if (this.#state !== "ready" && this.#state !== "ready-timer") return undefined;
    if (this.#queue.size === 0) return undefined;
    return this.pacing.pollTimeout();
  }

  /** Sends what the queue holds, as far as the state and the window allow. */
  #sendAllowed(now: number): void {
    if (this.#state !== "ready" && this.#state !== "ready-timer") return;
    for (let item = this.#queue.peek(); item !== undefined; item = this.#queue.peek()) {
      if (item === EOF) {
        // GOODBYE waits for the window too: it goes into the same server buffer.
        if (!this.pacing.canSend(0, now)) break;
        this.#queue.shift();
        this.#sendGoodbye(now);
        this.#state = "closing";
        this.#timers.set(this.#specTimer, now + this.options.timeoutMs);
        break;
      }
      if (!this.pacing.canSend(item.length, now)) break;
      this.#queue.shift();
      this.#send(Command.DATA, item);
      this.stats.dataSent++;
      this.stats.dataBytes += item.length;
      this.pacing.onSend(item.length, now);
      if (this.#state === "ready") {
        this.#state = "ready-timer";
        this.#timers.set(this.#specTimer, now + this.options.timeoutMs);
      }
    }
    if (this.#backlogged && this.#queue.size <= this.options.highWater / 2) {
      this.#backlogged = false;
    }
  }

  /**
   * How the session ends when the timer runs out in closing, with no GOODBYE
   * from the server: 0 only when the server answered every DATA (exit 0 is a
   * promise), else 1 with what is known; an interrupt keeps its own code.
   */
  #closingTimerResult(): ClientResult {
    if (this.#interruptCode !== undefined) return { code: this.#interruptCode };
    const { dataSent, alivesReceived } = this.stats;
    if (alivesReceived >= dataSent) return { code: 0 };
    return {
      code: 1,
      message: `end not confirmed: ${dataSent} DATA sent, ${alivesReceived} ALIVE received, ` +
        "no GOODBYE",
    };
  }

  /** Sends GOODBYE and repeats it at growing probe intervals until answered. */
  #sendGoodbye(now: number): void {
    const goodbye = this.#send(Command.GOODBYE, new Uint8Array());
    this.#repeatEvery(goodbye, Math.min(this.pacing.rtoMs, this.#longestProbeMs), now);
  }

  /** The HELLO or GOODBYE went unanswered for one interval: again, same bytes (same seq). */
  #repeat(now: number): void {
    if (this.#repeated === undefined) return;
    if (this.#state !== "hello-wait" && this.#state !== "closing") return;
    this.stats.repeats++;
    this.#tx.push({ data: this.#repeated, to: this.server });
    const next = this.#state === "hello-wait"
      ? this.#repeatMs
      : Math.min(this.#repeatMs * 2, this.#longestProbeMs);
    this.#repeatMs = next;
    this.#timers.set(this.#repeatTimer, now + next);
  }

  /** Sends a message with the next sequence number; returns the datagram. */
  #send(command: number, payload: Uint8Array): Uint8Array {
    const data = encode(
      { command, seq: this.#nextSeq, sessionId: this.options.sessionId, payload },
      this.options.magic,
      this.options.version,
    );
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    this.#tx.push({ data, to: this.server });
    return data;
  }

  #close(result: ClientResult): void {
    this.#state = "closed";
    this.#result = result;
    this.#timers.clear(this.#specTimer);
    this.#timers.clear(this.#windowTimer);
    this.#timers.clear(this.#repeatTimer);
    this.#queue.clear();
  }
}
