/**
 * The PUDP server's stdout lines (docs/server.md), rendered from its events.
 *
 * Every line starts with the session id as `0x%08x`; most then carry the
 * sequence number in brackets. Payloads are printed as received, followed by
 * a newline unless they already end with one (the course clients send each
 * line with its `\n`); when the server's stdout is a terminal, control
 * characters are escaped (lib/io/terminal_text.ts, as on every command) so a
 * client cannot drive the operator's terminal.
 * Lost numbers get a line each while the session's budget of `--max-gap`
 * such lines lasts (the machine says so: `itemized`); beyond it a gap gets
 * one summary line. Rendering appends bytes straight into one buffer: no string
 * or object per line.
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { appendEscaped } from "../io/terminal_text.ts";
import type { OutputSink } from "../events/sink.ts";
import type { ServerEvent } from "./events.ts";

const LF = 0x0a;

/** Renders server events as its text lines. */
export class ServerTextSink implements OutputSink<ServerEvent> {
  readonly #out = new ByteBuffer(64 * 1024);

  /**
   * A renderer of the server's text lines.
   * @param escape escape control characters in payloads (stdout is a terminal)
   */
  constructor(readonly escape = false) {}

  emit(e: ServerEvent): void {
    const out = this.#out;
    switch (e.event) {
      case "created":
        return this.#line(e.session, e.seq, "Session created");
      case "data": {
        this.#head(e.session, e.seq);
        const data = e.data;
        // The payload's own line ending, if it has one, ends the line.
        const ended = data.length > e.offset && data[data.length - 1] === LF;
        if (this.escape) appendEscaped(out, data.subarray(e.offset, data.length - (ended ? 1 : 0)));
        else out.appendFrom(data, e.offset);
        if (this.escape || !ended) out.appendByte(LF);
        return;
      }
      case "lost": {
        const count = e.last - e.first + 1;
        if (e.itemized) {
          for (let n = e.first; n <= e.last; n++) this.#line(e.session, n, "Lost packet!");
          return;
        }
        out.appendAscii(e.session);
        out.appendAscii(" [");
        out.appendDecimal(e.first);
        out.appendByte(0x2d); // -
        out.appendDecimal(e.last);
        out.appendAscii("] Lost packets! (");
        out.appendDecimal(count);
        out.appendAscii(")\n");
        return;
      }
      case "duplicate":
        return this.#line(e.session, e.seq, "Duplicate packet!");
      case "goodbye":
        return this.#line(e.session, e.seq, "GOODBYE from client.");
      case "closed":
        out.appendAscii(e.session);
        out.appendAscii(" Session closed\n");
        return;
      case "goodbye_repeated":
        return; // answered silently: the session was closed, and said so, once
      case "dropped":
        return; // dropped silently (counted in the summary)
      case "table_full":
        return; // said on stderr by the driver
    }
  }

  get pending(): number {
    return this.#out.length;
  }

  take(): Uint8Array {
    return this.#out.take();
  }

  /** `0x%08x [seq] <text>` for a fixed ASCII text. */
  #line(session: string, seq: number, text: string): void {
    this.#head(session, seq);
    this.#out.appendAscii(text);
    this.#out.appendByte(0x0a);
  }

  #head(session: string, seq: number): void {
    const out = this.#out;
    out.appendAscii(session);
    out.appendAscii(" [");
    out.appendDecimal(seq);
    out.appendAscii("] ");
  }
}
