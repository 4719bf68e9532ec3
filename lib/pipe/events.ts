/**
 * What the pipe server reports, as events, and their text renderer. Both go
 * to stderr: stdout is the data.
 *
 * @module
 */

import type { JsonTable } from "../events/json_lines.ts";
import type { BaseEvent } from "../events/sink.ts";
import { TextLinesSink } from "../events/text_lines.ts";
import { formatAddress } from "../runtime/transmit.ts";

/** A connection was accepted. */
export interface PipeConnectedEvent extends BaseEvent {
  /** The event's kind: `connected` in `--json` output. */
  event: "connected";
  /** The connection's number, from 1 in order of arrival. */
  connection: number;
}

/** A connection's turn on stdout began: what it held is written first, then it streams live. */
export interface PipeLiveEvent extends BaseEvent {
  /** The event's kind: `live` in `--json` output. */
  event: "live";
  /** The connection's number. */
  connection: number;
  /** Bytes it held in memory and in its temporary file, written now. */
  held: number;
}

/** A connection ended; every byte it sent is written or held. */
export interface PipeClosedEvent extends BaseEvent {
  /** The event's kind: `closed` in `--json` output. */
  event: "closed";
  /** The connection's number. */
  connection: number;
  /** Bytes received from it, in all. */
  bytes: number;
  /** Of those, bytes held in memory (waiting for its turn) when it ended. */
  memory: number;
  /** Of those, bytes in its temporary file when it ended. */
  disk: number;
  /** `peer closed`, `peer reset`, `error: …`. */
  reason: string;
}

/** A waiting connection is read no further for now: the memory and disk budgets are full. */
export interface PipeWaitingEvent extends BaseEvent {
  /** The event's kind: `waiting` in `--json` output. */
  event: "waiting";
  /** The connection's number. */
  connection: number;
  /** Bytes held in memory now, all connections. */
  memory: number;
  /** Bytes held in temporary files now, all connections. */
  disk: number;
}

/** A connection's bytes could not all be kept (a temporary file or stdout failed, or it was cut). */
export interface PipeFailedEvent extends BaseEvent {
  /** The event's kind: `failed` in `--json` output. */
  event: "failed";
  /** The connection's number. */
  connection: number;
  /** Bytes received from it so far. */
  bytes: number;
  /** `temporary file: …`, `cannot write to stdout: …`, `cut: …`. */
  reason: string;
  /** Whether its client was told (`ERR` line, exit 1); false: it had been told exit 0 already. */
  told: boolean;
}

/** Everything `pudp pipe server` reports. */
export type PipeEvent =
  | PipeConnectedEvent
  | PipeLiveEvent
  | PipeClosedEvent
  | PipeWaitingEvent
  | PipeFailedEvent;

/** The `--json` fields of each pipe event (besides event, time and peer): docs/events.md. */
export const pipeJsonFields: JsonTable<PipeEvent> = {
  connected: (e) => ({ connection: e.connection }),
  live: (e) => ({ connection: e.connection, held: e.held }),
  closed: (e) => ({
    connection: e.connection,
    bytes: e.bytes,
    memory: e.memory,
    disk: e.disk,
    reason: e.reason,
  }),
  waiting: (e) => ({ connection: e.connection, memory: e.memory, disk: e.disk }),
  failed: (e) => ({ connection: e.connection, bytes: e.bytes, reason: e.reason, told: e.told }),
};

/**
 * Renders `#N HOST:PORT connected`, `#N HOST:PORT closed (REASON) after B
 * bytes[, held …]`, `#N HOST:PORT waits: …` and `#N HOST:PORT failed (REASON) …`.
 */
export class PipeTextSink extends TextLinesSink<PipeEvent> {
  /** Renders one event (the {@link EventSink} interface). */
  emit(e: PipeEvent): void {
    const who = `#${e.connection} ${formatAddress(e.peer)}`;
    if (e.event === "connected") this.line(`${who} connected`);
    else if (e.event === "closed") {
      const held = e.memory + e.disk > 0
        ? `, ${e.memory} held in memory, ${e.disk} in a temporary file until its turn`
        : "";
      this.line(`${who} closed (${e.reason}) after ${e.bytes} bytes${held}`);
    } else if (e.event === "waiting") {
      this.line(
        `${who} waits: memory and disk budgets full (${e.memory} in memory, ${e.disk} on disk)`,
      );
    } else if (e.event === "failed") {
      const told = e.told
        ? "its client was told (exit 1)"
        : "LOST: its client had been told exit 0";
      this.line(`${who} failed (${e.reason}) after ${e.bytes} bytes: ${told}`);
    }
  }
}
