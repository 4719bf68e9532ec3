/**
 * The server side of blast over UDP, as a pure state machine.
 *
 * How this works: a run is one client address and the run id its REQUEST
 * carries; at most `maxRuns` run at once, one per address.
 * - A REQUEST is parsed (a bad one, or one over `maxBytes`, gets REFUSE
 *   with the reason: see `refusal` in wire.ts). ECHO is answered at once and keeps no state. GET and
 *   PUT start a run and get ACCEPT; a repeated REQUEST of a known run gets
 *   the same answer again and changes nothing.
 * - Address validation (the server is never a weapon): a GET or PUT
 *   starts a run only when it carries `token=T`, the token this server
 *   gives that address in a CHALLENGE: a keyed hash (HMAC-SHA-256 with the
 *   `secret` given at construction) of the address and a
 *   {@link TOKEN_SLOT_MS} time slot (this one or the one before), so only a
 *   client that receives at the address can echo it, and the server keeps
 *   no state for an address that has not. Until then every answer (REFUSE,
 *   ECHO, CHALLENGE) is stateless and at most {@link AMPLIFICATION} times
 *   the datagram it answers, counted on the wire with the IP and UDP
 *   headers ({@link wireOverhead}); a refusal's text is cut to fit.
 * - Caps: a validated request while `maxRuns` runs are going, or while the
 *   same address (IP and port) has a run going, is refused.
 * - GET: the driver takes DATA from {@link BlastUdpServer.fillData},
 *   round-robin over the runs whose next segment is due, only while the
 *   receiver proves it is
 *   there: a run that gets no ACK (nor any other datagram) from its client
 *   for `ackTimeoutMs` is closed, reason `receiver silent`. When no segment
 *   is due, the next one's time is a deadline like the others (the pacing
 *   timer): `pollTimeout()` covers it, so the driver's one alarm wakes the
 *   sending again. After the last DATA, END goes at once and every
 *   `RETRY_MS` until END_ACK, at most {@link END_TRIES} times.
 * - PUT: DATA goes to a {@link SegmentReceiver}. At END the REPORT goes
 *   back (after `LINGER_MS` when segments are missing, for late ones);
 *   every later END gets the same REPORT again.
 * - A timed run (`time=MS`, `--time`) is bounded by `maxBytes`
 *   (`timedBound` in wire.ts): its ACCEPT's seq and total are the most
 *   segments it may have; a GET ends its time or at that bound (then its
 *   `closed` reason is {@link CUT_BY_LIMIT}), its END saying how many went.
 * - A run whose client is silent for `idleMs` is closed; a finished run is
 *   remembered for `idleMs` more, so that late copies of its REQUEST or END
 *   are answered and start nothing.
 * Every run ends with a `closed` event with its reason and figures. Every
 * deadline is on one {@link TimerTable}.
 *
 * Inputs: `handleDatagram(bytes, from, now)`, `handleTimeout(now)`,
 * `fillData(buf, view, now)`. Outputs: `pollTransmit()`, `pollTimeout()`,
 * events to the sink. Times are ms on the epoch clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import type { BlastServerEvent } from "./events.ts";
 * import { encodeSegment, SegmentType } from "./wire.ts";
 *
 * const secret = new Uint8Array(32); // random in the driver
 * const events = new EventQueue<BlastServerEvent>();
 * const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 5000, secret }, events);
 * const client = { hostname: "127.0.0.1", port: 40000 };
 * const text = (s: string) => new TextEncoder().encode(s);
 * const header = { type: SegmentType.Request, run: 7, seq: 0, total: 0, sent: 0 };
 *
 * server.handleDatagram(encodeSegment(header, text("ECHO hello")), client, 0);
 * assert.deepEqual(server.pollTransmit(), { // the echo back to the client
 *   data: encodeSegment({ ...header, type: SegmentType.Echo }, text("hello")),
 *   to: client,
 * });
 * const echoed = { event: "echo", peer: client, run: "0x00000007", text: "hello" };
 * assert.deepEqual(events.poll(), echoed);
 *
 * // A transfer without a token gets a CHALLENGE: the token to repeat the request with.
 * server.handleDatagram(encodeSegment(header, text("GET bytes=1000")), client, 0);
 * const token = server.tokenFor(client, 0);
 * assert.deepEqual(server.pollTransmit(), {
 *   data: encodeSegment({ ...header, type: SegmentType.Challenge }, text(token)),
 *   to: client,
 * });
 * assert.equal(server.active, 0); // no run yet
 * server.handleDatagram(encodeSegment(header, text(`GET bytes=1000 token=${token}`)), client, 0);
 * assert.deepEqual(server.pollTransmit(), {
 *   data: encodeSegment({ ...header, type: SegmentType.Accept }),
 *   to: client,
 * });
 * assert.equal(server.active, 1); // the run goes: DATA from fillData()
 * ```
 *
 * @module
 */

import { createHmac, timingSafeEqual } from "node:crypto";
import type { EventSink } from "../events/sink.ts";
import { formatAddress, type PeerAddress, type Transmit } from "../runtime/transmit.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import type { BlastServerEvent } from "./events.ts";
import { SegmentReceiver } from "./receiver.ts";
import { OncePerPeer } from "./classic_udp_machine.ts";
import { looksClassic, previewBytes } from "./classic_wire.ts";
import { SegmentSource } from "./segment_source.ts";
import { type BlastServerStats, newServerStats } from "./server_common.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  LINGER_MS,
  parseRequest,
  refusal,
  type Request,
  RETRY_MS,
  SEGMENT_HEADER,
  type SegmentHeader,
  SegmentType,
  type SegmentTypeCode,
  timedBound,
  WireError,
} from "./wire.ts";

/** The `closed` reason of a timed run (`--time`) that this server's `--max-bytes` ended. */
export const CUT_BY_LIMIT = "cut by --max-bytes";

/** Most times the END of a GET is sent without an acknowledgement. */
export const END_TRIES = 25;

/** An unvalidated address gets at most this many times the bytes it sent (QUIC's rule). */
export const AMPLIFICATION = 3;

/** A token is good in the time slot it was made in and the next one. */
export const TOKEN_SLOT_MS = 10_000;

/** Default `maxRuns` (`--max-runs`). */
export const DEFAULT_MAX_RUNS = 64;

/** Default `ackTimeoutMs`: a GET whose receiver is silent this long is stopped. */
export const ACK_TIMEOUT_MS = 1000;

/** IP and UDP header bytes of one datagram to or from `hostname` (IPv6: 48, IPv4: 28). */
export function wireOverhead(hostname: string): number {
  return hostname.includes(":") ? 48 : 28;
}

/** What the server was asked to do. */
export interface UdpServerOptions {
  /** The largest transfer, in bytes. */
  maxBytes: number;
  /** A run whose client is silent this long is closed (and a finished one forgotten). */
  idleMs: number;
  /** The key of the address tokens (random per process; fixed in tests). */
  secret: Uint8Array;
  /** Most runs going at once (default {@link DEFAULT_MAX_RUNS}). */
  maxRuns?: number;
  /** A GET whose client sends nothing this long is closed (default {@link ACK_TIMEOUT_MS}). */
  ackTimeoutMs?: number;
}

/** A run's deadline: its client's silence, a resend or linger, or forgetting it. */
type RunDue = { kind: "idle" | "retry" | "forget"; run: Run };

/** What a timer is for: a run's deadline, or the next GET segment (pacing). */
type Due = RunDue | { kind: "pace" };

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
  /** The ACCEPT's seq and total: a timed run's bound in segments (`--time`), else 0. */
  acceptSeq: number;
  /** A timed PUT whose client's END says this server's limit ended it. */
  limited?: boolean;
  timer: Timer<RunDue>;
  retry: Timer<RunDue>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The runs of one UDP blast server. */
export class BlastUdpServer {
  /** Counters since the start, for the summary line. */
  readonly stats: BlastServerStats = newServerStats();
  readonly #runs = new Map<string, Run>();
  /** GET runs with segments left, in round-robin order. */
  readonly #sending: Run[] = [];
  #turn = 0;
  readonly #out = new Fifo<Transmit>();
  readonly #timers = new TimerTable<Due>();
  /** When the next GET segment is due, armed while none is. */
  readonly #pace = new Timer<Due>({ kind: "pace" });
  readonly #header = emptyHeader();
  /** Unfinished runs by address (IP and port): one each. */
  readonly #byAddress = new Map<string, Run>();
  readonly #maxRuns: number;
  readonly #ackTimeoutMs: number;

  /** A server with no runs yet; events go to `sink`. */
  constructor(
    readonly options: UdpServerOptions,
    readonly sink: EventSink<BlastServerEvent>,
  ) {
    this.#maxRuns = options.maxRuns ?? DEFAULT_MAX_RUNS;
    this.#ackTimeoutMs = options.ackTimeoutMs ?? ACK_TIMEOUT_MS;
  }

  /** The token of `peer` in the time slot `slot` (hex, 128 bits of HMAC-SHA-256). */
  tokenFor(peer: PeerAddress, slot: number): string {
    return createHmac("sha256", this.options.secret)
      .update(`${slot} ${peer.hostname} ${peer.port}`)
      .digest("hex")
      .slice(0, 32);
  }

  /** Whether `token` is `peer`'s, of the slot of `now` or the one before. */
  #validToken(token: string | undefined, peer: PeerAddress, now: number): boolean {
    if (token === undefined || token.length !== 32) return false;
    const slot = Math.floor(now / TOKEN_SLOT_MS);
    const given = encoder.encode(token);
    return [slot, slot - 1].some((s) =>
      timingSafeEqual(encoder.encode(this.tokenFor(peer, s)), given)
    );
  }

  /** A datagram that is not blast: `dropped`, once per address (with a hint when it is classic). */
  #foreign(bytes: Uint8Array, from: PeerAddress): void {
    if (!this.#foreignPeers.first(from)) return;
    this.sink.emit({
      event: "dropped",
      peer: { hostname: from.hostname, port: from.port },
      reason: "not blast",
      first_bytes: previewBytes(bytes),
      ...(looksClassic(bytes) ? { hint: "looks like a classic blast request: try --classic" } : {}),
    });
  }
  readonly #foreignPeers = new OncePerPeer();

  /** A datagram from `from` (a view: copied where kept). */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    let h: SegmentHeader;
    try {
      h = decodeHeader(bytes, this.#header);
    } catch (e) {
      if (e instanceof WireError) return this.#foreign(bytes, from); // not blast: dropped
      throw e;
    }
    const key = `${formatAddress(from)}/${h.run}`;
    const run = this.#runs.get(key);
    const body = bytes.subarray(SEGMENT_HEADER);
    if (h.type === SegmentType.Request) {
      if (run) {
        if (!run.finished) {
          this.#timers.set(run.timer, now + this.#silence(run));
          this.#send(run, SegmentType.Accept, run.acceptSeq, now);
        }
        return;
      }
      const peer = { hostname: from.hostname, port: from.port };
      this.#request(h.run, key, peer, body, h, bytes.length, now);
      return;
    }
    if (!run) return;
    if (!run.finished) this.#timers.set(run.timer, now + this.#silence(run));
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
          // --time: the client's END says whether this server's limit ended its sending.
          run.limited = run.acceptSeq > 0 && /"limited":true/.test(decoder.decode(body));
          if (run.receiver.complete) this.#report(run, now);
          else if (!run.retry.armed) this.#timers.set(run.retry, now + LINGER_MS);
        }
      }
    } else if (run.source && h.type === SegmentType.EndAck && !run.finished) {
      this.#close(run, run.source.limited ? CUT_BY_LIMIT : "complete", now);
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
        if (run.source!.done) { // a timed run whose time is up
          this.#sending.splice(this.#turn, 1);
          this.#sendEnd(run, now);
        } else this.#turn++;
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
    this.#paceAt(now);
    return undefined;
  }

  /** None is due at `now`: the pacing timer goes to the earliest next segment, if any. */
  #paceAt(now: number): void {
    let at: number | undefined;
    for (const run of this.#sending) {
      const due = run.source!.dueAt(now);
      if (due !== undefined && (at === undefined || due < at)) at = due;
    }
    if (at === undefined) this.#timers.clear(this.#pace);
    else this.#timers.set(this.#pace, at);
  }

  /** Timers up to `now` (the pacing timer needs nothing: the driver's drain sends what is due). */
  handleTimeout(now: number): void {
    for (let due = this.#timers.popDue(now); due; due = this.#timers.popDue(now)) {
      if (due.kind === "pace") continue;
      const run = due.run;
      switch (due.kind) {
        case "idle":
          this.#close(run, this.#sendingData(run) ? "receiver silent" : "client went silent", now);
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
    return this.#byAddress.size;
  }

  /** Whether `run` is a GET with DATA still to send (its receiver must keep acknowledging). */
  #sendingData(run: Run): boolean {
    return run.source !== undefined && !run.source.done;
  }

  /** How long `run`'s client may be silent before the run is closed. */
  #silence(run: Run): number {
    return this.#sendingData(run)
      ? Math.min(this.#ackTimeoutMs, this.options.idleMs)
      : this.options.idleMs;
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
    received: number,
    now: number,
  ) {
    const name = `0x${id.toString(16).padStart(8, "0")}`;
    let request: Request;
    try {
      request = parseRequest(decoder.decode(body));
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.#refuse(id, name, peer, e.message, received, now);
      return;
    }
    const refused = refusal(request, this.options.maxBytes);
    if (refused !== undefined) {
      this.#refuse(id, name, peer, refused, received, now);
      return;
    }
    if (request.kind === "echo") {
      this.stats.echoes++;
      this.sink.emit({ event: "echo", peer, run: name, text: request.text });
      const echo = { type: SegmentType.Echo, run: id, seq: h.seq, total: 0, sent: h.sent } as const;
      this.#answer(echo, body.subarray(5), peer, received);
      return;
    }
    if (!this.#validToken(request.token, peer, now)) {
      this.stats.challenges++;
      const token = this.tokenFor(peer, Math.floor(now / TOKEN_SLOT_MS));
      const challenge = { type: SegmentType.Challenge, run: id, seq: h.seq, total: 0, sent: now };
      this.#answer(challenge, encoder.encode(token), peer, received);
      return;
    }
    const address = formatAddress(peer);
    if (this.#byAddress.has(address)) {
      const reason = `a run from ${address} is already going (one at a time per address)`;
      this.#refuse(id, name, peer, reason, received, now);
      return;
    }
    if (this.#byAddress.size >= this.#maxRuns) {
      const reason = `busy: ${this.#maxRuns} runs going, this server's limit (--max-runs)`;
      this.#refuse(id, name, peer, reason, received, now);
      return;
    }
    // --time: the run may move what the limit holds, and the ACCEPT says how many segments.
    const bounded = timedBound(request, this.options.maxBytes, true);
    const acceptSeq = request.timeMs === undefined ? 0 : bounded.count!;
    const run = { key, name, id, peer, endTries: 0, finished: false, acceptSeq } as Run;
    run.timer = new Timer<RunDue>({ kind: "idle", run });
    run.retry = new Timer<RunDue>({ kind: "retry", run });
    if (request.direction === "get") {
      run.source = new SegmentSource(bounded, id);
      this.#sending.push(run);
    } else {
      run.receiver = new SegmentReceiver(bounded);
    }
    this.#runs.set(key, run);
    this.#byAddress.set(address, run);
    this.stats.runs++;
    this.#timers.set(run.timer, now + this.#silence(run));
    const line = decoder.decode(body).replace(/ token=[0-9a-f]*/, "");
    this.sink.emit({ event: "request", peer, run: name, request: line });
    this.#send(run, SegmentType.Accept, acceptSeq, now);
    if (run.source?.done) {
      this.#sending.pop();
      this.#sendEnd(run, now);
    }
  }

  #refuse(
    id: number,
    name: string,
    peer: PeerAddress,
    reason: string,
    received: number,
    now: number,
  ): void {
    this.stats.refused++;
    this.sink.emit({ event: "refused", peer, run: name, reason });
    const refuse = { type: SegmentType.Refuse, run: id, seq: 0, total: 0, sent: now } as const;
    this.#answer(refuse, encoder.encode(reason), peer, received);
  }

  /**
   * A stateless answer to a datagram of `received` bytes from `peer` (not
   * validated): with the IP and UDP headers it is at most
   * {@link AMPLIFICATION} times that datagram, its body cut to fit.
   */
  #answer(h: SegmentHeader, body: Uint8Array, peer: PeerAddress, received: number): void {
    const overhead = wireOverhead(peer.hostname);
    const room = AMPLIFICATION * (received + overhead) - overhead - SEGMENT_HEADER;
    if (room < 0) return;
    this.#out.push({ data: encodeSegment(h, body.subarray(0, room)), to: peer });
  }

  #send(run: Run, type: SegmentTypeCode, seq: number, now: number, body?: Uint8Array): void {
    this.#out.push({
      data: encodeSegment({ type, run: run.id, seq, total: seq, sent: now }, body),
      to: run.peer,
    });
  }

  #sendEnd(run: Run, now: number): void {
    const source = run.source!;
    if (run.endTries === 0) this.#timers.set(run.timer, now + this.options.idleMs);
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
    this.#close(run, run.limited ? CUT_BY_LIMIT : "complete", now);
  }

  #close(run: Run, reason: string, now: number): void {
    run.finished = true;
    const address = formatAddress(run.peer);
    if (this.#byAddress.get(address) === run) this.#byAddress.delete(address);
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
