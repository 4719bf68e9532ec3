/**
 * The frame server `pudp check frame client` plays, as a pure machine: the
 * time is passed in (ms, the caller's clock), the client's bytes go in with
 * {@link FrameScriptedServer.handleBytes}, and what to do comes out of
 * {@link FrameScriptedServer.pollTransmit}: bytes to write, or the end of
 * the connection (a close, or a reset).
 *
 * How it works: the client's bytes are reassembled into messages however
 * they were split; each message is recorded and answered by the rule (its
 * text without the first 10 characters), as its {@link FrameBehaviour}
 * says: at once (a normal server), after `delayMs` (a slow one), in
 * segments of `splitBytes` bytes `splitMs` apart, held until no message has
 * come for `coalesceMs` and then written together in one segment, or never.
 * With `endAfter`, the connection ends (`close` or `reset`) right after the
 * answer to that many messages; later messages are recorded, not answered.
 * A length over `maxMessage` stops the reading: it is recorded in `error`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { encodeText } from "./frame_trace.ts";
 *
 * const server = new FrameScriptedServer({ ...FRAME_NORMAL, splitBytes: 1, splitMs: 10 });
 * const m = encodeText("0123456789ok");
 * server.handleBytes(m.subarray(0, 3), 0);
 * assert.equal(server.pollTransmit(), undefined);
 * server.handleBytes(m.subarray(3), 5);
 * assert.deepEqual(server.pollTransmit(), { kind: "data", bytes: Uint8Array.of(0) });
 * assert.equal(server.pollTransmit(), undefined);
 * assert.equal(server.pollTimeout(), 15);
 * assert.deepEqual(server.received.map((r) => [r.at, r.text]), [[5, "0123456789ok"]]);
 * ```
 *
 * @module
 */

import { answerText, encodeText, lengthOf } from "./frame_trace.ts";

/** How the scripted server behaves. */
export interface FrameBehaviour {
  /** Answer messages at all (false: a server that never answers). */
  answer: boolean;
  /** Wait this long before each answer. */
  delayMs: number;
  /** Write each answer in segments of this many bytes (undefined: whole). */
  splitBytes?: number;
  /** The pause between those segments. */
  splitMs: number;
  /** Hold answers until no message has come for this long, then write them in one segment. */
  coalesceMs?: number;
  /** End the connection right after answering this many messages. */
  endAfter?: number;
  /** How it ends then: an orderly close, or a reset. */
  end: "close" | "reset";
  /** The longest message it reads. */
  maxMessage: number;
}

/** A normal server: every message answered at once, whole. */
export const FRAME_NORMAL: FrameBehaviour = {
  answer: true,
  delayMs: 0,
  splitMs: 0,
  end: "close",
  maxMessage: 16 * 1024 * 1024,
};

/** What the machine wants done: bytes written, or the connection ended. */
export type FrameOutput =
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "end"; how: "close" | "reset" };

/** A message the client sent. */
export interface FrameReceived {
  /** When it was complete (ms). */
  at: number;
  /** Its payload. */
  payload: Uint8Array;
  /** Its payload as text (malformed UTF-8 replaced). */
  text: string;
}

const decoder = new TextDecoder();

/** The scripted server's machine (one connection). */
export class FrameScriptedServer {
  /** Every message the client sent, in order. */
  readonly received: FrameReceived[] = [];
  /** Set when the client announced a message longer than `maxMessage`. */
  error: string | undefined;
  /** When the client ended its side (FIN), if it has. */
  endedAt: number | undefined;
  /** How many answers were written (or scheduled). */
  answered = 0;
  readonly #b: FrameBehaviour;
  #buffer: Uint8Array = new Uint8Array(0);
  #now = 0;
  #held: Uint8Array[] = [];
  #lastMessageAt = 0;
  #ended = false;
  /** Scheduled outputs, by due time (stable). */
  #queue: { due: number; out: FrameOutput }[] = [];
  /** When the last split segment is due: a later answer's segments come after it. */
  #busyUntil = 0;

  /** A server behaving as `behaviour`. */
  constructor(behaviour: FrameBehaviour) {
    this.#b = behaviour;
  }

  #schedule(due: number, out: FrameOutput): void {
    let i = this.#queue.length;
    while (i > 0 && this.#queue[i - 1].due > due) i--;
    this.#queue.splice(i, 0, { due, out });
  }

  /** Writes `bytes` at `due`, split as the behaviour says; the time its last part is due. */
  #write(bytes: Uint8Array, due: number): number {
    const size = this.#b.splitBytes;
    if (size === undefined) {
      this.#schedule(due, { kind: "data", bytes });
      return due;
    }
    let at = Math.max(due, this.#busyUntil);
    for (let i = 0; i < bytes.length; i += size) {
      if (i > 0) at += this.#b.splitMs;
      this.#schedule(at, { kind: "data", bytes: bytes.slice(i, i + size) });
    }
    this.#busyUntil = at + this.#b.splitMs;
    return at;
  }

  #answer(text: string): void {
    if (!this.#b.answer || this.#ended) return;
    const bytes = encodeText(answerText(text));
    this.answered++;
    const last = this.answered === this.#b.endAfter;
    if (this.#b.coalesceMs !== undefined) {
      this.#held.push(bytes);
      if (last) this.#flush(this.#now);
    } else {
      const due = this.#write(bytes, this.#now + this.#b.delayMs);
      if (last) this.#schedule(due, { kind: "end", how: this.#b.end });
    }
    if (last) this.#ended = true;
  }

  #flush(due: number): void {
    if (this.#held.length === 0) return;
    const total = this.#held.reduce((n, b) => n + b.length, 0);
    const all = new Uint8Array(total);
    let at = 0;
    for (const b of this.#held) {
      all.set(b, at);
      at += b.length;
    }
    this.#held = [];
    const end = this.#write(all, due);
    if (this.answered === this.#b.endAfter) this.#schedule(end, { kind: "end", how: this.#b.end });
  }

  /** Bytes from the client at `now`. */
  handleBytes(bytes: Uint8Array, now: number): void {
    this.#now = now;
    if (this.error !== undefined) return;
    const joined = new Uint8Array(this.#buffer.length + bytes.length);
    joined.set(this.#buffer);
    joined.set(bytes, this.#buffer.length);
    let at = 0;
    while (joined.length - at >= 4) {
      const length = lengthOf(joined, at);
      if (length > this.#b.maxMessage) {
        this.error = `message of ${length} bytes exceeds the limit of ${this.#b.maxMessage}`;
        break;
      }
      if (joined.length - at - 4 < length) break;
      const payload = joined.slice(at + 4, at + 4 + length);
      at += 4 + length;
      const text = decoder.decode(payload);
      this.received.push({ at: now, payload, text });
      this.#lastMessageAt = now;
      this.#answer(text);
    }
    this.#buffer = joined.slice(at);
  }

  /** The client ended its side (FIN) at `now`. */
  handleEnd(now: number): void {
    this.#now = now;
    this.endedAt ??= now;
  }

  /** Time passed: `now`. */
  handleTimeout(now: number): void {
    this.#now = now;
    const c = this.#b.coalesceMs;
    if (c !== undefined && this.#held.length > 0 && now >= this.#lastMessageAt + c) {
      this.#flush(now);
    }
  }

  /** When the machine next needs {@link handleTimeout} (undefined: nothing pending). */
  pollTimeout(): number | undefined {
    const times: number[] = [];
    if (this.#queue.length > 0) times.push(this.#queue[0].due);
    if (this.#b.coalesceMs !== undefined && this.#held.length > 0) {
      times.push(this.#lastMessageAt + this.#b.coalesceMs);
    }
    return times.length === 0 ? undefined : Math.min(...times);
  }

  /** The next output due by now, or undefined. */
  pollTransmit(): FrameOutput | undefined {
    if (this.#queue.length === 0 || this.#queue[0].due > this.#now) return undefined;
    return this.#queue.shift()!.out;
  }

  /** The payloads sent that are not UTF-8. */
  malformed(): FrameReceived[] {
    return this.received.filter((r) => {
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(r.payload);
        return false;
      } catch {
        return true;
      }
    });
  }
}
