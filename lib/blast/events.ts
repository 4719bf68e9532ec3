/**
 * What a blast server reports, as events, and their text renderer: one line
 * per request, refusal, echo and finished run.
 *
 * @module
 */

import { type ServerLife, serverLife } from "../net/service.ts";
import type { JsonTable } from "../events/json_lines.ts";
import type { BaseEvent } from "../events/sink.ts";
import { TextLinesSink } from "../events/text_lines.ts";
import { formatAddress } from "../runtime/transmit.ts";
import type { ReceiverReport } from "./receiver.ts";
import type { SenderFigures } from "./segment_source.ts";

/** A run's name in events: the UDP run id (hex), or `#N` for a TCP connection. */
export type RunName = string;

/** A request was accepted. */
export interface BlastRequestEvent extends BaseEvent {
  /** The event's kind: `request` in `--json` output. */
  event: "request";
  /** The run the event is about. */
  run: RunName;
  /** The request line, as received. */
  request: string;
}

/** A request was refused (over the limit, or not a request). */
export interface BlastRefusedEvent extends BaseEvent {
  /** The event's kind: `refused` in `--json` output. */
  event: "refused";
  /** The run the event is about. */
  run: RunName;
  /** Why, as the REFUSED answer says it. */
  reason: string;
}

/** An echo was answered. */
export interface BlastEchoEvent extends BaseEvent {
  /** The event's kind: `echo` in `--json` output. */
  event: "echo";
  /** The run the event is about. */
  run: RunName;
  /** The text echoed. */
  text: string;
}

/** A run (or TCP connection) ended. */
export interface BlastClosedEvent extends BaseEvent {
  /** The event's kind: `closed` in `--json` output. */
  event: "closed";
  /** The run the event is about. */
  run: RunName;
  /** `complete`, `peer closed`, `client went silent`, `end not acknowledged`, `shutdown`… */
  reason: string;
  /** What this server sent, when it sent. */
  sent?: SenderFigures;
  /** What this server received, when it received. */
  received?: ReceiverReport;
}

/** Something that is not a request was dropped (reported once per peer address). */
export interface BlastDroppedEvent extends BaseEvent {
  /** The event's kind: `dropped` in `--json` output. */
  event: "dropped";
  /** Why: `not blast`, `not a classic request: …`, `a blast request, not classic`. */
  reason: string;
  /** Its first bytes, escaped as on a terminal (`\xHH`). */
  first_bytes: string;
  /** What it looks like, and what to try: `looks like a classic blast request: try --classic`. */
  hint?: string;
}

/** Everything `pudp blast server` reports. */
export type BlastServerEvent =
  | BlastRequestEvent
  | BlastRefusedEvent
  | BlastEchoEvent
  | BlastClosedEvent
  | BlastDroppedEvent;

/**
 * The `--json` fields of each server event (besides event, time and peer):
 * docs/events.md. `sent` and `received` are the figures as blast's wire
 * carries them (the END body, the DONE report: lib/blast/wire.ts).
 */
export const blastJsonFields: JsonTable<BlastServerEvent> = {
  request: (e) => ({ run: e.run, request: e.request }),
  refused: (e) => ({ run: e.run, reason: e.reason }),
  echo: (e) => ({ run: e.run, text: e.text }),
  closed: (e) => ({ run: e.run, reason: e.reason, sent: e.sent, received: e.received }),
  dropped: (e) => ({ reason: e.reason, first_bytes: e.first_bytes, hint: e.hint }),
};

/** The text lines of `pudp blast server`. */
export class BlastTextSink extends TextLinesSink<BlastServerEvent> {
  /** Renders one event (the {@link EventSink} interface). */
  emit(e: BlastServerEvent): void {
    if (e.event === "dropped") {
      return this.line(droppedText(e));
    }
    const who = `${formatAddress(e.peer)} ${e.run}`;
    switch (e.event) {
      case "request":
        return this.line(`${who}: ${e.request}`);
      case "refused":
        return this.line(`${who}: refused (${e.reason})`);
      case "echo":
        return this.line(`${who}: echo ${JSON.stringify(e.text)}`);
      case "closed":
        return this.line(`${who}: closed (${e.reason})${figures(e)}`);
    }
  }
}

/** A `dropped` event as one line (also the `--verbose` line on stderr). */
export function droppedText(e: BlastDroppedEvent): string {
  const hint = e.hint === undefined ? "" : ` (${e.hint})`;
  return `${formatAddress(e.peer)}: dropped (${e.reason}): '${e.first_bytes}'${hint}`;
}

function figures(e: BlastClosedEvent): string {
  if (e.sent) {
    return `, sent ${e.sent.bytes} bytes in ${e.sent.segments} segments, ${
      e.sent.seconds.toFixed(3)
    } s`;
  }
  const r = e.received;
  if (!r) return "";
  let text = `, received ${r.bytes} of ${r.expected_bytes} bytes in ${r.seconds.toFixed(3)} s`;
  if (r.segments) {
    const s = r.segments;
    text += `, ${s.lost} lost, ${s.duplicated} duplicated, ${s.reordered} reordered`;
  }
  if (r.corrupt_bytes > 0) text += `, ${r.corrupt_bytes} bytes wrong`;
  return text;
}

/** The servers' event output (text or `--json`) and their lifecycle. */
export function blastServerLife(json: boolean): ServerLife<BlastServerEvent> {
  return serverLife(json, (terminal) => new BlastTextSink(terminal), blastJsonFields);
}
