/**
 * The client side of blast over UDP, as a pure state machine.
 *
 * How this works:
 * - The REQUEST goes at once and again every `RETRY_MS` (wire.ts) until the
 *   server answers (ACCEPT, REFUSE, or for a download its first DATA or
 *   END); after `timeoutMs` without an answer the run fails. A transfer's
 *   first answer is a CHALLENGE with a token (the server validates the
 *   address before it sends more than 3× what it got): the REQUEST then
 *   goes again at once, and on every retry, with `token=T`.
 * - Download: every DATA goes to a {@link SegmentReceiver}, and an ACK with
 *   the count received goes every `ACK_INTERVAL_MS` from the first answer
 *   to the end (the server stops a run whose receiver goes silent). The END
 *   marker (sent by the server until acknowledged) is answered with END_ACK
 *   each time. With every segment in, the run is done; with some missing it
 *   lingers `LINGER_MS` for late ones (a datagram held back by the network
 *   arrives after the END that overtook it) and then is done. A silence of
 *   `timeoutMs` before the END ends the run with what arrived, as a
 *   failure: the end is never guessed from a silence.
 * - Upload: the driver takes DATA from {@link BlastUdpClient.fillData} as
 *   fast as the pacing allows (when none is due, the next one's time is a
 *   deadline like the others, so the driver's one alarm wakes the sending);
 *   after the last, the END goes at once and every `RETRY_MS` until the
 *   server's REPORT comes, for `timeoutMs`.
 * - A timed run (`--time`, `time=MS`): the receiver or source starts with
 *   the largest count and the bound comes from the server (an upload stops
 *   at the ACCEPT's total, a download's END says how many went); the
 *   source stops sending when its time is up (segment_source.ts).
 * - Echo: each round sends `ECHO text` (again every RETRY_MS, each send a
 *   new seq) until an ECHO with a seq of this round comes back; its round
 *   trip is now less the send time it carries. Rounds follow one another
 *   `echoIntervalMs` apart.
 * - The socket may say that nothing listens at the server's port
 *   ({@link BlastUdpClient.handleUnreachable}): before any answer that ends
 *   the run; or that it cannot receive at all, which ends it too.
 *
 * Every deadline (retry, ACK, linger, next round, silence, pacing) is a
 * timer on one {@link TimerTable}. Inputs: `start(now)`,
 * `handleDatagram(bytes, from, now)`, `handleTimeout(now)`,
 * `fillData(buf, view, now)`, `handleUnreachable(why, now)`,
 * `handleReceiveError(why, now)`. Outputs: `pollTransmit()` (control
 * datagrams, to the server), `pollTimeout()`, and one `finished` event to
 * the sink when the run is over. Times are ms on the epoch clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import {
 *   decodeHeader,
 *   emptyHeader,
 *   encodeSegment,
 *   SEGMENT_HEADER,
 *   SegmentType,
 * } from "./wire.ts";
 *
 * const events = new EventQueue<BlastClientEvent>();
 * const server = { hostname: "127.0.0.1", port: 9000 };
 * const client = new BlastUdpClient({
 *   request: { kind: "echo", text: "hello" },
 *   run: 7,
 *   rounds: 1,
 *   echoIntervalMs: 1000,
 *   timeoutMs: 5000,
 *   server,
 *   serverLabel: "127.0.0.1:9000",
 * }, events);
 * client.start(0);
 * const { data, to } = client.pollTransmit()!; // the ECHO request, to the server
 * assert.equal(to, server);
 * const request = decodeHeader(data, emptyHeader());
 * assert.deepEqual(request, { type: SegmentType.Request, run: 7, seq: 0, total: 0, sent: 0 });
 * assert.equal(new TextDecoder().decode(data.subarray(SEGMENT_HEADER)), "ECHO hello");
 *
 * // The server echoes the text, with the request's seq and send time; it comes back at t=3 ms:
 * const hello = new TextEncoder().encode("hello");
 * const echo = encodeSegment({ ...request, type: SegmentType.Echo }, hello);
 * client.handleDatagram(echo, server, 3);
 * assert.deepEqual(events.poll(), { // the run is over
 *   event: "finished",
 *   peer: server,
 *   finish: {
 *     answered: true,
 *     echo: {
 *       text: "hello",
 *       rounds: 1,
 *       answered: 1,
 *       requests: 1,
 *       rtt_ms: { min: 3, avg: 3, max: 3 },
 *       samples: [3],
 *     },
 *   },
 * });
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import type { PeerAddress, Transmit } from "../runtime/transmit.ts";
import { Fifo } from "../util/fifo.ts";
import { type ReceiverReport, SegmentReceiver } from "./receiver.ts";
import type { EchoFigures } from "./report.ts";
import { SegmentSource, type SenderFigures } from "./segment_source.ts";
import {
  ACK_INTERVAL_MS,
  decodeHeader,
  emptyHeader,
  encodeSegment,
  formatRequest,
  LINGER_MS,
  parseJson,
  type Request,
  RETRY_MS,
  SEGMENT_HEADER,
  SegmentType,
  type SegmentTypeCode,
  WireError,
} from "./wire.ts";

/** What the client was asked to do. */
export interface UdpClientOptions {
  /** What to ask the server for. */
  request: Request;
  /** This run's id (random). */
  run: number;
  /** Echo rounds. */
  rounds: number;
  /** ms between echo rounds. */
  echoIntervalMs: number;
  /** The longest silence (no answer, no data, no report) before the run ends. */
  timeoutMs: number;
  /** Where every datagram goes. */
  server: PeerAddress;
  /** How the server is named in messages (`HOST:PORT`, as the user wrote it). */
  serverLabel: string;
}

/** How a run ended. */
export interface ClientFinish {
  /** One line when the run failed. */
  failure?: string;
  /** Whether the server answered at all. */
  answered: boolean;
  /** The receiver's figures, for a transfer (the client's own for a download, the server's for an upload). */
  receiver?: ReceiverReport;
  /** What this client sent, for an upload. */
  sender?: SenderFigures;
  /** The round trips, for an echo run. */
  echo?: EchoFigures;
}

/** The one event of a UDP client: the run is over (emitted once). */
export interface BlastClientEvent {
  /** The event's kind. */
  event: "finished";
  /** The server. */
  peer: PeerAddress;
  /** How the run ended. */
  finish: ClientFinish;
}

type State = "requesting" | "transfer" | "ending" | "lingering" | "done";

/**
 * A timed run's segment count before the server's ACCEPT gives its bound:
 * the largest (the receiver's bitmap grows with the segments that come, not
 * with this).
 */
const MAX_TIMED_COUNT = 0xffff_fffe;

/** What each timer is for (bits, so that all due at once are handled in one order). */
const ACK = 1, LINGER = 2, ROUND = 4, SILENCE = 8, RETRY = 16, PACE = 32;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One blast run of a UDP client. */
export class BlastUdpClient {
  /** The receiver of a download; undefined otherwise. */
  readonly receiver: SegmentReceiver | undefined;
  /** The segments of an upload; undefined otherwise. */
  readonly source: SegmentSource | undefined;
  readonly #out = new Fifo<Transmit>();
  readonly #header = emptyHeader();
  readonly #timers = new TimerTable<number>();
  /** When the next ACK of a download goes. */
  readonly #ack = new Timer(ACK);
  /** When the linger after an END with gaps is over. */
  readonly #linger = new Timer(LINGER);
  /** When the next echo round starts. */
  readonly #round = new Timer(ROUND);
  /** When the current wait (answer, data, report, echo) gives up. */
  readonly #silence = new Timer(SILENCE);
  /** When the REQUEST, END or ECHO is sent again. */
  readonly #retry = new Timer(RETRY);
  /** When the next upload DATA is due, armed while none is. */
  readonly #pace = new Timer(PACE);
  /** The DATA `fillData` hands out: its length, and the server. */
  readonly #filled: { length: number; to: PeerAddress };
  #line: Uint8Array;
  #state: State = "requesting";
  #answered = false;
  #requests = 0;
  #senderFigures: SenderFigures | undefined;
  // Echo rounds.
  #rounds = 0;
  #roundFirstSeq = 0;
  readonly #samples: number[] = [];

  /** A run that has not started: call `start(now)`; the end goes to `sink`. */
  constructor(
    readonly options: UdpClientOptions,
    readonly sink: EventSink<BlastClientEvent>,
  ) {
    this.#line = encoder.encode(formatRequest(options.request));
    this.#filled = { length: 0, to: options.server };
    const r = options.request;
    if (r.kind === "transfer") {
      // --time: the bound is the server's (its ACCEPT says it); until then, the largest count.
      const t = r.timeMs === undefined ? r : { ...r, bytes: undefined, count: MAX_TIMED_COUNT };
      if (r.direction === "get") this.receiver = new SegmentReceiver(t);
      else this.source = new SegmentSource(t, options.run);
    }
  }

  /** Sends the REQUEST (or the first ECHO). */
  start(now: number): void {
    this.#sendRequest(now);
  }

  /**
   * A datagram from `_from` (a view: nothing is kept). Whatever its source,
   * only a blast segment of this run counts.
   */
  handleDatagram(bytes: Uint8Array, _from: PeerAddress, now: number): void {
    if (this.#state === "done") return;
    let h;
    try {
      h = decodeHeader(bytes, this.#header);
    } catch (e) {
      if (e instanceof WireError) return; // not ours
      throw e;
    }
    if (h.run !== this.options.run) return;
    const body = bytes.subarray(SEGMENT_HEADER);
    const request = this.options.request;
    if (h.type === SegmentType.Refuse) {
      this.#end({ failure: `server refused: ${decoder.decode(body)}` });
      return;
    }
    if (request.kind === "echo") {
      if (h.type === SegmentType.Echo && h.seq >= this.#roundFirstSeq) {
        this.#echoed(h.sent, body, now);
      }
      return;
    }
    const wasRequesting = this.#state === "requesting";
    if (h.type === SegmentType.Challenge) {
      const token = decoder.decode(body);
      if (wasRequesting && /^[0-9a-f]{1,64}$/.test(token)) {
        this.#answered = true;
        this.#line = encoder.encode(formatRequest({ ...request, token }));
        this.#sendRequest(now);
      }
      return;
    }
    if (h.type === SegmentType.Accept && this.source && request.timeMs !== undefined) {
      this.source.limit(h.total); // a timed upload: at most what the server's limit holds
    }
    if (
      h.type === SegmentType.Accept || h.type === SegmentType.Data || h.type === SegmentType.End
    ) {
      this.#answered = true;
      if (wasRequesting) {
        this.#state = "transfer";
        this.#timers.clear(this.#retry);
        if (this.receiver) this.#timers.set(this.#ack, now + ACK_INTERVAL_MS);
      }
    }
    if (this.receiver) {
      if (h.type === SegmentType.Accept) {
        this.#waitAnswer(now);
      } else if (h.type === SegmentType.Data) {
        this.receiver.handleData(h, body, now);
        this.#waitAnswer(now);
        if (this.#ack.armed && now >= this.#ack.at) this.#sendAck(now);
      } else if (h.type === SegmentType.End) {
        this.receiver.handleEnd(h.total);
        this.#senderFigures ??= this.#json<SenderFigures>(body);
        this.#send(this.#control(SegmentType.EndAck, h.total, now));
        this.#waitAnswer(now);
        if (this.receiver.complete) this.#end({});
        else if (this.#state !== "lingering") {
          this.#state = "lingering";
          this.#timers.set(this.#linger, now + LINGER_MS);
        }
      }
    } else if (h.type === SegmentType.Accept && wasRequesting) {
      this.#timers.clear(this.#silence); // sending: nothing to wait for until the END
    } else if (h.type === SegmentType.Report && this.#state === "ending") {
      const report = this.#json<ReceiverReport>(body);
      if (report === undefined) this.#end({ failure: "the server's report is not JSON" });
      else this.#end({ receiver: report });
    }
  }

  /**
   * The socket says nothing listens at the server's port (an ICMP port
   * unreachable, `why` its text): before any answer, the run ends there.
   */
  handleUnreachable(why: string, _now: number): void {
    if (this.#state === "done" || this.#answered) return;
    this.#end({ failure: `no server at ${this.options.serverLabel} (udp): ${why}` });
  }

  /** The socket cannot receive (`why`): the run ends there. */
  handleReceiveError(why: string, _now: number): void {
    if (this.#state !== "done") this.#end({ failure: `cannot receive: ${why}` });
  }

  /**
   * The next DATA of an upload, written into `buf` (with `view` over it),
   * if one is due at `now`: its length and the server (the object is
   * reused: read it before the next call), else undefined.
   */
  fillData(
    buf: Uint8Array,
    view: DataView,
    now: number,
  ): { length: number; to: PeerAddress } | undefined {
    const source = this.source;
    if (this.#state !== "transfer" || !source) return undefined;
    const length = source.fill(buf, view, now);
    if (source.done) {
      this.#state = "ending";
      this.#timers.clear(this.#pace);
      this.#sendEnd(now);
    } else if (length === 0) {
      this.#timers.set(this.#pace, source.dueAt(now)!);
    }
    if (length === 0) return undefined;
    this.#filled.length = length;
    return this.#filled;
  }

  /** Timers up to `now` (the pacing timer needs nothing: the driver's drain sends what is due). */
  handleTimeout(now: number): void {
    if (this.#state === "done") return;
    let due = 0;
    for (let t = this.#timers.popDue(now); t !== undefined; t = this.#timers.popDue(now)) due |= t;
    if (due & ACK) this.#sendAck(now);
    if (due & LINGER) return this.#end({});
    if (due & ROUND) return this.#sendRequest(now);
    if (due & SILENCE) return this.#end({ failure: this.#silenceText() });
    if (due & RETRY) {
      if (this.#state === "ending") this.#sendEnd(now, false);
      else this.#sendRequest(now, false);
    }
  }

  /** The next control datagram for the server, or undefined. */
  pollTransmit(): Transmit | undefined {
    return this.#out.shift();
  }

  /** When `handleTimeout` must next be called, or undefined. */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /** Whether the server answered. */
  get answered(): boolean {
    return this.#answered;
  }

  /** Payload bytes moved so far: received (download) or sent (upload); for the progress line. */
  get bytesMoved(): number {
    return this.receiver?.bytes ?? this.source?.figures.bytes ?? 0;
  }

  #silenceText(): string {
    const s = `${this.options.timeoutMs / 1000} s`;
    switch (this.#state) {
      case "requesting":
        return this.options.request.kind === "echo" && this.#rounds > 0
          ? `no echo ${this.#rounds + 1} from the server within ${s}`
          : `no answer from the server within ${s}`;
      case "ending":
        return `no report from the server within ${s} of the end`;
      default:
        return `the server went silent for ${s} before the end marker; the report is partial`;
    }
  }

  /** The silence deadline starts again from `now`. */
  #waitAnswer(now: number): void {
    this.#timers.set(this.#silence, now + this.options.timeoutMs);
  }

  #send(data: Uint8Array): void {
    this.#out.push({ data, to: this.options.server });
  }

  #sendRequest(now: number, fresh = true): void {
    if (fresh) {
      this.#waitAnswer(now);
      this.#roundFirstSeq = this.#requests;
    }
    this.#send(encodeSegment({
      type: SegmentType.Request,
      run: this.options.run,
      seq: this.#requests++,
      total: 0,
      sent: now,
    }, this.#line));
    this.#timers.set(this.#retry, now + RETRY_MS);
  }

  #sendEnd(now: number, fresh = true): void {
    if (fresh) this.#waitAnswer(now);
    const source = this.source!;
    const figures = encoder.encode(JSON.stringify(source.figures));
    this.#send(this.#control(SegmentType.End, source.total, now, figures));
    this.#timers.set(this.#retry, now + RETRY_MS);
  }

  /** An ACK: seq is the segments received so far, total the run's. */
  #sendAck(now: number): void {
    const receiver = this.receiver!;
    this.#send(encodeSegment({
      type: SegmentType.Ack,
      run: this.options.run,
      seq: receiver.tally.received >>> 0,
      total: receiver.segments >>> 0,
      sent: now,
    }));
    this.#timers.set(this.#ack, now + ACK_INTERVAL_MS);
  }

  #control(type: SegmentTypeCode, seq: number, now: number, body?: Uint8Array): Uint8Array {
    return encodeSegment({ type, run: this.options.run, seq, total: seq, sent: now }, body);
  }

  /** A JSON body, or undefined when it is not JSON. */
  #json<T>(body: Uint8Array): T | undefined {
    try {
      return parseJson<T>(body);
    } catch (e) {
      if (e instanceof WireError) return undefined;
      throw e;
    }
  }

  #echoed(sent: number, body: Uint8Array, now: number): void {
    const request = this.options.request;
    if (request.kind !== "echo") return;
    this.#answered = true;
    if (decoder.decode(body) !== request.text) {
      this.#end({ failure: `echo ${this.#rounds + 1} came back different` });
      return;
    }
    this.#samples.push(now - sent);
    this.#rounds++;
    this.#timers.clear(this.#retry);
    if (this.#rounds >= this.options.rounds) this.#end({});
    else {
      this.#roundFirstSeq = Number.MAX_SAFE_INTEGER; // nothing until the next round's send
      this.#timers.clear(this.#silence);
      this.#timers.set(this.#round, now + this.options.echoIntervalMs);
    }
  }

  #end(how: Omit<ClientFinish, "answered">): void {
    this.#state = "done";
    for (
      const t of [this.#ack, this.#linger, this.#round, this.#silence, this.#retry, this.#pace]
    ) {
      this.#timers.clear(t);
    }
    const finish: ClientFinish = { ...how, answered: this.#answered };
    if (this.receiver && finish.receiver === undefined) finish.receiver = this.receiver.report();
    if (this.source) finish.sender = this.source.figures;
    else if (this.#senderFigures) finish.sender = this.#senderFigures;
    if (this.options.request.kind === "echo") finish.echo = this.#echoFigures();
    this.sink.emit({ event: "finished", peer: this.options.server, finish });
  }

  #echoFigures(): EchoFigures {
    const s = this.#samples;
    const text = this.options.request.kind === "echo" ? this.options.request.text : "";
    return {
      text,
      rounds: this.options.rounds,
      answered: s.length,
      requests: this.#requests,
      rtt_ms: s.length === 0 ? null : {
        min: Math.min(...s),
        avg: s.reduce((a, b) => a + b, 0) / s.length,
        max: Math.max(...s),
      },
      samples: s,
    };
  }
}
