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
 * - If the window stays full with no ALIVE for one timeout (doubled on each
 *   consecutive expiry), one more message may go (a probe credit): leaked
 *   credits are won back one per expiry, and the client never stalls. The
 *   outstanding entries are kept: most often the server is only busy and its
 *   buffer still holds them, and forgetting them would let the late ALIVEs
 *   for them open the window far beyond what the buffer can take.
 * - After 3 consecutive expiries without any ALIVE the outstanding messages
 *   are taken as gone: the count restarts from zero with a window of one, and
 *   the threshold halves (like TCP after a retransmission timeout). Entries
 *   older than a second are always forgotten: no buffer holds them that long.
 * - The window grows like TCP's congestion window: by one per ALIVE up to a
 *   threshold (slow start), then by one per window.
 *
 * `maxWindow` 0 disables pacing (the classic unpaced client).
 *
 * @module
 */

/** Bounds of the quiet period, in ms. */
export const MIN_QUIET_MS = 5;
export const MAX_QUIET_MS = 1_000;
/** Window in messages at the start (slow start grows it from here). */
export const INITIAL_WINDOW = 4;
/** Quiet period before the first round-trip sample. */
const INITIAL_RTO_MS = 100;
/** Consecutive silent expiries after which the outstanding DATA are taken as gone. */
export const EXPIRIES_BEFORE_RESET = 3;
/** Unanswered entries older than this are forgotten (their ALIVE was lost). */
export const MAX_ENTRY_AGE_MS = 1_000;

/** Counters for diagnostics and benchmarks. */
export interface PacingStats {
  /** Quiet periods that expired (each granted a probe credit). */
  recoveries: number;
  /** Times the outstanding count was reset after consecutive expiries. */
  resets: number;
  /** Smoothed round-trip time in ms, undefined before the first sample. */
  srttMs: number | undefined;
}

/** The ALIVE-clocked send window of one client. */
export class PacingWindow {
  readonly stats: PacingStats = { recoveries: 0, resets: 0, srttMs: undefined };
  /** Send time and size of each unanswered DATA, oldest first. */
  #sentAt: number[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;
  #cwnd: number;
  #ssthresh: number;
  #rttVar = 0;
  #backoff = 1;
  /** Probe credits granted by expiries: the window is this much larger. */
  #probes = 0;
  /** Expiries since the last ALIVE. */
  #silentExpiries = 0;
  /** Last ALIVE, or the send that ended a time with nothing outstanding. */
  #lastProgress = 0;

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

  /** The current window in messages (at most `maxWindow`), not counting probe credits. */
  get window(): number {
    return Math.max(1, Math.floor(this.#cwnd));
  }

  /**
   * Whether a DATA of `size` payload bytes may be sent. With `now`, entries
   * too old to be in any buffer are forgotten first.
   */
  canSend(size: number, now?: number): boolean {
    if (this.maxWindow === 0) return true;
    if (now !== undefined) this.#forgetAncient(now);
    if (this.inFlight === 0) return true;
    return this.inFlight < this.window + this.#probes &&
      this.#bytes + size <= this.maxBytes + this.#probes * size;
  }

  /** A DATA of `size` bytes was sent at `now`. */
  onSend(size: number, now: number): void {
    if (this.maxWindow === 0) return;
    if (this.inFlight === 0) this.#lastProgress = now; // the quiet period counts from here
    this.#sentAt.push(now);
    this.#sizes.push(size);
    this.#bytes += size;
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

  /** An ALIVE arrived at `now`. */
  onAlive(now: number): void {
    this.#lastProgress = now;
    this.#backoff = 1;
    this.#silentExpiries = 0;
    if (this.maxWindow === 0 || this.inFlight === 0) return;
    this.sampleRtt(now - this.#sentAt[this.#head]);
    this.#bytes -= this.#sizes[this.#head];
    this.#head++;
    if (this.inFlight === 0) this.#probes = 0;
    this.#cwnd += this.#cwnd < this.#ssthresh ? 1 : 1 / this.#cwnd;
    if (this.#cwnd > this.maxWindow) this.#cwnd = this.maxWindow;
    this.#compact();
  }

  /** When a window that is full (and has more to send) reopens without ALIVEs. */
  recoverAt(): number | undefined {
    if (this.maxWindow === 0 || this.inFlight === 0) return undefined;
    return this.#lastProgress + this.quietMs;
  }

  /**
   * The quiet period passed with the window full: grant a probe credit and
   * back off; after EXPIRIES_BEFORE_RESET in a row, forget what is outstanding.
   */
  onQuiet(now: number): void {
    this.stats.recoveries++;
    this.#silentExpiries++;
    this.#backoff = Math.min(this.#backoff * 2, 1024);
    this.#lastProgress = now;
    if (this.#silentExpiries < EXPIRIES_BEFORE_RESET) {
      this.#probes++;
      return;
    }
    this.stats.resets++;
    this.#silentExpiries = 0;
    this.#forgetAll();
    this.#ssthresh = Math.max(2, this.#cwnd / 2);
    this.#cwnd = 1;
  }

  /** The current quiet period, in ms. */
  get quietMs(): number {
    return Math.min(MAX_QUIET_MS, this.#rto() * this.#backoff);
  }

  #rto(): number {
    const srtt = this.stats.srttMs;
    if (srtt === undefined) return INITIAL_RTO_MS;
    return Math.max(MIN_QUIET_MS, srtt + 4 * this.#rttVar);
  }

  #forgetAll(): void {
    this.#sentAt = [];
    this.#sizes = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#probes = 0;
  }

  /** Forgets everything if even the newest entry is too old to be in any buffer. */
  #forgetAncient(now: number): void {
    const n = this.#sentAt.length;
    if (n > this.#head && now - this.#sentAt[n - 1] > MAX_ENTRY_AGE_MS) this.#forgetAll();
  }

  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#sentAt.length) {
      this.#sentAt = this.#sentAt.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }
}
