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

/** Anything with Deno's `write` contract (may write fewer bytes than given). */
export interface ByteWriter {
  write(p: Uint8Array): Promise<number>;
}

/** A pull-based, batching output writer. */
export class OutputPump {
  #running: Promise<void> | undefined;
  #error: unknown;

  /**
   * @param writer where the bytes go (usually Deno.stdout)
   * @param source returns everything pending (an empty array when nothing is)
   */
  constructor(
    readonly writer: ByteWriter,
    readonly source: () => Uint8Array,
  ) {}

  /** Starts writing if there may be output and no write is in flight. */
  kick(): void {
    if (this.#error !== undefined || this.#running !== undefined) return;
    // `.finally` runs as a microtask, so it clears `#running` only after the
    // assignment below, even when `#run` finds nothing and ends at once.
    const running: Promise<void> = this.#run().finally(() => {
      if (this.#running === running) this.#running = undefined;
    });
    this.#running = running;
  }

  /** The write error that stopped the pump, if any. */
  get error(): unknown {
    return this.#error;
  }

  /** Resolves when everything the source had is written, or the pump failed. */
  async flush(): Promise<void> {
    this.kick();
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      for (;;) {
        const bytes = this.source();
        if (bytes.length === 0) return;
        let done = 0;
        while (done < bytes.length) done += await this.writer.write(bytes.subarray(done));
      }
    } catch (e) {
      this.#error = e;
    }
  }
}
