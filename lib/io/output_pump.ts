/**
 * Writes a machine's output to stdout in batches, promptly.
 *
 * The pump pulls from the machine (`source()`), so while one write is in
 * flight the machine's own buffer collects the next batch: one write per
 * batch under load, an immediate write when idle. Callers `kick()` after
 * every event and can wait for the pump to catch up (backpressure).
 *
 * @module
 */

import { SerialLoop } from "./serial_loop.ts";

/** Anything with Deno's `write` contract (may write fewer bytes than given). */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** A pull-based, batching output writer. */
export class OutputPump {
  readonly #loop: SerialLoop<Uint8Array>;
  #error: unknown;

  /**
   * @param writer where the bytes go (usually Deno.stdout)
   * @param source returns everything pending (an empty array when nothing is)
   */
  constructor(
    readonly writer: ByteWriter,
    readonly source: () => Uint8Array,
  ) {
    this.#loop = new SerialLoop(() => this.#take(), (bytes) => this.#write(bytes));
  }

  /** Starts writing if there may be output and no write is in flight. */
  kick(): void {
    if (this.#error === undefined) this.#loop.wake();
  }

  /** The write error that stopped the pump, if any. */
  get error(): unknown {
    return this.#error;
  }

  /** Resolves when everything the source had is written, or the pump failed. */
  async flush(): Promise<void> {
    this.kick();
    await this.#loop.idle();
  }

  #take(): Uint8Array | undefined {
    if (this.#error !== undefined) return undefined;
    const bytes = this.source();
    return bytes.length === 0 ? undefined : bytes;
  }

  async #write(bytes: Uint8Array): Promise<void> {
    try {
      let done = 0;
      while (done < bytes.length) done += await this.writer.write(bytes.subarray(done));
    } catch (e) {
      this.#error = e;
    }
  }
}
