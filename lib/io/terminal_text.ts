/**
 * Terminal safety: peer-supplied text shown on a terminal has what could
 * drive the terminal escaped, so a peer cannot change its title, clear the
 * screen or move the cursor. One implementation, used by every command's
 * renderers and print points when their stream is a terminal (the drivers
 * decide, with `Deno.stdout.isTerminal()` / `Deno.stderr.isTerminal()`);
 * when the stream is a file or a pipe nothing is escaped.
 *
 * Escaped as `\xHH`: the C0 controls except tab (ESC, BEL, CR, backspace…),
 * DEL, and every byte that is not part of well-formed UTF-8; the UTF-8
 * encodings of the C1 controls (U+0080–U+009F, which include the 8-bit CSI)
 * become `\xc2\xHH`. Tab and all other UTF-8 pass unchanged. A line feed is
 * escaped too, unless the caller keeps line breaks (`keepNewlines`).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(escapeText("\x1b]0;PWNED\x07"), "\\x1b]0;PWNED\\x07");
 * ```
 *
 * @module
 */

import { ByteBuffer } from "../bytes/byte_buffer.ts";

const HEX = "0123456789abcdef";
const LF = 0x0a;

function appendEscape(out: ByteBuffer, byte: number): void {
  out.appendAscii("\\x");
  out.appendByte(HEX.charCodeAt(byte >> 4));
  out.appendByte(HEX.charCodeAt(byte & 15));
}

/**
 * The length of the well-formed UTF-8 sequence that starts at `i` (2 to 4),
 * or 0 when the bytes there are not one (a stray continuation byte, an
 * overlong form, a surrogate, past U+10FFFF, or cut short).
 */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b = bytes[i];
  let n: number;
  let lo = 0x80;
  let hi = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) n = 2;
  else if (b >= 0xe0 && b <= 0xef) {
    n = 3;
    if (b === 0xe0) lo = 0xa0;
    else if (b === 0xed) hi = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    n = 4;
    if (b === 0xf0) lo = 0x90;
    else if (b === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > bytes.length) return 0;
  const second = bytes[i + 1];
  if (second < lo || second > hi) return 0;
  for (let k = 2; k < n; k++) {
    const c = bytes[i + k];
    if (c < 0x80 || c > 0xbf) return 0;
  }
  return n;
}

/**
 * Appends `payload` to `out` with what could drive a terminal escaped (see
 * the module); `keepNewlines` leaves line feeds as they are (multi-line
 * diagnostics), otherwise they are escaped like the other controls.
 */
export function appendEscaped(out: ByteBuffer, payload: Uint8Array, keepNewlines = false): void {
  let start = 0;
  let i = 0;
  while (i < payload.length) {
    const b = payload[i];
    if (b < 0x80) {
      if ((b >= 0x20 && b !== 0x7f) || b === 0x09 || (b === LF && keepNewlines)) {
        i++;
        continue;
      }
      out.append(payload.subarray(start, i));
      appendEscape(out, b);
      start = ++i;
      continue;
    }
    const n = sequenceLength(payload, i);
    if (n > 2 || (n === 2 && (b !== 0xc2 || payload[i + 1] > 0x9f))) {
      i += n; // printable UTF-8
      continue;
    }
    out.append(payload.subarray(start, i));
    appendEscape(out, b); // a lone byte that is not UTF-8, or the first of a C1 control
    if (n === 2) appendEscape(out, payload[++i]);
    start = ++i;
  }
  out.append(payload.subarray(start));
}

/** `payload` with what could drive a terminal escaped, as new bytes. */
export function escapeBytes(payload: Uint8Array, keepNewlines = false): Uint8Array {
  const out = new ByteBuffer(payload.length + 16);
  appendEscaped(out, payload, keepNewlines);
  return out.take();
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** `text` with what could drive a terminal escaped (its UTF-8 bytes, as {@link escapeBytes} does). */
export function escapeText(text: string, keepNewlines = false): string {
  return decoder.decode(escapeBytes(encoder.encode(text), keepNewlines));
}

/** How many bytes of a peer's answer {@link firstBytes} shows. */
export const FIRST_BYTES = 32;

/**
 * The first `max` bytes of what a peer sent, escaped (always: it goes into
 * a diagnostic line) and quoted, with the total when there was more: what a
 * foreign peer actually answered, e.g. `'hello\x0a' (6 bytes)`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(firstBytes(new TextEncoder().encode("hi\n")), "'hi\\x0a' (3 bytes)");
 * assert.equal(firstBytes(new Uint8Array(100), 2), "'\\x00\\x00'… (100 bytes)");
 * ```
 */
export function firstBytes(bytes: Uint8Array, max: number = FIRST_BYTES): string {
  const shown = decoder.decode(escapeBytes(bytes.subarray(0, max)));
  return `'${shown}'${bytes.length > max ? "…" : ""} (${bytes.length} bytes)`;
}
