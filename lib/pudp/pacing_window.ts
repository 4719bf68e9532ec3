/**
 * Pacing of a PUDP client by the server's ALIVEs, as a pure object: the
 * window that puts the parts together.
 *
 * How this works: the server answers every DATA it receives with one ALIVE,
 * and ALIVEs come back in order, so they are a self-clock. The window bounds
 * what is sent and not yet answered, in messages (`--window`) and in bytes
 * (the receiver's socket buffer holds about 256 small datagrams but only 3
 * of the largest). Each unanswered DATA is an entry in a queue ({@link Fifo});
 * each ALIVE answers the oldest (a round-trip sample for the
 * {@link RttEstimator}) and lets the next DATA go. The parts:
 *
 * - {@link RttEstimator}: the round trip and the retransmission timeout (RTO).
 * - {@link CongestionWindow}: how many messages may be in flight, steered
 *   towards the target shared by all clients of the server; its share
 *   estimate (`share_estimate.ts`) reads the crowd from the server's
 *   sequence numbers.
 * - {@link Recovery}: no ALIVE for one RTO while DATA are outstanding: the
 *   window freezes, probes go, and entries are presumed gone only once the
 *   server has answered and gone quiet.
 * - {@link AloneLedger}: alone on the server, its sequence numbers count lost
 *   ALIVEs exactly: their DATA are answered at once, with no recovery.
 * - {@link UnconfirmedCredits}: places freed without an ALIVE (presumed gone,
 *   lost ALIVEs) stay on the books until a resynchronisation confirms them.
 *
 * Karn's rule: no round-trip sample in recovery (an ALIVE may answer an older
 * DATA than the one it takes), nor from the DATA sent after entries were
 * presumed gone, as many as were presumed.
 *
 * `maxWindow` 0 disables pacing (the classic unpaced client).
 *
 * @module
 */

import { Fifo } from "../util/fifo.ts";
import { AloneLedger } from "./alone_ledger.ts";
import { CongestionWindow } from "./congestion_window.ts";
import { Recovery } from "./recovery.ts";
import { MAX_RTO_MS, RttEstimator } from "./rtt_estimator.ts";
import { UnconfirmedCredits } from "./unconfirmed_credits.ts";

/** Counters for diagnostics and benchmarks. */
export interface PacingStats {
  /** RTOs that expired with DATA outstanding. */
  expiries: number;
  /** DATA presumed gone at those expiries (their DATA or their ALIVE lost). */
  presumedLost: number;
  /** ALIVEs that came with nothing outstanding (late answers to DATA presumed gone). */
  lateAlives: number;
  /** ALIVEs lost on the way, seen from the server's numbers while alone. */
  alivesLost: number;
  /** Smoothed round-trip time in ms, undefined before the first sample. */
  srttMs: number | undefined;
  /** Average gap between the server sequence numbers of this client's replies (≈ active clients). */
  share: number;
  /** Resynchronisations made (see {@link UnconfirmedCredits}). */
  resyncs: number;
  /** Credits found wrong: ALIVEs that came for DATA presumed gone or counted answered. */
  wrongCredits: number;
}

/** One DATA sent and not yet answered nor presumed gone. */
interface SentEntry {
  /** When it was sent. */
  readonly at: number;
  /** Its payload bytes. */
  readonly size: number;
}

/**
 * The ALIVE-clocked send window of one client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { PacingWindow } from "./pacing_window.ts";
 *
 * const window = new PacingWindow(32, 64 * 1024);
 * assert.equal(window.canSend(100, 0), true);
 * window.onSend(100, 0); // a DATA of 100 bytes at t=0
 * assert.equal(window.canSend(100, 0), false); // the window starts at one message
 * window.onAlive(1, 3); // its ALIVE came back at t=3 ms
 * assert.equal(window.inFlight, 0);
 * assert.equal(window.stats.srttMs, 3);
 * ```
 */
export class PacingWindow {
  /** Counters since the start, for the summary line. */
  readonly stats: PacingStats = {
    expiries: 0,
    presumedLost: 0,
    lateAlives: 0,
    alivesLost: 0,
    srttMs: undefined,
    share: 1,
    resyncs: 0,
    wrongCredits: 0,
  };
  /** The unanswered DATA, oldest first. */
  readonly #entries = new Fifo<SentEntry>();
  /** Their payload bytes. */
  #bytes = 0;
  /** Entries removed from the front so far (answered or presumed gone). */
  #removed = 0;
  /** Sends so far. */
  #sent = 0;
  /** Entries numbered below this give no round-trip sample (Karn's rule; see above). */
  #noSampleBefore = 0;
  /** Last ALIVE or expiry, or the send that ended a time with nothing outstanding. */
  #lastProgress = 0;
  readonly #rtt: RttEstimator;
  readonly #cwnd: CongestionWindow;
  readonly #recovery = new Recovery();
  /** Lost ALIVEs, from the server's sequence numbers while alone. */
  readonly #ledger = new AloneLedger();
  readonly #credits = new UnconfirmedCredits();

  /**
   * An empty window.
   * @param maxWindow most unanswered DATA; 0 = unpaced
   * @param maxBytes most unanswered payload bytes (one message is always allowed)
   * @param longestWaitMs the RTO never exceeds this (the client: a sixteenth of its timeout)
   */
  constructor(
    readonly maxWindow: number,
    readonly maxBytes: number,
    readonly longestWaitMs: number = MAX_RTO_MS,
  ) {
    this.#rtt = new RttEstimator(longestWaitMs);
    this.#cwnd = new CongestionWindow(maxWindow);
  }

  /** DATA sent and not yet answered nor presumed gone. */
  get inFlight(): number {
    return this.#entries.size;
  }

  /** The current window in messages (at most `maxWindow`; below one, sends are spaced). */
  get window(): number {
    return this.#cwnd.window;
  }

  /** Credits not yet confirmed (see {@link UnconfirmedCredits}). */
  get unconfirmed(): number {
    return this.#credits.count;
  }

  /** Whether sending waits for a resynchronisation. */
  get resyncing(): boolean {
    return this.#credits.resyncing;
  }

  /** The current retransmission timeout (how long the window waits for an ALIVE), in ms. */
  get rtoMs(): number {
    return this.#rtt.rtoMs(this.stats.share);
  }

  /** Whether a DATA (or GOODBYE) of `size` payload bytes may be sent at `now`. */
  canSend(size: number, now: number): boolean {
    if (this.maxWindow === 0) return true;
    this.#settle(now);
    if (this.#recovery.active) return this.#recovery.probeAllowed;
    if (this.#credits.resyncing) return false;
    const outstanding = this.#entries.size;
    if (outstanding === 0) return now >= this.#cwnd.spacedUntil;
    return outstanding < this.window && this.#bytes + size <= this.maxBytes / this.stats.share;
  }

  /** A DATA of `size` bytes was sent at `now`. */
  onSend(size: number, now: number): void {
    if (this.maxWindow === 0) return;
    if (this.#entries.size === 0) this.#lastProgress = now; // the RTO counts from here
    this.#recovery.onSend(now);
    this.#entries.push({ at: now, size });
    this.#sent++;
    this.#bytes += size;
    this.#cwnd.onSend(now, this.stats.srttMs);
  }

  /** A round-trip sample that is not tied to a DATA (the HELLO exchange). */
  sampleRtt(ms: number): void {
    this.#rtt.sample(ms);
    this.stats.srttMs = this.#rtt.srttMs;
  }

  /** An ALIVE with the server's sequence number `seq` arrived at `now`. */
  onAlive(seq: number, now: number): void {
    // Everyone's messages in flight, as this ALIVE found them.
    const total = this.#cwnd.totalInFlight(this.#entries.size);
    this.#cwnd.onReply(seq);
    this.stats.share = this.#cwnd.share;
    this.#ledger.onAlive(seq, this.#sent);
    this.#rtt.onAnswer();
    this.#lastProgress = now;
    if (this.maxWindow === 0) return;
    this.#settle(now);
    if (this.#entries.size === 0) {
      this.stats.lateAlives++;
      // The answer to a DATA presumed gone or counted answered: that credit was wrong.
      if (this.#credits.onLateAnswer()) this.stats.wrongCredits++;
      this.#ledger.stop();
      return;
    }
    if (this.#recovery.active) {
      // The server is working. No sample (this may answer an older DATA than
      // the one it takes), no growth, nothing opened: the rest may be a
      // backlog it is still working off.
      this.#recovery.onAnswer(now, this.#baseRto(), this.#rtt.longestQuietMs);
      this.#removeOldest();
      this.#settle(now);
      return;
    }
    // Alone, the server's numbers count lost ALIVEs: their DATA were answered
    // (a credit, unconfirmed: the numbers may have been another client's).
    const lost = Math.min(this.#ledger.takeLost(), this.#entries.size - 1);
    this.stats.alivesLost += lost;
    for (let i = 0; i < lost; i++) this.#removeOldest();
    this.#credit(lost);
    if (this.#removed >= this.#noSampleBefore) this.sampleRtt(now - this.#entries.peek()!.at);
    this.#removeOldest();
    this.#cwnd.steer(total);
  }

  /**
   * When the window opens by itself: the end of the RTO while DATA are
   * outstanding (in recovery, once the server has answered, the end of its
   * quiet; with nothing outstanding, the end of recovery or of a
   * resynchronisation), else the end of the spacing. (Ask only while a
   * message waits for the window.)
   */
  pollTimeout(): number | undefined {
    if (this.maxWindow === 0) return undefined;
    const outstanding = this.#entries.size;
    const recoveryEnd = this.#recovery.endsAt(outstanding, this.#lastProgress, this.#baseRto());
    if (recoveryEnd !== undefined) return recoveryEnd;
    if (this.#credits.resyncing && outstanding === 0) {
      return this.#lastProgress + this.#resyncQuietMs();
    }
    if (outstanding > 0) return this.#lastProgress + this.rtoMs;
    const spacedUntil = this.#cwnd.spacedUntil;
    return spacedUntil > 0 ? spacedUntil : undefined;
  }

  /** The time from `pollTimeout()` has come (early calls are harmless). */
  handleTimeout(now: number): void {
    this.#settle(now);
    if (this.#entries.size === 0 || this.#recovery.state.phase === "answered") return;
    if (now >= this.#lastProgress + this.rtoMs) this.#expire(now);
  }

  /** `n` places in the window were freed without an ALIVE: on the books until confirmed. */
  #credit(n: number): void {
    if (this.#credits.credit(n, this.window, this.maxWindow)) this.stats.resyncs++;
  }

  /** The quiet after the last answer that ends a resynchronisation, in ms. */
  #resyncQuietMs(): number {
    return this.#credits.quietMs(this.#baseRto(), this.#rtt.longestQuietMs);
  }

  /** Ends recovery, then a resynchronisation, if their time has come at `now`. */
  #settle(now: number): void {
    this.#settleRecovery(now);
    this.#settleResync(now);
  }

  /** Ends recovery if its time has come; what it presumes gone leaves the window. */
  #settleRecovery(now: number): void {
    const outstanding = this.#entries.size;
    const gone = this.#recovery.settle(now, outstanding, this.#lastProgress, this.#baseRto());
    if (gone === undefined || gone === 0) return;
    this.stats.presumedLost += gone;
    this.#ledger.settle(); // lost ALIVEs among them: presumed with the rest
    this.#noSampleBefore = this.#sent + gone;
    for (let i = 0; i < gone; i++) this.#removeOldest();
    this.#credit(gone);
  }

  /**
   * Ends a resynchronisation once nothing counted is in flight and the
   * server has been quiet since for the resync quiet: what is still
   * unconfirmed was really lost.
   */
  #settleResync(now: number): void {
    if (!this.#credits.resyncing || this.#recovery.active || this.#entries.size > 0) return;
    if (now < this.#lastProgress + this.#resyncQuietMs()) return;
    this.#credits.endResync();
  }

  /** No ALIVE for one RTO with DATA outstanding: recovery (or more of it), a probe, back off. */
  #expire(now: number): void {
    this.stats.expiries++;
    const inARow = this.#recovery.onExpiry(this.#lastProgress);
    this.#rtt.onExpiry();
    this.#lastProgress = now;
    this.#cwnd.onExpiry(inARow);
  }

  /** The RTO without backoff, in ms. */
  #baseRto(): number {
    return this.#rtt.baseRtoMs(this.stats.share);
  }

  /** Removes the oldest entry (answered or presumed gone). */
  #removeOldest(): void {
    this.#bytes -= this.#entries.shift()!.size;
    this.#removed++;
  }
}
