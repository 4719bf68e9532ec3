/**
 * The one escaper of peer text shown on a terminal (lib/io/terminal_text.ts),
 * and the text renderers that use it when their stream is a terminal.
 */

import assert from "node:assert/strict";
import { escapeBytes, escapeText } from "../../lib/io/terminal_text.ts";
import { BlastTextSink } from "../../lib/blast/events.ts";
import { PipeTextSink } from "../../lib/pipe/events.ts";

const decoder = new TextDecoder();
const bytes = (...b: number[]) => new Uint8Array(b);
const escaped = (...b: number[]) => decoder.decode(escapeBytes(new Uint8Array(b)));
const ATTACK = "\x1b]0;PWNED\x07\x1b[2J";
const peer = { hostname: "127.0.0.1", port: 4000 };

Deno.test("terminal text: C0 controls but tab, DEL and C1 controls are escaped; text and tab are kept", () => {
  assert.equal(escapeText(ATTACK), "\\x1b]0;PWNED\\x07\\x1b[2J");
  assert.equal(escapeText("a\tb\r\x00\x7f\b"), "a\tb\\x0d\\x00\\x7f\\x08");
  assert.equal(escapeText("csi \u009b2J nel \u0085"), "csi \\xc2\\x9b2J nel \\xc2\\x85");
  assert.equal(escapeText("héllo ü € 😀 \u00a0"), "héllo ü € 😀 \u00a0");
  assert.equal(escapeText("plain text"), "plain text");
});

Deno.test("terminal text: line feeds are escaped unless the caller keeps line breaks", () => {
  assert.equal(escapeText("one\ntwo\x1b\n"), "one\\x0atwo\\x1b\\x0a");
  assert.equal(escapeText("one\ntwo\x1b\n", true), "one\ntwo\\x1b\n");
});

Deno.test("terminal text: bytes that are not well-formed UTF-8 are escaped one by one", () => {
  assert.equal(escaped(0x9b, 0x32, 0x4a), "\\x9b2J"); // a raw 8-bit CSI
  assert.equal(escaped(0xc3), "\\xc3"); // cut short
  assert.equal(escaped(0xc0, 0xaf), "\\xc0\\xaf"); // overlong '/'
  assert.equal(escaped(0xed, 0xa0, 0x80), "\\xed\\xa0\\x80"); // a surrogate
  assert.equal(escaped(0xf4, 0x90, 0x80, 0x80), "\\xf4\\x90\\x80\\x80"); // past U+10FFFF
  assert.equal(escaped(0xff, 0x41), "\\xffA");
  assert.equal(escaped(0xe2, 0x82, 0xac, 0x80), "€\\x80"); // a stray continuation byte
  assert.deepEqual(escapeBytes(bytes()), bytes());
});

Deno.test("terminal text: a text renderer escapes its lines only when told its stream is a terminal", () => {
  const line = (terminal: boolean) => {
    const sink = new BlastTextSink(terminal);
    sink.emit({ event: "refused", peer, run: "#1", reason: `got '${ATTACK}'` });
    return decoder.decode(sink.take());
  };
  assert.equal(line(false), `127.0.0.1:4000 #1: refused (got '${ATTACK}')\n`);
  assert.equal(line(true), "127.0.0.1:4000 #1: refused (got '\\x1b]0;PWNED\\x07\\x1b[2J')\n");
  const pipe = new PipeTextSink(true);
  pipe.emit({
    event: "closed",
    peer,
    connection: 1,
    bytes: 1,
    memory: 0,
    disk: 0,
    reason: "\x1b[2J",
  });
  assert.equal(decoder.decode(pipe.take()), "#1 127.0.0.1:4000 closed (\\x1b[2J) after 1 bytes\n");
});
