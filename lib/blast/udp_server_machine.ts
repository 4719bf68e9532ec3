/**
 * The server side of blast over UDP, as a pure state machine.
 *
 * How this works: a run is one client address and the run id its REQUEST
 * carries; any number run at once.
 * - A REQUEST is parsed (a bad one, or one over `maxBytes`, gets REFUSE
 *   with the reason: see {@link refusal}). ECHO is answered at once and keeps no state. GET and
 *   PUT start a run and get ACCEPT; a repeated REQUEST of a known run gets
 *   the same answer again and changes nothing.
 * - GET: the driver takes DATA from {@link fillData}, round-robin over the
 *   runs whose next segment is due. After the last, END goes at once and
 *   every {@link RETRY_MS} until END_ACK, at most {@link END_TRIES} times.
 * - PUT: DATA goes to a {@link SegmentReceiver}. At END the REPORT goes
 *   back (after {@link LINGER_MS} when segments are missing, for late ones);
 *   every later END gets the same REPORT again.
 * - A run whose client is silent for `idleMs` is closed; a finished run is
 *   remembered for `idleMs` more, so that late copies of its REQUEST or END
 *   are answered and start nothing.
 * Every run ends with a `closed` event with its reason and figures.
 *
 * Inputs: `handleDatagram(bytes, from, now)`, `handleTimeout(now)`,
 * `fillData(buf, view, now)`. Outputs: `pollTransmit()`, `pollTimeout()`,
 * events to the sink. Times are ms on the epoch clock.
 *
 * @example
 * ```ts
 * import { EventQueue } from "../events/sink.ts";
 * import type { BlastServerEvent } from "./events.ts";
 * import { encodeSegment, SegmentType } from "./wire.ts";
 *
 * const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 5000 }, new EventQueue<BlastServerEvent>());
 * const line = new TextEncoder().encode("ECHO hello");
 * const header = { type: SegmentType.Request, run: 7, seq: 0, total: 0, sent: 0 };
 * const request = encodeSegment(header, line);
 * server.handleDatagram(request, { hostname: "127.0.0.1", port: 40000 }, 0);
 * server.pollTransmit(); // the echo back to the client
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import { formatAddress, type PeerAddress, type Transmit } from "../net/transmit.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import type { BlastServerEvent } from "./events.ts";
import { SegmentReceiver } from "./receiver.ts";
import { SegmentSource } from "./segment_source.ts";
import { LINGER_MS, RETRY_MS } from "./udp_client_machine.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  parseRequest,
  type Request,
  requestBytes,
  SEGMENT_HEADER,
  type SegmentHeader,
  SegmentType,
  type SegmentTypeCode,
  WireError,
} from "./wire.ts";

/** Most times the END of a GET is sent without an acknowledgement. */
export const END_TRIES = 25;

/** What the server was asked to do. */
export interface UdpServerOptions {
  /** The largest transfer, in bytes. */
  maxBytes: number;
  /** A run whose client is silent this long is closed (and a finished one forgotten). */
  idleMs: number;
}

/** Counters for the summary line. */
export interface BlastServerStats {
  /** Transfer runs accepted. */
  runs: number;
  /** Echo requests answered. */
  echoes: number;
  /** Requests refused. */
  refused: number;
  /** Payload bytes sent (downloads). */
  bytesSent: number;
  /** Payload bytes received (uploads). */
  bytesReceived: number;
}

type Due = { kind: "idle" | "retry" | "forget"; run: Run };

interface Run {
  key: string;
  name: string;
  id: number;
  peer: PeerAddress;
  source?: SegmentSource;
  receiver?: SegmentReceiver;
  /** END sends so far (GET). */
  endTries: number;
  /** The REPORT, once made (PUT). */
  report?: Uint8Array;
  finished: boolean;
  timer: Timer<Due>;
  retry: Timer<Due>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Text for refusing a request over the limit (`what`: the request's amount, `bytes` by default). */
export function overLimitText(bytes: number, maxBytes: number, what = `${bytes} bytes`): string {
  return `${what} is over this server's limit of ${maxBytes} bytes (--max-bytes)`;
}

/**
 * Checks a parsed request against the limit: the refusal text, or
 * undefined. Every kind is bounded ({@link requestBytes}): a segment stream
 * by count × size, headers included (so `count=4294967294 size=24` is 103 GB,
 * not 0 bytes of payload), a transfer by its bytes, an echo by its text. A
 * segment must hold its header, and a transfer of bytes some payload too.
 */
export function refusal(request: Request, maxBytes: number): string | undefined {
  if (request.kind === "transfer") {
    if (request.size < SEGMENT_HEADER) {
      return `size=${request.size} is smaller than the ${SEGMENT_HEADER}-byte segment header`;
    }
    if (request.bytes !== undefined && request.bytes > 0 && request.size <= SEGMENT_HEADER) {
      return `size=${request.size} leaves no room for payload after the ${SEGMENT_HEADER}-byte header`;
    }
    if (request.count !== undefined) {
      const total = requestBytes(request);
      if (total > maxBytes) {
        const what = `${request.count} segments of ${request.size} bytes (${total} bytes)`;
        return overLimitText(total, maxBytes, what);
      }
      return undefined;
    }
  }
  const bytes = requestBytes(request);
  if (bytes <= maxBytes) return undefined;
  return request.kind === "echo"
    ? overLimitText(bytes, maxBytes, `an echo of ${bytes} bytes`)
    : overLimitText(bytes, maxBytes);
}

/** The runs of one UDP blast server. */
export class BlastUdpServer {
  /** Counters since the start, for the summary line. */
  readonly stats: BlastServerStats = {
    runs: 0,
    echoes: 0,
    refused: 0,
    bytesSent: 0,
    bytesReceived: 0,
  };
  readonly #runs = new Map<string, Run>();
  /** GET runs with segments left, in round-robin order. */
  readonly #sending: Run[] = [];
  #turn = 0;
  readonly #out = new Fifo<Transmit>();
  readonly #timers = new TimerTable<Due>();
  readonly #header = emptyHeader();

  /** A server with no runs yet; events go to `sink`. */
  constructor(
    readonly options: UdpServerOptions,
    readonly sink: EventSink<BlastServerEvent>,
  ) {}

  /** A datagram from `from` (a view: copied where kept). */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    let h: SegmentHeader;
    try {
      h = decodeHeader(bytes, this.#header);
    } catch (e) {
      if (e instanceof WireError) return; // not blast: dropped
      throw e;
    }
    const key = `${formatAddress(from)}/${h.run}`;
    const run = this.#runs.get(key);
    const body = bytes.subarray(SEGMENT_HEADER);
    if (h.type === SegmentType.Request) {
      if (run) {
        if (!run.finished) this.#send(run, SegmentType.Accept, 0, now);
        return;
      }
      this.#request(h.run, key, { hostname: from.hostname, port: from.port }, body, h, now);
      return;
    }
    if (!run) return;
    if (!run.finished) this.#timers.set(run.timer, now + this.options.idleMs);
    if (run.receiver) {
      if (h.type === SegmentType.Data && !run.finished) {
        if (run.receiver.handleData(h, body, now)) {
          this.stats.bytesReceived += body.length;
        }
      } else if (h.type === SegmentType.End) {
        if (run.report) {
          this.#out.push({ data: run.report, to: run.peer });
        } else {
          run.receiver.handleEnd(h.total);
          if (run.receiver.complete) this.#report(run, now);
          else if (!run.retry.armed) this.#timers.set(run.retry, now + LINGER_MS);
        }
      }
    } else if (run.source && h.type === SegmentType.EndAck && !run.finished) {
      this.#close(run, "complete", now);
    }
  }

  /**
   * The next GET segment due at `now`, written into `buf` (with `view` over
   * it): its length and where it goes, or undefined when none is due.
   */
  fillData(
    buf: Uint8Array,
    view: DataView,
    now: number,
  ): { length: number; to: PeerAddress } | undefined {
    for (let tries = this.#sending.length; tries > 0; tries--) {
      if (this.#turn >= this.#sending.length) this.#turn = 0;
      const run = this.#sending[this.#turn];
      const length = run.source!.fill(buf, view, now);
      if (length === 0) {
        this.#turn++;
        continue;
      }
      this.stats.bytesSent += length - SEGMENT_HEADER;
      if (run.source!.done) {
        this.#sending.splice(this.#turn, 1);
        this.#sendEnd(run, now);
      } else {
        this.#turn++;
      }
      return { length, to: run.peer };
    }
    return undefined;
  }

  /** The earliest time a GET segment is due, or undefined when none waits. */
  dataDueAt(now: number): number | undefined {
    let at: number | undefined;
    for (const run of this.#sending) {
      const due = run.source!.dueAt(now);
      if (due !== undefined && (at === undefined || due < at)) at = due;
    }
    return at;
  }

  /** Timers up to `now`. */
  handleTimeout(now: number): void {
    for (let due = this.#timers.popDue(now); due; due = this.#timers.popDue(now)) {
      const run = due.run;
      switch (due.kind) {
        case "idle":
          this.#close(run, "client went silent", now);
          break;
        case "forget":
          this.#runs.delete(run.key);
          break;
        case "retry":
          if (run.receiver) this.#report(run, now); // the linger ended
          else if (run.endTries >= END_TRIES) this.#close(run, "end not acknowledged", now);
          else this.#sendEnd(run, now);
          break;
      }
    }
  }

  /** The next datagram to send, or undefined. */
  pollTransmit(): Transmit | undefined {
    return this.#out.shift();
  }

  /** When `handleTimeout` must next be called, or undefined. */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /** Runs not finished yet. */
  get active(): number {
    let n = 0;
    for (const run of this.#runs.values()) if (!run.finished) n++;
    return n;
  }

  /** Closes every run (the server stops). */
  shutdown(now: number): void {
    for (const run of [...this.#runs.values()]) {
      if (!run.finished) this.#close(run, "shutdown", now);
    }
  }

  #request(
    id: number,
    key: string,
    peer: PeerAddress,
    body: Uint8Array,
    h: SegmentHeader,
    now: number,
  ) {
    const name = `0x${id.toString(16).padStart(8, "0")}`;
    let request: Request;
    try {
      request = parseRequest(decoder.decode(body));
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.#refuse(id, name, peer, e.message, now);
      return;
    }
    const refused = refusal(request, this.options.maxBytes);
    if (refused !== undefined) {
      this.#refuse(id, name, peer, refused, now);
      return;
    }
    if (request.kind === "echo") {
      this.stats.echoes++;
      this.sink.emit({ event: "echo", peer, run: name, text: request.text });
      this.#out.push({
        data: encodeSegment(
          { type: SegmentType.Echo, run: id, seq: h.seq, total: 0, sent: h.sent },
          body.subarray(5),
        ),
        to: peer,
      });
      return;
    }
    const run = { key, name, id, peer, endTries: 0, finished: false } as Run;
    run.timer = new Timer<Due>({ kind: "idle", run });
    run.retry = new Timer<Due>({ kind: "retry", run });
    if (request.direction === "get") {
      run.source = new SegmentSource(request, id);
      this.#sending.push(run);
    } else {
      run.receiver = new SegmentReceiver(request);
    }
    this.#runs.set(key, run);
    this.stats.runs++;
    this.#timers.set(run.timer, now + this.options.idleMs);
    this.sink.emit({ event: "request", peer, run: name, request: decoder.decode(body) });
    this.#send(run, SegmentType.Accept, 0, now);
    if (run.source?.done) {
      this.#sending.pop();
      this.#sendEnd(run, now);
    }
  }

  #refuse(id: number, name: string, peer: PeerAddress, reason: string, now: number): void {
    this.stats.refused++;
    this.sink.emit({ event: "refused", peer, run: name, reason });
    this.#out.push({
      data: encodeSegment(
        { type: SegmentType.Refuse, run: id, seq: 0, total: 0, sent: now },
        encoder.encode(reason),
      ),
      to: peer,
    });
  }

  #send(run: Run, type: SegmentTypeCode, seq: number, now: number, body?: Uint8Array): void {
    this.#out.push({
      data: encodeSegment({ type, run: run.id, seq, total: seq, sent: now }, body),
      to: run.peer,
    });
  }

  #sendEnd(run: Run, now: number): void {
    const source = run.source!;
    run.endTries++;
    this.#send(
      run,
      SegmentType.End,
      source.total,
      now,
      encoder.encode(JSON.stringify(source.figures)),
    );
    this.#timers.set(run.retry, now + RETRY_MS);
  }

  #report(run: Run, now: number): void {
    const report = run.receiver!.report();
    run.report = encodeSegment(
      { type: SegmentType.Report, run: run.id, seq: 0, total: 0, sent: now },
      encoder.encode(JSON.stringify(report)),
    );
    this.#out.push({ data: run.report, to: run.peer });
    this.#close(run, "complete", now);
  }

  #close(run: Run, reason: string, now: number): void {
    run.finished = true;
    this.#timers.clear(run.retry);
    const at = this.#sending.indexOf(run);
    if (at >= 0) this.#sending.splice(at, 1);
    run.timer.owner.kind = "forget";
    this.#timers.set(run.timer, now + this.options.idleMs);
    this.sink.emit({
      event: "closed",
      peer: run.peer,
      run: run.name,
      reason,
      ...(run.source ? { sent: run.source.figures } : { received: run.receiver!.report() }),
    });
  }
}
