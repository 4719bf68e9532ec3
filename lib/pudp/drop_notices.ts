/**
 * Which dropped datagrams the server says something about: the first of
 * each client and reason, within a bounded memory and a global budget, so a
 * flood (from one address or a million spoofed ones) cannot flood stderr
 * nor grow the server.
 *
 * How this works: each client address has a bitmask of the reasons already
 * said, in a Map kept in insertion order and capped at `maxPeers` (the
 * oldest address is forgotten first). On top of that, notices spend tokens
 * of a bucket that holds `burst` and refills one per `refillMs`: a sender
 * cycling through addresses gets at most one line per `refillMs`. A notice
 * refused by the budget is not remembered, so its client is told at the
 * next of its drops that finds a token. Pure: the time is passed in.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const notices = new DropNotices({ maxPeers: 2, burst: 2, refillMs: 1000 });
 * const a = { hostname: "127.0.0.1", port: 1 };
 * assert.equal(notices.first(a, 0, 0), true); // said once…
 * assert.equal(notices.first(a, 0, 1), false); // …then only counted
 * assert.equal(notices.first(a, 1, 2), true); // another reason
 * assert.equal(notices.first({ hostname: "127.0.0.1", port: 2 }, 0, 3), false); // budget spent
 * assert.equal(notices.first({ hostname: "127.0.0.1", port: 2 }, 0, 1003), true); // refilled
 * ```
 *
 * @module
 */

import type { PeerAddress } from "../runtime/transmit.ts";

/** Limits of a {@link DropNotices}. */
export interface DropNoticeLimits {
  /** Most client addresses remembered; beyond, the oldest is forgotten. */
  maxPeers: number;
  /** Most notices at once. */
  burst: number;
  /** One more notice allowed per this many ms. */
  refillMs: number;
}

/** The server's limits: 1,024 clients remembered, 16 notices at once, then one a second. */
export const DROP_NOTICE_LIMITS: DropNoticeLimits = {
  maxPeers: 1024,
  burst: 16,
  refillMs: 1000,
};

/** Once per client and reason, bounded (see the module). */
export class DropNotices {
  /** Reasons said, as bits, by `host:port`, oldest first. */
  readonly #said = new Map<string, number>();
  #tokens: number;
  #refilledAt = 0;

  /**
   * Nothing said yet, the budget full.
   * @param limits memory and budget (default {@link DROP_NOTICE_LIMITS})
   */
  constructor(readonly limits: DropNoticeLimits = DROP_NOTICE_LIMITS) {
    this.#tokens = limits.burst;
  }

  /** Client addresses remembered (at most `maxPeers`). */
  get size(): number {
    return this.#said.size;
  }

  /**
   * Whether a drop from `peer` for reason number `reason` (0–30) is the first
   * to be said; if so, it is remembered and spends a token.
   */
  first(peer: PeerAddress, reason: number, now: number): boolean {
    const key = `${peer.hostname}:${peer.port}`;
    const bits = this.#said.get(key) ?? 0;
    const bit = 1 << reason;
    if ((bits & bit) !== 0) return false;
    if (!this.#spend(now)) return false;
    if (bits === 0 && this.#said.size >= this.limits.maxPeers) {
      const oldest = this.#said.keys().next().value;
      if (oldest !== undefined) this.#said.delete(oldest);
    }
    this.#said.set(key, bits | bit);
    return true;
  }

  #spend(now: number): boolean {
    const { burst, refillMs } = this.limits;
    if (this.#tokens < burst) {
      const earned = Math.floor((now - this.#refilledAt) / refillMs);
      if (earned > 0) {
        this.#tokens = Math.min(burst, this.#tokens + earned);
        this.#refilledAt = this.#tokens === burst ? now : this.#refilledAt + earned * refillMs;
      }
    } else {
      this.#refilledAt = now;
    }
    if (this.#tokens === 0) return false;
    this.#tokens--;
    return true;
  }
}
