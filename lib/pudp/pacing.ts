/**
 * Pacing of a PUDP client by the server's ALIVEs, as a pure object.
 *
 * How this works: the server answers every DATA it receives with one ALIVE,
 * and ALIVEs come back in order, so they are a self-clock. The window bounds
 * what is sent and not yet answered, in messages (`--window`) and in bytes
 * (the receiver's socket buffer holds about 256 small datagrams but only 3
 * of the largest). Each ALIVE answers the oldest unanswered DATA (a
 * round-trip sample, RFC 6298 smoothing) and lets the next one go.
 *
 * Loss. ALIVEs carry no acknowledgement number, and a lost DATA and a lost
 * ALIVE look the same: an entry that is never answered. Such entries stay
 * at the front (the ALIVEs of later DATA answer them instead) and close the
 * window one by one; it closes completely once the window is all lost
 * entries, and then no ALIVE comes at all. So:
 * - When no ALIVE has come for one retransmission timeout (RTO, from the
 *   round trip: srtt + 4 × rttvar) while DATA are outstanding, every
 *   outstanding DATA is presumed gone (ALIVEs come in order: had any of
 *   them reached the server in time, its ALIVE would be here), and one DATA
 *   more may go at once: the probe that keeps a live server heard. The RTO
 *   doubles on each expiry with no ALIVE in between (a dead or stalled
 *   server is probed less and less often), but never grows beyond
 *   `longestWaitMs` (the client passes a sixteenth of `--timeout`, so a live
 *   server always gets many chances to answer).
 * - A presumption can be wrong: the server was only slow, and the presumed
 *   DATA still sit in its buffer. Had the window reopened at once, their
 *   late ALIVEs would each let a new DATA go, and every wrong presumption
 *   would add a window to the server's buffer (measured: three clients at
 *   full speed overran it). So presumed entries stay in the window, in
 *   "limbo", for one more RTO (four in a crowd): late ALIVEs take them first (ALIVEs come in
 *   order), and what is still in limbo then is dropped, reopening the
 *   window, but only if the answers that came were the probe's: with no
 *   answer, or more answers than probes (a stalled server working off its
 *   backlog), limbo goes on. A loss costs about two RTOs.
 * - The first expiry halves the window in a crowd (the loss may be the
 *   server's buffer overflowing; alone it is the path); a second in a row
 *   restarts it from one, like TCP after a retransmission timeout.
 * - Karn's rule: ALIVEs that take limbo entries give no round-trip sample,
 *   nor do the DATA sent after entries were dropped from limbo, as many as
 *   were dropped (late ALIVEs could still come for those).
 *
 * Growth: like TCP's congestion window, by one per ALIVE up to a threshold
 * (slow start), then by one per window.
 *
 * Sharing. The server's buffer is shared by all its clients, so the window is
 * also bounded by this client's share of it. The server numbers the messages
 * it sends from one counter for all sessions, so the gap between the
 * sequence numbers of two consecutive ALIVEs says how many messages the
 * server sent in between, to everyone: averaged ({@link ServerShare}), about
 * one per active client. By Little's law (every client waits in the same
 * queue) all clients together have about `window × gap` messages in flight;
 * keeping that under {@link SHARED_BUDGET} means `window ≤ SHARED_BUDGET /
 * gap` (never below one; below one message the sends are spaced out in
 * time), and the byte budget is divided the same way. Alone, the gap is 1
 * and nothing changes; a server that numbers per session looks like that.
 * A single gap larger than the whole budget means the server's queue held
 * that many messages between two of ours: the window is cut to the share
 * that gap leaves at once. The gap across an expiry is not sampled: it
 * measures this client's stall, not the crowd (counting it made a client
 * that had lost a message slower and slower).
 *
 * `maxWindow` 0 disables pacing (the classic unpaced client).
 *
 * @module
 */

import { ServerShare } from "./server_share.ts";

/**
 * Lowest RTO, in ms: below this a timer cannot tell loss from scheduling
 * noise (measured through `pudp impair` with no faults, 20,000 lines: with
 * 2 ms, 53 expiries, and the late ALIVEs of the DATA presumed gone let the
 * window overrun the server, 304 lines lost; with 5 ms, 2 to 4 expiries;
 * with 10 ms, none).
 */
export const MIN_RTO_MS = 10;
/**
 * Lowest RTO per client sharing the server, in ms: a message waits behind
 * those of every client the server is busy with, and a crowd that grows can
 * raise the round trip faster than samples show.
 */
export const MIN_RTO_PER_CLIENT_MS = 1;
/** Longest RTO, in ms, whatever the backoff (the client may ask for less). */
export const MAX_RTO_MS = 1_000;
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
 * Gaps between ALIVEs averaged before the window may grow (from the fifth
 * ALIVE on): one gap can be far from the truth.
 */
const MIN_SHARE_SAMPLES = 4;
/** Fewest replies the share estimate averages over (it spans two windows). */
const MIN_SHARE_SPAN = 4;
/**
 * Below this average gap between its replies a client is about alone on the
 * server: a gap in the server's numbers is then a lost ALIVE, and an expiry
 * is taken as loss on the path, not as a full server buffer (the window is
 * kept). In a crowd the first expiry halves the window.
 */
export const ALONE_SHARE = 2;
/**
 * Below this average gap a gap in the server's numbers is taken for lost
 * ALIVEs, at most {@link MAX_LOST_ALIVES} in a row. Well below
 * {@link ALONE_SHARE}: three clients at full speed on two cores saw their
 * averages dip under 2, and each other's messages taken for lost ALIVEs let
 * too many DATA go (lines lost).
 */
export const SURELY_ALONE_SHARE = 1.5;
/** Most ALIVEs in a row taken as lost from one gap. */
export const MAX_LOST_ALIVES = 3;
/**
 * In a crowd, limbo lasts this many RTOs: a server busy with many clients
 * stalls longer (measured: three clients at full speed on two cores), and
 * each client's presumptions add to one shared buffer.
 */
export const CROWD_LIMBO_RTOS = 4;
/** RTO before the first round-trip sample. */
const INITIAL_RTO_MS = 100;
/**
 * RTO before the first ALIVE. The HELLO's round trip says little about the
 * data path: when many clients start at once the first ALIVE waits behind
 * all of their first messages. (A first ALIVE that is really lost costs one
 * such wait.)
 */
export const FIRST_ALIVE_RTO_MS = 1_000;

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
}

/** The ALIVE-clocked send window of one client. */
export class PacingWindow {
  readonly stats: PacingStats = {
    expiries: 0,
    presumedLost: 0,
    lateAlives: 0,
    alivesLost: 0,
    srttMs: undefined,
    share: 1,
  };
  /** Send time and size of each unanswered DATA, oldest first, from `#head` (limbo first). */
  #sentAt: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #cwnd: number;
  #ssthresh: number;
  #rttVar = 0;
  #backoff = 1;
  /** Entries removed from the front so far (answered or presumed gone). */
  #removed = 0;
  /** Sends so far. */
  #sent = 0;
  /** Entries numbered below this give no round-trip sample (Karn's rule; see above). */
  #noSampleBefore = 0;
  /** Expiries since the last ALIVE. */
  #silentExpiries = 0;
  /** Last ALIVE or expiry, or the send that ended a time with nothing outstanding. */
  #lastProgress = 0;
  /** This client's share of the server, from the server's sequence numbers. */
  readonly #share = new ServerShare();
  /** Whether any ALIVE has arrived. */
  #alivesSeen = false;
  /** The next ALIVE follows an expiry: its gap is not a share sample. */
  #afterExpiry = false;
  /** With less than one message of share, no DATA goes before this time. */
  #spacedUntil = 0;
  /** Entries at the front presumed gone at the last expiry, still waiting for late ALIVEs. */
  #limbo = 0;
  /** When what is left in limbo is dropped. */
  #limboUntil = 0;
  /** The probe an expiry allows beyond the window (0 or 1). */
  #probe = 0;
  /** ALIVEs that took limbo entries, and DATA sent, since limbo began. */
  #limboAlives = 0;
  #limboSends = 0;

  /**
   * @param maxWindow most unanswered DATA; 0 = unpaced
   * @param maxBytes most unanswered payload bytes (one message is always allowed)
   * @param longestWaitMs the RTO never exceeds this (the client: a sixteenth of its timeout)
   */
  constructor(
    readonly maxWindow: number,
    readonly maxBytes: number,
    readonly longestWaitMs: number = MAX_RTO_MS,
  ) {
    this.#cwnd = Math.min(INITIAL_WINDOW, maxWindow);
    this.#ssthresh = Math.max(2, maxWindow / 2);
  }

  /** DATA sent and not yet answered nor presumed gone. */
  get inFlight(): number {
    return this.#outstanding - this.#limbo;
  }

  /** Entries the window counts: in flight and in limbo. */
  get #outstanding(): number {
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

  /** Whether a DATA (or GOODBYE) of `size` payload bytes may be sent at `now`. */
  canSend(size: number, now: number): boolean {
    if (this.maxWindow === 0) return true;
    this.#settleLimbo(now);
    if (this.#outstanding === 0) return now >= this.#spacedUntil;
    if (this.#probe > 0) return true;
    return this.#outstanding < this.window &&
      this.#bytes + size <= this.maxBytes / this.stats.share;
  }

  /** A DATA of `size` bytes was sent at `now`. */
  onSend(size: number, now: number): void {
    if (this.maxWindow === 0) return;
    if (this.#outstanding === 0) this.#lastProgress = now; // the RTO counts from here
    this.#probe = 0;
    if (this.#limbo > 0) this.#limboSends++;
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

  /** An ALIVE with the server's sequence number `seq` arrived at `now`. */
  onAlive(seq: number, now: number): void {
    this.#onServerSeq(seq);
    this.#alivesSeen = true;
    this.#lastProgress = now;
    this.#backoff = 1;
    this.#silentExpiries = 0;
    if (this.maxWindow === 0) return;
    this.#settleLimbo(now);
    if (this.#outstanding === 0) {
      this.stats.lateAlives++;
      return;
    }
    if (this.#limbo > 0) {
      // A late answer to a DATA presumed gone, or the probe's answer (the
      // probe then stays as the DATA it took the place of, until the next
      // expiry): no sample either way.
      this.stats.lateAlives++;
      this.#limbo--;
      this.#limboAlives++;
      this.#removeOldest();
      this.#grow();
      return;
    }
    // Alone, the server's numbers go up by one per ALIVE to us: a gap of g
    // means g - 1 of them were lost, and their DATA answered. (Another
    // client's message taken for a lost ALIVE lets one message too many go;
    // with the share this low that is rare.)
    const gap = this.#share.lastGap;
    if (
      this.stats.share < SURELY_ALONE_SHARE && gap > 1 && gap <= MAX_LOST_ALIVES + 1 &&
      gap <= this.inFlight
    ) {
      this.stats.alivesLost += gap - 1;
      for (let i = 1; i < gap; i++) this.#removeOldest();
    }
    if (this.#removed >= this.#noSampleBefore) this.sampleRtt(now - this.#sentAt[this.#head]);
    this.#removeOldest();
    this.#grow();
    this.#compact();
  }

  /** One ALIVE's worth of growth. */
  #grow(): void {
    // Grow only once this client knows its share of the server (clients that
    // start together must not all grow before they see one another), and only
    // as far as the window can be used: not beyond the limit or the share.
    // A gap beyond the budget (see #onServerSeq) is no time to grow either.
    if (this.#share.samples >= MIN_SHARE_SAMPLES && this.#share.lastGap <= SHARED_BUDGET) {
      this.#cwnd += this.#cwnd < this.#ssthresh ? 1 : 1 / this.#cwnd;
      this.#cwnd = Math.min(this.#cwnd, this.maxWindow, this.#sharedCap());
    }
  }

  /**
   * Updates this client's estimated share of the server from the sequence
   * number of an ALIVE, in arrival order. (Not the HELLO's: the gap from it
   * to the first ALIVE counts everyone's HELLOs.)
   */
  #onServerSeq(seq: number): void {
    const span = Math.max(MIN_SHARE_SPAN, 2 * this.window);
    if (this.#afterExpiry) {
      this.#afterExpiry = false;
      this.#share.resume(seq, span);
      this.stats.share = this.#share.value;
      return;
    }
    this.#share.onReply(seq, span);
    this.stats.share = this.#share.value;
    const gap = this.#share.lastGap;
    if (gap > SHARED_BUDGET) {
      this.#cwnd = Math.min(this.#cwnd, Math.max(1, SHARED_BUDGET / gap));
      this.#ssthresh = Math.max(2, Math.min(this.#ssthresh, this.#cwnd));
    }
  }

  /**
   * When the window opens by itself: the end of the RTO while DATA are
   * outstanding, else the end of the spacing. (Ask only while a message
   * waits for the window.)
   */
  pollTimeout(): number | undefined {
    if (this.maxWindow === 0) return undefined;
    if (this.#outstanding > 0) {
      const expiry = this.#lastProgress + this.rtoMs;
      return this.#limbo > 0 ? Math.min(expiry, this.#limboUntil) : expiry;
    }
    return this.#spacedUntil > 0 ? this.#spacedUntil : undefined;
  }

  /** The time from `pollTimeout()` has come (early calls are harmless). */
  handleTimeout(now: number): void {
    this.#settleLimbo(now);
    if (this.#outstanding > 0 && now >= this.#lastProgress + this.rtoMs) this.#expire(now);
  }

  /**
   * Drops what is still in limbo once its time is up, if the answers that
   * came meanwhile were no more than the DATA sent meanwhile (the probes':
   * the rest are gone). No answer at all (the server is stalled or the path
   * is down), or more answers than probes (a stalled server answering its
   * backlog): limbo goes on for another RTO, while expiries keep probing.
   */
  #settleLimbo(now: number): void {
    if (this.#limbo === 0 || now < this.#limboUntil) return;
    if (this.#limboAlives === 0 || this.#limboAlives > this.#limboSends) {
      this.#limboUntil = now + this.#limboMs();
      return;
    }
    this.stats.presumedLost += this.#limbo;
    this.#noSampleBefore = this.#sent + this.#limbo;
    for (; this.#limbo > 0; this.#limbo--) this.#removeOldest();
    this.#probe = 0;
  }

  /** No ALIVE for one RTO with DATA outstanding: presume them gone (limbo), probe, back off. */
  #expire(now: number): void {
    this.stats.expiries++;
    this.#limbo = this.#outstanding;
    this.#limboUntil = now + this.#limboMs();
    this.#limboAlives = 0;
    this.#limboSends = 0;
    this.#probe = 1;
    this.#silentExpiries++;
    this.#backoff = Math.min(this.#backoff * 2, 1024);
    this.#lastProgress = now;
    this.#afterExpiry = true;
    if (this.#silentExpiries > 1) {
      this.#cwnd = 1;
    } else if (this.stats.share >= ALONE_SHARE) {
      this.#ssthresh = Math.max(2, this.#cwnd / 2);
      this.#cwnd = this.#ssthresh;
    }
  }

  /** How long presumed entries wait in limbo for late ALIVEs, in ms. */
  #limboMs(): number {
    const limbo = this.#baseRto() * (this.stats.share < ALONE_SHARE ? 1 : CROWD_LIMBO_RTOS);
    return Math.min(this.longestWaitMs, MAX_RTO_MS, limbo);
  }

  /** The current retransmission timeout (how long the window waits for an ALIVE), in ms. */
  get rtoMs(): number {
    return Math.min(this.longestWaitMs, MAX_RTO_MS, this.#baseRto() * this.#backoff);
  }

  #baseRto(): number {
    const srtt = this.stats.srttMs;
    if (!this.#alivesSeen) return FIRST_ALIVE_RTO_MS;
    if (srtt === undefined) return INITIAL_RTO_MS;
    return Math.max(
      MIN_RTO_MS,
      MIN_RTO_PER_CLIENT_MS * this.stats.share,
      srtt + 4 * this.#rttVar,
    );
  }

  /** Removes the oldest entry (answered). */
  #removeOldest(): void {
    this.#bytes -= this.#sizes[this.#head];
    this.#head++;
    this.#removed++;
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sentAt.length) {
      this.#sentAt = this.#sentAt.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }
}
