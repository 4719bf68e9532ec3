/**
 * The driver of `--report-every`: a timer at each interval's end that reads
 * the streams' counts into a {@link ParallelMeter} (pure, intervals.ts) and
 * prints the lines on stdout in text mode (`--json` keeps them for the
 * report). The counts are read, never changed: a download's are the
 * client's receiver's; an upload's are what the client has sent, and each
 * line says `(sent)`.
 *
 * @module
 */

import { writeAll } from "../io/write_all.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import { type IntervalCounts, intervalLine, type IntervalRow, ParallelMeter } from "./intervals.ts";
import { streamTag } from "./parallel.ts";

/** What a stream has moved so far, kept up to date by its run. */
export interface StreamCounter {
  /** Payload bytes so far (received on a download, sent on an upload). */
  bytes: number;
  /** UDP download: the receiver's segment counts so far. */
  segments?: () => { received: number; lost: number };
}

const encoder = new TextEncoder();

/** Ticks `--report-every` over N streams. */
export class IntervalTicker {
  /** The meter, once the run has begun (undefined without `--report-every`). */
  meter: ParallelMeter | undefined;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #printing: Promise<void> = Promise.resolve();
  #ended = false;

  /**
   * A ticker that has not begun.
   * @param everyMs the interval (undefined: no intervals)
   * @param counters each stream's counts, read at every tick
   * @param print write the lines to stdout (text mode)
   * @param sent the counts are the sender's (an upload): each line says so
   * @param clock ms on the epoch clock
   */
  constructor(
    /** The interval in ms (undefined: no intervals). */
    readonly everyMs: number | undefined,
    /** Each stream's counts, read at every tick. */
    readonly counters: readonly StreamCounter[],
    /** Whether the lines are written to stdout (text mode). */
    readonly print: boolean,
    /** Whether the counts are the sender's (an upload). */
    readonly sent: boolean,
    /** The clock, ms on the epoch. */
    readonly clock: () => number = epochNow,
  ) {}

  /** The transfer has begun (the first stream's start; later calls change nothing). */
  begin(): void {
    if (this.everyMs === undefined || this.meter !== undefined || this.#ended) return;
    this.meter = new ParallelMeter(this.counters.length, this.everyMs, this.clock());
    this.#schedule();
  }

  /** The run is over: the last, partial interval, and every line written. */
  async end(): Promise<void> {
    this.#ended = true;
    clearTimeout(this.#timer);
    if (this.meter) {
      const row = this.meter.finish(this.clock(), this.#counts());
      if (row) this.#show(row);
    }
    await this.#printing;
  }

  #schedule(): void {
    const meter = this.meter!;
    this.#timer = setTimeout(() => {
      if (this.#ended) return;
      const row = meter.sample(this.clock(), this.#counts());
      if (row) this.#show(row);
      this.#schedule();
    }, Math.max(0, meter.nextAt - this.clock()));
  }

  #counts(): IntervalCounts[] {
    return this.counters.map((c) => {
      const s = c.segments?.();
      return s ? { bytes: c.bytes, received: s.received, lost: s.lost } : { bytes: c.bytes };
    });
  }

  #show(row: IntervalRow): void {
    if (!this.print) return;
    const tail = this.sent ? " (sent)" : "";
    const lines = row.streams.length === 1 ? [intervalLine(row.streams[0]) + tail] : [
      ...row.streams.map((s, i) => `${streamTag(i)} ${intervalLine(s)}${tail}`),
      `${streamTag("sum")} ${intervalLine(row.sum)}${tail}`,
    ];
    const bytes = encoder.encode(lines.join("\n") + "\n");
    // A failed write shows at the report's write, which fails the run.
    this.#printing = this.#printing.then(() => writeAll(Deno.stdout, bytes)).catch(() => {});
  }
}
