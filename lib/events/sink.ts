/**
 * How a protocol machine reports what happened: it calls `emit` on an
 * {@link EventSink} with an event object, and the sink renders it (the text
 * lines of a family, or `--json`) or keeps it (tests).
 *
 * An emitted event, and any bytes it points into, is valid only during the
 * `emit` call: a hot path reuses its event objects and hands out views of
 * the receive buffer, so a sink that keeps an event copies it
 * ({@link EventQueue} does).
 *
 * @module
 */

import type { PeerAddress } from "../runtime/transmit.ts";

/** What every event has: its name and the peer it concerns. */
export interface BaseEvent {
  /** The event's name, as `--json` prints it (`created`, `data`, `closed`…). */
  event: string;
  /** The peer the event is about. */
  peer: PeerAddress;
}

/** Where a machine's events go. */
export interface EventSink<E extends BaseEvent> {
  /** Reports one event; the sink must not keep `event` past the call. */
  emit(event: E): void;
}

/** A sink that renders events into bytes for stdout (or stderr), drained in batches. */
export interface OutputSink<E extends BaseEvent> extends EventSink<E> {
  /** Bytes rendered and not yet taken. */
  readonly pending: number;
  /** Everything rendered since the last call (empty when nothing was). */
  take(): Uint8Array;
}

/** Copies an event: its fields, with byte arrays copied out of whatever buffer they view. */
function copyEvent<E extends BaseEvent>(event: E): E {
  const copy: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(event)) {
    copy[k] = v instanceof Uint8Array ? v.slice() : v;
  }
  copy.peer = { hostname: event.peer.hostname, port: event.peer.port };
  return copy as E;
}

/** A sink that keeps copies of the events, in order, for `poll()` (tests, drivers that react). */
export class EventQueue<E extends BaseEvent> implements EventSink<E> {
  readonly #events: E[] = [];
  #head = 0;

  emit(event: E): void {
    this.#events.push(copyEvent(event));
  }

  /** The oldest event not yet polled, or undefined. */
  poll(): E | undefined {
    if (this.#head === this.#events.length) return undefined;
    return this.#events[this.#head++];
  }

  /** Every event not yet polled. */
  drain(): E[] {
    const out = this.#events.slice(this.#head);
    this.#head = this.#events.length;
    return out;
  }
}
