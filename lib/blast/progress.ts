/**
 * The one-line progress a blast client shows on stderr while it runs, when
 * stderr is a terminal (like iperf3's interval lines, but in place): bytes
 * so far, seconds, and the rate over the last interval. It is redrawn every
 * {@link PROGRESS_MS} and erased at the end, so what stays on the screen is
 * the report alone.
 *
 * @module
 */

/** How often the line is redrawn. */
export const PROGRESS_MS = 250;

const encoder = new TextEncoder();

/** The progress text for `bytes` after `seconds`, at `rate` bit/s lately. */
export function progressText(bytes: number, seconds: number, bitsPerSecond: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB  ${seconds.toFixed(1)} s  ` +
    `${(bitsPerSecond / 1e6).toFixed(1)} Mbit/s`;
}

/** A progress line on a terminal; does nothing when `enabled` is false. */
export class ProgressLine {
  #bytes = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastBytes = 0;
  #lastAt = 0;
  #startAt = 0;
  #drawn = false;

  constructor(
    readonly enabled: boolean,
    readonly out: { writeSync(b: Uint8Array): number } = Deno.stderr,
  ) {}

  /** Starts redrawing. */
  start(): void {
    if (!this.enabled) return;
    this.#startAt = this.#lastAt = performance.now();
    this.#timer = setInterval(() => this.#draw(), PROGRESS_MS);
  }

  /** Bytes moved so far. */
  update(bytes: number): void {
    this.#bytes = bytes;
  }

  /** Stops and erases the line. */
  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#drawn) this.#write("\r\x1b[K");
    this.#drawn = false;
  }

  #draw(): void {
    const now = performance.now();
    const rate = ((this.#bytes - this.#lastBytes) * 8) /
      Math.max(1e-3, (now - this.#lastAt) / 1000);
    this.#lastBytes = this.#bytes;
    this.#lastAt = now;
    this.#write(`\r\x1b[K${progressText(this.#bytes, (now - this.#startAt) / 1000, rate)}`);
    this.#drawn = true;
  }

  #write(text: string): void {
    try {
      this.out.writeSync(encoder.encode(text));
    } catch {
      // a closed terminal: the progress is not worth failing for
    }
  }
}
