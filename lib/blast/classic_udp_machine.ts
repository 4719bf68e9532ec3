/**
 * `pudp blast server --udp --classic`, as a pure state machine: the 2015
 * protocol (classic_wire.ts) over UDP.
 *
 * How this works: one datagram is one request.
 * - Any text is answered at once with one datagram, the text upper-cased
 *   (`echo`); nothing is kept.
 * - A file (`N`) or a stream (`stream-MS-C-S`) starts a run for the
 *   sender's address (IP and port): the file's `file_prepared` goes first
 *   ({@link pollTransmit}), then its bytes of `A` in datagrams of
 *   {@link CLASSIC_UDP_CHUNK} bytes, in bursts of {@link BURST}; a
 *   stream's chunks go one datagram each, the first at once and the next
 *   every MS ms (the pacing deadline is a timer). After the last datagram
 *   the run is over (`closed`, reason `complete`) and the server is silent.
 * - The protocol has no way to check that the sender receives at its
 *   address (anyone can ask for bytes to be sent to someone else), so the
 *   caps are the whole defence: a run moves at most `maxBytes` (more is
 *   `refused`, nothing sent), an address has one run at a time (a request
 *   during its run is `refused`), at most `maxRuns` go at once; the driver
 *   warns when bound to a non-loopback address.
 * - A datagram that is not a request is dropped (`dropped`, once per
 *   address among the last {@link ONCE_PER_PEER} addresses).
 * Runs are served round-robin, one datagram each in turn.
 *
 * Inputs: `handleDatagram(bytes, from, now)`, `handleTimeout(now)`,
 * `fillData(buf, view, now)`. Outputs: `pollTransmit()`, `pollTimeout()`,
 * events to the sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import type { BlastServerEvent } from "./events.ts";
 *
 * const events = new EventQueue<BlastServerEvent>();
 * const server = new ClassicUdpServer({ maxBytes: 1e6, maxRuns: 4 }, events);
 * const client = { hostname: "127.0.0.1", port: 40000 };
 * const text = (s: string) => new TextEncoder().encode(s);
 * const buf = new Uint8Array(65_536);
 * const view = new DataView(buf.buffer);
 *
 * server.handleDatagram(text("hello"), client, 0);
 * assert.deepEqual(server.pollTransmit(), { data: text("HELLO"), to: client });
 *
 * server.handleDatagram(text("1500"), client, 0);
 * assert.deepEqual(server.pollTransmit(), { data: text("file_prepared"), to: client });
 * assert.equal(server.fillData(buf, view, 0)?.length, 1024);
 * assert.equal(server.fillData(buf, view, 0)?.length, 476);
 * assert.equal(server.fillData(buf, view, 0), undefined); // done: silence
 * assert.equal(server.active, 0);
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import { formatAddress, type PeerAddress, type Transmit } from "../runtime/transmit.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import type { BlastServerEvent } from "./events.ts";
import { type BlastServerStats, newServerStats } from "./server_common.ts";
import {
  CLASSIC_FILL,
  CLASSIC_UDP_CHUNK,
  classicAnswerBytes,
  classicEchoAnswer,
  classicRefusal,
  type ClassicRequest,
  FILE_PREPARED_BYTES,
  formatClassicRequest,
  parseClassicRequest,
  previewBytes,
  WireError,
} from "./classic_wire.ts";
import { decodeHeader, emptyHeader } from "./wire.ts";

/**
 * A file's datagrams go in bursts of this many, {@link BURST_GAP_MS} apart
 * (32 KiB per ms, about 260 Mbit/s per run): the protocol has no flow
 * control, and a burst of a whole file overruns a receiver's socket buffer
 * even on loopback.
 */
export const BURST = 32;
/** The pause between bursts, in ms. */
export const BURST_GAP_MS = 1;

/** How many addresses {@link OncePerPeer} remembers. */
export const ONCE_PER_PEER = 1024;

/** Says yes once per address, among the last {@link ONCE_PER_PEER} it said yes to. */
export class OncePerPeer {
  readonly #seen = new Set<string>();

  /** Whether `peer` is new here (and remembers it). */
  first(peer: PeerAddress): boolean {
    const key = formatAddress(peer);
    if (this.#seen.has(key)) return false;
    if (this.#seen.size >= ONCE_PER_PEER) this.#seen.delete(this.#seen.values().next().value!);
    this.#seen.add(key);
    return true;
  }
}

/** What the classic UDP server is allowed. */
export interface ClassicUdpOptions {
  /** Most bytes of `A` one run sends. */
  maxBytes: number;
  /** Most runs at once. */
  maxRuns: number;
}

interface Run {
  key: string;
  name: string;
  peer: PeerAddress;
  request: ClassicRequest;
  /** Bytes of `A` still to send. */
  left: number;
  /** For a stream: when the next chunk is due. */
  timer: Timer<Run>;
  startedAt: number | undefined;
  lastAt: number;
  datagrams: number;
  bytes: number;
}

const encoder = new TextEncoder();

/** The classic UDP server. */
export class ClassicUdpServer {
  /** The summary line's counters. */
  readonly stats: BlastServerStats = newServerStats();
  readonly #runs = new Map<string, Run>();
  readonly #due = new Fifo<Run>();
  readonly #out = new Fifo<Transmit>();
  readonly #timers = new TimerTable<Run>();
  readonly #dropped = new OncePerPeer();
  #requests = 0;

  /** A server with `options`, reporting to `sink`. */
  constructor(readonly options: ClassicUdpOptions, readonly sink: EventSink<BlastServerEvent>) {}

  /** Runs going. */
  get active(): number {
    return this.#runs.size;
  }

  /** A datagram from `from` (a view: copied where kept). */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    const peer = { hostname: from.hostname, port: from.port };
    let request: ClassicRequest;
    try {
      request = parseClassicRequest(bytes);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      if (this.#dropped.first(peer)) {
        const first_bytes = previewBytes(bytes);
        this.sink.emit(
          isBlast(bytes)
            ? {
              event: "dropped",
              peer,
              reason: "a blast request, not classic",
              first_bytes,
              hint: "a blast client without --classic; this server speaks only the 2015 protocol",
            }
            : {
              event: "dropped",
              peer,
              reason: `not a classic request: ${e.message}`,
              first_bytes,
            },
        );
      }
      return;
    }
    const name = `#${++this.#requests}`;
    if (request.kind === "echo") {
      this.stats.echoes++;
      this.sink.emit({ event: "echo", peer, run: name, text: request.text });
      this.#out.push({ data: encoder.encode(classicEchoAnswer(request.text)), to: peer });
      return;
    }
    const refused = classicRefusal(request, this.options.maxBytes) ??
      (this.#runs.has(formatAddress(peer))
        ? "a run for this address is going"
        : this.#runs.size >= this.options.maxRuns
        ? `${this.#runs.size} runs are going (--max-runs)`
        : undefined);
    if (refused !== undefined) {
      this.stats.refused++;
      this.sink.emit({ event: "refused", peer, run: name, reason: refused });
      return;
    }
    this.stats.runs++;
    this.sink.emit({ event: "request", peer, run: name, request: formatClassicRequest(request) });
    const run: Run = {
      key: formatAddress(peer),
      name,
      peer,
      request,
      left: classicAnswerBytes(request),
      timer: undefined as unknown as Timer<Run>,
      startedAt: undefined,
      lastAt: now,
      datagrams: 0,
      bytes: 0,
    };
    run.timer = new Timer(run);
    this.#runs.set(run.key, run);
    if (request.kind === "file") this.#out.push({ data: FILE_PREPARED_BYTES, to: peer });
    if (run.left === 0) return this.#close(run, "complete");
    this.#due.push(run);
  }

  /** The deadlines: stream chunks that are due. */
  handleTimeout(now: number): void {
    for (let run = this.#timers.popDue(now); run; run = this.#timers.popDue(now)) {
      if (this.#runs.get(run.key) === run) this.#due.push(run);
    }
  }

  /** When the next stream chunk is due, or undefined. */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /** The next answer that is not a run's bytes (echoes, `file_prepared`), or undefined. */
  pollTransmit(): Transmit | undefined {
    return this.#out.shift();
  }

  /** The next datagram of `A` due at `now`, written into `buf`, or undefined. */
  fillData(
    buf: Uint8Array,
    _view: DataView,
    now: number,
  ): { length: number; to: PeerAddress } | undefined {
    for (let run = this.#due.shift(); run; run = this.#due.shift()) {
      if (this.#runs.get(run.key) !== run) continue; // closed meanwhile
      const r = run.request;
      const n = Math.min(run.left, r.kind === "stream" ? r.size : CLASSIC_UDP_CHUNK);
      buf.fill(CLASSIC_FILL, 0, n);
      run.startedAt ??= now;
      run.lastAt = now;
      run.left -= n;
      run.bytes += n;
      run.datagrams++;
      this.stats.bytesSent += n;
      const to = run.peer;
      if (run.left === 0) this.#close(run, "complete");
      else if (r.kind === "stream" && r.intervalMs > 0) {
        this.#timers.set(run.timer, run.startedAt + run.datagrams * r.intervalMs);
      } else if (r.kind === "file" && run.datagrams % BURST === 0) {
        this.#timers.set(run.timer, now + BURST_GAP_MS);
      } else this.#due.push(run);
      return { length: n, to };
    }
    return undefined;
  }

  /** The server stops: every run ends (`closed`, reason `shutdown`). */
  shutdown(): void {
    for (const run of [...this.#runs.values()]) this.#close(run, "shutdown");
  }

  #close(run: Run, reason: string): void {
    this.#runs.delete(run.key);
    this.#timers.clear(run.timer);
    const seconds = run.startedAt === undefined ? 0 : (run.lastAt - run.startedAt) / 1000;
    this.sink.emit({
      event: "closed",
      peer: run.peer,
      run: run.name,
      reason,
      sent: { segments: run.datagrams, bytes: run.bytes, seconds },
    });
  }
}

/** Whether `bytes` starts with a blast segment header (a client without `--classic`). */
function isBlast(bytes: Uint8Array): boolean {
  try {
    decodeHeader(bytes, emptyHeader());
    return true;
  } catch {
    return false;
  }
}
