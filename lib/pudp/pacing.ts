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
 * entries, and then no ALIVE comes at all. A server that stalls (its stdout
 * is a pipe read slowly, it lost the CPU) looks the same for a while, but
 * its buffer still holds every one of those DATA: presuming them gone and
 * sending more would overrun it. Nothing on the wire tells the two apart,
 * and once sending goes on a wrong presumption never shows again (every
 * later ALIVE answers the oldest entry), so one is made only after the
 * server has shown it is working and then gone quiet:
 * - When no ALIVE has come for one retransmission timeout (RTO, from the
 *   round trip: srtt + 4 × rttvar) while DATA are outstanding, the client
 *   enters recovery: the window is frozen (entries stay counted, and ALIVEs
 *   that answer them open nothing), and one DATA may go at once, the probe
 *   that keeps a live server heard. With no ALIVE the RTO doubles and
 *   another probe goes (a dead or stalled server is probed less and less
 *   often), but the RTO never grows beyond `longestWaitMs` (the client
 *   passes a sixteenth of `--timeout`, so a live server always gets many
 *   chances to answer).
 * - Recovery ends when nothing is outstanding (the server was only slow:
 *   nothing is presumed), or when the server, having answered, has been
 *   quiet for as long as it had been silent since the last probe (at least
 *   one RTO): a server working off a backlog answers without such pauses, so
 *   what is still unanswered then is presumed gone and leaves the window.
 *   A loss costs about three RTOs. (A server that answers part of a backlog
 *   and then stalls for longer than before is taken for loss: the overrun is
 *   then at most one window.)
 * - The first expiry halves the window in a crowd (the loss may be the
 *   server's buffer overflowing; alone it is the path); a second in a row
 *   restarts it from one, like TCP after a retransmission timeout.
 * - Alone on the server, its sequence numbers count lost ALIVEs exactly
 *   ({@link AloneLedger}): their DATA are answered at once, with no
 *   recovery.
 * - Karn's rule: no round-trip sample in recovery (an ALIVE may answer an
 *   older DATA than the one it takes), nor from the DATA sent after
 *   entries were presumed gone, as many as were presumed.
 *
 * Sharing. The server's buffer is shared by all its clients, so the windows
 * of all clients together must stay well inside it, and each client should
 * get the same part of it. The server numbers the messages it sends from one
 * counter for all sessions, so the gap between the sequence numbers of two
 * consecutive ALIVEs says how many messages the server sent in between, to
 * everyone: averaged over a few round trips ({@link ServerShare}) it is the
 * server's whole message rate over this client's. By Little's law (every
 * client waits in the same queue) that is also everyone's messages in flight
 * over this client's, so this client's messages in flight times the average
 * gap estimate the messages all clients have in flight together: the same
 * figure for every client. Each client steers its window towards one target
 * that is a function of that total alone, `maxWindow × (SHARED_BUDGET /
 * total)^`{@link SHARE_STEEPNESS} (never above `maxWindow`): all clients aim
 * at the same window, so a client that grew first gives way to one that
 * came later. (A cap proportional to each client's own share, the design
 * before this, kept any split of the budget where it was: one client at 32,
 * the others held at one, for seconds.) The target falls steeply once the
 * total passes the budget, so the total stays near it whatever the crowd:
 * alone the window reaches `maxWindow`; three clients settle near 16 each,
 * 50 near 2, 200 below one (spaced out in time). Each ALIVE moves the window
 * part of the way to the target: up {@link SHARE_GAIN} of the way per round
 * trip (at least one message, at most one per ALIVE, like TCP's slow start),
 * down {@link SHARE_GAIN_DOWN}, slow enough for the averaged gap to follow. Alone, the
 * gap is 1 and nothing changes; a server that numbers per session looks like
 * that. A client whose window is below one message sends once per round
 * trip / window, so its gaps are that much larger: its messages in flight
 * are its window, on average, and the estimate stays right. (A single large
 * gap is not taken as a queue that size: for a spaced client it is its own
 * spacing, and cutting on it starved such clients for good.) The gap across
 * an expiry is not sampled: it measures this client's stall, not the crowd.
 *
 * Credits that are not answers. Presuming a DATA gone, and taking a gap in
 * the server's numbers for a lost ALIVE, both free a place in the window
 * without an ALIVE. If the presumption was wrong (the server was only slow;
 * the gap was another client's message), that DATA's ALIVE is still coming
 * and will answer a later DATA instead: the window then counts one fewer
 * message than is really in flight, for good. Such credits are therefore
 * kept on the books as unconfirmed: when they reach one window's worth
 * ({@link UNCONFIRMED_MIN} at least), the client resynchronises: it sends
 * nothing new until every counted DATA is answered and the server has then
 * been quiet for a while ({@link RESYNC_QUIET_MIN_MS}, two RTOs at least).
 * An ALIVE that comes then, with nothing counted in flight, answers a DATA
 * wrongly presumed gone: it cancels one unconfirmed credit (and proves the
 * alone ledger wrong, which stops for good). After the quiet, what is left
 * was really lost, and the books are clean again. So a client is never more
 * than about one window beyond its window, however often it is wrong.
 * (Before this, three clients at full speed lost lines in most runs: the
 * first one started alone, its ledger took the others' messages for its own
 * lost ALIVEs, and 170 wrong credits later it overran the server's buffer.)
 * Resynchronisations that find nothing wrong let the next one come later
 * (the allowance doubles, up to two windows), so a path that really loses
 * ALIVEs is not slowed by them for long.
 *
 * `maxWindow` 0 disables pacing (the classic unpaced client).
 *
 * @example
 * ```ts
 * const window = new PacingWindow(32, 64 * 1024);
 * if (window.canSend(100, 0)) window.onSend(100, 0); // a DATA of 100 bytes at t=0
 * window.onAlive(1, 3); // its ALIVE came back at t=3 ms
 * window.inFlight; // 0
 * ```
 *
 * @module
 */

import { AloneLedger } from "./alone_ledger.ts";
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
 * How steeply the shared target falls as the total in flight passes
 * {@link SHARED_BUDGET}: the target is `maxWindow × (budget / total)^4`.
 * Steeper keeps the total closer to the budget for any crowd; gentler is
 * calmer. With 4 and a window of 32: 3 clients settle near 16 messages each
 * (48 in all), 50 near 1.6 (80), 200 near 0.5 (112), all well inside a
 * 256-datagram buffer.
 */
export const SHARE_STEEPNESS = 4;
/** Part of the way up to the target the window moves per round trip (at least one message). */
export const SHARE_GAIN = 1 / 8;
/**
 * Part of the way down to the target the window moves per round trip:
 * faster than up, so that a crowd arriving is made room for within a few
 * round trips (like TCP, slow up and quick down).
 */
export const SHARE_GAIN_DOWN = 1 / 4;
/** Smallest window, in messages: below one, sends are spaced out in time. */
export const MIN_WINDOW = 1 / 16;
/** Fewest unconfirmed credits that start a resynchronisation (see the module comment). */
export const UNCONFIRMED_MIN = 4;
/** Shortest quiet that ends a resynchronisation, in ms (at least two RTOs). */
export const RESYNC_QUIET_MIN_MS = 20;
/**
 * Gaps between ALIVEs averaged before the window may grow (from the fifth
 * ALIVE on): one gap can be far from the truth.
 */
const MIN_SHARE_SAMPLES = 4;
/** Fewest replies the share estimate averages over (it spans two windows). */
const MIN_SHARE_SPAN = 4;
/**
 * Below this average gap between its replies a client is about alone on the
 * server: an expiry is taken as loss on the path, not as a full server
 * buffer (the window is kept). In a crowd the first expiry halves the window.
 */
export const ALONE_SHARE = 2;
/**
 * Longest quiet after an ALIVE in recovery, in RTO limits (`longestWaitMs`):
 * a quarter of the client's timeout.
 */
const MAX_QUIET_RTOS = 4;
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
  /** Resynchronisations made (see the module comment). */
  resyncs: number;
  /** Credits found wrong: ALIVEs that came for DATA presumed gone or counted answered. */
  wrongCredits: number;
}

/** The ALIVE-clocked send window of one client. */
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
  /** Send time and size of each unanswered DATA, oldest first, from `#head`. */
  #sentAt: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #cwnd: number;
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
  /** Lost ALIVEs, from the server's sequence numbers while alone. */
  readonly #ledger = new AloneLedger();
  /** Whether any ALIVE has arrived. */
  #alivesSeen = false;
  /** The next ALIVE follows an expiry: its gap is not a share sample. */
  #afterExpiry = false;
  /** With less than one message of share, no DATA goes before this time. */
  #spacedUntil = 0;
  /** Since an expiry: the window is frozen, only probes go (see the module comment). */
  #recovering = false;
  /** When the silence that began recovery began, or the last probe went. */
  #silentSince = 0;
  /** ALIVEs received and probes sent in recovery. */
  #recoveryAlives = 0;
  #recoveryProbes = 0;
  /** How long the server must stay quiet after an ALIVE in recovery before the rest is presumed gone. */
  #quietMs = 0;
  /** The probe an expiry allows beyond the window (0 or 1). */
  #probe = 0;
  /** Credits not backed by an ALIVE (presumed gone, lost ALIVEs), not yet confirmed. */
  #unconfirmed = 0;
  /** Sending waits for a resynchronisation (see the module comment). */
  #resyncing = false;
  /** ALIVEs that answered wrong credits during the current resynchronisation. */
  #resyncWrong = 0;
  /** Resynchronisations in a row that found nothing wrong (each doubles the allowance). */
  #cleanResyncs = 0;

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
    this.#cwnd = Math.min(INITIAL_WINDOW, maxWindow);
  }

  /** DATA sent and not yet answered nor presumed gone. */
  get inFlight(): number {
    return this.#outstanding;
  }

  /** Entries the window counts. */
  get #outstanding(): number {
    return this.#sentAt.length - this.#head;
  }

  /** The current window in messages (at most `maxWindow`; below one, sends are spaced). */
  get window(): number {
    return Math.max(1, Math.floor(this.#cwnd));
  }

  /** Credits not yet confirmed (see the module comment). */
  get unconfirmed(): number {
    return this.#unconfirmed;
  }

  /** Whether sending waits for a resynchronisation. */
  get resyncing(): boolean {
    return this.#resyncing;
  }

  /** Whether a DATA (or GOODBYE) of `size` payload bytes may be sent at `now`. */
  canSend(size: number, now: number): boolean {
    if (this.maxWindow === 0) return true;
    this.#settle(now);
    if (this.#recovering) return this.#probe > 0;
    if (this.#resyncing) return false;
    if (this.#outstanding === 0) return now >= this.#spacedUntil;
    return this.#outstanding < this.window &&
      this.#bytes + size <= this.maxBytes / this.stats.share;
  }

  /** A DATA of `size` bytes was sent at `now`. */
  onSend(size: number, now: number): void {
    if (this.maxWindow === 0) return;
    if (this.#outstanding === 0) this.#lastProgress = now; // the RTO counts from here
    if (this.#recovering) {
      this.#recoveryProbes++;
      this.#silentSince = now;
    }
    this.#probe = 0;
    this.#sentAt.push(now);
    this.#sizes.push(size);
    this.#sent++;
    this.#bytes += size;
    // A window below one message: one message per round trip / window.
    const srtt = this.stats.srttMs;
    this.#spacedUntil = this.#cwnd < 1 && srtt !== undefined ? now + srtt / this.#cwnd : 0;
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
    // Everyone's messages in flight: this client's (as the ALIVE found them;
    // below one, the window: a spaced client has that many on average) times
    // the average gap.
    const total = this.stats.share * Math.min(this.#cwnd, Math.max(1, this.#outstanding));
    this.#onServerSeq(seq);
    this.#ledger.onAlive(seq, this.#sent);
    this.#alivesSeen = true;
    this.#lastProgress = now;
    this.#backoff = 1;
    this.#silentExpiries = 0;
    if (this.maxWindow === 0) return;
    this.#settle(now);
    if (this.#outstanding === 0) {
      this.stats.lateAlives++;
      // The answer to a DATA presumed gone or counted answered: that credit was wrong.
      if (this.#unconfirmed > 0) {
        this.#unconfirmed--;
        this.stats.wrongCredits++;
        if (this.#resyncing) this.#resyncWrong++;
      }
      this.#ledger.stop();
      return;
    }
    if (this.#recovering) {
      // The server is working. No sample (this may answer an older DATA than
      // the one it takes), no growth, nothing opened: the rest may be a
      // backlog it is still working off.
      if (this.#recoveryAlives++ === 0) {
        const silence = now - this.#silentSince;
        this.#quietMs = Math.min(
          MAX_QUIET_RTOS * this.longestWaitMs,
          Math.max(this.#baseRto(), silence),
        );
      }
      this.#removeOldest();
      this.#settle(now);
      return;
    }
    // Alone, the server's numbers count lost ALIVEs: their DATA were answered
    // (a credit, unconfirmed: the numbers may have been another client's).
    const lost = Math.min(this.#ledger.takeLost(), this.#outstanding - 1);
    this.stats.alivesLost += lost;
    for (let i = 0; i < lost; i++) this.#removeOldest();
    this.#credit(lost);
    if (this.#removed >= this.#noSampleBefore) this.sampleRtt(now - this.#sentAt[this.#head]);
    this.#removeOldest();
    this.#steer(total);
    this.#compact();
  }

  /**
   * One ALIVE's step of the window towards the shared target for `total`
   * messages in flight (see the module comment): about {@link SHARE_GAIN}
   * of the way per round trip, at most one message up per ALIVE, never
   * below {@link MIN_WINDOW}.
   */
  #steer(total: number): void {
    // Only once this client knows its share of the server: clients that start
    // together must not all grow before they see one another.
    if (this.#share.samples < MIN_SHARE_SAMPLES) return;
    const target = Math.min(
      this.maxWindow,
      this.maxWindow * (SHARED_BUDGET / total) ** SHARE_STEEPNESS,
    );
    const gap = target - this.#cwnd;
    const perAlive = 1 / Math.max(this.#cwnd, 1);
    if (gap > 0) {
      // Up: SHARE_GAIN of the way per round trip, and at least one message
      // (without that floor the window would only approach the target).
      const step = Math.min(1, Math.max(SHARE_GAIN * gap, 1) * perAlive);
      this.#cwnd = Math.min(target, this.#cwnd + step);
    } else {
      const step = Math.max(SHARE_GAIN_DOWN * gap * perAlive, -this.#cwnd / 2);
      this.#cwnd = Math.max(MIN_WINDOW, this.#cwnd + step);
    }
  }

  /** `n` places in the window were freed without an ALIVE: on the books until confirmed. */
  #credit(n: number): void {
    if (n <= 0) return;
    this.#unconfirmed += n;
    if (!this.#resyncing && this.#unconfirmed >= this.#allowance()) {
      this.#resyncing = true;
      this.#resyncWrong = 0;
      this.stats.resyncs++;
    }
  }

  /** Unconfirmed credits allowed before a resynchronisation: a window, doubled per clean one. */
  #allowance(): number {
    const window = Math.max(UNCONFIRMED_MIN, this.window);
    const most = 2 * Math.max(UNCONFIRMED_MIN, this.maxWindow);
    return Math.min(most, window * 2 ** this.#cleanResyncs);
  }

  /** The quiet after the last answer that ends a resynchronisation, in ms. */
  #resyncQuietMs(): number {
    return Math.min(
      MAX_QUIET_RTOS * this.longestWaitMs,
      Math.max(RESYNC_QUIET_MIN_MS, 2 * this.#baseRto()),
    );
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
  }

  /**
   * When the window opens by itself: the end of the RTO while DATA are
   * outstanding (in recovery, once the server has answered, the end of its
   * quiet), else the end of the spacing. (Ask only while a message waits
   * for the window.)
   */
  pollTimeout(): number | undefined {
    if (this.maxWindow === 0) return undefined;
    if (this.#recovering && this.#outstanding === 0) return this.#lastProgress + this.#baseRto();
    if (this.#resyncing && this.#outstanding === 0) {
      return this.#lastProgress + this.#resyncQuietMs();
    }
    if (this.#outstanding > 0) {
      if (this.#recovering && this.#recoveryAlives > 0) return this.#lastProgress + this.#quietMs;
      return this.#lastProgress + this.rtoMs;
    }
    return this.#spacedUntil > 0 ? this.#spacedUntil : undefined;
  }

  /** The time from `pollTimeout()` has come (early calls are harmless). */
  handleTimeout(now: number): void {
    this.#settle(now);
    if (this.#outstanding === 0 || (this.#recovering && this.#recoveryAlives > 0)) return;
    if (now >= this.#lastProgress + this.rtoMs) this.#expire(now);
  }

  /**
   * Ends recovery one RTO after the last ALIVE once nothing is outstanding
   * (ALIVEs that come meanwhile, with nothing outstanding, are late answers
   * to DATA wrongly presumed gone before: they open nothing, which undoes
   * that presumption), or when the server has been quiet for `#quietMs`
   * since its last ALIVE: what is still outstanding is presumed gone.
   */
  #settle(now: number): void {
    this.#settleRecovery(now);
    this.#settleResync(now);
  }

  /**
   * Ends a resynchronisation once nothing counted is in flight and the
   * server has been quiet since for the resync quiet: what is still
   * unconfirmed was really lost.
   */
  #settleResync(now: number): void {
    if (!this.#resyncing || this.#recovering || this.#outstanding > 0) return;
    if (now < this.#lastProgress + this.#resyncQuietMs()) return;
    this.#resyncing = false;
    this.#unconfirmed = 0;
    this.#cleanResyncs = this.#resyncWrong === 0 ? Math.min(this.#cleanResyncs + 1, 10) : 0;
  }

  #settleRecovery(now: number): void {
    if (!this.#recovering) return;
    if (this.#outstanding === 0) {
      if (now < this.#lastProgress + this.#baseRto()) return;
    } else {
      if (this.#recoveryAlives === 0 || now < this.#lastProgress + this.#quietMs) return;
      // More answers than probes: some answered DATA from before the expiry,
      // so the server had a backlog, and may have more. Nothing is presumed;
      // what is really lost brings the next expiry.
      if (this.#recoveryAlives <= this.#recoveryProbes) {
        const gone = this.#outstanding;
        this.stats.presumedLost += gone;
        this.#ledger.settle(); // lost ALIVEs among them: presumed with the rest
        this.#noSampleBefore = this.#sent + gone;
        for (let i = 0; i < gone; i++) this.#removeOldest();
        this.#credit(gone);
      }
    }
    this.#recovering = false;
    this.#probe = 0;
  }

  /** No ALIVE for one RTO with DATA outstanding: recovery (or more of it), a probe, back off. */
  #expire(now: number): void {
    this.stats.expiries++;
    if (!this.#recovering) {
      this.#recovering = true;
      this.#recoveryAlives = 0;
      this.#recoveryProbes = 0;
      this.#silentSince = this.#lastProgress;
    }
    this.#probe = 1;
    this.#silentExpiries++;
    this.#backoff = Math.min(this.#backoff * 2, 1024);
    this.#lastProgress = now;
    this.#afterExpiry = true;
    if (this.#silentExpiries > 1) {
      this.#cwnd = Math.min(this.#cwnd, 1);
    } else if (this.stats.share >= ALONE_SHARE) {
      this.#cwnd = Math.max(MIN_WINDOW, this.#cwnd / 2);
    }
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
