/**
 * The `--json` renderer shared by every family: one JSON object per line
 * per event, `{"event", "time", "peer", …the family's own fields}`.
 *
 * `time` is the wall clock when the event is rendered, ISO 8601 UTC with
 * milliseconds; `peer` is `host:port` (IPv6 in brackets). A family says which
 * of its fields carry payload bytes: those become `text` when the bytes are
 * valid UTF-8, else `base64`, so no byte a peer sent is lost or mangled.
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { formatAddress } from "../runtime/transmit.ts";
import type { BaseEvent, OutputSink } from "./sink.ts";

/** Turns an event into its JSON fields (besides event, time and peer). */
export type JsonFields<E extends BaseEvent> = (event: E) => Record<string, unknown>;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * The JSON fields of a payload: `{text}` when it is valid UTF-8, else
 * `{base64}`.
 */
export function payloadFields(bytes: Uint8Array): { text: string } | { base64: string } {
  try {
    return { text: strictUtf8.decode(bytes) };
  } catch {
    return { base64: bytes.toBase64() };
  }
}

/** Renders events as JSON lines into a buffer that a pump drains. */
export class JsonLinesSink<E extends BaseEvent> implements OutputSink<E> {
  readonly #out = new ByteBuffer(64 * 1024);

  /**
   * A renderer of one JSON object per event.
   * @param fields the family's fields of an event (payload bytes via {@link payloadFields})
   * @param wallClock the time stamped on each line (tests pass a fixed one)
   */
  constructor(
    readonly fields: JsonFields<E>,
    readonly wallClock: () => Date = () => new Date(),
  ) {}

  emit(event: E): void {
    const line = JSON.stringify({
      event: event.event,
      time: this.wallClock().toISOString(),
      peer: formatAddress(event.peer),
      ...this.fields(event),
    });
    this.#out.append(encoder.encode(line + "\n"));
  }

  get pending(): number {
    return this.#out.length;
  }

  take(): Uint8Array {
    return this.#out.take();
  }
}
