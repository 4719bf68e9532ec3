/**
 * The base of a family's text renderer: it turns the events it shows into
 * lines, kept in one buffer that an output pump drains in batches.
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";
import type { BaseEvent, OutputSink } from "./sink.ts";

const encoder = new TextEncoder();

/** A sink that renders some events as text lines; a family says which and how in `emit`. */
export abstract class TextLinesSink<E extends BaseEvent> implements OutputSink<E> {
  readonly #out = new ByteBuffer(4096);

  abstract emit(event: E): void;

  get pending(): number {
    return this.#out.length;
  }

  take(): Uint8Array {
    return this.#out.take();
  }

  /** Appends one line (the newline is added). */
  protected line(text: string): void {
    this.#out.append(encoder.encode(text + "\n"));
  }
}
