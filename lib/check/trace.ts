/**
 * The wire trace of one check case: every datagram (or TCP segment) pudp
 * sent to or received from the implementation under test, with its time,
 * direction and decoded header (PUDP's, or as the family describes it). Recording is a plain list; {@link formatTrace} is pure.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Command, encode } from "../pudp/wire.ts";
 *
 * const hello = encode({ command: Command.HELLO, seq: 0, sessionId: 0xab, payload: new Uint8Array() });
 * const data = encode({ command: Command.DATA, seq: 1, sessionId: 0xab, payload: new TextEncoder().encode("hi\x1b") });
 * const lines = formatTrace([
 *   { at: 0, dir: "sent", port: 9000, bytes: hello },
 *   { at: 1.25, dir: "received", port: 9000, bytes: data },
 *   { at: 2, dir: "received", port: 9000, bytes: Uint8Array.of(1, 2) },
 * ]);
 * assert.deepEqual(lines, [
 *   "     0.0 ms  → :9000  HELLO seq=0 session=0x000000ab",
 *   "     1.3 ms  ← :9000  DATA seq=1 session=0x000000ab 'hi\\x1b' (3 bytes)",
 *   "     2.0 ms  ← :9000  not PUDP: datagram of 2 bytes is shorter than a header: '\\x01\\x02' (2 bytes)",
 * ]);
 * ```
 *
 * @module
 */

import { firstBytes } from "../io/terminal_text.ts";
import { Command, commandName, decode, PUDP_MAGIC, VERSION, WireError } from "../pudp/wire.ts";

/** One datagram of a case: when (ms since the case began), which way, whose port, its bytes. */
export interface TraceEntry {
  /** Milliseconds since the case began. */
  at: number;
  /** `sent` by pudp (the checker), or `received` from the implementation. */
  dir: "sent" | "received";
  /** The other end's UDP port (the implementation's, or the impostor's own for a foreign sender). */
  port: number;
  /** The datagram. */
  bytes: Uint8Array;
  /** A note, such as `from another address`. */
  note?: string;
  /**
   * The datagram or segment as its family describes it (ids, frame and pipe
   * describe their own bytes); without it, it is decoded as PUDP.
   */
  text?: string;
}

/** A case's trace as it is recorded. */
export class Trace {
  /** The entries, in order. */
  readonly entries: TraceEntry[] = [];
  readonly #start: number;

  /** Starts the clock at `start` (performance.now() by default). */
  constructor(start: number = performance.now()) {
    this.#start = start;
  }

  /** Milliseconds since the case began. */
  now(): number {
    return performance.now() - this.#start;
  }

  /** Records a datagram or segment (`text`: how its family describes it). */
  add(dir: TraceEntry["dir"], port: number, bytes: Uint8Array, note?: string, text?: string): void {
    this.entries.push({ at: this.now(), dir, port, bytes: bytes.slice(), note, text });
  }
}

/** One line of a datagram: its decoded header, and the payload escaped. */
export function describeDatagram(
  bytes: Uint8Array,
  magic: number = PUDP_MAGIC,
  version: number = VERSION,
): string {
  try {
    const m = decode(bytes, magic, version);
    const head = `${commandName(m.command)} seq=${m.seq} session=0x${
      m.sessionId.toString(16).padStart(8, "0")
    }`;
    return m.command === Command.DATA ? `${head} ${firstBytes(m.payload, 48)}` : head;
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return `not PUDP: ${e.message}: ${firstBytes(bytes, 16)}`;
  }
}

/** How a PUDP case's probes describe their datagrams: decoded with the run's magic and version. */
export function pudpDescriber(
  o: { magic: number; version?: number },
): (bytes: Uint8Array) => string {
  return (bytes) => describeDatagram(bytes, o.magic, o.version ?? VERSION);
}

/** The trace as text lines (no indent): time, arrow, port, datagram. */
export function formatTrace(
  entries: readonly TraceEntry[],
  magic: number = PUDP_MAGIC,
): string[] {
  return entries.map((e) => {
    const arrow = e.dir === "sent" ? "→" : "←";
    const note = e.note ? ` (${e.note})` : "";
    return `${e.at.toFixed(1).padStart(8)} ms  ${arrow} :${e.port}  ${
      e.text ?? describeDatagram(e.bytes, magic)
    }${note}`;
  });
}
