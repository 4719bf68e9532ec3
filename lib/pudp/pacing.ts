/**
 * Pacing of a PUDP client by the server's ALIVEs, as a pure object.
 *
 * How this works: the server answers every DATA with one ALIVE, in order, so
 * ALIVEs are a self-clock. The window bounds what is sent and not yet
 * answered, in messages (`--window`) and in bytes (the receiver's socket
 * buffer holds about 256 small datagrams but only 3 of the largest).
 *
 * ALIVEs carry no acknowledgement number and can be lost, so:
 * - Each ALIVE answers the oldest unanswered DATA (round-trip sample, RFC
 *   6298 smoothing). A lost ALIVE leaves an entry that is never answered (a
 *   "leaked" credit); which one cannot be told, so it is not guessed.
 * - If the window stays full with no ALIVE for one quiet period (an RTO
 *   from the round trip, at least MIN_QUIET_MS for each client sharing the
 *   server, doubled on each consecutive expiry), one more message may go if
 *   it fits this client's share of the server's buffer, so the client never
 *   stalls. How depends on the crowd:
 *   - about alone (share below {@link ALONE_SHARE}), the oldest entry is
 *     taken as answered (its ALIVE lost): leaked credits are won back one
 *     per expiry. Karn's rule: entries outstanding at the expiry give no
 *     round-trip sample; a leaked entry in front of them shifts every match
 *     by one, and the time the window sat full would be measured as round
 *     trip, lengthening the quiet period, which keeps the window full longer.
 *     If the server was only slow, its late ALIVE makes the count one short
 *     of the truth: one message more than the window, alone, is harmless.
 *   - in a crowd, a probe credit is granted and the entries are kept: most
 *     often the server is only busy and its buffer still holds them, and
 *     forgetting them would let their late ALIVEs open every client's
 *     window beyond what the shared buffer can take (measured: reclaiming
 *     in a crowd lost 5 of 200,000 fan-in lines).
 * - After 3 consecutive expiries without any ALIVE the outstanding messages
 *   are taken as gone: the count restarts from zero with a window of one, and
 *   the threshold halves (like TCP after a retransmission timeout). Age
 *   alone never releases a message: a server starved of CPU by its own
 *   clients can hold a full buffer for seconds (measured: round trips over
 *   1 s while 200 clients start), and a message sent then is lost.
 * - The window grows like TCP's congestion window: by one per ALIVE up to a
 *   threshold (slow start), then by one per window.
 * - The server's buffer is shared by all its clients, so the window is also
 *   bounded by this client's share of it. The server numbers the messages it
 *   sends from one counter for all sessions, so the gap between the sequence
 *   numbers of two consecutive ALIVEs says how many messages the server sent
 *   in between, to everyone: averaged ({@link ServerShare}), about one per
 *   active client. By Little's law (every client waits in the same queue)
 *   all clients together have about `window × gap` messages in flight;
 *   keeping that under {@link SHARED_BUDGET} means `window ≤ SHARED_BUDGET /
 *   gap` (never below one), and the byte budget is divided the same way.
 *   Alone, the gap is 1
 *   and nothing changes; a server that numbers per session looks like that.
 *   The average lags when a crowd arrives, but a single gap larger than
 *   the whole budget means the server's queue held that many messages
 *   between two of ours: the window is cut to the share that gap leaves at
 *   once (a client that grew its window alone must not keep it when 200
 *   others start).
 *
 * `maxWindow` 0 disables pacing (the classic unpaced client).
 *
 * @module
 */

import { ServerShare } from "./server_share.ts";

/** Bounds of the quiet period, in ms; the lower one is per client sharing the server. */
export const MIN_QUIET_MS = 5;
export const MAX_QUIET_MS = 1_000;
/**
 * Window in messages at the start (slow start grows it from here). One, so
 * that many clients starting at once cannot overflow the server's buffer
 * before they have learnt their share of it.
 */
export const INITIAL_WINDOW = 1;
/**
 * Messages all clients of one server may have in flight together. A default
 * Linux socket buffer holds about 256 small datagrams; 200 clients that start
 * at once put one message each there before any of them can learn anything
 * (the protocol's first DATA is not clocked), so the clients that already
 * know their share must leave that room: 40 (measured: with 64, a few of
 * 200,000 fan-in lines were lost at start-up in most runs; with 48, none in
 * ten runs and 6 in one; 40 leaves a margin of 16 datagrams).
 */
export const SHARED_BUDGET = 40;
/**
 * Gaps between ALIVEs averaged before the window may grow or a probe go
 * (from the fifth ALIVE on): one gap can be far from the truth.
 */
const MIN_SHARE_SAMPLES = 4;
/** Fewest replies the share estimate averages over (it spans two windows). */
const MIN_SHARE_SPAN = 4;
/** Quiet period before the first round-trip sample. */
const INITIAL_RTO_MS = 100;
/**
 * Quiet period before the first ALIVE. The HELLO's round trip says little
 * about the data path: when many clients start at once the first ALIVE waits
 * behind all of their first messages, and probing early would overflow the
 * server's buffer. (A first ALIVE that is really lost costs one such wait.)
 */
export const FIRST_ALIVE_QUIET_MS = 1_000;
/**
 * Below this average gap between its replies a client is about alone on the
 * server: an expiry then reclaims the oldest entry (see above); in a crowd it
 * grants a probe credit instead.
 */
export const ALONE_SHARE = 2;
/** Consecutive silent expiries after which the outstanding DATA are taken as gone. */
export const EXPIRIES_BEFORE_RESET = 3;

/** Counters for diagnostics and benchmarks. */
export interface PacingStats {
  /** Quiet periods that expired. */
  recoveries: number;
  /** Times the outstanding count was reset after consecutive expiries. */
  resets: number;
  /** Expiries that took the oldest outstanding DATA as answered (its ALIVE lost; alone only). */
  reclaimed: number;
  /** Smoothed round-trip time in ms, undefined before the first sample. */
  srttMs: number | undefined;
  /** Average gap between the server sequence numbers of this client's replies (≈ active clients). */
  share: number;
}

/** The ALIVE-clocked send window of one client. */
export class PacingWindow {
  readonly stats: PacingStats = {
    recoveries: 0,
    resets: 0,
    reclaimed: 0,
    srttMs: undefined,
    share: 1,
  };
  /** Send time and size of each unanswered DATA, oldest first. */
  #sentAt: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #cwnd: number;
  #ssthresh: number;
  #rttVar = 0;
  #backoff = 1;
  /** Probe credits granted by expiries in a crowd: the window is this much larger. */
  #probes = 0;
  /** Entries removed from the front so far (answered, reclaimed or forgotten). */
  #removed = 0;
  /** Sends so far. */
  #sent = 0;
  /**
   * Entries numbered below this give no round-trip sample (Karn's rule):
   * they were outstanding at an expiry, so a leaked entry may stand in
   * front of them and the ALIVE that pops one may answer a later DATA.
   */
  #noSampleBefore = 0;
  /** Expiries since the last ALIVE. */
  #silentExpiries = 0;
  /** Last ALIVE, or the send that ended a time with nothing outstanding. */
  #lastProgress = 0;
  /** This client's share of the server, from the server's sequence numbers. */
  readonly #share = new ServerShare();
  /** Whether any ALIVE has arrived. */
  #alivesSeen = false;
  /** With less than one message of share, no DATA goes before this time. */
  #spacedUntil = 0;

  /**
   * @param maxWindow most unanswered DATA; 0 = unpaced
   * @param maxBytes most unanswered payload bytes (one message is always allowed)
   */
  constructor(readonly maxWindow: number, readonly maxBytes: number) {
    this.#cwnd = Math.min(INITIAL_WINDOW, maxWindow);
    this.#ssthresh = Math.max(2, maxWindow / 2);
  }

  /** DATA sent and not yet answered. */
  get inFlight(): number {
    return this.#sentAt.length - this.#head;
  }

  /** The current window in messages (at most `maxWindow`). */
  get window(): number {
    return Math.max(1, Math.floor(Math.min(this.#cwnd, this.#sharedCap())));
  }

  /** Messages this client may have in flight as its share of the server's buffer (at least 1). */
  #sharedCap(): number {
    return Math.max(1, SHARED_BUDGET / this.stats.share);
  }

  /**
   * Whether a DATA (or GOODBYE) of `size` payload bytes may be sent at `now`.
   */
  canSend(size: number, now: number): boolean {
    if (this.maxWindow === 0) return true;
    if (this.inFlight === 0) return now >= this.#spacedUntil;
    return this.inFlight < this.window + this.#probes &&
      this.#bytes + size <= this.maxBytes / this.stats.share + this.#probes * size;
  }

  /** A DATA of `size` bytes was sent at `now`. */
  onSend(size: number, now: number): void {
    if (this.maxWindow === 0) return;
    if (this.inFlight === 0) this.#lastProgress = now; // the quiet period counts from here
    this.#sentAt.push(now);
    this.#sizes.push(size);
    this.#sent++;
    this.#bytes += size;
    // A share below one message: one message per round trip / share, so
    // that all clients together keep about SHARED_BUDGET in flight.
    const share = SHARED_BUDGET / this.stats.share;
    const srtt = this.stats.srttMs;
    this.#spacedUntil = share < 1 && srtt !== undefined ? now + srtt / share : 0;
  }

  /** A round-trip sample that is not tied to a DATA (the HELLO exchange). */
  sampleRtt(ms: number): void {
    const r = Math.max(0, ms);
    const srtt = this.stats.srttMs;
    if (srtt === undefined) {
      this.stats.srttMs = r;
      this.#rttVar = r / 2;
    } else {
      this.#rttVar = 0.75 * this.#rttVar + 0.25 * Math.abs(srtt - r);
      this.stats.srttMs = 0.875 * srtt + 0.125 * r;
    }
  }

  /**
   * The sequence number of an ALIVE from the server, in arrival order:
   * updates this client's estimated share of the server. (Not the HELLO's:
   * the gap from it to the first ALIVE counts everyone's HELLOs.)
   */
  onServerSeq(seq: number): void {
    this.#share.onReply(seq, Math.max(MIN_SHARE_SPAN, 2 * this.window));
    this.stats.share = this.#share.value;
    const gap = this.#share.lastGap;
    if (gap > SHARED_BUDGET) {
      this.#cwnd = Math.min(this.#cwnd, Math.max(1, SHARED_BUDGET / gap));
      this.#ssthresh = Math.max(2, Math.min(this.#ssthresh, this.#cwnd));
    }
  }

  /** An ALIVE arrived at `now`. */
  onAlive(now: number): void {
    this.#alivesSeen = true;
    this.#lastProgress = now;
    this.#backoff = 1;
    this.#silentExpiries = 0;
    if (this.maxWindow === 0 || this.inFlight === 0) return;
    if (this.#removed >= this.#noSampleBefore) this.sampleRtt(now - this.#sentAt[this.#head]);
    this.#removeOldest();
    if (this.inFlight === 0) this.#probes = 0;
    // Grow only once this client knows its share of the server (clients that
    // start together must not all grow before they see one another), and only
    // as far as the window can be used: not beyond the limit or the share.
    // A gap beyond the budget (see onServerSeq) is no time to grow either.
    if (this.#share.samples >= MIN_SHARE_SAMPLES && this.#share.lastGap <= SHARED_BUDGET) {
      this.#cwnd += this.#cwnd < this.#ssthresh ? 1 : 1 / this.#cwnd;
      this.#cwnd = Math.min(this.#cwnd, this.maxWindow, this.#sharedCap());
    }
    this.#compact();
  }

  /**
   * When a window that keeps a message waiting opens without an ALIVE: the
   * end of the quiet period while DATA are outstanding, else the end of the
   * spacing. Ask only while a message waits (the window is closed).
   */
  pollTimeout(): number | undefined {
    if (this.maxWindow === 0) return undefined;
    if (this.inFlight > 0) return this.#lastProgress + this.quietMs;
    return this.#spacedUntil > 0 ? this.#spacedUntil : undefined;
  }

  /** The time from `pollTimeout()` has come: a quiet period that passed is an expiry. */
  handleTimeout(now: number): void {
    if (this.inFlight > 0 && now >= this.#lastProgress + this.quietMs) this.onQuiet(now);
  }

  /**
   * The quiet period passed with the window full: reclaim the oldest entry (alone) or grant a
   * probe credit (in a crowd), if one more fits the share, and
   * back off; after EXPIRIES_BEFORE_RESET in a row, forget what is outstanding.
   */
  onQuiet(now: number): void {
    this.stats.recoveries++;
    this.#silentExpiries++;
    this.#backoff = Math.min(this.#backoff * 2, 1024);
    this.#lastProgress = now;
    if (this.#silentExpiries < EXPIRIES_BEFORE_RESET) {
      if (this.stats.share >= ALONE_SHARE) {
        if (this.#probeFits()) this.#probes++;
        return;
      }
      this.#noSampleBefore = this.#sent;
      if (this.#probeFits()) {
        this.stats.reclaimed++;
        this.#removeOldest();
      }
      return;
    }
    this.stats.resets++;
    this.#silentExpiries = 0;
    this.#forgetAll();
    this.#ssthresh = Math.max(2, this.#cwnd / 2);
    this.#cwnd = 1;
  }

  /**
   * Whether one more message fits this client's share of the server's
   * buffer. Not before the share is known: a crowd of clients that all
   * probe at once is what overflows a buffer.
   */
  #probeFits(): boolean {
    return this.#share.samples >= MIN_SHARE_SAMPLES &&
      (this.inFlight + this.#probes + 1) * this.stats.share <= SHARED_BUDGET;
  }

  /** The current quiet period, in ms. */
  get quietMs(): number {
    return Math.min(MAX_QUIET_MS, this.#rto() * this.#backoff);
  }

  #rto(): number {
    const srtt = this.stats.srttMs;
    if (!this.#alivesSeen) return FIRST_ALIVE_QUIET_MS;
    if (srtt === undefined) return INITIAL_RTO_MS;
    // A message waits behind those of every client the server is busy with,
    // and a sudden crowd can raise the round trip faster than samples show.
    return Math.max(MIN_QUIET_MS * this.stats.share, srtt + 4 * this.#rttVar);
  }

  /** Removes the oldest entry (answered, or taken as leaked). */
  #removeOldest(): void {
    this.#bytes -= this.#sizes[this.#head];
    this.#head++;
    this.#removed++;
  }

  #forgetAll(): void {
    this.#removed += this.inFlight;
    this.#sentAt = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#probes = 0;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sentAt.length) {
      this.#sentAt = this.#sentAt.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }
}
