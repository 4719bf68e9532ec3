/**
 * Formatting of the PUDP server's stdout lines.
 *
 * Every line starts with the session id as `0x%08x`; most then carry the
 * sequence number in brackets. Payloads are printed as received; when the
 * server's stdout is a terminal, control characters are escaped so a client
 * cannot drive the operator's terminal.
 *
 * @module
 */

import type { ByteBuffer } from "../bytes/byte_buffer.ts";

/** `0x%08x` of a u32 session id. */
export function hexSessionId(sessionId: number): string {
  return "0x" + sessionId.toString(16).padStart(8, "0");
}

const HEX = "0123456789abcdef";

function appendEscape(out: ByteBuffer, byte: number): void {
  out.appendAscii("\\x");
  out.appendByte(HEX.charCodeAt(byte >> 4));
  out.appendByte(HEX.charCodeAt(byte & 15));
}

/**
 * Appends `payload` to `out`, escaping what would control a terminal: C0
 * controls except tab, and DEL, become `\xHH`; the UTF-8 encodings of C1
 * controls (U+0080–U+009F, which include the 8-bit CSI) become `\xc2\xHH`.
 * Everything else, including other UTF-8 and invalid bytes, passes unchanged.
 */
export function appendEscaped(out: ByteBuffer, payload: Uint8Array): void {
  let start = 0;
  for (let i = 0; i < payload.length; i++) {
    const b = payload[i];
    const c0 = (b < 0x20 && b !== 0x09) || b === 0x7f;
    const c1 = b === 0xc2 && i + 1 < payload.length && payload[i + 1] >= 0x80 &&
      payload[i + 1] <= 0x9f;
    if (!c0 && !c1) continue;
    out.append(payload.subarray(start, i));
    appendEscape(out, b);
    if (c1) appendEscape(out, payload[++i]);
    start = i + 1;
  }
  out.append(payload.subarray(start));
}

/** Builds the server's stdout lines for one session into a shared buffer. */
export class SessionLines {
  readonly #prefix: string;

  /** @param sessionId the session the lines are about */
  constructor(readonly sessionId: number) {
    this.#prefix = hexSessionId(sessionId) + " ";
  }

  /**
   * `0x%08x [seq] <payload>`, the payload being `datagram` from byte `start`
   * on; escaped when `escape` is set.
   */
  data(out: ByteBuffer, seq: number, datagram: Uint8Array, start: number, escape: boolean): void {
    this.#head(out, seq);
    if (escape) appendEscaped(out, datagram.subarray(start));
    else out.appendFrom(datagram, start);
    out.appendByte(0x0a);
  }

  /** `0x%08x [seq] <text>` for a fixed ASCII text. */
  event(out: ByteBuffer, seq: number, text: string): void {
    this.#head(out, seq);
    out.appendAscii(text);
    out.appendByte(0x0a);
  }

  /** `0x%08x Session closed`. */
  closed(out: ByteBuffer): void {
    out.appendAscii(this.#prefix);
    out.appendAscii("Session closed\n");
  }

  #head(out: ByteBuffer, seq: number): void {
    out.appendAscii(this.#prefix);
    out.appendByte(0x5b); // [
    out.appendDecimal(seq);
    out.appendAscii("] ");
  }
}
