/**
 * The base of a family's text renderer: it turns the events it shows into
 * lines, kept in one buffer that an output pump drains in batches. When its
 * stream is a terminal (`escape`), what a peer could have put in a line is
 * escaped so it cannot drive the terminal (lib/io/terminal_text.ts).
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { appendEscaped } from "../io/terminal_text.ts";
import type { BaseEvent, OutputSink } from "./sink.ts";

const encoder = new TextEncoder();

/** A sink that renders some events as text lines; a family says which and how in `emit`. */
export abstract class TextLinesSink<E extends BaseEvent> implements OutputSink<E> {
  readonly #out = new ByteBuffer(4096);

  /**
   * A renderer whose lines are escaped when `escape` (its stream is a terminal).
   * @param escape escape control characters in the lines (the stream is a terminal)
   */
  constructor(readonly escape = false) {}

  abstract emit(event: E): void;

  get pending(): number {
    return this.#out.length;
  }

  take(): Uint8Array {
    return this.#out.take();
  }

  /** Appends one line (the newline is added; with `escape`, controls in `text` are escaped). */
  protected line(text: string): void {
    if (!this.escape) return this.#out.append(encoder.encode(text + "\n"));
    appendEscaped(this.#out, encoder.encode(text));
    this.#out.appendByte(0x0a);
  }
}
