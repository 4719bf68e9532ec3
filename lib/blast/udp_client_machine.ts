/**
 * The client side of blast over UDP, as a pure state machine.
 *
 * How this works:
 * - The REQUEST goes at once and again every {@link RETRY_MS} until the
 *   server answers (ACCEPT, REFUSE, or for a download its first DATA or
 *   END); after `timeoutMs` without an answer the run fails. A transfer's
 *   first answer is a CHALLENGE with a token (the server validates the
 *   address before it sends more than 3× what it got): the REQUEST then
 *   goes again at once, and on every retry, with `token=T`.
 * - Download: every DATA goes to a {@link SegmentReceiver}, and an ACK with
 *   the count received goes every {@link ACK_INTERVAL_MS} from the first
 *   answer to the end (the server stops a run whose receiver goes silent).
 *   The END marker
 *   (sent by the server until acknowledged) is answered with END_ACK each
 *   time. With every segment in, the run is done; with some missing it
 *   lingers {@link LINGER_MS} for late ones (a datagram held back by the
 *   network arrives after the END that overtook it) and then is done. A
 *   silence of `timeoutMs` before the END ends the run with what arrived,
 *   as a failure: the end is never guessed from a silence.
 * - Upload: the driver takes DATA from {@link fillData} as fast as the
 *   pacing allows; after the last, the END goes at once and every
 *   {@link RETRY_MS} until the server's REPORT comes, for `timeoutMs`.
 * - Echo: each round sends `ECHO text` (again every RETRY_MS, each send a
 *   new seq) until an ECHO with a seq of this round comes back; its round
 *   trip is now less the send time it carries. Rounds follow one another
 *   `echoIntervalMs` apart.
 *
 * Inputs: `start(now)`, `handleDatagram(bytes, now)`, `handleTimeout(now)`,
 * `fillData(buf, view, now)`. Outputs: `pollTransmit()` (control
 * datagrams, to the server), `pollTimeout()`, and `finish` once the run is
 * over. Times are ms on the epoch clock.
 *
 * @example
 * ```ts
 * const client = new BlastUdpClient({
 *   request: { kind: "echo", text: "hello" },
 *   run: 7,
 *   rounds: 1,
 *   echoIntervalMs: 1000,
 *   timeoutMs: 5000,
 * });
 * client.start(0);
 * client.pollTransmit(); // the ECHO request
 * // feed answers with handleDatagram(bytes, now); `client.finish` is set when the run is over
 * ```
 *
 * @module
 */

import { Fifo } from "../util/fifo.ts";
import { type ReceiverReport, SegmentReceiver } from "./receiver.ts";
import type { EchoFigures } from "./report.ts";
import { SegmentSource, type SenderFigures } from "./segment_source.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  formatRequest,
  type Request,
  SEGMENT_HEADER,
  SegmentType,
  type SegmentTypeCode,
  type TransferRequest,
  WireError,
} from "./wire.ts";

/** Resend interval of REQUEST, END and ECHO. */
export const RETRY_MS = 200;
/** How long a receiver waits for late segments after an END that left gaps. */
export const LINGER_MS = 250;
/** A downloading client sends an ACK this often. */
export const ACK_INTERVAL_MS = 100;

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

type State = "requesting" | "transfer" | "ending" | "lingering" | "done";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One blast run of a UDP client. */
export class BlastUdpClient {
  /** Set once the run is over. */
  finish: ClientFinish | undefined;
  /** The receiver of a download; undefined otherwise. */
  readonly receiver: SegmentReceiver | undefined;
  /** The segments of an upload; undefined otherwise. */
  readonly source: SegmentSource | undefined;
  readonly #out = new Fifo<Uint8Array>();
  readonly #header = emptyHeader();
  #line: Uint8Array;
  /** When the next ACK of a download goes. */
  #ackAt: number | undefined;
  #state: State = "requesting";
  #answered = false;
  /** When the current wait (answer, data, report, echo) gives up. */
  #deadline = 0;
  /** When the REQUEST, END or ECHO is sent again. */
  #retryAt: number | undefined;
  #lingerUntil: number | undefined;
  #requests = 0;
  #senderFigures: SenderFigures | undefined;
  // Echo rounds.
  #round = 0;
  #roundFirstSeq = 0;
  #nextRoundAt: number | undefined;
  readonly #samples: number[] = [];

  /** A run that has not started: call `start(now)`. */
  constructor(readonly options: UdpClientOptions) {
    this.#line = encoder.encode(formatRequest(options.request));
    const r = options.request;
    if (r.kind === "transfer") {
      if (r.direction === "get") this.receiver = new SegmentReceiver(r);
      else this.source = new SegmentSource(r, options.run);
    }
  }

  get #transfer(): TransferRequest | undefined {
    return this.options.request.kind === "transfer" ? this.options.request : undefined;
  }

  /** Sends the REQUEST (or the first ECHO). */
  start(now: number): void {
    this.#sendRequest(now);
  }

  /** A datagram from the server (a view: nothing is kept). */
  handleDatagram(bytes: Uint8Array, now: number): void {
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
    if (
      h.type === SegmentType.Accept || h.type === SegmentType.Data || h.type === SegmentType.End
    ) {
      this.#answered = true;
      if (wasRequesting) {
        this.#state = "transfer";
        this.#retryAt = undefined;
        if (this.receiver) this.#ackAt = now + ACK_INTERVAL_MS;
      }
    }
    if (this.receiver) {
      if (h.type === SegmentType.Accept) {
        this.#deadline = now + this.options.timeoutMs;
      } else if (h.type === SegmentType.Data) {
        this.receiver.handleData(h, body, now);
        this.#deadline = now + this.options.timeoutMs;
        if (this.#ackAt !== undefined && now >= this.#ackAt) this.#sendAck(now);
      } else if (h.type === SegmentType.End) {
        this.receiver.handleEnd(h.total);
        this.#senderFigures ??= parseJson<SenderFigures>(body);
        this.#out.push(this.#control(SegmentType.EndAck, h.total, now));
        this.#deadline = now + this.options.timeoutMs;
        if (this.receiver.complete) this.#end({});
        else if (this.#state !== "lingering") {
          this.#state = "lingering";
          this.#lingerUntil = now + LINGER_MS;
        }
      }
    } else if (h.type === SegmentType.Accept && wasRequesting) {
      this.#deadline = Infinity; // sending: nothing to wait for until the END
    } else if (h.type === SegmentType.Report && this.#state === "ending") {
      const report = parseJson<ReceiverReport>(body);
      if (report === undefined) this.#end({ failure: "the server's report is not JSON" });
      else this.#end({ receiver: report });
    }
  }

  /**
   * The next DATA of an upload, written into `buf` (with `view` over it),
   * if one is due at `now`: its length, else 0.
   */
  fillData(buf: Uint8Array, view: DataView, now: number): number {
    const source = this.source;
    if (this.#state !== "transfer" || !source) return 0;
    const length = source.fill(buf, view, now);
    if (source.done) {
      this.#state = "ending";
      this.#sendEnd(now);
    }
    return length;
  }

  /** Timers up to `now`. */
  handleTimeout(now: number): void {
    if (this.#state === "done") return;
    if (this.#ackAt !== undefined && now >= this.#ackAt) this.#sendAck(now);
    if (this.#lingerUntil !== undefined && now >= this.#lingerUntil) {
      this.#end({});
      return;
    }
    if (this.#nextRoundAt !== undefined && now >= this.#nextRoundAt) {
      this.#nextRoundAt = undefined;
      this.#sendRequest(now);
      return;
    }
    if (now >= this.#deadline) {
      this.#end({ failure: this.#silenceText() });
      return;
    }
    if (this.#retryAt !== undefined && now >= this.#retryAt) {
      if (this.#state === "ending") this.#sendEnd(now, false);
      else this.#sendRequest(now, false);
    }
  }

  /** The next control datagram for the server, or undefined. */
  pollTransmit(): Uint8Array | undefined {
    return this.#out.shift();
  }

  /** When `handleTimeout` must next be called, or undefined. */
  pollTimeout(): number | undefined {
    if (this.#state === "done") return undefined;
    let at = this.#lingerUntil ?? this.#nextRoundAt ?? this.#deadline;
    if (this.#retryAt !== undefined && this.#retryAt < at) at = this.#retryAt;
    if (this.#ackAt !== undefined && this.#ackAt < at) at = this.#ackAt;
    return at;
  }

  /** When the next upload DATA is due, or undefined when none waits. */
  dataDueAt(now: number): number | undefined {
    return this.#state === "transfer" ? this.source?.dueAt(now) : undefined;
  }

  /** Whether the server answered (for the progress line). */
  get answered(): boolean {
    return this.#answered;
  }

  #silenceText(): string {
    const s = `${this.options.timeoutMs / 1000} s`;
    switch (this.#state) {
      case "requesting":
        return this.options.request.kind === "echo" && this.#round > 0
          ? `no echo ${this.#round + 1} from the server within ${s}`
          : `no answer from the server within ${s}`;
      case "ending":
        return `no report from the server within ${s} of the end`;
      default:
        return `the server went silent for ${s} before the end marker; the report is partial`;
    }
  }

  #sendRequest(now: number, fresh = true): void {
    if (fresh) {
      this.#deadline = now + this.options.timeoutMs;
      this.#roundFirstSeq = this.#requests;
    }
    this.#out.push(encodeSegment({
      type: SegmentType.Request,
      run: this.options.run,
      seq: this.#requests++,
      total: 0,
      sent: now,
    }, this.#line));
    this.#retryAt = now + RETRY_MS;
  }

  #sendEnd(now: number, fresh = true): void {
    if (fresh) this.#deadline = now + this.options.timeoutMs;
    const figures = this.source!.figures;
    this.#out.push(
      this.#control(
        SegmentType.End,
        this.source!.total,
        now,
        encoder.encode(JSON.stringify(figures)),
      ),
    );
    this.#retryAt = now + RETRY_MS;
  }

  /** An ACK: seq is the segments received so far, total the run's. */
  #sendAck(now: number): void {
    const receiver = this.receiver!;
    this.#out.push(encodeSegment({
      type: SegmentType.Ack,
      run: this.options.run,
      seq: receiver.tally.received >>> 0,
      total: receiver.segments >>> 0,
      sent: now,
    }));
    this.#ackAt = now + ACK_INTERVAL_MS;
  }

  #control(type: SegmentTypeCode, seq: number, now: number, body?: Uint8Array): Uint8Array {
    return encodeSegment({ type, run: this.options.run, seq, total: seq, sent: now }, body);
  }

  #echoed(sent: number, body: Uint8Array, now: number): void {
    const request = this.options.request;
    if (request.kind !== "echo") return;
    this.#answered = true;
    if (decoder.decode(body) !== request.text) {
      this.#end({ failure: `echo ${this.#round + 1} came back different` });
      return;
    }
    this.#samples.push(now - sent);
    this.#round++;
    this.#retryAt = undefined;
    if (this.#round >= this.options.rounds) this.#end({});
    else {
      this.#roundFirstSeq = Number.MAX_SAFE_INTEGER; // nothing until the next round's send
      this.#deadline = Infinity;
      this.#nextRoundAt = now + this.options.echoIntervalMs;
    }
  }

  #end(how: Omit<ClientFinish, "answered">): void {
    this.#state = "done";
    this.#retryAt = undefined;
    this.#ackAt = undefined;
    this.#lingerUntil = undefined;
    this.#nextRoundAt = undefined;
    const finish: ClientFinish = { ...how, answered: this.#answered };
    if (this.receiver && finish.receiver === undefined) finish.receiver = this.receiver.report();
    if (this.source) finish.sender = this.source.figures;
    else if (this.#senderFigures) finish.sender = this.#senderFigures;
    if (this.options.request.kind === "echo") finish.echo = this.#echoFigures();
    this.finish = finish;
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

  /** The transfer asked for, if any (for the report). */
  get transfer(): TransferRequest | undefined {
    return this.#transfer;
  }
}

/** Parses a JSON body, or undefined when it is not JSON. */
export function parseJson<T>(body: Uint8Array): T | undefined {
  try {
    return JSON.parse(decoder.decode(body)) as T;
  } catch {
    return undefined;
  }
}
