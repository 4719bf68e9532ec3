/**
 * The ids server `pudp check ids client` plays, as a pure machine.
 *
 * How this works: time is a number passed in; what the client sends comes
 * in through {@link IdsScriptedServer.handleDatagram} (UDP: one datagram,
 * one request) or {@link IdsScriptedServer.handleStreamBytes} (TCP: a
 * request is a line, or a partial line left alone for
 * {@link PARTIAL_LINE_MS}, as course clients send `HELLO 1234` with no line
 * ending); what it answers is drained with
 * {@link IdsScriptedServer.pollTransmit} (bytes for one client, from the
 * server's own socket or from another address, and over TCP whether to
 * close the connection after). Its {@link IdsBehaviour} makes it a normal
 * server (OK, then RESET to anyone else), one that answers RESET, ERROR, a
 * garbage datagram or nothing at all, one whose first OK is lost (the id is
 * taken, the repeat gets RESET, as course servers answer their holder), one
 * that slips in a forged OK from another address before its real reply,
 * and over TCP one that closes without a word or answers without a line
 * ending. It records every request, for the cases to judge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = (s: string) => new TextEncoder().encode(s);
 * const show = (t: IdsTransmit | undefined) => t && new TextDecoder().decode(t.bytes);
 * const client = { hostname: "127.0.0.1", port: 40000 };
 * const server = new IdsScriptedServer({ ...IDS_NORMAL, replyDelayMs: 100 });
 * server.handleDatagram(text("HELLO 8877"), client, 0);
 * assert.equal(server.pollTransmit(), undefined); // the reply waits 100 ms
 * assert.equal(server.pollTimeout(), 100);
 * server.handleTimeout(100);
 * assert.equal(show(server.pollTransmit()), "OK 8877 127.0.0.1 40000");
 * server.handleDatagram(text("HELLO 8877"), { hostname: "127.0.0.1", port: 40001 }, 200);
 * server.handleTimeout(300);
 * assert.equal(show(server.pollTransmit()), "RESET 8877");
 * assert.deepEqual(server.requests.map((r) => [r.at, r.text]), [[0, "HELLO 8877"], [200, "HELLO 8877"]]);
 * ```
 *
 * @module
 */

/** How long a TCP partial line waits alone before it counts as a request (ms). */
export const PARTIAL_LINE_MS = 200;

/** A client's address. */
export interface IdsPeer {
  /** Its IP address. */
  hostname: string;
  /** Its port. */
  port: number;
}

/** How the scripted server answers. */
export interface IdsBehaviour {
  /**
   * The answer to a request: `normal` (OK for a free id, or its holder's
   * repeat; RESET for another address), `reset`, `error` (`ERROR …`),
   * `garbage` (bytes that are no reply), `silent` (nothing at all),
   * `close` (TCP: close the connection without a word).
   */
  answer: "normal" | "reset" | "error" | "garbage" | "silent" | "close";
  /** The first request takes the id but its OK is lost; a repeat then gets RESET (course servers). */
  dropFirst: boolean;
  /** Before the real reply, a forged `OK` for the client from another address (UDP). */
  forged: boolean;
  /** Wait this long before each reply (ms). */
  replyDelayMs: number;
  /** TCP: end each reply with `\n` (false: the bare text, then close). */
  newline: boolean;
}

/** A normal server. */
export const IDS_NORMAL: IdsBehaviour = {
  answer: "normal",
  dropFirst: false,
  forged: false,
  replyDelayMs: 0,
  newline: true,
};

/** Bytes to send to one client. */
export interface IdsTransmit {
  /** To whom (the client's address; over TCP, its connection). */
  to: IdsPeer;
  /** The bytes (empty with `close`: nothing to write). */
  bytes: Uint8Array;
  /** `other`: from a second socket, another address. */
  via: "main" | "other";
  /** TCP: close the connection once this is written. */
  close: boolean;
}

/** A request the client sent. */
export interface IdsRequest {
  /** When it came (the caller's clock, ms). */
  at: number;
  /** Who sent it. */
  from: IdsPeer;
  /** Its bytes (a TCP line with its line ending, when it had one). */
  bytes: Uint8Array;
  /** Its text (latin-1, line ending removed). */
  text: string;
}

/** What a garbage reply is: no OK, RESET or ERROR (binary, escaped in traces). */
export const GARBAGE: Uint8Array = Uint8Array.of(0x00, 0x9f, 0x47, 0x41, 0x52, 0x42, 0x0a);

const encoder = new TextEncoder();

interface Pending {
  due: number;
  transmit: IdsTransmit;
}

/** The scripted ids server's machine. */
export class IdsScriptedServer {
  /** Every request, in order. */
  readonly requests: IdsRequest[] = [];
  /** When the first reply that is not a forgery was sent (undefined: not yet). */
  answeredAt: number | undefined;
  readonly #b: IdsBehaviour;
  readonly #held = new Map<string, IdsPeer>();
  readonly #out: IdsTransmit[] = [];
  readonly #pending: Pending[] = [];
  readonly #partial = new Map<string, { bytes: number[]; due: number; from: IdsPeer }>();
  #dropped = false;

  /** A server behaving as `behaviour`. */
  constructor(behaviour: IdsBehaviour) {
    this.#b = behaviour;
  }

  /** A UDP datagram from `from` at `now`: one request. */
  handleDatagram(bytes: Uint8Array, from: IdsPeer, now: number): void {
    this.#request(bytes.slice(), from, now, false);
  }

  /** Bytes on the TCP connection of `from` at `now`: lines are requests. */
  handleStreamBytes(bytes: Uint8Array, from: IdsPeer, now: number): void {
    const key = `${from.hostname}:${from.port}`;
    const p = this.#partial.get(key) ?? { bytes: [], due: 0, from };
    this.#partial.delete(key); // back in below if a partial line is left
    for (const b of bytes) {
      p.bytes.push(b);
      if (b === 0x0a) {
        this.#request(Uint8Array.from(p.bytes), from, now, true);
        p.bytes = [];
      }
    }
    p.due = now + PARTIAL_LINE_MS;
    if (p.bytes.length > 0) this.#partial.set(key, p);
    else this.#partial.delete(key);
  }

  /** The client of `from` ended its side (TCP EOF): a partial line is its last request. */
  handleStreamEnd(from: IdsPeer, now: number): void {
    const key = `${from.hostname}:${from.port}`;
    const p = this.#partial.get(key);
    this.#partial.delete(key);
    if (p && p.bytes.length > 0) this.#request(Uint8Array.from(p.bytes), from, now, true);
  }

  /** The time passes `now`: delayed replies and partial lines are due. */
  handleTimeout(now: number): void {
    for (const [key, p] of [...this.#partial]) {
      if (p.due <= now) {
        this.#partial.delete(key);
        this.#request(Uint8Array.from(p.bytes), p.from, now, true);
      }
    }
    this.#pending.sort((a, b) => a.due - b.due);
    while (this.#pending.length > 0 && this.#pending[0].due <= now) {
      const { transmit } = this.#pending.shift()!;
      if (transmit.via === "main" && this.answeredAt === undefined) this.answeredAt = now;
      this.#out.push(transmit);
    }
  }

  /** When {@link handleTimeout} is next due, if ever. */
  pollTimeout(): number | undefined {
    const dues = [
      ...this.#pending.map((p) => p.due),
      ...[...this.#partial.values()].map((p) => p.due),
    ];
    return dues.length === 0 ? undefined : Math.min(...dues);
  }

  /** The next bytes to send, if any. */
  pollTransmit(): IdsTransmit | undefined {
    return this.#out.shift();
  }

  #request(bytes: Uint8Array, from: IdsPeer, now: number, stream: boolean): void {
    const text = String.fromCharCode(...bytes).replace(/\r?\n$/, "");
    this.requests.push({ at: now, from, bytes, text });
    const words = text.trim().split(/ +/);
    const id = words[0] === "HELLO" && words.length === 2 ? words[1] : undefined;
    const b = this.#b;
    const end = stream && !b.newline ? "" : stream ? "\n" : "";
    const reply = (body: string | Uint8Array, close = stream && !b.newline) =>
      this.#later(now, {
        to: from,
        bytes: typeof body === "string" ? encoder.encode(body + end) : body,
        via: "main",
        close,
      });
    if (b.forged && id !== undefined) {
      const forged = `OK ${id} ${from.hostname} ${from.port}`;
      this.#out.push({ to: from, bytes: encoder.encode(forged + end), via: "other", close: false });
    }
    switch (b.answer) {
      case "silent":
        return;
      case "close":
        return reply(new Uint8Array(0), true);
      case "garbage":
        return reply(GARBAGE);
      case "error":
        return reply(id === undefined ? "ERROR expected 'HELLO <id>'" : "ERROR id table full");
      case "reset":
        return id === undefined ? undefined : reply(`RESET ${id}`, stream);
    }
    if (id === undefined) return reply("ERROR expected 'HELLO <id>'");
    const holder = this.#held.get(id);
    if (b.dropFirst && !this.#dropped) {
      this.#dropped = true;
      this.#held.set(id, from);
      return; // the OK is lost
    }
    const same = holder !== undefined && holder.hostname === from.hostname &&
      holder.port === from.port && !b.dropFirst;
    if (holder !== undefined && !same) return reply(`RESET ${id}`, stream);
    this.#held.set(id, from);
    reply(`OK ${id} ${from.hostname} ${from.port}`);
  }

  #later(now: number, transmit: IdsTransmit): void {
    this.#pending.push({ due: now + this.#b.replyDelayMs, transmit });
    this.handleTimeout(now);
  }
}
