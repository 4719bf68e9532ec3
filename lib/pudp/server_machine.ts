/**
 * The PUDP server's sessions, as a pure state machine.
 *
 * How this works: the driver feeds events in — `handleDatagram(bytes, from,
 * now)` for every datagram, `handleTimeout(now)` when the time returned by
 * `pollTimeout()` has come, `shutdown()` on EOF or a signal — and drains
 * `pollTransmit()` for datagrams to send. What happened is reported as
 * {@link ServerEvent}s to the sink it was given (the text lines of docs/server.md, or
 * `--json`). Nothing here reads a clock or touches a socket.
 *
 * Each session is bound to the address of its HELLO (which must carry
 * sequence number 0) and keeps the next sequence number it expects and an
 * inactivity deadline. Every arriving message is judged by the server
 * table: in order → handled by command; a gap of any size → one `lost`
 * event (the text renderer prints a line per number, or one summary line
 * beyond `--max-gap`), then handled; a repeat of the last → `Duplicate
 * packet!`; older, or a command that has no place inside a session →
 * protocol error (GOODBYE, close). Every close says why ({@link CloseReason}).
 *
 * The table is bounded by `maxSessions`. A session that has sent nothing
 * since its HELLO is half-open (TCP's SYN-received): those are kept in
 * arrival order, and when the table is full a new HELLO evicts the oldest
 * (GOODBYE, close `evicted`), so a HELLO flood cannot lock out new clients
 * for a whole `--timeout`. Only when every session is established is the
 * HELLO dropped. Hitting the cap is reported as a `table_full` event, the
 * first time and then at most once per {@link FULL_NOTICE_MS}.
 *
 * A dropped datagram is a `dropped` event with its reason. The first drop
 * of each client and reason is marked `first` (a bounded memory and a
 * global budget, {@link DropNotices}: the driver says it on stderr, so a
 * flood cannot flood it); when a datagram that does not decode is PUDP of
 * another variant (another magic or version: {@link foreignHeader}, checked
 * on the drop path only), that first drop carries a hint naming the flags
 * that would talk to its sender.
 *
 * Closed by GOODBYE, a session is remembered for `--timeout` more (TCP's
 * TIME_WAIT): its id, client address, the seq of the GOODBYE that closed it
 * and the seq of the GOODBYE reply. A client whose reply was lost repeats its
 * GOODBYE (same seq); from that address, it gets the very same 12-byte reply
 * again, one reply per datagram and nothing printed (a `goodbye_repeated`
 * event, counted). Anything else naming that id is dropped as an unknown
 * session, and a HELLO with it opens a new session as ever (forgetting the
 * old one). The set is bounded: at most `maxSessions` remembered, the oldest
 * forgotten first, and each is forgotten at its deadline; the server's
 * shutdown forgets them all.
 *
 * Deadlines: each session owns one {@link Timer} in the machine's
 * {@link TimerTable}; a message moves it to `now + timeout` (no allocation),
 * and the table's earliest timer is what `pollTimeout()` returns, so one OS
 * timer in the driver serves all sessions. A session remembered after its
 * GOODBYE keeps its timer, set to the end of its TIME_WAIT.
 *
 * No allocation per message: headers are decoded into one reused object,
 * the per-message events (data, lost, duplicate) are reused objects whose
 * payload is a view of the receive buffer (the text sink copies it straight
 * into its output), and reply datagrams are reused once the driver hands
 * them back (`recycle`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import type { ServerEvent } from "./events.ts";
 * import { Command, decode, encode } from "./wire.ts";
 *
 * const events = new EventQueue<ServerEvent>();
 * const server = new ServerMachine({ timeoutMs: 5000 }, events);
 * const client = { hostname: "127.0.0.1", port: 40000 };
 * const hello = encode({ command: Command.HELLO, seq: 0, sessionId: 1, payload: new Uint8Array() });
 * server.handleDatagram(hello, client, 0);
 * assert.deepEqual(server.pollTransmit(), { to: client, data: hello }); // the HELLO back
 * assert.equal(events.poll()?.event, "created");
 * assert.equal(server.pollTimeout(), 5000); // the session times out then unless a message comes
 * server.handleTimeout(5000); // it did not: GOODBYE to the client, a `closed` event
 * assert.equal(decode(server.pollTransmit()!.data).command, Command.GOODBYE);
 * assert.deepEqual(events.poll(), {
 *   event: "closed",
 *   peer: client,
 *   session: "0x00000001",
 *   reason: "timeout",
 * });
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import type { PeerAddress, Transmit } from "../runtime/transmit.ts";
import {
  type CloseReason,
  type DataEvent,
  type DropReason,
  type DuplicateEvent,
  type GoodbyeRepeatedEvent,
  hexSessionId,
  type LostEvent,
  NO_PEER,
  type ServerEvent,
} from "./events.ts";
import {
  Command,
  commandName,
  decodeHeader,
  foreignHeader,
  type Header,
  HEADER_SIZE,
  PUDP_MAGIC,
  variantHint,
  VERSION,
  WireError,
  writeHeader,
} from "./wire.ts";
import { DropNotices } from "./drop_notices.ts";

/** Settings of a {@link ServerMachine}. */
export interface ServerOptions {
  /** Inactivity timeout of a session, in ms. */
  timeoutMs: number;
  /** Largest gap reported number by number; a larger one is reported as one summary. */
  maxGap: number;
  /** Magic number on the wire. */
  magic: number;
  /** Version byte on the wire (`--wire-version`). */
  version: number;
  /** Most sessions open at once; beyond, a HELLO evicts the oldest half-open one or is dropped. */
  maxSessions: number;
}

/** Default settings, as docs/server.md lists them. */
export const DEFAULT_SERVER_OPTIONS: ServerOptions = {
  timeoutMs: 60_000,
  maxGap: 10_000,
  magic: PUDP_MAGIC,
  version: VERSION,
  maxSessions: 100_000,
};

/** What the server counted; printed as the summary line at exit. */
export interface ServerStats {
  /** Sessions created. */
  sessions: number;
  /**
   * Messages accepted into a session (including HELLOs that created one),
   * and GOODBYEs repeated after their session closed, answered again: every
   * datagram is a message or dropped.
   */
  messages: number;
  /** Sequence numbers reported as `Lost packet!`. */
  lost: number;
  /** Messages reported as `Duplicate packet!`. */
  duplicates: number;
  /** Datagrams dropped: undecodable, unknown session, wrong address, HELLO seq ≠ 0, table full. */
  dropped: number;
  /** Sessions ended by the client's GOODBYE. */
  goodbyes: number;
  /** Sessions ended by inactivity. */
  timeouts: number;
  /** Sessions ended by a protocol error. */
  protocolErrors: number;
  /** Half-open sessions evicted by a HELLO when the table was full. */
  evicted: number;
  /** Sessions ended by the server's shutdown. */
  shutdowns: number;
  /**
   * GOODBYEs repeated for a session already closed by that GOODBYE, answered
   * again (among the messages; not printed, not a line of the summary).
   */
  repeatedGoodbyes: number;
}

/** The bit of each drop reason in {@link DropNotices}. */
const DROP_REASON_BIT: Record<DropReason, number> = {
  "not PUDP": 0,
  "other magic": 1,
  "other version": 2,
  "unknown session": 3,
  "wrong address": 4,
  "HELLO seq not 0": 5,
  "session table full": 6,
};

/** Least time between two `table_full` events, in ms. */
export const FULL_NOTICE_MS = 60_000;

class Session {
  /** Next sequence number expected from the client. */
  expected: number;
  /** Expires the session unless a message arrives. */
  readonly timer: Timer<Session> = new Timer<Session>(this);
  /** The id as `0x%08x`, made once. */
  readonly hex: string;
  /** Nothing received since the HELLO (in the machine's half-open list). */
  halfOpen = true;
  /** `Lost packet!` lines this session may still print one by one (`--max-gap` in all). */
  lostLinesLeft: number;
  /** Once closed by GOODBYE and remembered (TIME_WAIT): that GOODBYE's seq; else -1. */
  goodbyeSeq = -1;
  /** Once closed by GOODBYE: the seq of the server's GOODBYE reply, to send it again. */
  replySeq = 0;

  constructor(
    readonly id: number,
    readonly peer: PeerAddress,
    firstSeq: number,
    lostLines: number,
  ) {
    this.hex = hexSessionId(id);
    this.expected = firstSeq + 1;
    this.lostLinesLeft = lostLines;
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
export class ServerMachine {
  /** The options in effect, defaults filled in. */
  readonly options: ServerOptions;
  /** Counters since the start, for the summary line. */
  readonly stats: ServerStats = {
    sessions: 0,
    messages: 0,
    lost: 0,
    duplicates: 0,
    dropped: 0,
    goodbyes: 0,
    timeouts: 0,
    protocolErrors: 0,
    evicted: 0,
    shutdowns: 0,
    repeatedGoodbyes: 0,
  };
  /** Open sessions by id. */
  readonly #sessions = new Map<number, Session>();
  /**
   * Sessions closed by GOODBYE within the last `timeoutMs`, by id, oldest
   * first (all stay the same time, so insertion order is deadline order);
   * at most `maxSessions`. Their timers are in #timers.
   */
  readonly #goodbyeClosed = new Map<number, Session>();
  /** The half-open sessions, oldest first (a Map keeps insertion order). */
  readonly #halfOpen = new Map<number, Session>();
  /** Which drops are the first of their client and reason (bounded). */
  readonly #notices = new DropNotices();
  /** When the last `table_full` event was reported. */
  #fullNoticeAt = -Infinity;
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
  readonly #lost: LostEvent = {
    event: "lost",
    peer: NO_PEER,
    session: "",
    first: 0,
    last: 0,
    itemized: false,
  };
  readonly #duplicate: DuplicateEvent = { event: "duplicate", peer: NO_PEER, session: "", seq: 0 };
  readonly #goodbyeRepeated: GoodbyeRepeatedEvent = {
    event: "goodbye_repeated",
    peer: NO_PEER,
    session: "",
    seq: 0,
  };

  /**
   * A server with no sessions; events go to `events`.
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

  /** Number of sessions closed by GOODBYE and still remembered, to answer a repeated GOODBYE. */
  get rememberedGoodbyes(): number {
    return this.#goodbyeClosed.size;
  }

  /** Handles one arriving datagram. `bytes` may be reused by the caller afterwards. */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void {
    const msg = this.#header;
    try {
      decodeHeader(bytes, this.options.magic, msg, this.options.version);
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return this.#dropUndecodable(bytes, from, now);
    }
    const session = this.#sessions.get(msg.sessionId);
    if (session === undefined) {
      if (msg.command === Command.HELLO) {
        if (msg.seq !== 0) this.#drop(from, "HELLO seq not 0", now, msg.sessionId);
        else this.#create(msg, from, now);
      } else if (msg.command !== Command.GOODBYE || !this.#repeatGoodbye(msg, from, now)) {
        this.#drop(from, "unknown session", now, msg.sessionId);
      }
      return;
    }
    if (session.peer.port !== from.port || session.peer.hostname !== from.hostname) {
      return this.#drop(from, "wrong address", now, msg.sessionId);
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
      // hear our HELLO, so it gets it again. It leaves the session
      // half-open.
      if (msg.command === Command.HELLO && msg.seq === 0) {
        this.#send(session, Command.HELLO);
        return;
      }
      this.#establish(session);
      return;
    }
    this.#establish(session);
    if (msg.seq < session.expected) {
      return this.#protocolError(session, `seq ${msg.seq} after ${session.expected - 1}`);
    }
    const gap = msg.seq - session.expected;
    if (gap > 0) {
      const l = this.#lost;
      l.peer = session.peer;
      l.session = session.hex;
      l.first = session.expected;
      l.last = msg.seq - 1;
      // A session gets --max-gap `Lost packet!` lines in all, so no sender
      // makes the server write more than a few lines per datagram.
      l.itemized = gap <= session.lostLinesLeft;
      if (l.itemized) session.lostLinesLeft -= gap;
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
      case Command.GOODBYE: {
        const replySeq = this.#send(session, Command.GOODBYE);
        this.events.emit({
          event: "goodbye",
          peer: session.peer,
          session: session.hex,
          seq: msg.seq,
        });
        this.stats.goodbyes++;
        this.#close(session, "goodbye");
        this.#remember(session, msg.seq, replySeq, now);
        return;
      }
      default:
        return this.#protocolError(
          session,
          msg.command <= Command.GOODBYE
            ? `${commandName(msg.command)} inside a session`
            : `unknown command ${msg.command}`,
        );
    }
  }

  /**
   * Closes every session whose deadline is at or before `now`, and forgets
   * the sessions closed by GOODBYE whose TIME_WAIT is over.
   */
  handleTimeout(now: number): void {
    for (let s = this.#timers.popDue(now); s !== undefined; s = this.#timers.popDue(now)) {
      if (s.goodbyeSeq >= 0) {
        this.#goodbyeClosed.delete(s.id);
        continue;
      }
      this.stats.timeouts++;
      this.#send(s, Command.GOODBYE);
      this.#close(s, "timeout");
    }
  }

  /** Says GOODBYE to every session and closes it (server exit); forgets the closed ones. */
  shutdown(): void {
    for (const session of this.#sessions.values()) {
      this.stats.shutdowns++;
      this.#send(session, Command.GOODBYE);
      this.#close(session, "shutdown");
    }
    for (const closed of this.#goodbyeClosed.values()) this.#timers.clear(closed.timer);
    this.#goodbyeClosed.clear();
  }

  /**
   * The earliest deadline (a session's inactivity, or the end of a closed
   * one's TIME_WAIT), or undefined when there is none.
   */
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
      const oldest = this.#halfOpen.values().next().value;
      this.#noticeFull(from, now, oldest === undefined ? "dropping" : "evicting");
      if (oldest === undefined) return this.#drop(from, "session table full", now, msg.sessionId);
      this.stats.evicted++;
      this.#send(oldest, Command.GOODBYE);
      this.#close(oldest, "evicted");
    }
    // A new session with the id of one closed by GOODBYE: the old one is over.
    const closed = this.#goodbyeClosed.get(msg.sessionId);
    if (closed !== undefined) this.#forget(closed);
    const peer = { hostname: from.hostname, port: from.port };
    const session = new Session(msg.sessionId, peer, msg.seq, this.options.maxGap);
    this.#sessions.set(session.id, session);
    this.#halfOpen.set(session.id, session);
    this.#touch(session, now);
    this.stats.sessions++;
    this.stats.messages++;
    this.#send(session, Command.HELLO);
    this.events.emit({ event: "created", peer, session: session.hex, seq: msg.seq });
  }

  /** The session has sent something after its HELLO: it is no longer evictable. */
  #establish(session: Session): void {
    if (!session.halfOpen) return;
    session.halfOpen = false;
    this.#halfOpen.delete(session.id);
  }

  #noticeFull(from: PeerAddress, now: number, action: "evicting" | "dropping"): void {
    if (now - this.#fullNoticeAt < FULL_NOTICE_MS) return;
    this.#fullNoticeAt = now;
    this.events.emit({ event: "table_full", peer: from, limit: this.#sessions.size, action });
  }

  /**
   * A datagram that did not decode: PUDP of another variant (said with a
   * hint, the first time for its client) or not PUDP at all. Only here, on
   * the drop path, are its bytes compared with the known variants.
   */
  #dropUndecodable(bytes: Uint8Array, from: PeerAddress, now: number): void {
    const { magic, version } = this.options;
    const foreign = foreignHeader(bytes, magic, version);
    if (foreign === undefined) return this.#drop(from, "not PUDP", now);
    this.#drop(from, foreign.reason, now, undefined, () => variantHint(foreign, magic, version));
  }

  /**
   * Counts a dropped datagram and reports it; `hint`, when given, is made
   * only for the first drop of its client and reason (see {@link DropNotices}).
   */
  #drop(
    from: PeerAddress,
    reason: DropReason,
    now: number,
    sessionId?: number,
    hint?: () => string,
  ): void {
    this.stats.dropped++;
    const first = this.#notices.first(from, DROP_REASON_BIT[reason], now);
    this.events.emit({
      event: "dropped",
      peer: from,
      reason,
      session: sessionId === undefined ? undefined : hexSessionId(sessionId),
      first,
      hint: first && hint !== undefined ? hint() : undefined,
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
    if (session.halfOpen) this.#halfOpen.delete(session.id);
    this.#timers.clear(session.timer);
    this.events.emit({ event: "closed", peer: session.peer, session: session.hex, reason });
  }

  /**
   * Remembers `session`, just closed by a GOODBYE with `goodbyeSeq` and
   * answered with `replySeq`, until `now + timeoutMs`; the oldest remembered
   * is forgotten when `maxSessions` are.
   */
  #remember(session: Session, goodbyeSeq: number, replySeq: number, now: number): void {
    if (this.#goodbyeClosed.size >= this.options.maxSessions) {
      const oldest = this.#goodbyeClosed.values().next().value;
      if (oldest !== undefined) this.#forget(oldest);
    }
    session.goodbyeSeq = goodbyeSeq;
    session.replySeq = replySeq;
    this.#goodbyeClosed.set(session.id, session);
    this.#timers.set(session.timer, now + this.options.timeoutMs);
  }

  #forget(closed: Session): void {
    this.#goodbyeClosed.delete(closed.id);
    this.#timers.clear(closed.timer);
  }

  /**
   * A GOODBYE for no open session: if it repeats the one that closed a
   * remembered session, from its address, sends the same GOODBYE reply again
   * (one 12-byte reply per datagram) and returns true.
   */
  #repeatGoodbye(msg: Header, from: PeerAddress, now: number): boolean {
    const closed = this.#goodbyeClosed.get(msg.sessionId);
    if (closed === undefined) return false;
    if (closed.timer.at <= now) { // over, though its timer has not been handled yet
      this.#forget(closed);
      return false;
    }
    if (
      msg.seq !== closed.goodbyeSeq || closed.peer.port !== from.port ||
      closed.peer.hostname !== from.hostname
    ) {
      return false;
    }
    this.stats.messages++;
    this.stats.repeatedGoodbyes++;
    this.#reply(closed, Command.GOODBYE, closed.replySeq);
    const e = this.#goodbyeRepeated;
    e.peer = closed.peer;
    e.session = closed.hex;
    e.seq = msg.seq;
    this.events.emit(e);
    return true;
  }

  /** Sends `command` to the session with the next sequence number of the server; returns it. */
  #send(session: Session, command: number): number {
    const seq = this.#nextSeq;
    this.#nextSeq = (seq + 1) >>> 0;
    this.#reply(session, command, seq);
    return seq;
  }

  #reply(session: Session, command: number, seq: number): void {
    const reply = this.#replyPool.pop() ?? { data: new Uint8Array(HEADER_SIZE), to: session.peer };
    reply.to = session.peer;
    writeHeader(reply.data, command, seq, session.id, this.options.magic, this.options.version);
    this.#tx.push(reply);
  }
}
