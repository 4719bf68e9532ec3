/**
 * A server's event output: the family's text renderer or `--json`, written
 * to stdout (or another writer) in prompt batches by an {@link OutputPump}.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { ByteWriter } from "../io/write_all.ts";
import { OutputPump } from "../io/output_pump.ts";
import { JsonLinesSink, type JsonTable } from "./json_lines.ts";
import type { BaseEvent, OutputSink } from "./sink.ts";

/** How a server's events are rendered and written. */
export interface EventOutputOptions<E extends BaseEvent> {
  /** `--json` was given. */
  json: boolean;
  /**
   * Makes the family's text renderer; `terminal`: the writer is a terminal,
   * so the renderer escapes peer text (lib/io/terminal_text.ts).
   */
  text: (terminal: boolean) => OutputSink<E>;
  /** The family's JSON contract: the fields of each event (lib/events/json_lines.ts). */
  fields: JsonTable<E>;
  /** The driver's clock (ms), for the write coalescing. */
  clock: () => number;
  /** Where the bytes go (default stdout). */
  writer?: ByteWriter;
  /** Whether the writer is a terminal (default: asks the writer, `Deno.stdout.isTerminal()`). */
  terminal?: boolean;
}

/** Whether `writer` says it is a terminal (stdout, stderr); false for anything that cannot say. */
function isTerminal(writer: ByteWriter): boolean {
  const w = writer as ByteWriter & { isTerminal?: () => boolean };
  return typeof w.isTerminal === "function" && w.isTerminal();
}

/**
 * Output coalescing: a write at most every 2 ms unless 64 KiB wait. A
 * line must reach stdout within 10 ms; under load this makes one write of
 * about a hundred lines instead of one per line.
 */
const INTERVAL_MS = 2;
const BATCH_BYTES = 64 * 1024;

/** The sink a machine emits to, and the pump that writes what it renders. */
export class EventOutput<E extends BaseEvent> {
  /** The renderer the events go to. */
  readonly sink: OutputSink<E>;
  /** The writer of the renderer's bytes. */
  readonly pump: OutputPump;

  /** An output for events rendered as `options` says, written to its writer. */
  constructor(options: EventOutputOptions<E>) {
    const writer = options.writer ?? Deno.stdout;
    this.sink = options.json
      ? new JsonLinesSink(options.fields)
      : options.text(options.terminal ?? isTerminal(writer));
    this.pump = new OutputPump(writer, () => this.sink.take(), {
      intervalMs: INTERVAL_MS,
      batchBytes: BATCH_BYTES,
      pending: () => this.sink.pending,
      clock: options.clock,
    });
  }

  /** Starts a write if one is due; call after every event. */
  kick(): void {
    this.pump.kick();
  }

  /** Why writing failed (`cannot write to stdout: …`), once it has. */
  get failure(): string | undefined {
    return this.pump.error === undefined
      ? undefined
      : `cannot write to stdout: ${errorText(this.pump.error)}`;
  }

  /** Writes everything rendered so far and stops the coalescing timer. */
  async close(): Promise<void> {
    await this.pump.flush();
    this.pump.close();
  }
}
