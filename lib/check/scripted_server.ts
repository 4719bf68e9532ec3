/**
 * The server `pudp check client` plays: a pure machine (the time passed in,
 * its datagrams drained with {@link ScriptedServer.pollTransmit}) whose
 * {@link Behaviour} makes it a normal server, a silent one, one that never
 * sends ALIVE or never answers GOODBYE, one that says GOODBYE first, one
 * that sends every reply twice, or one that sends impostor datagrams
 * (another session id, another magic, too short, from another address).
 * It records every datagram the client sent, decoded, for the cases to judge.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command, decode, encode } from "../pudp/wire.ts";
 *
 * const server = new ScriptedServer({ ...NORMAL, helloDelayMs: 100 });
 * const empty = new Uint8Array();
 * server.handleDatagram(encode({ command: Command.HELLO, seq: 0, sessionId: 7, payload: empty }), 0);
 * assert.equal(server.pollTransmit(), undefined); // the HELLO reply waits 100 ms
 * assert.equal(server.pollTimeout(), 100);
 * server.handleTimeout(100);
 * const reply = decode(server.pollTransmit()!.bytes);
 * assert.deepEqual([reply.command, reply.seq, reply.sessionId], [Command.HELLO, 0, 7]);
 * server.handleDatagram(encode({ command: Command.DATA, seq: 1, sessionId: 7, payload: empty }), 150);
 * assert.equal(decode(server.pollTransmit()!.bytes).command, Command.ALIVE);
 * assert.deepEqual(server.received.map((r) => [r.at, r.message?.command]), [[0, Command.HELLO], [150, Command.DATA]]);
 * assert.equal(server.helloAnsweredAt, 100);
 * ```
 *
 * @module
 */

import {
  Command,
  decode,
  encode,
  type Message,
  PUDP_MAGIC,
  VERSION,
  WireError,
} from "../pudp/wire.ts";

/** How the scripted server behaves. */
export interface Behaviour {
  /** Answer HELLO (false: a silent server, which answers nothing at all). */
  answerHello: boolean;
  /** Wait this long before answering a HELLO. */
  helloDelayMs: number;
  /** Answer DATA with ALIVE. */
  answerData: boolean;
  /** Answer GOODBYE with GOODBYE. */
  answerGoodbye: boolean;
  /** Say GOODBYE after this many DATA, unasked. */
  goodbyeAfterData?: number;
  /** Send every reply twice. */
  duplicate: boolean;
  /** Right after the HELLO reply, send a GOODBYE the client must ignore. */
  impostor?: "wrong-session" | "wrong-magic" | "short" | "other-address";
}

/** A normal server. */
export const NORMAL: Behaviour = {
  answerHello: true,
  helloDelayMs: 0,
  answerData: true,
  answerGoodbye: true,
  duplicate: false,
};

/** A datagram to send: from the server's socket, or from another one (another address). */
export interface ScriptedTransmit {
  /** The datagram. */
  bytes: Uint8Array;
  /** `other`: from a second socket, the impostor. */
  via: "main" | "other";
}

/** A datagram the client sent: when, its bytes and, if it decoded, the message. */
export interface Received {
  /** Time it arrived (the caller's clock, ms). */
  at: number;
  /** The datagram. */
  bytes: Uint8Array;
  /** The decoded message, or undefined when it is not PUDP. */
  message?: Message;
}

const EMPTY = new Uint8Array(0);

/** The scripted server's machine. */
export class ScriptedServer {
  /** Every datagram the client sent. */
  readonly received: Received[] = [];
  /** When the HELLO reply was sent (undefined: not yet). */
  helloAnsweredAt: number | undefined;
  /** When the unasked GOODBYE was sent. */
  goodbyeSentAt: number | undefined;
  readonly #b: Behaviour;
  readonly #magic: number;
  readonly #version: number;
  readonly #out: ScriptedTransmit[] = [];
  #seq = 0;
  #session: number | undefined;
  #helloDueAt: number | undefined;
  #data = 0;

  /** A server behaving as `behaviour`, speaking `magic` and `version`. */
  constructor(behaviour: Behaviour, magic: number = PUDP_MAGIC, version: number = VERSION) {
    this.#b = behaviour;
    this.#magic = magic;
    this.#version = version;
  }

  #reply(command: number, sessionId: number): void {
    const bytes = encode(
      { command, seq: this.#seq++, sessionId, payload: EMPTY },
      this.#magic,
      this.#version,
    );
    this.#out.push({ bytes, via: "main" });
    if (this.#b.duplicate) this.#out.push({ bytes, via: "main" });
  }

  /** A datagram from the client at time `now`. */
  handleDatagram(bytes: Uint8Array, now: number): void {
    let message: Message | undefined;
    try {
      message = decode(bytes, this.#magic, this.#version);
      message = { ...message, payload: message.payload.slice() };
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
    }
    this.received.push({ at: now, bytes: bytes.slice(), message });
    if (!message) return;
    if (this.#session === undefined && message.command === Command.HELLO) {
      this.#session = message.sessionId;
      if (!this.#b.answerHello) return;
      this.#helloDueAt = now + this.#b.helloDelayMs;
      this.handleTimeout(now);
      return;
    }
    if (message.sessionId !== this.#session || !this.#b.answerHello) return; // silent: nothing
    if (message.command === Command.HELLO && this.helloAnsweredAt !== undefined) {
      this.#reply(Command.HELLO, message.sessionId); // a repeated HELLO: answered again
    } else if (message.command === Command.DATA) {
      this.#data++;
      if (this.#b.answerData) this.#reply(Command.ALIVE, message.sessionId);
      if (this.#b.goodbyeAfterData === this.#data) {
        this.#reply(Command.GOODBYE, message.sessionId);
        this.goodbyeSentAt = now;
      }
    } else if (message.command === Command.GOODBYE && this.#b.answerGoodbye) {
      this.#reply(Command.GOODBYE, message.sessionId);
    }
  }

  /** The time passes `now`: a delayed HELLO reply is due. */
  handleTimeout(now: number): void {
    if (this.#helloDueAt === undefined || now < this.#helloDueAt) return;
    this.#helloDueAt = undefined;
    const session = this.#session!;
    this.#reply(Command.HELLO, session);
    this.helloAnsweredAt = now;
    const bye = (sessionId: number, magic = this.#magic) =>
      encode(
        { command: Command.GOODBYE, seq: this.#seq, sessionId, payload: EMPTY },
        magic,
        this.#version,
      );
    switch (this.#b.impostor) {
      case "wrong-session":
        this.#out.push({ bytes: bye((session ^ 0x5a5a5a5a) >>> 0), via: "main" });
        break;
      case "wrong-magic":
        this.#out.push({ bytes: bye(session, this.#magic ^ 0x0101), via: "main" });
        break;
      case "short":
        this.#out.push({ bytes: bye(session).subarray(0, 5), via: "main" });
        this.#out.push({ bytes: EMPTY, via: "main" });
        break;
      case "other-address":
        this.#out.push({ bytes: bye(session), via: "other" });
        break;
    }
  }

  /** When {@link handleTimeout} is next due, if ever. */
  pollTimeout(): number | undefined {
    return this.#helloDueAt;
  }

  /** The next datagram to send, if any. */
  pollTransmit(): ScriptedTransmit | undefined {
    return this.#out.shift();
  }

  /** The messages the client sent that decoded, in order. */
  messages(): Message[] {
    return this.received.flatMap((r) => r.message ? [r.message] : []);
  }
}
