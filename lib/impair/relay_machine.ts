/**
 * The state machine of `pudp impair`: a UDP relay that injects seeded
 * faults, as a pure object (no sockets, no clock).
 *
 * How this works: each client address is a flow, numbered in order of its
 * first datagram; the driver gives it its own upstream socket, so replies
 * can be told apart. Every datagram that arrives, either way, gets a
 * decision from {@link decide} (by flow, direction and its number in that
 * direction) and one log record, an event like every server's `--json`
 * line (docs/events.md):
 * - `dropped`: not forwarded;
 * - `duplicated`: forwarded twice, back to back;
 * - `reordered`: held back until the next datagram of its flow and direction
 *   has been forwarded, or {@link REORDER_HOLD_MS} has passed (a second
 *   record, `released`, says which);
 * - `passed`: forwarded;
 * - `refused`: from a new client while `maxFlows` flows are open.
 * A delay (and jitter) puts the datagram on a timer; with jitter,
 * datagrams can overtake one another, as they do in netem. Every wait
 * (delays, holds, each flow's idle time) is a {@link Timer} in one
 * {@link TimerTable}.
 *
 * Inputs: `handleDatagram(direction, bytes, client, now)`,
 * `handleTimeout(now)`. Outputs: `pollTransmit()`, `pollLog()`,
 * `pollClosedFlow()` (flows idle for `idleMs`, whose socket the driver
 * closes) and `pollTimeout()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { NO_FAULTS } from "./fault_plan.ts";
 *
 * const relay = new RelayMachine({ ...NO_FAULTS, magic: 0xc356, maxFlows: 10, idleMs: 30_000 }, 0);
 * const client = { hostname: "127.0.0.1", port: 40000 };
 * const data = new Uint8Array([1, 2, 3]);
 * relay.handleDatagram("up", data, client, 0);
 * // Send it to the server, from the socket of the client's flow:
 * const flow = "127.0.0.1:40000";
 * assert.deepEqual(relay.pollTransmit(), { direction: "up", flow, client, data });
 * assert.deepEqual(
 *   relay.pollLog(),
 *   { event: "passed", peer: client, direction: "up", datagram: 0, bytes: 3 },
 * );
 * assert.equal(relay.pollTimeout(), 30_000); // the flow closes if idle until then
 * relay.handleTimeout(30_000);
 * assert.equal(relay.pollClosedFlow(), flow);
 * ```
 *
 * @module
 */

import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";
import { jsonLine, type JsonTable } from "../events/json_lines.ts";
import type { BaseEvent } from "../events/sink.ts";
import { commandName, decodeHeader, type Header, WireError } from "../pudp/wire.ts";
import { Fifo } from "../util/fifo.ts";
import {
  decodeHeader as decodeBlastHeader,
  emptyHeader as emptyBlastHeader,
  segmentTypeName,
} from "../blast/wire.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { decide, type Direction, type FaultOptions } from "./fault_plan.ts";

/** Longest time a reordered datagram waits for one to overtake it. */
export const REORDER_HOLD_MS = 100;

/** What the relay is asked to do. */
export interface RelayOptions extends FaultOptions {
  /** PUDP magic used to describe datagrams in the log. */
  magic: number;
  /** PUDP version byte used to describe datagrams in the log (default 1, `--wire-version`). */
  version?: number;
  /** Most clients relayed at once; datagrams from more are refused. */
  maxFlows: number;
  /** A flow with no datagram either way for this long is closed. */
  idleMs: number;
}

/** One datagram for the driver to send. */
export interface RelayTransmit {
  /** "up": from the flow's own socket to the server; "down": from the listening socket to the client. */
  direction: Direction;
  /** The flow's key (see {@link flowKey}). */
  flow: string;
  /** The flow's client. */
  client: PeerAddress;
  /** The datagram's bytes. */
  data: Uint8Array;
}

/** What the relay did with a datagram: the event's name. */
export type RelayDecision =
  | "passed"
  | "dropped"
  | "duplicated"
  | "reordered"
  | "released"
  | "refused";

/**
 * What happened to one datagram (one JSON line of `--log`, its fields
 * declared in {@link relayJsonFields}); `peer` is the flow's client.
 */
export interface RelayLogRecord extends BaseEvent {
  /** What the relay did with it. */
  event: RelayDecision;
  /** `up` (client to server) or `down`. */
  direction: Direction;
  /** The datagram's number in its flow and direction, from 0 (none when `refused`: no flow). */
  datagram?: number;
  /** The datagram's size in bytes. */
  bytes: number;
  /** Added delay in ms, when there was one (not for `dropped`, `released`, `refused`). */
  delayMs?: number;
  /** For `released`: the datagram that overtook it, or null when the hold timed out. */
  overtakenBy?: number | null;
  /** The PUDP header, when the datagram decodes as one. */
  pudp?: { command: string; seq: number; session: string };
  /** The blast header, when the datagram decodes as one. */
  blast?: { type: string; seq: number; run: string };
}

/** A record's fields every decision has. */
function datagramFields(e: RelayLogRecord) {
  return { direction: e.direction, datagram: e.datagram, bytes: e.bytes };
}

/** A record's decoded header, PUDP or blast (declared field by field). */
function headerFields(e: RelayLogRecord) {
  const p = e.pudp;
  const b = e.blast;
  return {
    pudp: p && { command: p.command, seq: p.seq, session: p.session },
    blast: b && { type: b.type, seq: b.seq, run: b.run },
  };
}

/** What a record that may carry a delay prints. */
function delayedFields(e: RelayLogRecord) {
  return { ...datagramFields(e), delay_ms: e.delayMs, ...headerFields(e) };
}

/** The JSON fields of each `--log` record (besides event, time and peer): docs/events.md. */
export const relayJsonFields: JsonTable<RelayLogRecord> = {
  passed: delayedFields,
  duplicated: delayedFields,
  reordered: delayedFields,
  dropped: (e) => ({ ...datagramFields(e), ...headerFields(e) }),
  released: (e) => ({ ...datagramFields(e), overtaken_by: e.overtakenBy, ...headerFields(e) }),
  refused: (e) => ({ direction: e.direction, bytes: e.bytes, ...headerFields(e) }),
};

/** One `--log` line (with its newline), stamped with `time`. */
export function relayLogLine(record: RelayLogRecord, time: Date = new Date()): string {
  return jsonLine(relayJsonFields, record, time);
}

/** Counters for the summary line. */
export interface RelayStats {
  /** Client-to-server datagrams. */
  up: DirectionStats;
  /** Server-to-client datagrams. */
  down: DirectionStats;
  /** Flows (clients) seen. */
  flows: number;
  /** Datagrams from new clients refused because the flow table was full. */
  refused: number;
}

/** Counters of one direction. */
export interface DirectionStats {
  /** Datagrams that arrived. */
  datagrams: number;
  /** Of those, dropped. */
  dropped: number;
  /** Of those, sent twice. */
  duplicated: number;
  /** Of those, held back behind a later one. */
  reordered: number;
  /** Of those, delayed. */
  delayed: number;
}

/** The key of a client's flow. */
export function flowKey(client: PeerAddress): string {
  return formatAddress(client);
}

interface Held {
  transmit: RelayTransmit;
  n: number;
  delayMs: number;
  /** Ends the hold when nothing overtakes it in time. */
  timer: Timer<Due>;
}

class Flow {
  /** Datagrams seen so far, per direction. */
  readonly count = { up: 0, down: 0 };
  readonly held: { up: Held | undefined; down: Held | undefined } = {
    up: undefined,
    down: undefined,
  };
  /** Closes the flow after `idleMs` without a datagram. */
  readonly idle: Timer<Due> = new Timer<Due>({ kind: "idle", flow: this });

  constructor(readonly key: string, readonly index: number, readonly client: PeerAddress) {}
}

/** What a timer of the relay is for. */
type Due =
  | { kind: "send"; transmit: RelayTransmit }
  | { kind: "release"; flow: Flow; direction: Direction }
  | { kind: "idle"; flow: Flow };

/** The relay's flows, faults and timers. */
export class RelayMachine {
  /** Counters since the start, for the summary line. */
  readonly stats: RelayStats = {
    up: emptyStats(),
    down: emptyStats(),
    flows: 0,
    refused: 0,
  };
  /** Flows by key. */
  readonly #flows = new Map<string, Flow>();
  readonly #ready = new Fifo<RelayTransmit>();
  readonly #log = new Fifo<RelayLogRecord>();
  readonly #closed = new Fifo<string>();
  readonly #timers = new TimerTable<Due>();
  #nextFlow = 0;
  readonly #header: Header = { command: 0, seq: 0, sessionId: 0 };
  readonly #blastHeader = emptyBlastHeader();

  /**
   * A relay with no flows yet, started at `startedAt`.
   *
   * @param startedAt when the relay started, on the caller's clock (log records carry the wall clock instead)
   */
  constructor(readonly options: RelayOptions, readonly startedAt: number) {}

  /** Flows open now. */
  get openFlows(): number {
    return this.#flows.size;
  }

  /**
   * A datagram arrived: "up" from `client` on the listening socket, "down"
   * on the upstream socket of `client`'s flow. The bytes are kept, so the
   * driver must not reuse them.
   */
  handleDatagram(direction: Direction, bytes: Uint8Array, client: PeerAddress, now: number): void {
    const key = flowKey(client);
    let flow = this.#flows.get(key);
    if (flow === undefined) {
      if (direction === "down") return; // a reply for a flow already closed
      if (this.#flows.size >= this.options.maxFlows) {
        this.stats.refused++;
        const peer = { hostname: client.hostname, port: client.port };
        this.#record(direction, peer, undefined, bytes, "refused");
        return;
      }
      flow = new Flow(key, this.#nextFlow++, client);
      this.#flows.set(key, flow);
      this.stats.flows++;
    }
    this.#timers.set(flow.idle, now + this.options.idleMs);

    const stats = this.stats[direction];
    stats.datagrams++;
    const n = flow.count[direction]++;
    const fate = decide(this.options, flow.index, direction, n);
    const transmit: RelayTransmit = { direction, flow: key, client: flow.client, data: bytes };
    const delay = fate.delayMs > 0 ? fate.delayMs : undefined;
    if (delay !== undefined) stats.delayed++;
    if (fate.drop) {
      stats.dropped++;
      this.#record(direction, flow.client, n, bytes, "dropped");
      return;
    }
    const held = flow.held[direction];
    if (fate.reorder && held === undefined) {
      stats.reordered++;
      this.#record(direction, flow.client, n, bytes, "reordered", delay);
      const timer = new Timer<Due>({ kind: "release", flow, direction });
      flow.held[direction] = { transmit, n, delayMs: fate.delayMs, timer };
      this.#timers.set(timer, now + REORDER_HOLD_MS);
      return;
    }
    if (fate.duplicate) stats.duplicated++;
    const decision = fate.duplicate ? "duplicated" : "passed";
    this.#record(direction, flow.client, n, bytes, decision, delay);
    this.#schedule(transmit, now, fate.delayMs);
    if (fate.duplicate) this.#schedule(transmit, now, fate.delayMs);
    if (held !== undefined) {
      // The held datagram goes right after the one that overtook it.
      flow.held[direction] = undefined;
      this.#timers.clear(held.timer);
      this.#recordRelease(direction, flow, held, n);
      this.#schedule(held.transmit, now, Math.max(fate.delayMs, held.delayMs));
    }
  }

  /** Timers up to `now`: delayed datagrams fall due, holds end, idle flows close. */
  handleTimeout(now: number): void {
    for (let due = this.#timers.popDue(now); due; due = this.#timers.popDue(now)) {
      if (due.kind === "send") {
        this.#ready.push(due.transmit);
      } else if (due.kind === "idle") {
        this.#close(due.flow);
      } else {
        const held = due.flow.held[due.direction]!;
        due.flow.held[due.direction] = undefined;
        this.#recordRelease(due.direction, due.flow, held, null);
        this.#schedule(held.transmit, now, held.delayMs);
      }
    }
  }

  /** The next datagram to send, or undefined. */
  pollTransmit(): RelayTransmit | undefined {
    return this.#ready.shift();
  }

  /** The next log record, or undefined. */
  pollLog(): RelayLogRecord | undefined {
    return this.#log.shift();
  }

  /** The key of a flow that was closed (its socket can go), or undefined. */
  pollClosedFlow(): string | undefined {
    return this.#closed.shift();
  }

  /** When `handleTimeout` must next be called, or undefined. */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /** Closes every flow (the relay stops); held datagrams are not sent. */
  shutdown(): void {
    for (const flow of [...this.#flows.values()]) this.#close(flow);
  }

  #close(flow: Flow): void {
    this.#flows.delete(flow.key);
    this.#timers.clear(flow.idle);
    for (const h of [flow.held.up, flow.held.down]) if (h) this.#timers.clear(h.timer);
    this.#closed.push(flow.key);
  }

  #schedule(transmit: RelayTransmit, now: number, delayMs: number): void {
    if (delayMs <= 0) this.#ready.push(transmit);
    else this.#timers.set(new Timer<Due>({ kind: "send", transmit }), now + delayMs);
  }

  #recordRelease(direction: Direction, flow: Flow, held: Held, overtakenBy: number | null): void {
    const data = held.transmit.data;
    this.#record(direction, flow.client, held.n, data, "released", undefined, overtakenBy);
  }

  #record(
    direction: Direction,
    peer: PeerAddress,
    datagram: number | undefined,
    bytes: Uint8Array,
    event: RelayDecision,
    delayMs?: number,
    overtakenBy?: number | null,
  ): void {
    const record: RelayLogRecord = { event, peer, direction, datagram, bytes: bytes.length };
    if (delayMs !== undefined) record.delayMs = Math.round(delayMs * 1000) / 1000;
    if (overtakenBy !== undefined) record.overtakenBy = overtakenBy;
    try {
      decodeHeader(bytes, this.options.magic, this.#header, this.options.version);
      const h = this.#header;
      record.pudp = {
        command: commandName(h.command),
        seq: h.seq,
        session: "0x" + h.sessionId.toString(16).padStart(8, "0"),
      };
    } catch (e) {
      if (!(e instanceof WireError)) throw e; // not PUDP: perhaps blast
      try {
        const b = decodeBlastHeader(bytes, this.#blastHeader);
        record.blast = {
          type: segmentTypeName(b.type),
          seq: b.seq,
          run: "0x" + b.run.toString(16).padStart(8, "0"),
        };
      } catch (e) {
        if (!(e instanceof WireError)) throw e; // neither: logged without a header
      }
    }
    this.#log.push(record);
  }
}

function emptyStats(): DirectionStats {
  return { datagrams: 0, dropped: 0, duplicated: 0, reordered: 0, delayed: 0 };
}
