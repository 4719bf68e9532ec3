/**
 * The PUDP server's sessions, as a pure state machine.
 *
 * How this works: the driver feeds events in — `handleDatagram(bytes, from,
 * now)` for every datagram, `handleTimeout(now)` when the time returned by
 * `pollTimeout()` has come, `shutdown()` on EOF or a signal — and drains what
 * they produced: `pollTransmit()` for datagrams to send, `pollOutput()` for
 * stdout bytes. Nothing here reads a clock or touches a socket.
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
 * payloads are copied straight from the receive buffer into the output, and
 * reply datagrams are reused once the driver hands them back (`recycle`).
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import type { PeerAddress, Transmit } from "../net/transmit.ts";
import { SessionLines } from "./server_output.ts";
import {
  Command,
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
  /** Escape control characters in payloads (stdout is a terminal). */
  escapeOutput: boolean;
  /** Most sessions open at once; HELLOs beyond are dropped and counted. */
  maxSessions: number;
}

/** Default settings, as in SPEC. */
export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  timeoutMs: 60_000,
  maxGap: 10_000,
  magic: PUDP_MAGIC,
  escapeOutput: false,
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
  readonly lines: SessionLines;

  constructor(readonly id: number, readonly peer: PeerAddress, firstSeq: number) {
    this.lines = new SessionLines(id);
    this.expected = firstSeq + 1;
  }
}

/** A reply datagram; reused after the driver hands it back. */
interface Reply {
  data: Uint8Array;
  to: PeerAddress;
}

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
  readonly #out = new ByteBuffer(64 * 1024);
  readonly #tx = new Fifo<Transmit>();
  readonly #header: Header = { command: 0, seq: 0, sessionId: 0 };
  readonly #replyPool: Reply[] = [];
  /** Sequence number of the next message the server sends, shared by all sessions. */
  #nextSeq = 0;

  constructor(options: Partial<ServerOptions> = {}) {
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
      this.stats.dropped++;
      return;
    }
    const session = this.#sessions.get(msg.sessionId);
    if (session === undefined) {
      if (msg.command === Command.HELLO) this.#create(msg, from, now);
      else this.stats.dropped++;
      return;
    }
    if (session.peer.port !== from.port || session.peer.hostname !== from.hostname) {
      this.stats.dropped++;
      return;
    }
    this.stats.messages++;
    this.#touch(session, now);

    if (msg.seq === session.expected - 1) {
      this.stats.duplicates++;
      session.lines.event(this.#out, msg.seq, "Duplicate packet!");
      return;
    }
    if (msg.seq < session.expected) return this.#protocolError(session);
    const gap = msg.seq - session.expected;
    if (gap > this.options.maxGap) return this.#protocolError(session);
    for (let n = session.expected; n < msg.seq; n++) {
      session.lines.event(this.#out, n, "Lost packet!");
    }
    this.stats.lost += gap;
    session.expected = msg.seq + 1;

    switch (msg.command) {
      case Command.DATA:
        this.#send(session, Command.ALIVE);
        session.lines.data(this.#out, msg.seq, bytes, HEADER_SIZE, this.options.escapeOutput);
        return;
      case Command.GOODBYE:
        this.#send(session, Command.GOODBYE);
        session.lines.event(this.#out, msg.seq, "GOODBYE from client.");
        this.#close(session);
        return;
      default: // HELLO or ALIVE inside a session, or an unknown command
        return this.#protocolError(session);
    }
  }

  /** Closes every session whose deadline is at or before `now`. */
  handleTimeout(now: number): void {
    for (let s = this.#timers.popDue(now); s !== undefined; s = this.#timers.popDue(now)) {
      this.stats.timeouts++;
      this.#send(s, Command.GOODBYE);
      this.#close(s);
    }
  }

  /** Says GOODBYE to every session and closes it (server exit). */
  shutdown(): void {
    for (const session of this.#sessions.values()) {
      this.#send(session, Command.GOODBYE);
      this.#close(session);
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

  /** All stdout bytes produced since the last call (empty when none). */
  pollOutput(): Uint8Array {
    return this.#out.take();
  }

  /** Bytes of stdout output waiting to be polled. */
  get pendingOutput(): number {
    return this.#out.length;
  }

  #create(msg: Header, from: PeerAddress, now: number): void {
    if (this.#sessions.size >= this.options.maxSessions) {
      this.stats.dropped++;
      return;
    }
    const peer = { hostname: from.hostname, port: from.port };
    const session = new Session(msg.sessionId, peer, msg.seq);
    this.#sessions.set(session.id, session);
    this.#touch(session, now);
    this.stats.sessions++;
    this.stats.messages++;
    this.#send(session, Command.HELLO);
    session.lines.event(this.#out, msg.seq, "Session created");
  }

  #touch(session: Session, now: number): void {
    this.#timers.set(session.timer, now + this.options.timeoutMs);
  }

  #protocolError(session: Session): void {
    this.stats.protocolErrors++;
    this.#send(session, Command.GOODBYE);
    this.#close(session);
  }

  #close(session: Session): void {
    this.#sessions.delete(session.id);
    this.#timers.clear(session.timer);
    session.lines.closed(this.#out);
  }

  #send(session: Session, command: number): void {
    const reply = this.#replyPool.pop() ?? { data: new Uint8Array(HEADER_SIZE), to: session.peer };
    reply.to = session.peer;
    writeHeader(reply.data, command, this.#nextSeq, session.id, this.options.magic);
    this.#nextSeq = (this.#nextSeq + 1) >>> 0;
    this.#tx.push(reply);
  }
}
