/**
 * The `--json` contract shared by every family: one JSON object per line
 * per event, `{"event", "time", "peer", …the event's own fields}`.
 *
 * `time` is the wall clock when the event is rendered, ISO 8601 UTC with
 * milliseconds; `peer` is `host:port` (IPv6 in brackets). Payload bytes
 * become `text` when they are valid UTF-8, else `base64`
 * ({@link payloadFields}), so no byte a peer sent is lost or mangled.
 *
 * A family declares the JSON fields of each of its events once, explicitly,
 * in a {@link JsonTable}: one function per event name, which the type
 * checker makes exhaustive. The JSON never follows the TypeScript field
 * names: renaming a field of an event type changes no output. Every event of
 * every family, with its fields, is listed in docs/events.md, and
 * tests/events/contract_test.ts checks the tables against it.
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";
import { formatAddress } from "../runtime/transmit.ts";
import type { BaseEvent, OutputSink } from "./sink.ts";

/**
 * The JSON fields of one event, besides event, time and peer, in the order
 * they are printed. A field the event may lack is still declared, with
 * `undefined`: it is then left out of the line (JSON has no undefined), and
 * the declaration keeps naming every field the event can have.
 */
export type JsonObject = Record<string, unknown>;

/**
 * A family's JSON contract: for each event name, the function that gives
 * that event's fields. Every event name of `E` must have an entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BaseEvent } from "./sink.ts";
 *
 * type Ev =
 *   | BaseEvent & { event: "connected"; connection: number }
 *   | BaseEvent & { event: "closed"; connection: number; why: string };
 * const table: JsonTable<Ev> = {
 *   connected: (e) => ({ connection: e.connection }),
 *   closed: (e) => ({ connection: e.connection, reason: e.why }),
 * };
 * const peer = { hostname: "::1", port: 9000 };
 * const closed: Ev = { event: "closed", peer, connection: 3, why: "peer closed" };
 * assert.equal(
 *   jsonLine(table, closed, new Date(0)),
 *   '{"event":"closed","time":"1970-01-01T00:00:00.000Z","peer":"[::1]:9000",' +
 *     '"connection":3,"reason":"peer closed"}\n',
 * );
 * ```
 */
export type JsonTable<E extends BaseEvent> = {
  readonly [K in E["event"]]: (event: EventNamed<E, K>) => JsonObject;
};

/** A family's fields of its events: its {@link JsonTable} (the name drivers pass it by). */
export type JsonFields<E extends BaseEvent> = JsonTable<E>;

/**
 * The event of `E` named `K`: its member of a union, or `E` itself when one
 * type has several names (impair's log records).
 */
export type EventNamed<E extends BaseEvent, K extends string> = [Extract<E, { event: K }>] extends
  [never] ? E & { event: K }
  : Extract<E, { event: K }>;

/** The fields of `event` as its family's table declares them. */
export function jsonFieldsOf<E extends BaseEvent>(table: JsonTable<E>, event: E): JsonObject {
  const fields = table[event.event as E["event"]] as (event: E) => JsonObject;
  return fields(event);
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });
const encoder = new TextEncoder();

/**
 * The JSON fields of a payload: `text` when it is valid UTF-8, else
 * `base64` (the other one is undefined, so left out of the line).
 */
export function payloadFields(
  bytes: Uint8Array,
): { text: string | undefined; base64: string | undefined } {
  try {
    return { text: strictUtf8.decode(bytes), base64: undefined };
  } catch {
    return { text: undefined, base64: bytes.toBase64() };
  }
}

/**
 * One event as its JSON line (with the newline): event, time, peer, then
 * the fields its family's table declares.
 *
 * @param table the family's JSON contract
 * @param event the event
 * @param time the wall clock stamped on the line
 */
export function jsonLine<E extends BaseEvent>(table: JsonTable<E>, event: E, time: Date): string {
  return JSON.stringify({
    event: event.event,
    time: time.toISOString(),
    peer: formatAddress(event.peer),
    ...jsonFieldsOf(table, event),
  }) + "\n";
}

/** Renders events as JSON lines into a buffer that a pump drains. */
export class JsonLinesSink<E extends BaseEvent> implements OutputSink<E> {
  readonly #out = new ByteBuffer(64 * 1024);

  /**
   * A renderer of one JSON object per event.
   * @param table the family's JSON contract (payload bytes via {@link payloadFields})
   * @param wallClock the time stamped on each line (tests pass a fixed one)
   */
  constructor(
    readonly table: JsonTable<E>,
    readonly wallClock: () => Date = () => new Date(),
  ) {}

  emit(event: E): void {
    this.#out.append(encoder.encode(jsonLine(this.table, event, this.wallClock())));
  }

  get pending(): number {
    return this.#out.length;
  }

  take(): Uint8Array {
    return this.#out.take();
  }
}
