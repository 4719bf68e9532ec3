/**
 * What the frame server reports, as events, and their text renderer: one
 * line per connection opened and closed on stdout (messages are shown by
 * `--json`, which renders every event).
 *
 * @module
 */

import { type JsonTable, payloadFields } from "../events/json_lines.ts";
import type { BaseEvent } from "../events/sink.ts";
import { TextLinesSink } from "../events/text_lines.ts";
import { formatAddress } from "../runtime/transmit.ts";

/** A connection was accepted. */
export interface FrameConnectedEvent extends BaseEvent {
  /** The event's kind: `connected` in `--json` output. */
  event: "connected";
  /** The connection's number, from 1 in order of arrival. */
  connection: number;
}

/** A message arrived and was answered. */
export interface FrameMessageEvent extends BaseEvent {
  /** The event's kind: `message` in `--json` output. */
  event: "message";
  /** The connection's number. */
  connection: number;
  /** The payload (a view, valid during `emit`). */
  payload: Uint8Array;
  /** Bytes of the answer's payload. */
  answerBytes: number;
}

/** A connection ended. */
export interface FrameClosedEvent extends BaseEvent {
  /** The event's kind: `closed` in `--json` output. */
  event: "closed";
  /** The connection's number. */
  connection: number;
  /** Messages answered on it. */
  messages: number;
  /** `peer closed`, `peer reset`, `shutdown`, `protocol error: …`, `peer closed mid-message …`. */
  reason: string;
  /** Bytes the server still holds for unfinished messages, over all connections, after this close. */
  buffered: number;
}

/** Everything `pudp frame server` reports. */
export type FrameEvent = FrameConnectedEvent | FrameMessageEvent | FrameClosedEvent;

/** The `--json` fields of each frame event (besides event, time and peer): docs/events.md. */
export const frameJsonFields: JsonTable<FrameEvent> = {
  connected: (e) => ({ connection: e.connection }),
  message: (e) => ({
    connection: e.connection,
    bytes: e.payload.length,
    answer_bytes: e.answerBytes,
    ...payloadFields(e.payload),
  }),
  closed: (e) => ({
    connection: e.connection,
    messages: e.messages,
    reason: e.reason,
    buffered: e.buffered,
  }),
};

/** Renders `#N HOST:PORT connected` and `#N HOST:PORT closed (REASON) after M messages`. */
export class FrameTextSink extends TextLinesSink<FrameEvent> {
  /** Renders one event (the {@link EventSink} interface). */
  emit(e: FrameEvent): void {
    if (e.event === "message") return;
    const who = `#${e.connection} ${formatAddress(e.peer)}`;
    const line = e.event === "connected"
      ? `${who} connected`
      : `${who} closed (${e.reason}) after ${e.messages} message${e.messages === 1 ? "" : "s"}`;
    this.line(line);
  }
}
