/**
 * What the ids server reports, as events, and their two renderers: text
 * lines on stdout (the reply sent, with who asked) and `--json`.
 *
 * @module
 */

import type { JsonTable } from "../events/json_lines.ts";
import type { BaseEvent } from "../events/sink.ts";
import { TextLinesSink } from "../events/text_lines.ts";
import { formatAddress } from "../runtime/transmit.ts";

/** How a request came. */
export type Transport = "udp" | "tcp";

/** A request was granted: the id is now held for the peer (`repeat`: it already was, same address). */
export interface OkEvent extends BaseEvent {
  /** The event's kind: `ok` in `--json` output. */
  event: "ok";
  /** The id granted. */
  id: string;
  /** The transport of the request. */
  transport: Transport;
  /** Whether the same holder asked again (the hold is not extended). */
  repeat: boolean;
}

/** A request for an id in use. */
export interface ResetEvent extends BaseEvent {
  /** The event's kind: `reset` in `--json` output. */
  event: "reset";
  /** The id asked for, which someone else holds. */
  id: string;
  /** The transport of the request. */
  transport: Transport;
  /** Who holds the id, `host:port`. */
  holder: string;
}

/** A request answered with `ERROR <reason>`: malformed, or a new id while the table is full. */
export interface ErrorEvent extends BaseEvent {
  /** The event's kind: `error` in `--json` output. */
  event: "error";
  /** Why the request was refused, as the ERROR reply says it. */
  reason: string;
  /** The transport of the request. */
  transport: Transport;
}

/** An id was released `--id-ttl` after it was taken; `peer` held it. */
export interface ExpiredEvent extends BaseEvent {
  /** The event's kind: `expired` in `--json` output. */
  event: "expired";
  /** The id released. */
  id: string;
}

/**
 * Why a datagram or line got no reply: it looks like a reply (`reply`) or
 * is not printable text (`not text`), which no server answers, so that two
 * servers cannot talk to each other forever; or it deserved an ERROR that
 * was not sent, because `peer` had its share of ERRORs (`rate limited`) or
 * because of `--course` (`course`).
 */
export type DropReason = "reply" | "not text" | "rate limited" | "course";

/** A datagram (UDP) or line (TCP) that got no reply, counted. */
export interface DroppedEvent extends BaseEvent {
  /** The event's kind: `dropped` in `--json` output. */
  event: "dropped";
  /** Why it got no reply. */
  reason: DropReason;
  /** The transport it came over. */
  transport: Transport;
  /** For `rate limited` and `course`: the reason the ERROR not sent would have given. */
  error?: string;
}

/**
 * A request for a new id found `--max-ids` ids held; it gets `ERROR id table
 * full`. Reported the first time, then at most once a minute while it lasts.
 */
export interface TableFullEvent extends BaseEvent {
  /** The event's kind: `table_full` in `--json` output. */
  event: "table_full";
  /** Ids held: the cap, `--max-ids` (`limit` in `--json`). */
  limit: number;
}

/** A TCP connection was accepted. */
export interface ConnectedEvent extends BaseEvent {
  /** The event's kind: `connected` in `--json` output. */
  event: "connected";
  /** The connection's number, from 1 in order of arrival. */
  connection: number;
}

/** A TCP connection ended. */
export interface ClosedEvent extends BaseEvent {
  /** The event's kind: `closed` in `--json` output. */
  event: "closed";
  /** The connection's number. */
  connection: number;
  /** `reset sent`, `request too long`, `peer closed`, `peer reset`, `shutdown`… */
  reason: string;
}

/** Everything `pudp ids server` reports. */
export type IdsEvent =
  | OkEvent
  | ResetEvent
  | ErrorEvent
  | ExpiredEvent
  | DroppedEvent
  | TableFullEvent
  | ConnectedEvent
  | ClosedEvent;

/** The `--json` fields of each ids event (besides event, time and peer): docs/events.md. */
export const idsJsonFields: JsonTable<IdsEvent> = {
  ok: (e) => ({ id: e.id, transport: e.transport, repeat: e.repeat }),
  reset: (e) => ({ id: e.id, transport: e.transport, holder: e.holder }),
  error: (e) => ({ reason: e.reason, transport: e.transport }),
  expired: (e) => ({ id: e.id }),
  dropped: (e) => ({ reason: e.reason, transport: e.transport, error: e.error }),
  table_full: (e) => ({ limit: e.limit }),
  connected: (e) => ({ connection: e.connection }),
  closed: (e) => ({ connection: e.connection, reason: e.reason }),
};

/** The stderr line of a {@link TableFullEvent}. */
export function tableFullText(e: TableFullEvent): string {
  return `id table full (${e.limit} ids held, --max-ids): new ids get "ERROR id table full" ` +
    `until some expire`;
}

/** What each drop reason means, for {@link droppedText}. */
const DROP_WHY: Readonly<Record<DropReason, string>> = {
  reply: "it looks like a reply (OK, RESET, ERROR): a server never answers one",
  "not text": "it is not printable text",
  "rate limited": "its ERROR was over the rate limit",
  course: "--course sends no ERROR",
};

/**
 * The `--verbose` stderr line of a {@link DroppedEvent}: what got no reply
 * and why, e.g. `dropped a udp message from 127.0.0.1:40000: --course sends
 * no ERROR (it would have been "ERROR empty request")`.
 */
export function droppedText(e: DroppedEvent): string {
  const would = e.error === undefined ? "" : ` (it would have been "ERROR ${e.error}")`;
  return `dropped a ${e.transport} message from ${formatAddress(e.peer)}: ` +
    `${DROP_WHY[e.reason]}${would}`;
}

/**
 * Renders ids events as text: `OK <id> <ip> <port>`, `RESET <id> (from PEER,
 * held by HOLDER)`, `ERROR <reason> (from PEER)`, `EXPIRED <id> (taken by
 * PEER)`. Connections, drops and the full table are not shown (see
 * `--json`; drops are counted in the summary, the full table is said on
 * stderr).
 */
export class IdsTextSink extends TextLinesSink<IdsEvent> {
  /** Renders one event (the {@link EventSink} interface). */
  emit(e: IdsEvent): void {
    const from = formatAddress(e.peer);
    switch (e.event) {
      case "ok":
        return this.line(`OK ${e.id} ${e.peer.hostname} ${e.peer.port}`);
      case "reset":
        return this.line(`RESET ${e.id} (from ${from}, held by ${e.holder})`);
      case "error":
        return this.line(`ERROR ${e.reason} (from ${from})`);
      case "expired":
        return this.line(`EXPIRED ${e.id} (taken by ${from})`);
      default:
        return;
    }
  }
}
