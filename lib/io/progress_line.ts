/**
 * The one progress line a streaming client shows on stderr while it runs,
 * like `pv` or iperf3's interval lines but redrawn in place: what has been
 * sent (and, where the protocol says so, acknowledged), the rate over about
 * the last second, and the time since the start.
 *
 * Only on a terminal: the driver decides (stderr is a terminal, no
 * `--quiet`, and for line clients stdin is not one, since the line would
 * overwrite what the user types). The line is redrawn every
 * {@link PROGRESS_MS} (at most 10 times a second), erased before any other
 * stderr line (see {@link ProgressLine.clear}) and at the end, so what stays
 * on the screen is the command's own output. The figures are read when the
 * line is drawn, so the hot path only counts.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(
 *   progressText({ unit: "lines", sent: 1200, acked: 1180, bytes: 60_000 }, 2.5, 480),
 *   "1,200 lines sent, 1,180 acknowledged (60.0 kB)  480 lines/s  2.5 s",
 * );
 * assert.equal(
 *   progressText({ unit: "bytes", sent: 12_500_000 }, 1, 12_500_000),
 *   "12.5 MB sent  100.0 Mbit/s  1.0 s",
 * );
 * ```
 *
 * @module
 */

/** How often the line is redrawn, in ms (5 times a second). */
export const PROGRESS_MS = 200;
/** How many redraws the rate spans (about a second). */
const RATE_SPAN = 5;

/** The figures a progress line shows. */
export interface ProgressFigures {
  /** What `sent` counts: lines (messages) or bytes. */
  unit: "lines" | "bytes";
  /** Lines or bytes sent (or received, for a download) so far. */
  sent: number;
  /** Of those, how many the peer has acknowledged, where the protocol tells. */
  acked?: number;
  /** Bytes, when `unit` is lines. */
  bytes?: number;
  /** The verb for `sent`; "sent" unless it is a download ("received"). */
  verb?: "sent" | "received";
}

const grouped = new Intl.NumberFormat("en-US");

/** `n` bytes in decimal units: `512 B`, `60.0 kB`, `12.5 MB`, `1.20 GB`. */
export function byteText(n: number): string {
  if (n < 1e3) return `${n} B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)} kB`;
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

/** The text of the line: the figures, `perSecond` units a second lately, after `seconds`. */
export function progressText(f: ProgressFigures, seconds: number, perSecond: number): string {
  const verb = f.verb ?? "sent";
  let text: string;
  let rate: string;
  if (f.unit === "lines") {
    text = `${grouped.format(f.sent)} lines ${verb}`;
    if (f.acked !== undefined) text += `, ${grouped.format(f.acked)} acknowledged`;
    if (f.bytes !== undefined) text += ` (${byteText(f.bytes)})`;
    rate = `${grouped.format(Math.round(perSecond))} lines/s`;
  } else {
    text = `${byteText(f.sent)} ${verb}`;
    if (f.acked !== undefined) text += `, ${byteText(f.acked)} acknowledged`;
    rate = `${((perSecond * 8) / 1e6).toFixed(1)} Mbit/s`;
  }
  return `${text}  ${rate}  ${seconds.toFixed(1)} s`;
}

const encoder = new TextEncoder();
const ERASE = encoder.encode("\r\x1b[K");

/** A progress line on stderr; every method does nothing when `enabled` is false. */
export class ProgressLine {
  #timer: ReturnType<typeof setInterval> | undefined;
  #startAt = 0;
  /** `sent` at the last RATE_SPAN + 1 redraws, with their times, oldest first. */
  readonly #samples: { at: number; sent: number }[] = [];
  #drawn = false;

  /**
   * A progress line that draws `figures()` on `out`.
   * @param enabled show the line at all (decided by the driver: a terminal, no `--quiet`)
   * @param figures read at every redraw
   * @param out where to draw (stderr)
   */
  constructor(
    readonly enabled: boolean,
    readonly figures: () => ProgressFigures,
    readonly out: { writeSync(b: Uint8Array): number } = Deno.stderr,
  ) {}

  /** Starts the clock and the redraws. The timer never keeps the process alive. */
  start(): void {
    if (!this.enabled || this.#timer !== undefined) return;
    this.#startAt = performance.now();
    this.#samples.push({ at: this.#startAt, sent: 0 });
    const timer = setInterval(() => this.#draw(), PROGRESS_MS);
    Deno.unrefTimer(timer);
    this.#timer = timer;
  }

  /** Erases the line (before another line goes to stderr); the next redraw brings it back. */
  clear(): void {
    if (this.#drawn) this.#write(ERASE);
    this.#drawn = false;
  }

  /** Stops the redraws and erases the line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.clear();
  }

  #draw(): void {
    const now = performance.now();
    const f = this.figures();
    this.#samples.push({ at: now, sent: f.sent });
    if (this.#samples.length > RATE_SPAN + 1) this.#samples.shift();
    const first = this.#samples[0];
    const perSecond = (f.sent - first.sent) / Math.max(1e-3, (now - first.at) / 1000);
    const text = progressText(f, (now - this.#startAt) / 1000, perSecond);
    this.#write(encoder.encode(`\r\x1b[K${text}`));
    this.#drawn = true;
  }

  #write(bytes: Uint8Array): void {
    try {
      this.out.writeSync(bytes);
    } catch {
      // a closed terminal: the progress is not worth failing for
    }
  }
}
