/**
 * The ids server, as a pure state machine.
 *
 * How this works: the server holds ids. A request `HELLO <id>` for an id
 * nobody holds is granted (`OK <id> <ip> <port>`) and the id is held for
 * `idTtlMs`, then released (an `expired` event); a request for a held id is
 * refused (`RESET <id>`), except a repeat from the very address that holds
 * it, which is answered OK again (a UDP client whose OK was lost asks
 * again); a malformed request gets `ERROR <reason>` and never touches the
 * registry. With `maxIds` ids held, a request for a new id gets `ERROR id
 * table full` (a `table_full` event the first time, then at most once a
 * minute). No request for `idleExitMs` (0: never), counted from the start
 * too, sets `finished`.
 *
 * No loops, no reflection: a message that looks like a reply (`OK`, `RESET`,
 * `ERROR`) or is not printable text gets no reply at all (a `dropped` event;
 * it is not a request and does not restart the idle clock), so two servers
 * can never be made to answer each other forever. ERROR replies go through
 * an {@link ErrorLimiter} (a few a second per address, a bounded table of
 * addresses); one over the limit is not sent (`dropped`, `rate limited`).
 * With `course` no ERROR is sent at all (`dropped`, `course`), as the course
 * servers did.
 *
 * Inputs (time passed in): `handleDatagram(bytes, from, now)` for UDP (one
 * request per datagram); for TCP `handleConnect(conn, peer, now)`,
 * `handleStreamBytes(conn, bytes, now)`, `handleStreamEnd(conn, now)` (the
 * peer's EOF) and `handleStreamGone(conn, why)` (reset); `handleTimeout(now)`;
 * `shutdown()`. Outputs: `pollTransmit()` (a datagram to an address, or
 * bytes for a connection), `pollClose()` (connections to close once their
 * writes are done), `pollTimeout()`, and events to the sink.
 *
 * TCP framing: a request is a line. Course clients send `HELLO 1234` with
 * no line ending and wait, so a partial line that stays alone for
 * {@link PARTIAL_LINE_MS}, or is followed by EOF, is taken as a request too.
 * After a RESET, or a line longer than the limit, the connection is closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import type { IdsEvent } from "./events.ts";
 *
 * const text = (s: string) => new TextEncoder().encode(s);
 * const first = { hostname: "127.0.0.1", port: 40000 };
 * const second = { hostname: "127.0.0.1", port: 40001 };
 * const registry = new IdRegistry({ idTtlMs: 30_000 }, new EventQueue<IdsEvent>(), 0);
 * registry.handleDatagram(text("HELLO 8877"), first, 1);
 * assert.deepEqual(registry.pollTransmit(), {
 *   kind: "datagram",
 *   to: first,
 *   data: text("OK 8877 127.0.0.1 40000"),
 * });
 * registry.handleDatagram(text("HELLO 8877"), second, 2);
 * assert.deepEqual(registry.pollTransmit(), { kind: "datagram", to: second, data: text("RESET 8877") });
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import { NEED_MORE, ReceiveBuffer } from "../bytes/receive_buffer.ts";
import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import { ErrorLimiter, type ErrorLimits } from "./error_limiter.ts";
import type { DropReason, IdsEvent, Transport } from "./events.ts";
import {
  classifyRequest,
  decodeLine,
  formatReply,
  type IdReply,
  MAX_LINE,
  WireError,
} from "./wire.ts";

/** How long an unterminated TCP request waits for the rest of its line. */
export const PARTIAL_LINE_MS = 200;

/** Settings of an {@link IdRegistry}. */
export interface IdsOptions {
  /** How long an id is held, in ms. */
  idTtlMs: number;
  /** No request for this long sets `finished`, in ms; 0 = never. */
  idleExitMs: number;
  /** Most ids held at once; then a request for a new id gets `ERROR id table full`. */
  maxIds: number;
  /** Send no ERROR at all, as the course servers did (`--course`). */
  course: boolean;
  /** The ERROR rate limits (tests); defaults in {@link ErrorLimiter}. */
  errorLimits?: Partial<ErrorLimits>;
}

/** Defaults, as docs/ids.md lists them. */
export const DEFAULT_IDS_OPTIONS: IdsOptions = {
  idTtlMs: 30_000,
  idleExitMs: 120_000,
  maxIds: 100_000,
  course: false,
};

/** The reason of the ERROR that refuses a new id while `maxIds` are held. */
export const TABLE_FULL = "id table full";

/** Least time between two `table_full` events, in ms. */
export const FULL_NOTICE_MS = 60_000;

/** Bytes to send: a datagram to an address (UDP), or bytes on a connection (TCP). */
export type IdsTransmit =
  | { kind: "datagram"; to: PeerAddress; data: Uint8Array }
  | { kind: "stream"; connection: number; data: Uint8Array };

/** What the server counted. */
export interface IdsStats {
  /** Requests, well-formed or not (not counted: messages dropped as replies or not text). */
  requests: number;
  /** OK replies. */
  ok: number;
  /** RESET replies. */
  reset: number;
  /** ERROR replies sent. */
  errors: number;
  /** Ids released after their time to live. */
  expired: number;
  /** Datagrams or lines that got no reply: replies, not text, ERRORs rate limited or --course. */
  dropped: number;
  /** Requests for a new id refused because `maxIds` were held. */
  full: number;
  /** TCP connections accepted. */
  connections: number;
}

class Holding {
  /** Releases the id after `idTtlMs`. */
  readonly timer: Timer<Due> = new Timer<Due>({ kind: "expire", holding: this });
  constructor(readonly id: string, readonly holder: PeerAddress, readonly transport: Transport) {}
}

class Connection {
  readonly rx = new ReceiveBuffer(MAX_LINE + 2, 256);
  readonly partial: Timer<Due> = new Timer<Due>({ kind: "partial", connection: this });
  closing = false;
  constructor(readonly id: number, readonly peer: PeerAddress) {}
}

type Due =
  | { kind: "expire"; holding: Holding }
  | { kind: "partial"; connection: Connection }
  | { kind: "idle" };

const encoder = new TextEncoder();

/** The registry of held ids and the connections asking for them. */
export class IdRegistry {
  /** The options in effect, defaults filled in. */
  readonly options: IdsOptions;
  /** Counters since the start, for the summary line. */
  readonly stats: IdsStats = {
    requests: 0,
    ok: 0,
    reset: 0,
    errors: 0,
    expired: 0,
    dropped: 0,
    full: 0,
    connections: 0,
  };
  readonly #held = new Map<string, Holding>();
  readonly #connections = new Map<number, Connection>();
  readonly #timers = new TimerTable<Due>();
  readonly #idle = new Timer<Due>({ kind: "idle" });
  readonly #tx = new Fifo<IdsTransmit>();
  readonly #closes = new Fifo<number>();
  readonly #limiter: ErrorLimiter;
  #fullNoticeAt = -Infinity;
  #finished = false;

  /**
   * An empty registry started at `now`; events go to `events`.
   * @param options settings
   * @param events where what happens is reported
   * @param now the time the server starts (the idle clock starts here)
   */
  constructor(options: Partial<IdsOptions>, readonly events: EventSink<IdsEvent>, now: number) {
    this.options = { ...DEFAULT_IDS_OPTIONS, ...options };
    this.#limiter = new ErrorLimiter(this.options.errorLimits);
    this.#touchIdle(now);
  }

  /** Set when no request came for `idleExitMs`: the server should exit. */
  get finished(): boolean {
    return this.#finished;
  }

  /** Ids held now. */
  get heldIds(): number {
    return this.#held.size;
  }

  /** Addresses the ERROR rate limiter remembers (bounded). */
  get limitedAddresses(): number {
    return this.#limiter.size;
  }

  /** A UDP datagram: one request. */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    const reply = this.#request(bytes, from, "udp", now);
    if (reply === undefined) return;
    this.#tx.push({ kind: "datagram", to: from, data: encoder.encode(formatReply(reply)) });
  }

  /** A TCP connection was accepted. */
  handleConnect(connection: number, peer: PeerAddress, _now: number): void {
    const c = new Connection(connection, { hostname: peer.hostname, port: peer.port });
    this.#connections.set(connection, c);
    this.stats.connections++;
    this.events.emit({ event: "connected", peer: c.peer, connection });
  }

  /** Bytes arrived on a TCP connection. */
  handleStreamBytes(connection: number, bytes: Uint8Array, now: number): void {
    const c = this.#connections.get(connection);
    if (c === undefined || c.closing) return;
    try {
      c.rx.push(bytes);
      for (let line = c.rx.decode(decodeLine); line !== NEED_MORE; line = c.rx.decode(decodeLine)) {
        this.#streamRequest(c, line, now);
        if (c.closing) return;
      }
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      // Framing fails only on length (the buffer's limit or the line codec's): one wording for both.
      this.stats.requests++;
      this.#touchIdle(now);
      const tooLong = this.#refuse(c.peer, "tcp", `request longer than ${MAX_LINE} bytes`, now);
      if (tooLong !== undefined) this.#streamReply(c, tooLong);
      this.#close(c, "request too long");
      return;
    }
    if (c.rx.length > 0) this.#timers.set(c.partial, now + PARTIAL_LINE_MS);
    else this.#timers.clear(c.partial);
  }

  /** The peer half-closed: a partial line is its last request; then the connection is closed. */
  handleStreamEnd(connection: number, now: number): void {
    const c = this.#connections.get(connection);
    if (c === undefined || c.closing) return;
    if (c.rx.length > 0) this.#streamRequest(c, c.rx.takeAll(), now);
    if (!c.closing) this.#close(c, "peer closed");
  }

  /** The connection failed (reset, error): forget it. */
  handleStreamGone(connection: number, why: string): void {
    const c = this.#connections.get(connection);
    if (c === undefined) return;
    this.#timers.clear(c.partial);
    this.#connections.delete(connection);
    if (!c.closing) this.events.emit({ event: "closed", peer: c.peer, connection, reason: why });
  }

  /** Ids expire, partial lines become requests, the idle time runs out. */
  handleTimeout(now: number): void {
    for (let due = this.#timers.popDue(now); due; due = this.#timers.popDue(now)) {
      if (due.kind === "expire") {
        this.#held.delete(due.holding.id);
        this.stats.expired++;
        this.events.emit({ event: "expired", peer: due.holding.holder, id: due.holding.id });
      } else if (due.kind === "partial") {
        const c = due.connection;
        if (!c.closing && c.rx.length > 0) this.#streamRequest(c, c.rx.takeAll(), now);
      } else {
        this.#finished = true;
      }
    }
  }

  /** Closes every connection (the server exits). */
  shutdown(): void {
    for (const c of this.#connections.values()) if (!c.closing) this.#close(c, "shutdown");
  }

  /** When `handleTimeout` next has work, or undefined. */
  pollTimeout(): number | undefined {
    return this.#finished ? undefined : this.#timers.nextAt;
  }

  /** The next bytes to send, or undefined. */
  pollTransmit(): IdsTransmit | undefined {
    return this.#tx.shift();
  }

  /** The next connection to close once its writes are done, or undefined. */
  pollClose(): number | undefined {
    return this.#closes.shift();
  }

  #streamRequest(c: Connection, line: Uint8Array, now: number): void {
    const reply = this.#request(line, c.peer, "tcp", now);
    if (reply === undefined) return;
    this.#streamReply(c, reply);
    if (reply.kind === "reset") this.#close(c, "reset sent");
  }

  #streamReply(c: Connection, reply: IdReply): void {
    this.#tx.push({
      kind: "stream",
      connection: c.id,
      data: encoder.encode(formatReply(reply) + "\n"),
    });
  }

  /** Judges one message; reports it; returns the reply, or undefined for none. */
  #request(
    bytes: Uint8Array,
    peer: PeerAddress,
    transport: Transport,
    now: number,
  ): IdReply | undefined {
    const from = { hostname: peer.hostname, port: peer.port };
    const verdict = classifyRequest(bytes);
    if (verdict.kind === "ignored") return this.#drop(from, transport, verdict.reason);
    this.stats.requests++;
    this.#touchIdle(now);
    if (verdict.kind === "malformed") return this.#refuse(from, transport, verdict.reason, now);
    const id = verdict.id;
    const held = this.#held.get(id);
    const same = held !== undefined && held.transport === transport &&
      held.holder.hostname === from.hostname && held.holder.port === from.port;
    if (held !== undefined && !same) {
      this.stats.reset++;
      this.events.emit({
        event: "reset",
        peer: from,
        id,
        transport,
        holder: formatAddress(held.holder),
      });
      return { kind: "reset", id };
    }
    if (held === undefined) {
      if (this.#held.size >= this.options.maxIds) return this.#tableFull(from, transport, now);
      const holding = new Holding(id, from, transport);
      this.#held.set(id, holding);
      this.#timers.set(holding.timer, now + this.options.idTtlMs);
    }
    this.stats.ok++;
    this.events.emit({ event: "ok", peer: from, id, transport, repeat: same });
    return { kind: "ok", id, ip: from.hostname, port: from.port };
  }

  /** A request for a new id with `maxIds` held: refused, and said (the first time, then once a minute). */
  #tableFull(from: PeerAddress, transport: Transport, now: number): IdReply | undefined {
    this.stats.full++;
    if (now - this.#fullNoticeAt >= FULL_NOTICE_MS) {
      this.#fullNoticeAt = now;
      this.events.emit({ event: "table_full", peer: from, limit: this.#held.size });
    }
    return this.#refuse(from, transport, TABLE_FULL, now);
  }

  /** A request that deserves `ERROR <reason>`: the reply, unless --course or the rate limit holds it back. */
  #refuse(
    from: PeerAddress,
    transport: Transport,
    reason: string,
    now: number,
  ): IdReply | undefined {
    if (this.options.course) return this.#drop(from, transport, "course", reason);
    if (!this.#limiter.allow(formatAddress(from), now)) {
      return this.#drop(from, transport, "rate limited", reason);
    }
    this.stats.errors++;
    this.events.emit({ event: "error", peer: from, reason, transport });
    return { kind: "error", reason };
  }

  /** A message that gets no reply: counted and reported. */
  #drop(from: PeerAddress, transport: Transport, reason: DropReason, error?: string): undefined {
    this.stats.dropped++;
    this.events.emit(
      error === undefined
        ? { event: "dropped", peer: from, reason, transport }
        : { event: "dropped", peer: from, reason, transport, error },
    );
    return undefined;
  }

  #close(c: Connection, reason: string): void {
    c.closing = true;
    this.#timers.clear(c.partial);
    this.#connections.delete(c.id);
    this.#closes.push(c.id);
    this.events.emit({ event: "closed", peer: c.peer, connection: c.id, reason });
  }

  #touchIdle(now: number): void {
    if (this.options.idleExitMs > 0) this.#timers.set(this.#idle, now + this.options.idleExitMs);
  }
}
