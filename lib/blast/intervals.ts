/**
 * `--report-every S` (iperf3's `-i`): the figures of a run cut into
 * intervals, as a pure object fed cumulative counts and the time.
 *
 * How this works: an {@link IntervalMeter} starts at a time (the run's
 * start) and keeps the counts it last closed an interval with. Each
 * {@link IntervalMeter.sample} gives it the run's cumulative counts (bytes,
 * and for UDP the segments received and lost so far) at `now`; once `now`
 * reaches the next boundary (start + k × every) it closes the interval:
 * the difference of the counts over the time really passed (a late timer
 * makes a longer interval, never a wrong rate). {@link IntervalMeter.finish}
 * closes the last, partial one. Lost can fall when a late segment fills a
 * gap; an interval never shows a negative loss: what it would take back is
 * taken from the later intervals' losses. {@link ParallelMeter} runs one
 * meter per stream on a common start and sums each interval
 * ({@link sumIntervals}).
 *
 * The counts are the receiver's (a download's client); an upload's client
 * has only its own sending to count, and says so (see docs/blast.md).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const meter = new IntervalMeter(1000, 0); // every second from t = 0 ms
 * assert.equal(meter.sample(500, { bytes: 60_000 }), undefined); // not a second yet
 * const first = meter.sample(1004, { bytes: 125_500 })!; // the timer fired 4 ms late
 * assert.deepEqual(first, { start: 0, end: 1.004, bytes: 125_500, mbit_per_s: 1.0 });
 * assert.equal(intervalLine(first), "[  0.00-  1.00 s]  0.13 MB  1.00 Mbit/s");
 * const last = meter.finish(1500, { bytes: 188_000 })!; // the run ended half-way
 * assert.equal(last.bytes, 62_500);
 * assert.equal(meter.intervals.length, 2);
 *
 * // UDP: received and lost per interval, from the cumulative counts.
 * const udp = new IntervalMeter(500, 0);
 * udp.sample(500, { bytes: 2752, received: 2, lost: 1 });
 * const next = udp.sample(1000, { bytes: 5504, received: 4, lost: 0 })!; // a late one came
 * assert.equal(next.lost, 0); // never negative...
 * assert.equal(udp.sample(1500, { bytes: 5504, received: 4, lost: 1 })!.lost, 0); // ...taken back later
 * assert.equal(
 *   intervalLine(udp.intervals[0]),
 *   "[  0.00-  0.50 s]  0.00 MB  0.04 Mbit/s  lost/total 1/3 (33.33%)",
 * );
 * ```
 *
 * @module
 */

/** One interval, as `--json` prints it in `intervals`. */
export interface IntervalFigures {
  /** Seconds from the run's start to the interval's start. */
  start: number;
  /** Seconds from the run's start to the interval's end. */
  end: number;
  /** Payload bytes in the interval. */
  bytes: number;
  /** The interval's rate in Mbit/s (10^6 bits); null for no time. */
  mbit_per_s: number | null;
  /** UDP download: segments lost in the interval (gaps seen so far, never negative). */
  lost?: number;
  /** UDP download: distinct segments received in the interval. */
  received?: number;
}

/** A run's cumulative counts at one moment. */
export interface IntervalCounts {
  /** Payload bytes so far. */
  bytes: number;
  /** UDP download: distinct segments received so far. */
  received?: number;
  /** UDP download: segments lost so far (gaps below the highest seen). */
  lost?: number;
}

/** Seconds with ms resolution (so that JSON shows 1.004, not 1.0040000000000001). */
function secondsOf(ms: number): number {
  return Math.round(ms) / 1000;
}

/** The intervals of one run. */
export class IntervalMeter {
  /** The intervals closed so far, in order. */
  readonly intervals: IntervalFigures[] = [];
  #last: IntervalCounts = { bytes: 0, received: 0, lost: 0 };
  #lastAt: number;
  /** Losses shown so far (never more than the cumulative count). */
  #lostShown = 0;

  /**
   * A meter of intervals `everyMs` long from `startAt` (ms on the caller's clock).
   * @param everyMs the interval, in ms (> 0)
   * @param startAt the run's start
   */
  constructor(readonly everyMs: number, readonly startAt: number) {
    this.#lastAt = startAt;
  }

  /** When the next interval ends (ms): a timer's due time. */
  get nextAt(): number {
    return this.startAt + (this.intervals.length + 1) * this.everyMs;
  }

  /** The counts at `now`: the interval they close, once `now` has reached its end, else undefined. */
  sample(now: number, counts: IntervalCounts): IntervalFigures | undefined {
    if (now < this.nextAt) return undefined;
    return this.close(now, counts);
  }

  /**
   * The run ended at `now` with `counts`: the last, partial interval, if
   * it has bytes or lasted half an interval at least.
   */
  finish(now: number, counts: IntervalCounts): IntervalFigures | undefined {
    const closed = this.sample(now, counts);
    if (closed) return closed;
    return this.hasPartial(now, counts) ? this.close(now, counts) : undefined;
  }

  /** Whether a run that ends at `now` with `counts` has a last interval worth showing. */
  hasPartial(now: number, counts: IntervalCounts): boolean {
    return counts.bytes > this.#last.bytes || now - this.#lastAt >= this.everyMs / 2;
  }

  /** Closes the interval at `now`, boundary or not (the run's end); returns it. */
  close(now: number, counts: IntervalCounts): IntervalFigures {
    const bytes = counts.bytes - this.#last.bytes;
    const ms = now - this.#lastAt;
    const figures: IntervalFigures = {
      start: secondsOf(this.#lastAt - this.startAt),
      end: secondsOf(now - this.startAt),
      bytes,
      mbit_per_s: ms > 0 ? (bytes * 8) / (ms / 1000) / 1e6 : null,
    };
    if (counts.received !== undefined) {
      const lost = Math.max(0, (counts.lost ?? 0) - this.#lostShown);
      this.#lostShown += lost;
      figures.lost = lost;
      figures.received = counts.received - (this.#last.received ?? 0);
    }
    this.intervals.push(figures);
    this.#last = { ...counts };
    this.#lastAt = now;
    return figures;
  }
}

/**
 * The sum of the streams' intervals of the same index: bytes, received and
 * lost added, from the earliest start to the latest end.
 */
export function sumIntervals(streams: readonly IntervalFigures[]): IntervalFigures {
  const start = Math.min(...streams.map((i) => i.start));
  const end = Math.max(...streams.map((i) => i.end));
  const bytes = streams.reduce((a, i) => a + i.bytes, 0);
  const sum: IntervalFigures = {
    start,
    end,
    bytes,
    mbit_per_s: end > start ? (bytes * 8) / (end - start) / 1e6 : null,
  };
  if (streams.some((i) => i.received !== undefined)) {
    sum.lost = streams.reduce((a, i) => a + (i.lost ?? 0), 0);
    sum.received = streams.reduce((a, i) => a + (i.received ?? 0), 0);
  }
  return sum;
}

/** One interval of every stream, and their sum. */
export interface IntervalRow {
  /** Each stream's interval, in stream order. */
  streams: IntervalFigures[];
  /** Their sum. */
  sum: IntervalFigures;
}

/**
 * The intervals of N streams on one clock: every stream's meter starts at
 * the same time, so that their intervals line up and can be summed.
 */
export class ParallelMeter {
  /** One meter per stream. */
  readonly meters: IntervalMeter[];
  /** The sum of each interval, in order. */
  readonly sums: IntervalFigures[] = [];

  /** `streams` meters of `everyMs` from `startAt`. */
  constructor(streams: number, everyMs: number, startAt: number) {
    this.meters = Array.from({ length: streams }, () => new IntervalMeter(everyMs, startAt));
  }

  /** When the next interval ends. */
  get nextAt(): number {
    return this.meters[0].nextAt;
  }

  /** Every stream's counts at `now`: the row they close, or undefined before the boundary. */
  sample(now: number, counts: readonly IntervalCounts[]): IntervalRow | undefined {
    if (now < this.nextAt) return undefined;
    return this.#row(this.meters.map((m, i) => m.sample(now, counts[i])!));
  }

  /** The run ended at `now`: the last, partial row, if any stream has one. */
  finish(now: number, counts: readonly IntervalCounts[]): IntervalRow | undefined {
    if (now >= this.nextAt) return this.sample(now, counts);
    if (!this.meters.some((m, i) => m.hasPartial(now, counts[i]))) return undefined;
    // Every stream closes the same partial interval (one with nothing in it says 0).
    return this.#row(this.meters.map((m, i) => m.close(now, counts[i])));
  }

  #row(streams: IntervalFigures[]): IntervalRow {
    const sum = sumIntervals(streams);
    this.sums.push(sum);
    return { streams, sum };
  }
}

/** `[  0.00-  1.00 s]  112.00 MB  940.00 Mbit/s` (UDP: `  lost/total 3/724 (0.41%)`). */
export function intervalLine(i: IntervalFigures): string {
  const span = `[${i.start.toFixed(2).padStart(6)}-${i.end.toFixed(2).padStart(6)} s]`;
  const rate = i.mbit_per_s === null ? "-" : i.mbit_per_s.toFixed(2);
  let line = `${span}  ${(i.bytes / 1e6).toFixed(2)} MB  ${rate} Mbit/s`;
  if (i.received !== undefined) {
    const total = i.received + (i.lost ?? 0);
    const pct = total === 0 ? "0.00" : ((100 * (i.lost ?? 0)) / total).toFixed(2);
    line += `  lost/total ${i.lost ?? 0}/${total} (${pct}%)`;
  }
  return line;
}
