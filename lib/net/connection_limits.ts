/**
 * The ceiling every TCP server keeps, as a pure machine (time passed in):
 * how many connections may be open at once (`--max-connections`), and how
 * long a connection may keep the server waiting for its next byte
 * (`--idle-timeout`). {@link TcpListener} is its driver: it asks
 * {@link ConnectionLimits.admit} before it hands a connection on, tells it
 * when a connection's read starts and ends, and closes the connections
 * {@link ConnectionLimits.popIdle} names.
 *
 * At the cap a new connection is refused at once: accepted and closed, not
 * left in the backlog, so a client learns it straight away and a legitimate
 * client gets in as soon as one of the open connections closes. Refusals
 * are counted and said (the first time, then at most once a minute, like the
 * PUDP server's table-full notice).
 *
 * Idle means: a read is waiting and no byte has come for `idleTimeoutMs`.
 * A connection the server is not reading (it waits for its replies to be
 * written, or for stdout) is never idle, whatever the time: only the time
 * the server spends waiting for the peer counts, and each byte starts it
 * again.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const limits = new ConnectionLimits<string>({ maxConnections: 1, idleTimeoutMs: 1000 });
 * assert.equal(limits.admit(0), true); // 1 open
 * assert.equal(limits.admit(5), false); // refused, at the cap
 * assert.equal(
 *   limits.pollNotice(),
 *   "connection limit reached (--max-connections 1): refused 1 new connection(s), 1 in all",
 * );
 * const timer = limits.timer("a");
 * limits.reading(timer, 10); // "a" waits for the peer from 10
 * assert.equal(limits.popIdle(1009), undefined);
 * assert.equal(limits.popIdle(1010), "a"); // nothing came for 1 s
 * limits.release(timer); // "a" closed: room for one more
 * assert.equal(limits.admit(1010), true);
 * ```
 *
 * @module
 */

import { Timer, TimerTable } from "../runtime/timer_table.ts";

/** The limits of a TCP server (`--max-connections`, `--idle-timeout`). */
export interface TcpLimits {
  /** The most connections open at once; more are accepted and closed at once. */
  maxConnections: number;
  /** A connection the server waits on this long without a byte is closed, in ms; 0: never. */
  idleTimeoutMs: number;
}

/** The default `--max-connections`. */
export const DEFAULT_MAX_CONNECTIONS = 1024;
/** The default `--idle-timeout`, in seconds. */
export const DEFAULT_IDLE_TIMEOUT_S = 60;

/** Defaults, as in the README. */
export const DEFAULT_TCP_LIMITS: TcpLimits = {
  maxConnections: DEFAULT_MAX_CONNECTIONS,
  idleTimeoutMs: DEFAULT_IDLE_TIMEOUT_S * 1000,
};

/** Least time between two notices of refused connections, in ms. */
export const REFUSED_NOTICE_MS = 60_000;

/** The `closed` reason of a connection cut for idleness: `idle for 60 s`. */
export function idleReason(idleTimeoutMs: number): string {
  return `idle for ${idleTimeoutMs / 1000} s`;
}

/** Connection accounting and idle deadlines of one listener. */
export class ConnectionLimits<T> {
  readonly #timers = new TimerTable<T>();
  #open = 0;
  #refused = 0;
  #refusedSinceNotice = 0;
  #lastNoticeAt: number | undefined;
  #notice: string | undefined;

  /** No connection yet. */
  constructor(readonly limits: TcpLimits) {}

  /** Connections admitted and not yet released. */
  get open(): number {
    return this.#open;
  }

  /** Connections refused at the cap, since the start. */
  get refused(): number {
    return this.#refused;
  }

  /** The `closed` reason of an idle connection. */
  get idleReason(): string {
    return idleReason(this.limits.idleTimeoutMs);
  }

  /**
   * A connection was accepted: true if there is room (it counts as open
   * until {@link release}), false if it is to be closed at once (counted,
   * and said by {@link pollNotice} the first time, then once a minute).
   */
  admit(now: number): boolean {
    if (this.#open < this.limits.maxConnections) {
      this.#open++;
      return true;
    }
    this.#refused++;
    this.#refusedSinceNotice++;
    if (this.#lastNoticeAt === undefined || now - this.#lastNoticeAt >= REFUSED_NOTICE_MS) {
      this.#notice =
        `connection limit reached (--max-connections ${this.limits.maxConnections}): ` +
        `refused ${this.#refusedSinceNotice} new connection(s)` +
        (this.#lastNoticeAt === undefined ? "" : " in the last minute or more") +
        `, ${this.#refused} in all`;
      this.#refusedSinceNotice = 0;
      this.#lastNoticeAt = now;
    }
    return false;
  }

  /** The notice line due, if any (once polled, it is gone). */
  pollNotice(): string | undefined {
    const notice = this.#notice;
    this.#notice = undefined;
    return notice;
  }

  /** The idle timer of a new admitted connection (not armed). */
  timer(owner: T): Timer<T> {
    return new Timer(owner);
  }

  /** An admitted connection is closed: its place and its timer are given back. */
  release(timer: Timer<T>): void {
    this.#timers.clear(timer);
    this.#open--;
  }

  /** The server starts waiting for the connection's next byte. */
  reading(timer: Timer<T>, now: number): void {
    if (this.limits.idleTimeoutMs > 0) this.#timers.set(timer, now + this.limits.idleTimeoutMs);
  }

  /** The wait is over (bytes came, the stream ended): not idle while the server works. */
  notReading(timer: Timer<T>): void {
    this.#timers.clear(timer);
  }

  /** A connection that has kept the server waiting for `idleTimeoutMs` by `now`, one at a time. */
  popIdle(now: number): T | undefined {
    return this.#timers.popDue(now);
  }

  /** When the next connection turns idle, or undefined. */
  get nextAt(): number | undefined {
    return this.#timers.nextAt;
  }
}
