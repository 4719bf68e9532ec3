/**
 * What the PUDP server reports, as events: the text renderer
 * ({@link ServerTextSink}) prints the stdout lines from them, and `--json`
 * prints one object per event with the fields of {@link serverJsonFields}.
 *
 * @module
 */

import type { BaseEvent } from "../events/sink.ts";
import { type JsonTable, payloadFields } from "../events/json_lines.ts";
import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";
import type { ForeignReason } from "./wire.ts";

/** Why a session ended. */
export type CloseReason =
  | "goodbye"
  | "timeout"
  | "evicted"
  | "shutdown"
  | `protocol error: ${string}`;

/**
 * Why a datagram was dropped without reaching a session: `other magic` and
 * `other version` are PUDP of another variant ({@link ForeignReason}),
 * `not PUDP` anything else that does not decode.
 */
export type DropReason =
  | "not PUDP"
  | ForeignReason
  | "unknown session"
  | "wrong address"
  | "HELLO seq not 0"
  | "session table full";

/** What every event about one session carries. */
export interface SessionEvent extends BaseEvent {
  /** The session id as `0x%08x`. */
  session: string;
}

/** A HELLO opened a session. */
export interface CreatedEvent extends SessionEvent {
  /** The event's kind: `created` in `--json` output. */
  event: "created";
  /** The HELLO's sequence number (0). */
  seq: number;
}

/** A DATA in sequence: its payload is `data` from byte `offset` on (a view: copy to keep). */
export interface DataEvent extends SessionEvent {
  /** The event's kind: `data` in `--json` output. */
  event: "data";
  /** The DATA's sequence number. */
  seq: number;
  /** The whole datagram (a view into the receive buffer). */
  data: Uint8Array;
  /** Where the payload starts in `data`. */
  offset: number;
}

/** Sequence numbers `first`…`last` never arrived. */
export interface LostEvent extends SessionEvent {
  /** The event's kind: `lost` in `--json` output. */
  event: "lost";
  /** The first missing sequence number. */
  first: number;
  /** The last missing sequence number. */
  last: number;
  /**
   * Whether the text output lists the numbers, one `Lost packet!` line each:
   * true while the session's budget of `--max-gap` such lines in all has
   * room for the whole gap; else one `Lost packets! (N)` summary line. (Not
   * in `--json`, which always carries the range.)
   */
  itemized: boolean;
}

/** A repeat of the last message. */
export interface DuplicateEvent extends SessionEvent {
  /** The event's kind: `duplicate` in `--json` output. */
  event: "duplicate";
  /** The repeated sequence number. */
  seq: number;
}

/** The client said GOODBYE (a `closed` event follows). */
export interface GoodbyeEvent extends SessionEvent {
  /** The event's kind: `goodbye` in `--json` output. */
  event: "goodbye";
  /** The GOODBYE's sequence number. */
  seq: number;
}

/**
 * A GOODBYE repeated for a session it closed within the last `--timeout`
 * (its client did not hear the reply): the same GOODBYE reply went again.
 * Not printed in the text output (the session closed once); counted.
 */
export interface GoodbyeRepeatedEvent extends SessionEvent {
  /** The event's kind: `goodbye_repeated` in `--json` output. */
  event: "goodbye_repeated";
  /** The GOODBYE's sequence number (the one that closed the session). */
  seq: number;
}

/** The session ended. */
export interface ClosedEvent extends SessionEvent {
  /** The event's kind: `closed` in `--json` output. */
  event: "closed";
  /** Why it ended. */
  reason: CloseReason;
}

/** A datagram that belongs to no session was dropped (and counted). */
export interface DroppedEvent extends BaseEvent {
  /** The event's kind: `dropped` in `--json` output. */
  event: "dropped";
  /** Why it was dropped. */
  reason: DropReason;
  /** The session id it named, when it decoded. */
  session?: string;
  /**
   * The first drop of its client and reason (within a bounded memory and
   * budget: drop_notices.ts): said on stderr (always when it has a
   * `hint`, else with `--verbose`). Not in `--json`.
   */
  first?: boolean;
  /**
   * On the first drop of a client for `other magic` or `other version`: what
   * it looks like and the flags that would talk to it (`looks like P0P
   * (magic 0xC461): try --magic 0xC461`).
   */
  hint?: string;
}

/**
 * A HELLO found the session table full (reported the first time, then at
 * most once a minute): `evicting` the oldest half-open session for it, or
 * `dropping` it because every session is established.
 */
export interface TableFullEvent extends BaseEvent {
  /** The event's kind: `table_full` in `--json` output. */
  event: "table_full";
  /** Sessions open: the cap, `--max-sessions` (`limit` in `--json`). */
  limit: number;
  /** What happens to new HELLOs while the table stays full. */
  action: "evicting" | "dropping";
}

/** Everything `pudp server` reports. */
export type ServerEvent =
  | CreatedEvent
  | DataEvent
  | LostEvent
  | DuplicateEvent
  | GoodbyeEvent
  | GoodbyeRepeatedEvent
  | ClosedEvent
  | DroppedEvent
  | TableFullEvent;

/** `0x%08x` of a u32 session id. */
export function hexSessionId(sessionId: number): string {
  return "0x" + sessionId.toString(16).padStart(8, "0");
}

/** The `--json` fields of each server event (besides event, time and peer): docs/events.md. */
export const serverJsonFields: JsonTable<ServerEvent> = {
  created: (e) => ({ session: e.session, seq: e.seq }),
  data: (e) => ({ session: e.session, seq: e.seq, ...payloadFields(e.data.subarray(e.offset)) }),
  lost: (e) => ({ session: e.session, first: e.first, last: e.last, count: e.last - e.first + 1 }),
  duplicate: (e) => ({ session: e.session, seq: e.seq }),
  goodbye: (e) => ({ session: e.session, seq: e.seq }),
  goodbye_repeated: (e) => ({ session: e.session, seq: e.seq }),
  closed: (e) => ({ session: e.session, reason: e.reason }),
  dropped: (e) => ({ session: e.session, reason: e.reason, hint: e.hint }),
  table_full: (e) => ({ limit: e.limit, action: e.action }),
};

/** The stderr line of a {@link TableFullEvent}. */
export function tableFullText(e: TableFullEvent): string {
  return `session table full (${e.limit}): ` +
    (e.action === "evicting"
      ? "evicting the oldest half-open session for each new HELLO"
      : "dropping new HELLOs (every session has sent data)");
}

/**
 * The stderr line of the first {@link DroppedEvent} of a client and reason:
 * `dropped from 127.0.0.1:40000: other magic: looks like P0P (magic 0xC461):
 * try --magic 0xC461`, `dropped from 127.0.0.1:40000: unknown session
 * 0x00000abc`.
 */
export function droppedText(e: DroppedEvent): string {
  const what = e.session === undefined ? e.reason : `${e.reason} ${e.session}`;
  return `dropped from ${formatAddress(e.peer)}: ${what}${
    e.hint === undefined ? "" : `: ${e.hint}`
  }`;
}

/** The peer of events about nobody yet. */
export const NO_PEER: PeerAddress = { hostname: "0.0.0.0", port: 0 };
