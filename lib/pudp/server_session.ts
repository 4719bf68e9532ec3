/**
 * The PUDP server's sessions, as a pure state machine.
 *
 * How this works: the driver feeds events in — `handleDatagram(bytes, from,
 * now)` for every datagram, `handleTimeout(now)` when the time returned by
 * `pollTimeout()` has come, `shutdown()` on EOF or a signal — and drains
 * `pollTransmit()` for datagrams to send. What happened is reported as
 * {@link ServerEvent}s to the sink it was given (SPEC's text lines, or
 * `--json`). Nothing here reads a clock or touches a socket.
 *
 * Each session is bound to the address of its HELLO and keeps the next
 * sequence number it expects and an inactivity deadline. Every arriving
 * message is judged by the SPEC server table: in order → handled by command;
 * a gap → one `Lost packet!` line per missing number, then handled; a repeat
 * of the last → `Duplicate packet!`; older, a too-large gap or a command that
 * has no place inside a session → protocol error (GOODBYE, close).
 *
 * Deadlines: each session owns one {@link Timer} in the machine's
 * {@link TimerTable}; a message moves it to `now + timeout` (no allocation),
 * and the table's earliest timer is what `pollTimeout()` returns, so one OS
 * timer in the driver serves all sessions.
 *
 * No allocation per message: headers are decoded into one reused object,
 * the per-message events (data, lost, duplicate) are reused objects whose
 * payload is a view of the receive buffer (the text sink copies it straight
 * into its output), and reply datagrams are reused once the driver hands
 * them back (`recycle`).
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import type { PeerAddress, Transmit } from "../net/transmit.ts";
import {
  type CloseReason,
  type DataEvent,
  type DropReason,
  type DuplicateEvent,
  hexSessionId,
  type LostEvent,
  NO_PEER,
  type ServerEvent,
} from "./server_events.ts";
import {
  Command,
  commandName,
  decodeHeader,
  type Header,
  HEADER_SIZE,
  PUDP_MAGIC,
  WireError,
  writeHeader,
} from "./wire.ts";

/** Settings of a {@link ServerSessions}. */
export interface ServerOptions {
  /** Inactivity timeout of a session, in ms. */
  timeoutMs: number;
  /** Largest gap in sequence numbers accepted as loss; beyond it is a protocol error. */
  maxGap: number;
  /** Magic number on the wire. */
  magic: number;
  /** Most sessions open at once; HELLOs beyond are dropped and counted. */
  maxSessions: number;
}

/** Default settings, as in SPEC. */
export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  timeoutMs: 60_000,
  maxGap: 10_000,
  magic: PUDP_MAGIC,
  maxSessions: 100_000,
};

/** What the server counted; printed as the summary line at exit. */
export interface ServerStats {
  /** Sessions created. */
  sessions: number;
  /** Messages accepted into a session (including HELLOs that created one). */
  messages: number;
  /** Sequence numbers reported as `Lost packet!`. */
  lost: number;
  /** Messages reported as `Duplicate packet!`. */
  duplicates: number;
  /** Datagrams dropped: undecodable, unknown session, wrong address, over --max-sessions. */
  dropped: number;
  /** Sessions ended by a protocol error. */
  protocolErrors: number;
  /** Sessions ended by inactivity. */
  timeouts: number;
}

class Session {
  /** Next sequence number expected from the client. */
  expected: number;
  /** Expires the session unless a message arrives. */
  readonly timer: Timer<Session> = new Timer<Session>(this);
  /** The id as `0x%08x`, made once. */
  readonly hex: string;

  constructor(readonly id: number, readonly peer: PeerAddress, firstSeq: number) {
    this.hex = hexSessionId(id);
    this.expected = firstSeq + 1;
  }
}

/** A reply datagram; reused after the driver hands it back. */
interface Reply {
  data: Uint8Array;
  to: PeerAddress;
}

const EMPTY = new Uint8Array(0);

/** Most sent replies kept for reuse. */
const REPLY_POOL = 1024;

/** All sessions of one PUDP server. */
export class ServerSessions {
  readonly options: ServerOptions;
  readonly stats: ServerStats = {
    sessions: 0,
    messages: 0,
    lost: 0,
    duplicates: 0,
    dropped: 0,
    protocolErrors: 0,
    timeouts: 0,
  };
  /** Open sessions by id. */
  readonly #sessions = new Map<number, Session>();
  /** One inactivity timer per session. */
  readonly #timers = new TimerTable<Session>();
  readonly #tx = new Fifo<Transmit>();
  readonly #header: Header = { command: 0, seq: 0, sessionId: 0 };
  readonly #replyPool: Reply[] = [];
  /** Sequence number of the next message the server sends, shared by all sessions. */
  #nextSeq = 0;

  // The per-message events, reused (see the module comment).
  readonly #data: DataEvent = {
    event: "data",
    peer: NO_PEER,
    session: "",
    seq: 0,
    data: new Uint8Array(),
    offset: 0,
  };
  readonly #lost: LostEvent = { event: "lost", peer: NO_PEER, session: "", first: 0, last: 0 };
  readonly #duplicate: DuplicateEvent = { event: "duplicate", peer: NO_PEER, session: "", seq: 0 };

  /**
   * @param options settings (defaults: {@link DEFAULT_SERVER_OPTIONS})
   * @param events where what happens is reported
   */
  constructor(options: Partial<ServerOptions>, readonly events: EventSink<ServerEvent>) {
    this.options = { ...DEFAULT_SERVER_OPTIONS, ...options };
  }

  /** Number of open sessions. */
  get openSessions(): number {
    return this.#sessions.size;
  }

  /** Handles one arriving datagram. `bytes` may be reused by the caller afterwards. */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    const msg = this.#header;
    try {
      decodeHeader(bytes, this.options.magic, msg);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return this.#drop(from, "not PUDP");
    }
    const session = this.#sessions.get(msg.sessionId);
    if (session === undefined) {
      if (msg.command === Command.HELLO) this.#create(msg, from, now);
      else this.#drop(from, "unknown session", msg.sessionId);
      return;
    }
    if (session.peer.port !== from.port || session.peer.hostname !== from.hostname) {
      return this.#drop(from, "wrong address", msg.sessionId);
    }
    this.stats.messages++;
    this.#touch(session, now);

    if (msg.seq === session.expected - 1) {
      this.stats.duplicates++;
      const d = this.#duplicate;
      d.peer = session.peer;
      d.session = session.hex;
      d.seq = msg.seq;
      this.events.emit(d);
      // A repeated HELLO (nothing else received yet): its client did not
      // hear our HELLO, so it gets it again (SPEC).
      if (msg.command === Command.HELLO && msg.seq === 0) this.#send(session, Command.HELLO);
      return;
    }
    if (msg.seq < session.expected) {
      return this.#protocolError(session, `seq ${msg.seq} after ${session.expected - 1}`);
    }
    const gap = msg.seq - session.expected;
    if (gap > this.options.maxGap) {
      return this.#protocolError(
        session,
        `a gap of ${gap} is over --max-gap ${this.options.maxGap}`,
      );
    }
    if (gap > 0) {
      const l = this.#lost;
      l.peer = session.peer;
      l.session = session.hex;
      l.first = session.expected;
      l.last = msg.seq - 1;
      this.events.emit(l);
    }
    this.stats.lost += gap;
    session.expected = msg.seq + 1;

    switch (msg.command) {
      case Command.DATA: {
        this.#send(session, Command.ALIVE);
        const d = this.#data;
        d.peer = session.peer;
        d.session = session.hex;
        d.seq = msg.seq;
        d.data = bytes;
        d.offset = HEADER_SIZE;
        this.events.emit(d);
        d.data = EMPTY; // the receive buffer is not ours to keep
        return;
      }
      case Command.GOODBYE:
        this.#send(session, Command.GOODBYE);
        this.events.emit({
          event: "goodbye",
          peer: session.peer,
          session: session.hex,
          seq: msg.seq,
        });
        this.#close(session, "goodbye");
        return;
      default:
        return this.#protocolError(
          session,
          msg.command <= Command.GOODBYE
            ? `${commandName(msg.command)} inside a session`
            : `unknown command ${msg.command}`,
        );
    }
  }

  /** Closes every session whose deadline is at or before `now`. */
  handleTimeout(now: number): void {
    for (let s = this.#timers.popDue(now); s !== undefined; s = this.#timers.popDue(now)) {
      this.stats.timeouts++;
      this.#send(s, Command.GOODBYE);
      this.#close(s, "timeout");
    }
  }

  /** Says GOODBYE to every session and closes it (server exit). */
  shutdown(): void {
    for (const session of this.#sessions.values()) {
      this.#send(session, Command.GOODBYE);
      this.#close(session, "shutdown");
    }
  }

  /** The earliest session deadline, or undefined when no session is open. */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /** The next datagram to send, or undefined. */
  pollTransmit(): Transmit | undefined {
    return this.#tx.shift();
  }

  /** Hands back a datagram from `pollTransmit()` that has been sent: its memory is reused. */
  recycle(t: Transmit): void {
    if (this.#replyPool.length < REPLY_POOL) this.#replyPool.push(t as Reply);
  }

  #create(msg: Header, from: PeerAddress, now: number): void {
    if (this.#sessions.size >= this.options.maxSessions) {
      return this.#drop(from, "session table full", msg.sessionId);
    }
    const peer = { hostname: from.hostname, port: from.port };
    const session = new Session(msg.sessionId, peer, msg.seq);
    this.#sessions.set(session.id, session);
    this.#touch(session, now);
    this.stats.sessions++;
    this.stats.messages++;
    this.#send(session, Command.HELLO);
    this.events.emit({ event: "created", peer, session: session.hex, seq: msg.seq });
  }

  #drop(from: PeerAddress, reason: DropReason, sessionId?: number): void {
    this.stats.dropped++;
    this.events.emit({
      event: "dropped",
      peer: from,
      reason,
      session: sessionId === undefined ? undefined : hexSessionId(sessionId),
    });
  }

  #touch(session: Session, now: number): void {
    this.#timers.set(session.timer, now + this.options.timeoutMs);
  }

  #protocolError(session: Session, what: string): void {
    this.stats.protocolErrors++;
    this.#send(session, Command.GOODBYE);
    this.#close(session, `protocol error: ${what}`);
  }

  #close(session: Session, reason: CloseReason): void {
    this.#sessions.delete(session.id);
    this.#timers.clear(session.timer);
    this.events.emit({ event: "closed", peer: session.peer, session: session.hex, reason });
  }

  #send(session: Session, command: number): void {
    const reply = this.#replyPool.pop() ?? { data: new Uint8Array(HEADER_SIZE), to: session.peer };
    reply.to = session.peer;
    writeHeader(reply.data, command, this.#nextSeq, session.id, this.options.magic);
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    this.#tx.push(reply);
  }
}
