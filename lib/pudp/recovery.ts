/**
 * Loss recovery of a PUDP client's window: what happens when no ALIVE comes,
 * as an explicit state machine.
 *
 * How this works: ALIVEs carry no acknowledgement number, and a lost DATA and
 * a lost ALIVE look the same: an entry that is never answered. Such entries
 * stay at the front (the ALIVEs of later DATA answer them instead) and close
 * the window one by one; it closes completely once the window is all lost
 * entries, and then no ALIVE comes at all. A server that stalls (its stdout
 * is a pipe read slowly, it lost the CPU) looks the same for a while, but its
 * buffer still holds every one of those DATA: presuming them gone and sending
 * more would overrun it. Nothing on the wire tells the two apart, and once
 * sending goes on a wrong presumption never shows again (every later ALIVE
 * answers the oldest entry), so one is made only after the server has shown
 * it is working and then gone quiet. The phases:
 *
 * ```
 *   open --RTO expires, DATA outstanding--> silent --ALIVE--> answered
 *    ^                                      |  ^  |              |
 *    |                                      |  +--+ RTO expires  |
 *    |                                      |   (again: backoff) |
 *    +-- nothing outstanding for an RTO ----+--------------------+
 *    +-- quiet for `quietMs` after an ALIVE: the rest presumed gone
 * ```
 *
 * - `silent`: no ALIVE has come for one retransmission timeout (RTO) while
 *   DATA are outstanding. The window is frozen (entries stay counted, and
 *   ALIVEs that answer them open nothing), and one DATA may go at once, the
 *   probe that keeps a live server heard. With no ALIVE the RTO doubles and
 *   another probe goes (a dead or stalled server is probed less and less
 *   often), but the RTO never grows beyond the client's longest wait (a
 *   sixteenth of `--timeout`, so a live server always gets many chances to
 *   answer).
 * - `answered`: the server has answered. It now has to stay quiet for as long
 *   as it had been silent since the last probe (`quietMs`, at least one RTO):
 *   a server working off a backlog answers without such pauses, so what is
 *   still unanswered then is presumed gone and leaves the window. If more
 *   answers came than probes, some answered DATA from before the expiry: the
 *   server had a backlog, and may have more, so nothing is presumed (what is
 *   really lost brings the next expiry). A loss costs about three RTOs. (A
 *   server that answers part of a backlog and then stalls for longer than
 *   before is taken for loss: the overrun is then at most one window.)
 * - Recovery also ends once nothing is outstanding for one RTO after the last
 *   ALIVE (the server was only slow: nothing is presumed).
 *
 * The deadlines are counted from the caller's last progress (the last ALIVE
 * or expiry); this object keeps the phase and its data.
 *
 * @module
 */

/** Where recovery stands, with what each phase needs. */
export type RecoveryState =
  /** Not in recovery: the window moves with the ALIVEs. */
  | { readonly phase: "open" }
  /** Expired, and no ALIVE since. */
  | {
    readonly phase: "silent";
    /** When the silence began (the last progress before the first expiry), or the last probe went. */
    silentSince: number;
    /** Expiries in a row (since the last ALIVE). */
    expiries: number;
    /** Probes sent in recovery. */
    probes: number;
    /** Whether the probe the last expiry allows (beyond the window) has not gone yet. */
    probeAllowed: boolean;
  }
  /** The server has answered since the expiry; waiting for it to go quiet. */
  | {
    readonly phase: "answered";
    /** How long the server must stay quiet after an ALIVE before the rest is presumed gone. */
    readonly quietMs: number;
    /** ALIVEs received in recovery. */
    alives: number;
    /** Probes sent in recovery. */
    probes: number;
    /** Whether the probe the last expiry allows (beyond the window) has not gone yet. */
    probeAllowed: boolean;
  };

const OPEN: RecoveryState = { phase: "open" };

/**
 * The recovery state of one client's window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Recovery } from "./recovery.ts";
 *
 * const r = new Recovery();
 * assert.equal(r.onExpiry(100), 1); // no ALIVE since t=100: the first expiry in a row
 * assert.equal(r.probeAllowed, true);
 * r.onSend(130); // the probe
 * r.onAnswer(150, 10, 4000); // an ALIVE at t=150, 20 ms after the probe
 * assert.deepEqual(r.state, { phase: "answered", quietMs: 20, alives: 1, probes: 1, probeAllowed: false });
 * // 20 ms of quiet after that ALIVE, 2 DATA still outstanding: both presumed gone
 * assert.equal(r.settle(170, 2, 150, 10), 2);
 * assert.equal(r.state.phase, "open");
 * ```
 */
export class Recovery {
  #state: RecoveryState = OPEN;

  /** The current phase and its data. */
  get state(): Readonly<RecoveryState> {
    return this.#state;
  }

  /** Whether the window is in recovery (frozen: only probes go). */
  get active(): boolean {
    return this.#state.phase !== "open";
  }

  /** Whether a probe may go now (only in recovery). */
  get probeAllowed(): boolean {
    return this.#state.phase !== "open" && this.#state.probeAllowed;
  }

  /** A DATA went at `now`: in recovery, it is a probe. */
  onSend(now: number): void {
    const s = this.#state;
    if (s.phase === "open") return;
    s.probes++;
    if (s.phase === "silent") s.silentSince = now;
    s.probeAllowed = false;
  }

  /**
   * The RTO expired with DATA outstanding and no ALIVE since `lastProgress`
   * (never in the `answered` phase): recovery starts or goes on, and a probe
   * may go. Returns the expiries in a row, this one included.
   */
  onExpiry(lastProgress: number): number {
    let s = this.#state;
    if (s.phase === "answered") throw new Error("recovery: no expiry once the server has answered");
    if (s.phase === "open") {
      s = {
        phase: "silent",
        silentSince: lastProgress,
        expiries: 0,
        probes: 0,
        probeAllowed: false,
      };
      this.#state = s;
    }
    s.probeAllowed = true;
    return ++s.expiries;
  }

  /**
   * An ALIVE at `now` answered an outstanding DATA in recovery. The first
   * sets the quiet that ends recovery: as long as the server had been silent
   * since the last probe, at least `rtoMs`, at most `longestQuietMs`.
   */
  onAnswer(now: number, rtoMs: number, longestQuietMs: number): void {
    const s = this.#state;
    if (s.phase === "answered") {
      s.alives++;
    } else if (s.phase === "silent") {
      this.#state = {
        phase: "answered",
        quietMs: Math.min(longestQuietMs, Math.max(rtoMs, now - s.silentSince)),
        alives: 1,
        probes: s.probes,
        probeAllowed: s.probeAllowed,
      };
    }
  }

  /**
   * When recovery ends by itself with `outstanding` DATA counted: one RTO
   * (`rtoMs`) after `lastProgress` once nothing is outstanding, else the end
   * of the quiet after the server's last answer; undefined while the server
   * has not answered.
   */
  endsAt(outstanding: number, lastProgress: number, rtoMs: number): number | undefined {
    const s = this.#state;
    if (s.phase === "open") return undefined;
    if (outstanding === 0) return lastProgress + rtoMs;
    return s.phase === "answered" ? lastProgress + s.quietMs : undefined;
  }

  /**
   * Ends recovery if its time has come at `now` (see {@link endsAt}).
   * Returns undefined while recovery goes on, else how many of the
   * `outstanding` DATA are presumed gone: all of them, or none when nothing
   * was outstanding or more answers came than probes (a backlog).
   */
  settle(
    now: number,
    outstanding: number,
    lastProgress: number,
    rtoMs: number,
  ): number | undefined {
    const s = this.#state;
    const at = this.endsAt(outstanding, lastProgress, rtoMs);
    if (at === undefined || now < at) return undefined;
    this.#state = OPEN;
    if (s.phase !== "answered" || outstanding === 0) return 0;
    return s.alives <= s.probes ? outstanding : 0;
  }
}
