/**
 * The frame family's server cases: pudp plays the client(s) over TCP (one
 * {@link StreamProbe} per connection, its segments decoded as frame
 * messages in the trace) and judges the answers, when the server closes,
 * and, when pudp started it, that it is still running after a peer
 * misbehaved.
 *
 * Every case writes its messages as the rule needs them split (a byte per
 * segment, the header apart, several in one segment) and waits a bounded
 * time for the answers: a message's answer is the same text without its
 * first 10 characters, its 4-byte length counting bytes. A Deno
 * connection cannot reset (its close sends a FIN), so the client that
 * resets mid-message is a `node:net` socket ended with `resetAndDestroy`
 * (SO_LINGER 0: an RST), its segments recorded in the trace by hand.
 *
 * @module
 */

import { firstBytes } from "../io/terminal_text.ts";
import { type CheckCase, fail, type Outcome, pass, type TraceSink } from "./case_model.ts";
import {
  answerText,
  encodePayload,
  encodeText,
  FrameDescriber,
  longText,
  parseMessages,
} from "./frame_trace.ts";
import net from "node:net";
import { pause, StreamProbe } from "./stream_probe.ts";
import type { ServerTarget } from "./target.ts";

/** How long an answer may take on loopback (a busy machine included). */
const REPLY_MS = 2000;
/** How long the first connection may take (a program that has just started). */
const OPEN_MS = 5000;
/** How long a big answer may take. */
const BIG_MS = 10_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One connection of the checker to the server under test. */
class Peer {
  constructor(readonly probe: StreamProbe, readonly d: FrameDescriber) {}

  static async open(t: ServerTarget, trace: TraceSink, ms = OPEN_MS): Promise<Peer> {
    const d = new FrameDescriber();
    return new Peer(await StreamProbe.connect(trace, t.host, t.port, d.describe, ms), d);
  }

  send(bytes: Uint8Array): Promise<boolean> {
    return this.d.write((b) => this.probe.write(b), bytes);
  }

  sendText(text: string): Promise<boolean> {
    return this.send(encodeText(text));
  }

  /** Waits at most `ms` for `n` complete answers in all; the ones here. */
  async answers(n: number, ms = REPLY_MS): Promise<Uint8Array[]> {
    await this.probe.waitFor((r) => parseMessages(r).messages.length >= n, ms);
    return parseMessages(this.probe.received).messages;
  }

  /** What this connection got: its answers, an unfinished rest, how it ended. */
  observed(): string {
    const p = parseMessages(this.probe.received);
    const shown = p.messages.slice(0, 6).map((m) => firstBytes(m, 40));
    const parts = [
      p.messages.length === 0
        ? "no answer"
        : `${p.messages.length} answer${p.messages.length === 1 ? "" : "s"}: ${shown.join(", ")}${
          p.messages.length > 6 ? ", …" : ""
        }`,
    ];
    if (p.rest > 0) {
      parts.push(
        p.announced === undefined
          ? `then ${p.rest} bytes, not a whole header`
          : `then an unfinished message announcing ${p.announced} bytes (${p.rest - 4} here)`,
      );
    }
    if (this.probe.end) {
      parts.push(this.probe.end === "fin" ? "the server closed" : "the connection was reset");
    }
    return parts.join("; ");
  }

  close(): void {
    this.probe.close();
  }
}

/** Checks that the answers so far start with those the rule gives to `texts` (undefined: they do). */
function sameAnswers(peer: Peer, got: Uint8Array[], texts: string[]): Outcome | undefined {
  const want = texts.map(answerText);
  const ok = got.length >= want.length &&
    want.every((w, i) =>
      decoder.decode(got[i]) === w && got[i].length === encoder.encode(w).length
    );
  if (ok) return undefined;
  const shown = want.map((w) => firstBytes(encoder.encode(w), 40));
  return fail(
    `${want.length === 1 ? "the answer" : `${want.length} answers, in order`}: ${
      shown.join(", ")
    } (each the text without its first 10 characters)`,
    peer.observed(),
  );
}

/** Sends each of `texts` whole, in series (each after the answer to the last), and expects the answers. */
async function exchange(peer: Peer, texts: string[], ms = REPLY_MS): Promise<Outcome | undefined> {
  const before = parseMessages(peer.probe.received).messages.length;
  for (const [i, text] of texts.entries()) {
    await peer.sendText(text);
    const got = await peer.answers(before + i + 1, ms);
    const out = sameAnswers(peer, got.slice(before + i), [text]);
    if (out) return out;
  }
  return undefined;
}

/** Runs `body` with connections it opens through `open`, closing them all after. */
async function withPeers(
  t: ServerTarget,
  trace: TraceSink,
  body: (open: (ms?: number) => Promise<Peer>) => Promise<Outcome | undefined>,
): Promise<Outcome> {
  const peers: Peer[] = [];
  const open = async (ms = OPEN_MS) => {
    const p = await Peer.open(t, trace, ms);
    peers.push(p);
    return p;
  };
  try {
    return (await body(open)) ?? pass();
  } catch (e) {
    return fail("a TCP connection to the server", e instanceof Error ? e.message : String(e));
  } finally {
    for (const p of peers) p.close();
  }
}

/** Sends one message of each size in turn on one connection; each must come back whole. */
function answeredWhole(t: ServerTarget, trace: TraceSink, sizes: number[]): Promise<Outcome> {
  return withPeers(t, trace, async (open) => {
    const peer = await open();
    for (const [i, n] of sizes.entries()) {
      const text = longText(n);
      await peer.sendText(text);
      const got = await peer.answers(i + 1, BIG_MS);
      const out = sameAnswers(peer, got.slice(i), [text]);
      if (out) return out;
    }
    return undefined;
  });
}

/** Checks that a server pudp started is still running (undefined: it is, or it is not ours). */
function stillRunning(t: ServerTarget): Outcome | undefined {
  const code = t.program?.code;
  return code === undefined
    ? undefined
    : fail("the server still running", `it exited with status ${code}`);
}

/** A new connection is served: the server is still up for others. */
async function othersServed(
  t: ServerTarget,
  open: (ms?: number) => Promise<Peer>,
): Promise<Outcome | undefined> {
  const running = stillRunning(t);
  if (running) return running;
  let other: Peer;
  try {
    other = await open(REPLY_MS);
  } catch (e) {
    return fail(
      "another client served after that",
      `no connection: ${e instanceof Error ? e.message : e}`,
    );
  }
  const out = await exchange(other, ["0123456789still here"]);
  return out?.status === "fail"
    ? fail(`another client served after that: ${out.expected}`, out.observed)
    : out;
}

/** Waits at most `ms` for the server to end the connection, writing `filler` every 100 ms meanwhile. */
async function endsWhileWriting(peer: Peer, ms: number, filler?: Uint8Array): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end && peer.probe.end === undefined) {
    if (filler) {
      const ok = await Promise.race([peer.send(filler), pause(500).then(() => true)]);
      if (!ok) break; // the write failed: the server is gone
    }
    await peer.probe.waitEnd(100);
  }
  return (await peer.probe.waitEnd(filler ? 1000 : 0)) !== undefined;
}

const ROW_ANSWER =
  "The server answers every message with one message: its text without the first 10 characters (characters as Python counts them, code points, not bytes; a shorter text gets an empty answer).";
const ROW_REASSEMBLE =
  "It reads at most --buffer bytes at a time and reassembles messages of any size up to --max-message, however TCP splits them.";
const ROW_MANY = "Many clients are served at once.";
const ROW_ALONE =
  "A connection ends alone, never disturbing the others, when its client announces a message longer than --max-message (the server closes it on the 4 length bytes, before holding any of it), sends a payload that is not UTF-8, or goes away mid-message.";

type ServerCase = CheckCase<ServerTarget>;

/** Every frame server case, in the order they are listed and reported. */
export const FRAME_SERVER_CASES: readonly CheckCase<ServerTarget>[] = [
  {
    id: "server/answer/basic",
    title: "each message is answered with its text minus 10 characters, in series",
    row: ROW_ANSWER,
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        return await exchange(peer, [
          "Four score and seven years ago",
          "0123456789second",
          "0123456789third",
        ]);
      }),
  },
  {
    id: "server/answer/short",
    title: "a message shorter than 10 characters does not end the connection",
    row: ROW_ANSWER,
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        await peer.sendText("short");
        await peer.answers(1, 1000); // an empty answer, or none: both are the handout's
        const before = parseMessages(peer.probe.received).messages;
        const early = before.find((m) => m.length !== 0);
        if (early) {
          return fail("an empty answer to 'short', or none", `an answer ${firstBytes(early)}`);
        }
        await peer.sendText("0123456789after");
        const got = await peer.answers(before.length + 1);
        return sameAnswers(peer, got.slice(before.length), ["0123456789after"]);
      }),
  },
  {
    id: "server/answer/short-empty",
    title: "a message shorter than 10 characters gets an empty answer (length 0)",
    row: ROW_ANSWER,
    level: "strict",
    run: (t, trace) => withPeers(t, trace, async (open) => exchange(await open(), ["short", ""])),
  },
  {
    id: "server/answer/characters",
    title: "10 characters are dropped, not 10 bytes; the length counts bytes",
    row: ROW_ANSWER,
    level: "course",
    run: (t, trace) =>
      withPeers(
        t,
        trace,
        async (open) =>
          exchange(await open(), ["ééééééééééabc", "日本語のテキストです、naïve café 🙂"]),
      ),
  },
  {
    id: "server/split/one-byte",
    title: "a message written one byte per segment is reassembled",
    row: ROW_REASSEMBLE,
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        const text = "0123456789one byte at a time";
        const bytes = encodeText(text);
        for (let i = 0; i < bytes.length; i++) {
          if (!(await peer.send(bytes.subarray(i, i + 1)))) break; // the server is gone
          await pause(15);
        }
        return sameAnswers(peer, await peer.answers(1), [text]);
      }),
  },
  {
    id: "server/split/header",
    title: "a length prefix split across two segments is reassembled",
    row: ROW_REASSEMBLE,
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        const text = "0123456789header in two parts";
        const bytes = encodeText(text);
        for (const [from, to] of [[0, 2], [2, 9], [9, bytes.length]]) {
          if (from > 0) await pause(400);
          if (!(await peer.send(bytes.subarray(from, to)))) break; // the server is gone
        }
        return sameAnswers(peer, await peer.answers(1), [text]);
      }),
  },
  {
    id: "server/split/coalesced",
    title: "several messages in one segment get one answer each, in order",
    row: ROW_REASSEMBLE,
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        const texts = ["0123456789first", "0123456789second", "short", "0123456789fourth"];
        const all = texts.map(encodeText);
        const joined = new Uint8Array(all.reduce((n, b) => n + b.length, 0));
        all.reduce((at, b) => (joined.set(b, at), at + b.length), 0);
        await peer.send(joined);
        return sameAnswers(peer, await peer.answers(texts.length), texts);
      }),
  },
  {
    id: "server/size/long",
    title: "messages longer than a read buffer (1500 and 20000 bytes) are answered whole",
    row: ROW_REASSEMBLE,
    level: "course",
    run: (t, trace) => answeredWhole(t, trace, [1500, 20_000]),
  },
  {
    id: "server/size/megabytes",
    title: "messages of 1 MiB and 4 MiB are answered whole",
    row: ROW_REASSEMBLE,
    level: "strict",
    run: (t, trace) => answeredWhole(t, trace, [1 << 20, 4 << 20]),
  },
  {
    id: "server/size/over-limit",
    title: "a length over 16 MiB ends that connection; the server goes on for others",
    row: ROW_ALONE,
    level: "strict",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        const header = new Uint8Array(4);
        new DataView(header.buffer).setUint32(0, 16 * 1024 * 1024 + 1);
        await peer.send(header);
        if (!(await endsWhileWriting(peer, 3000, encoder.encode(longText(1024))))) {
          return fail(
            "the connection closed within 3 s of a length of 16 MiB + 1 (while its bytes keep coming)",
            peer.observed() + "; still open",
          );
        }
        return await othersServed(t, open);
      }),
  },
  {
    id: "server/concurrency/many",
    title: "20 clients at once, their messages interleaved, each get their own answers",
    row: ROW_MANY,
    level: "strict",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peers = await Promise.all(Array.from({ length: 20 }, () => open()));
        const first = peers.map((_, i) => `0123456789client ${i} first`);
        const second = peers.map((_, i) => `0123456789client ${i} second`);
        const halves = first.map(encodeText);
        for (const [i, p] of peers.entries()) await p.send(halves[i].subarray(0, 10));
        await pause(300);
        for (const [i, p] of peers.entries()) await p.send(halves[i].subarray(10));
        for (const [i, p] of peers.entries()) await p.sendText(second[i]);
        const got = await Promise.all(peers.map((p) => p.answers(2, 5000)));
        for (const [i, p] of peers.entries()) {
          const out = sameAnswers(p, got[i], [first[i], second[i]]);
          if (out && out.status === "fail") {
            return fail(`client ${i} (of 20): ${out.expected}`, out.observed);
          }
        }
        return undefined;
      }),
  },
  {
    id: "server/concurrency/slow-peer",
    title: "a client that stops mid-message does not hold up another",
    row: ROW_MANY,
    level: "strict",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const slow = await open();
        const text = "0123456789slow peer";
        const bytes = encodeText(text);
        await slow.send(bytes.subarray(0, 10));
        await pause(200);
        const other = await open();
        const out = await exchange(other, ["0123456789meanwhile"]);
        if (out) {
          return out.status === "fail"
            ? fail(`while another waits mid-message, ${out.expected}`, out.observed)
            : out;
        }
        await slow.send(bytes.subarray(10));
        return sameAnswers(slow, await slow.answers(1), [text]);
      }),
  },
  {
    id: "server/close/next-client",
    title: "after a client disconnects, a new client is served",
    row:
      "A connection ends alone when its client goes away; the server goes on accepting new clients.",
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const first = await open();
        const out = await exchange(first, ["0123456789first client"]);
        if (out) return out;
        first.close();
        await pause(100);
        return await exchange(await open(REPLY_MS), ["0123456789second client"]);
      }),
  },
  {
    id: "server/close/half-close",
    title: "after a client's FIN its answer still comes, then the server closes",
    row:
      "A connection ends when its client closes it: messages already sent are answered, then the server closes its side.",
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        await peer.sendText("0123456789last words");
        await peer.probe.closeWrite();
        const out = sameAnswers(peer, await peer.answers(1), ["0123456789last words"]);
        if (out) return out;
        if ((await peer.probe.waitEnd(REPLY_MS)) === undefined) {
          return fail("the server closes after the client's FIN", peer.observed() + "; still open");
        }
        return undefined;
      }),
  },
  {
    id: "server/close/reset",
    title: "a client that resets mid-message does not stop the server",
    row: ROW_ALONE,
    level: "course",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        await resetMidMessage(t, trace);
        await pause(200);
        return await othersServed(t, open);
      }),
  },
  {
    id: "server/robust/bad-text",
    title: "a payload that is not UTF-8 ends that connection, unanswered",
    row: ROW_ALONE,
    level: "strict",
    run: (t, trace) =>
      withPeers(t, trace, async (open) => {
        const peer = await open();
        const bad = Uint8Array.of(...encoder.encode("0123456789"), 0xff, 0xfe, 0x41, 0xc3);
        await peer.send(encodePayload(bad));
        const ended = await endsWhileWriting(peer, REPLY_MS);
        const answers = parseMessages(peer.probe.received).messages;
        if (!ended || answers.length > 0) {
          return fail(
            "the connection closed with no answer to a payload that is not UTF-8",
            peer.observed() + (ended ? "" : "; still open"),
          );
        }
        return await othersServed(t, open);
      }),
  },
];

/**
 * A client that sends a message and the start of another, reads the
 * answer and resets the connection (`node:net`'s resetAndDestroy: SO_LINGER
 * 0, so the server gets an RST, not a FIN). Its segments are recorded in
 * the trace by hand.
 */
async function resetMidMessage(t: ServerTarget, trace: TraceSink): Promise<void> {
  const d = new FrameDescriber();
  const socket = net.connect(t.port, t.host);
  socket.on("error", () => {});
  let received = 0;
  const note = () => socket.localPort === undefined ? undefined : `from :${socket.localPort}`;
  socket.on("data", (chunk: Uint8Array) => {
    received += chunk.length;
    trace.add("received", t.port, chunk.subarray(0, 64), note(), d.describe(chunk, chunk.length));
  });
  const connected = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), OPEN_MS);
    socket.once("connect", () => (clearTimeout(timer), resolve(true)));
    socket.once("error", () => (clearTimeout(timer), resolve(false)));
  });
  trace.add(
    "sent",
    t.port,
    new Uint8Array(0),
    note(),
    `connect (SYN), ${connected ? "accepted" : "failed"}`,
  );
  if (!connected) {
    socket.destroy();
    throw new Error(`cannot connect to ${t.host}:${t.port}`);
  }
  const whole = encodeText("0123456789answered");
  const half = encodeText("0123456789cut short by a reset").subarray(0, 12);
  const bytes = new Uint8Array(whole.length + half.length);
  bytes.set(whole);
  bytes.set(half, whole.length);
  d.sending = true;
  trace.add("sent", t.port, bytes, note(), d.describe(bytes, bytes.length));
  d.sending = false;
  socket.write(bytes);
  const end = performance.now() + REPLY_MS;
  while (received < 4 + "answered".length && performance.now() < end) await pause(10);
  trace.add("sent", t.port, new Uint8Array(0), note(), "reset (RST), mid-message");
  socket.resetAndDestroy();
}
