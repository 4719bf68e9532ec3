/**
 * Writes a machine's output to stdout in batches, promptly.
 *
 * The pump pulls from the machine (`source()`), so while one write is in
 * flight the machine's own buffer collects the next batch: one write per
 * batch under load, an immediate write when idle. Callers `kick()` after
 * every event and can wait for the pump to catch up (backpressure).
 *
 * Writes to a file finish at once, which would make every batch one line.
 * With {@link Coalescing}, a write starts at most every `intervalMs` unless
 * `batchBytes` are waiting: the first line after a pause is written at once,
 * lines under load are delayed by at most `intervalMs`.
 *
 * A batch is written in slices of at most {@link WRITE_SLICE} bytes, and
 * what is taken but not yet written counts as `waiting`, so a caller that
 * stops producing above a high-water mark can resume at a low-water mark
 * (`drainTo`) while the rest is still being written: with a slow reader,
 * output flows at the reader's pace instead of in long stop-and-go waves.
 *
 * @module
 */

import { Alarm } from "../runtime/alarm.ts";
import { SerialLoop } from "./serial_loop.ts";
import { type ByteWriter, writeAll } from "./write_all.ts";

/** How an {@link OutputPump} gathers output into fewer writes. */
export interface Coalescing {
  /** Least time between the starts of two writes, in ms. */
  intervalMs: number;
  /** Write at once when this many bytes wait. */
  batchBytes: number;
  /** Bytes waiting in the source. */
  pending: () => number;
  /** Clock in ms. */
  clock: () => number;
}

/** Most bytes given to one `write` call. */
export const WRITE_SLICE = 64 * 1024;

/** A pull-based, batching output writer. */
export class OutputPump {
  readonly #loop: SerialLoop<Uint8Array>;
  #error: unknown;
  readonly #alarm: Alarm | undefined;
  #lastWriteAt = -Infinity;
  #flushing = 0;
  /** Bytes taken from the source and not yet written. */
  #unwritten = 0;
  /** Wakes a `drainTo` after each slice written (or a failure). */
  #progress: (() => void) | undefined;

  /**
   * A pump from `source` to `writer`.
   * @param writer where the bytes go (usually Deno.stdout)
   * @param source returns everything pending (an empty array when nothing is)
   * @param coalescing gather output into fewer writes (see {@link Coalescing})
   */
  constructor(
    readonly writer: ByteWriter,
    readonly source: () => Uint8Array,
    readonly coalescing?: Coalescing,
  ) {
    this.#loop = new SerialLoop(() => this.#take(), (bytes) => this.#write(bytes));
    if (coalescing) this.#alarm = new Alarm(coalescing.clock, () => this.kick());
  }

  /** Starts writing if there may be output and no write is in flight. */
  kick(): void {
    if (this.#error !== undefined) return;
    // Waiting out the interval with the alarm set (it kicks when due) and no
    // full batch yet: nothing to do. Under load this is most kicks, so they
    // cost neither a clock read nor a turn of the loop.
    const c = this.coalescing;
    if (this.#alarm?.armed && this.#flushing === 0 && c!.pending() < c!.batchBytes) return;
    this.#loop.wake();
  }

  /** The write error that stopped the pump, if any. */
  get error(): unknown {
    return this.#error;
  }

  /** Bytes not yet written: pending in the source (with coalescing) plus taken and in flight. */
  get waiting(): number {
    return (this.coalescing?.pending() ?? 0) + this.#unwritten;
  }

  /** Resolves once at most `limit` bytes are {@link waiting}, or the pump failed. */
  async drainTo(limit: number): Promise<void> {
    this.#flushing++;
    try {
      while (this.#error === undefined && this.waiting > limit) {
        const step = Promise.withResolvers<void>();
        this.#progress = step.resolve;
        this.kick();
        await step.promise;
      }
    } finally {
      this.#progress = undefined;
      this.#flushing--;
    }
  }

  /** Resolves when everything the source had is written, or the pump failed. */
  async flush(): Promise<void> {
    this.#flushing++;
    try {
      this.kick();
      await this.#loop.idle();
    } finally {
      this.#flushing--;
    }
  }

  /** Stops the coalescing timer (the pump still writes when kicked or flushed). */
  close(): void {
    this.#alarm?.cancel();
  }

  #take(): Uint8Array | undefined {
    if (this.#error !== undefined) return undefined;
    const c = this.coalescing;
    if (c && this.#flushing === 0) {
      const writeAt = this.#lastWriteAt + c.intervalMs;
      if (c.clock() < writeAt && c.pending() < c.batchBytes) {
        if (c.pending() > 0) this.#alarm!.set(writeAt);
        return undefined;
      }
    }
    const bytes = this.source();
    if (bytes.length === 0) return undefined;
    if (c) this.#lastWriteAt = c.clock();
    return bytes;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    this.#unwritten = bytes.length;
    try {
      for (let at = 0; at < bytes.length; at += WRITE_SLICE) {
        const end = Math.min(at + WRITE_SLICE, bytes.length);
        await writeAll(this.writer, bytes.subarray(at, end));
        this.#unwritten = bytes.length - end;
        this.#progress?.();
      }
    } catch (e) {
      this.#error = e;
      this.#unwritten = 0;
      this.#progress?.();
    }
  }
}
