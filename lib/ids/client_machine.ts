/**
 * The ids client, as a pure state machine.
 *
 * How this works: `start(now)` sends `HELLO <id>` (over TCP with a `\n`);
 * the first reply decides: OK → exit 0, RESET or ERROR → exit 1, each with
 * the reply's text to print. Over UDP the request is repeated every
 * `retryMs` (a datagram or its answer may be lost; the server answers a
 * repeat from the same address with OK again). No reply within `timeoutMs`
 * → exit 1 `no answer from HOST:PORT`. Over TCP the server may close
 * without answering (`handleEnd`) → exit 1.
 *
 * A lost OK: a server that holds the id for our address and does not
 * recognise a repeat (the course servers) answers the repeat with RESET.
 * So a RESET that comes after the request was sent more than once still
 * exits 1 (the id may be someone else's), but its line says the id may be
 * this client's own. What `--verbose` says (each send: what, when, why;
 * each reply's first bytes, escaped) is queued as notes: `pollNote()`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const client = new IdsClientMachine({
 *   id: "8877",
 *   timeoutMs: 5000,
 *   transport: "udp",
 *   serverLabel: "127.0.0.1:9100",
 * });
 * client.start(0);
 * assert.equal(new TextDecoder().decode(client.pollTransmit()), "HELLO 8877");
 * client.handleReply(new TextEncoder().encode("OK 8877 127.0.0.1 40000"), 2);
 * assert.deepEqual(client.result, { code: 0, reply: "OK 8877 127.0.0.1 40000" });
 * ```
 *
 * @module
 */

import type { ClientEnd } from "../runtime/lifecycle.ts";
import { Timer, TimerTable } from "../runtime/timer_table.ts";
import { Fifo } from "../util/fifo.ts";
import { firstBytes } from "../io/terminal_text.ts";
import { formatReply, formatRequest, parseReply, WireError } from "./wire.ts";

/** Settings of an {@link IdsClientMachine}. */
export interface IdsClientOptions {
  /** The id to ask for. */
  id: string;
  /** How long to wait for a reply, in ms. */
  timeoutMs: number;
  /** "udp" repeats the request; "tcp" sends it once, as a line. */
  transport: "udp" | "tcp";
  /** How the server is named in messages (`HOST:PORT`). */
  serverLabel: string;
}

/** How the exchange ended: a {@link ClientEnd} (0 for OK, 1 otherwise) with the reply. */
export interface IdsClientResult extends ClientEnd {
  /** The reply, as text, to print on stdout. */
  reply?: string;
}

/** Tries of a UDP request within the timeout. */
export const UDP_TRIES = 4;

const encoder = new TextEncoder();

/** One ids request. */
export class IdsClientMachine {
  readonly #timers = new TimerTable<"retry" | "deadline">();
  readonly #retry = new Timer<"retry" | "deadline">("retry");
  readonly #deadline = new Timer<"retry" | "deadline">("deadline");
  readonly #tx = new Fifo<Uint8Array>();
  readonly #notes = new Fifo<string>();
  #startedAt = 0;
  #result: IdsClientResult | undefined;
  /** Requests sent. */
  sent = 0;

  /** A client that has not sent yet: call `start(now)`. */
  constructor(readonly options: IdsClientOptions) {}

  /** Set once the exchange is over. */
  get result(): IdsClientResult | undefined {
    return this.#result;
  }

  /** Sends the request and starts the timer. */
  start(now: number): void {
    this.#startedAt = now;
    this.#send(now, `to ${this.options.serverLabel} (${this.options.transport})`);
    this.#timers.set(this.#deadline, now + this.options.timeoutMs);
    if (this.options.transport === "udp") this.#scheduleRetry(now);
  }

  /** A reply (a datagram, or a line without its `\n`). */
  handleReply(bytes: Uint8Array, now: number): void {
    if (this.#result) return;
    this.#note(now, `reply ${firstBytes(bytes)}`);
    try {
      const reply = parseReply(bytes);
      const text = formatReply(reply);
      if (reply.kind === "reset" && this.sent > 1) {
        this.#finish({ code: 1, reply: text, message: this.#repeatedReset() });
      } else this.#finish({ code: reply.kind === "ok" ? 0 : 1, reply: text });
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      this.#note(now, `not an OK, RESET or ERROR reply: ${e.message}`);
      this.#finish({ code: 1, message: `${this.options.serverLabel}: ${e.message}` });
    }
  }

  /** The next line for `--verbose` (what was sent, when and why; what came back). */
  pollNote(): string | undefined {
    return this.#notes.shift();
  }

  /** The TCP server closed the connection before it answered. */
  handleEnd(how: string): void {
    if (this.#result) return;
    this.#finish({ code: 1, message: `${this.options.serverLabel} ${how} without answering` });
  }

  /** A retry or the deadline. */
  handleTimeout(now: number): void {
    for (let due = this.#timers.popDue(now); due && !this.#result; due = this.#timers.popDue(now)) {
      if (due === "retry") {
        const waited = ((now - this.#startedAt) / 1000).toFixed(2);
        this.#send(now, `again: no reply ${waited} s after the first`);
        this.#scheduleRetry(now);
      } else {
        this.#finish({ code: 1, message: `no answer from ${this.options.serverLabel}` });
      }
    }
  }

  /** When `handleTimeout` next has work. */
  pollTimeout(): number | undefined {
    return this.#timers.nextAt;
  }

  /** The next bytes to send. */
  pollTransmit(): Uint8Array | undefined {
    return this.#tx.shift();
  }

  #scheduleRetry(now: number): void {
    if (this.sent < UDP_TRIES) {
      this.#timers.set(this.#retry, now + this.options.timeoutMs / UDP_TRIES);
    }
  }

  #send(now: number, why: string): void {
    const request = formatRequest(this.options.id);
    const line = request + (this.options.transport === "tcp" ? "\n" : "");
    this.#tx.push(encoder.encode(line));
    this.sent++;
    const of = this.options.transport === "udp" ? ` of ${UDP_TRIES}` : "";
    this.#note(now, `sent '${request}' ${why} (try ${this.sent}${of})`);
  }

  /** The line of a RESET that answers a repeated request. */
  #repeatedReset(): string {
    return `RESET came after the request was sent ${this.sent} times: the id may be this ` +
      `client's own (the first OK was lost, and ${this.options.serverLabel} does not ` +
      `recognise a repeat from the holder)`;
  }

  #note(now: number, what: string): void {
    this.#notes.push(`${((now - this.#startedAt) / 1000).toFixed(2)} s: ${what}`);
  }

  #finish(result: IdsClientResult): void {
    this.#result = result;
    this.#timers.clear(this.#retry);
    this.#timers.clear(this.#deadline);
  }
}
