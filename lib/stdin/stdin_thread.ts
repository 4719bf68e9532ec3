/**
 * Starts the stdin worker ({@link StdinWorkerStart}) and keeps the error it
 * reports; {@link StdinView} is the base of the main thread's views of
 * stdin ({@link StdinLines}, {@link StdinBytes}).
 *
 * @module
 */

import { type ByteRingReader, RingState } from "./byte_ring.ts";
import type { StdinWorkerStart } from "./stdin_worker.ts";

/** The stdin worker, started, and its read error once it has one. */
export class StdinThread {
  readonly #errorMessage: Promise<string>;

  /** Starts the stdin worker with `start`. */
  constructor(start: StdinWorkerStart) {
    const worker = new Worker(new URL("./stdin_worker.ts", import.meta.url).href, {
      type: "module",
    });
    this.#errorMessage = new Promise((resolve) => {
      worker.onmessage = (e: MessageEvent<{ error: string }>) => resolve(e.data.error);
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        resolve(e.message);
      };
    });
    worker.postMessage(start);
  }

  /**
   * The read error that ended stdin. Call only once the ring says FAILED;
   * the worker's message may lag the ring a little, so after a second the
   * answer is a plain "read error".
   */
  async error(): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve("read error"), 1000);
    });
    try {
      return await Promise.race([this.#errorMessage, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}

/** What the main thread's views of stdin share: the ring they read and the thread that fills it. */
export abstract class StdinView<R extends ByteRingReader> {
  /** A view of `ring`, filled by `thread`. */
  protected constructor(protected readonly ring: R, readonly thread: StdinThread) {}

  /** Resolves when something is ready or stdin has ended. */
  ready(): Promise<void> {
    return this.ring.ready();
  }

  /** True when stdin has ended and everything has been taken. */
  get finished(): boolean {
    return this.ring.finished;
  }

  /** The read error that ended stdin, or undefined if it ended at EOF or has not ended. */
  async error(): Promise<string | undefined> {
    return this.ring.state === RingState.FAILED ? await this.thread.error() : undefined;
  }
}
