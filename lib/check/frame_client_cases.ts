/**
 * The frame family's client cases: pudp plays the server (a
 * {@link FrameScriptedServer}: normal, answers split a byte per segment,
 * answers coalesced, slow, closing or resetting after the first answer),
 * starts the client with `{host}` and `{port}` pointing at it, feeds its
 * stdin and judges the messages it sends, what it prints and how it exits.
 *
 * How a run goes: the scripted server listens on 127.0.0.1 (a
 * {@link StreamListener}), the client is started and its stdin written
 * (closed after, or kept open), and a loop moves bytes between the
 * client's connection and the machine, with the time, until the client
 * exits or the run's bound passes. A Deno connection cannot be reset (its
 * close sends a FIN), so the one server that resets listens with
 * `node:net` and ends with `resetAndDestroy` (SO_LINGER 0: an RST).
 *
 * @module
 */

import { escapeText, firstBytes } from "../io/terminal_text.ts";
import { type CheckCase, fail, type Outcome, pass, type TraceSink } from "./case_model.ts";
import { FRAME_NORMAL, type FrameBehaviour, FrameScriptedServer } from "./frame_scripted_server.ts";
import { answerText, FrameDescriber, longText } from "./frame_trace.ts";
import net from "node:net";
import { pause, type StreamEnd, StreamListener, type StreamProbe } from "./stream_probe.ts";
import type { ClientTarget, Spawned } from "./target.ts";

/** What a client run gave. */
export interface FrameClientRun {
  /** The scripted server, with the messages the client sent. */
  server: FrameScriptedServer;
  /** The client. */
  program: Spawned;
  /** Its exit code, undefined if it was still running at the end. */
  code: number | undefined;
  /** When it exited, ms since the case began. */
  exitAt: number | undefined;
  /** Whether it connected at all. */
  connected: boolean;
  /** When the scripted server ended the connection (close or reset). */
  endedAt: number | undefined;
}

/** How long a client may take to start and finish an exchange. */
const RUN_MS = 10_000;
/** How long a client has to connect (a program that has just started). */
const CONNECT_MS = 8000;

/** How a case drives the client. */
export interface FrameDrive {
  /** Changes to the {@link FRAME_NORMAL} server. */
  server?: Partial<FrameBehaviour>;
  /** What is written to stdin first. */
  stdin: string;
  /** More stdin, 300 ms after the first answer (or the end) was written. */
  later?: string;
  /** Keep stdin open after it all. */
  keepOpen?: boolean;
  /** How long the run may take, ms (default {@link RUN_MS}). */
  untilMs?: number;
}

/** The scripted server's side of the connection, whichever way it is had. */
interface ServerSide {
  /** The bytes from the client not taken yet. */
  take(): Uint8Array;
  /** Writes bytes to the client (recorded). */
  write(bytes: Uint8Array): Promise<boolean>;
  /** How the client ended its side, if it has. */
  end(): StreamEnd | undefined;
  /** Ends the connection: an orderly close, or a reset. */
  close(how: "close" | "reset"): void;
}

/** A connection of a {@link StreamListener} (it cannot reset: a close is a close). */
function probeSide(probe: StreamProbe, d: FrameDescriber): ServerSide {
  let taken = 0;
  return {
    take() {
      const all = probe.received;
      const fresh = all.subarray(taken);
      taken = all.length;
      return fresh;
    },
    write: (bytes) => d.write((b) => probe.write(b), bytes),
    end: () => probe.end,
    close: () => probe.close(),
  };
}

/**
 * A connection accepted by a `node:net` server, for the server that resets
 * (`resetAndDestroy`: SO_LINGER 0, so the client gets an RST, not a FIN);
 * its segments are recorded in the trace by hand.
 */
function socketSide(socket: net.Socket, trace: TraceSink, d: FrameDescriber): ServerSide {
  const port = socket.remotePort ?? 0;
  const chunks: Uint8Array[] = [];
  let end: StreamEnd | undefined;
  let closed = false;
  const ended = (how: StreamEnd) => {
    if (end !== undefined || closed) return;
    end = how;
    const what = how === "fin" ? "FIN (the peer closed its side)" : "reset (the connection failed)";
    trace.add("received", port, new Uint8Array(0), undefined, what);
  };
  socket.on("data", (chunk: Uint8Array) => {
    chunks.push(chunk);
    trace.add("received", port, chunk.subarray(0, 64), undefined, d.describe(chunk, chunk.length));
  });
  socket.on("end", () => ended("fin"));
  socket.on("error", () => ended("reset"));
  return {
    take() {
      const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      chunks.reduce((at, c) => (all.set(c, at), at + c.length), 0);
      chunks.length = 0;
      return all;
    },
    write(bytes) {
      d.sending = true;
      trace.add("sent", port, bytes.subarray(0, 64), undefined, d.describe(bytes, bytes.length));
      d.sending = false;
      return new Promise((resolve) => socket.write(bytes, (e) => resolve(!e)));
    },
    end: () => end,
    close(how) {
      if (closed) return;
      closed = true;
      trace.add(
        "sent",
        port,
        new Uint8Array(0),
        undefined,
        how === "reset" ? "reset (RST)" : "close",
      );
      if (how === "reset") socket.resetAndDestroy();
      else socket.destroy();
    },
  };
}

/** A `node:net` server on 127.0.0.1 that takes one connection. */
class SocketListener {
  readonly #server = net.createServer();
  #accepted: net.Socket | undefined;
  #wake = () => {};

  /** Starts listening; its port once it listens. */
  listen(): Promise<number> {
    this.#server.on("connection", (s: net.Socket) => {
      if (this.#accepted) s.destroy();
      else this.#accepted = s;
      this.#wake();
    });
    return new Promise((resolve) =>
      this.#server.listen(
        0,
        "127.0.0.1",
        () => resolve((this.#server.address() as net.AddressInfo).port),
      )
    );
  }

  /** The connection, within `ms`. */
  async accept(ms: number): Promise<net.Socket | undefined> {
    if (!this.#accepted) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((r) => {
        this.#wake = r;
        timer = setTimeout(r, ms);
      });
      clearTimeout(timer);
    }
    return this.#accepted;
  }

  /** Stops listening and closes the connection. */
  close(): void {
    this.#accepted?.destroy();
    this.#server.close();
  }
}

/**
 * Plays the scripted server `drive.server` against the client: starts it,
 * writes its stdin, moves bytes between its connection and the machine
 * until it exits or the run's bound passes.
 */
export async function driveFrameClient(
  target: ClientTarget,
  trace: TraceSink,
  drive: FrameDrive,
): Promise<FrameClientRun> {
  const behaviour = { ...FRAME_NORMAL, ...drive.server };
  const untilMs = drive.untilMs ?? RUN_MS;
  const server = new FrameScriptedServer(behaviour);
  const d = new FrameDescriber();
  const resets = behaviour.end === "reset";
  const listener = resets ? new SocketListener() : new StreamListener(trace, d.describe);
  const port = listener instanceof SocketListener ? await listener.listen() : listener.port;
  const program = target.start({ host: "127.0.0.1", port });
  let exitAt: number | undefined;
  let endedAt: number | undefined;
  let side: ServerSide | undefined;
  let later = drive.later;
  let firstOutAt: number | undefined;
  try {
    await program.write(drive.stdin);
    if (!drive.keepOpen && later === undefined) await program.closeStdin();
    let done = false;
    program.waitExit(untilMs).then((c) => {
      if (c !== undefined) exitAt = trace.now();
      done = true;
    });
    if (listener instanceof SocketListener) {
      const socket = await listener.accept(CONNECT_MS);
      if (socket) {
        trace.add(
          "received",
          socket.remotePort ?? 0,
          new Uint8Array(0),
          undefined,
          "connect (SYN), accepted",
        );
        side = socketSide(socket, trace, d);
      }
    } else {
      const probe = await listener.accept(CONNECT_MS);
      if (probe) side = probeSide(probe, d);
    }
    let clientEnded = false;
    while (side && !done && trace.now() < untilMs) {
      const now = trace.now();
      const fresh = side.take();
      if (fresh.length > 0) server.handleBytes(fresh, now);
      if (!clientEnded && side.end() !== undefined) {
        clientEnded = true;
        server.handleEnd(now);
      }
      server.handleTimeout(now);
      for (let out = server.pollTransmit(); out; out = server.pollTransmit()) {
        firstOutAt ??= now;
        if (out.kind === "data") await side.write(out.bytes);
        else {
          side.close(out.how);
          endedAt = trace.now();
        }
      }
      if (later !== undefined && firstOutAt !== undefined && trace.now() >= firstOutAt + 300) {
        await program.write(later);
        later = undefined;
        if (!drive.keepOpen) await program.closeStdin();
      }
      const due = server.pollTimeout();
      await pause(Math.max(1, Math.min(20, due === undefined ? 20 : due - trace.now())));
    }
    if (!done) await program.waitExit(Math.max(0, untilMs - trace.now()));
    // What it sent as it exited.
    await pause(20);
    const fresh = side?.take();
    if (fresh && fresh.length > 0) server.handleBytes(fresh, trace.now());
    return { server, program, code: program.code, exitAt, connected: side !== undefined, endedAt };
  } finally {
    side?.close("close");
    listener.close();
  }
}

/** The stdout lines, without a `\r` before their `\n`. */
function stdoutLines(run: FrameClientRun): string[] {
  return run.program.stdout.lines().map((l) => l.replace(/\r$/, ""));
}

/** Signs of a stack trace in a program's stderr. */
const STACK_TRACE =
  /Traceback \(most recent call last\)|^\s+at .+:\d+:\d+\)?$|error: Uncaught|panicked at|Exception in thread/m;

/** Checks the client connected and sent every line as one message (`exact`: no line ending). */
function sentLines(run: FrameClientRun, lines: string[], exact: boolean): Outcome | undefined {
  if (!run.connected) return fail("a TCP connection from the client", "none within 8 s");
  const got = run.server.received.map((r) => r.text);
  const same = (text: string, line: string) =>
    text === line || (!exact && (text === line + "\n" || text === line + "\r\n"));
  const ok = got.length === lines.length && lines.every((l, i) => same(got[i], l)) &&
    run.server.error === undefined;
  if (ok) return undefined;
  const want = lines.map((l) => firstBytes(new TextEncoder().encode(l), 40)).join(", ");
  const seen = run.server.received.map((r) => firstBytes(r.payload, 40)).join(", ") || "none";
  return fail(
    `${lines.length} messages, a 4-byte big-endian length (in bytes) then the line${
      exact ? " (no line ending)" : " (with or without its line ending)"
    }: ${want}`,
    `messages: ${seen}${run.server.error ? `; then ${run.server.error}` : ""}`,
  );
}

/** Checks each answer's text appears as a line on stdout, in order. */
function printedAnswers(run: FrameClientRun, lines: string[]): Outcome | undefined {
  const answers = lines.map(answerText);
  const out = stdoutLines(run);
  let at = 0;
  for (const a of answers) {
    const i = out.indexOf(a, at);
    if (i < 0) {
      return fail(
        `each answer on a line of stdout, in order: ${
          answers.map((x) => `'${escapeText(x.length > 40 ? x.slice(0, 40) + "…" : x)}'`).join(", ")
        }`,
        `no line '${escapeText(a.length > 40 ? a.slice(0, 40) + "…" : a)}' (the output is below)`,
      );
    }
    at = i + 1;
  }
  return undefined;
}

/** Checks the client exited 0 within the run. */
function exitedZero(run: FrameClientRun, why: string): Outcome | undefined {
  if (run.code === 0) return undefined;
  return fail(
    `exit 0 ${why}`,
    run.code === undefined ? "still running" : `exit ${run.code}`,
  );
}

/** Checks the client noticed the server's end: exit not 0, a message, no stack trace. */
function noticedEnd(run: FrameClientRun, strict: boolean): Outcome | undefined {
  const what = strict
    ? "exit 1 with one line on stderr (no stack trace)"
    : "an exit not 0, with a message on stderr (no stack trace)";
  if (!run.connected) return fail("a TCP connection from the client", "none within 8 s");
  if (run.code === undefined) {
    return fail(`${what} once the server ended the connection`, "still running");
  }
  const stderr = run.program.stderr.text.trim();
  const bad = run.code === 0 || (strict && run.code !== 1) || stderr === "" ||
    STACK_TRACE.test(run.program.stderr.text) ||
    (strict && stderr.split("\n").length !== 1);
  return bad
    ? fail(`${what} once the server ended the connection`, `exit ${run.code} (the output is below)`)
    : undefined;
}

const LINES = ["Four score and seven years ago", "0123456789beta", "0123456789gamma"];
const INPUT = LINES.map((l) => l + "\n").join("");

const ROW_SEND =
  "The client sends each line of stdin (without its line ending) as one message: a 4-byte unsigned big-endian length, then that many bytes of UTF-8.";
const ROW_PRINT = "The client prints each answer on its own line, in order.";
const ROW_EXIT =
  "The client exits 0 once stdin has ended and every message has its answer, and 1 with one line when the server closes or resets the connection first.";

type ClientCase = CheckCase<ClientTarget>;

/** A case's data: its id, title, row and level. */
type CaseHead = Omit<ClientCase, "run" | "needsTimeout">;

/** A case that runs the client once against a scripted server and judges the run. */
function clientCase(
  head: CaseHead,
  drive: FrameDrive,
  judge: (run: FrameClientRun) => Outcome | undefined,
): ClientCase {
  return {
    ...head,
    run: async (t, trace) => judge(await driveFrameClient(t, trace, drive)) ?? pass(),
  };
}

/** The server ends the connection after its first answer; more lines come after. */
const ENDS = (end: "close" | "reset"): FrameDrive => ({
  server: { endAfter: 1, end },
  stdin: "0123456789one\n",
  later: "0123456789two\n0123456789three\n",
  keepOpen: true,
});

const CHARACTERS = ["ééééééééééabc", "日本語のテキストです、naïve café 🙂"];
const LONG = longText(20_010);

/** Every frame client case, in the order they are listed and reported. */
export const FRAME_CLIENT_CASES: readonly CheckCase<ClientTarget>[] = [
  clientCase(
    {
      id: "client/send/framing",
      title: "each stdin line is sent as one message, its length in 4 big-endian bytes",
      row: ROW_SEND,
      level: "course",
    },
    { stdin: INPUT + "short\n" },
    (run) => sentLines(run, [...LINES, "short"], false),
  ),
  clientCase(
    {
      id: "client/send/exact",
      title: "a message is the line without its line ending",
      row: ROW_SEND,
      level: "strict",
    },
    { stdin: INPUT },
    (run) => sentLines(run, LINES, true),
  ),
  clientCase(
    {
      id: "client/send/pipelined",
      title: "lines are sent ahead of their answers (not one round trip each)",
      row:
        "Lines may go out before their answers come back, so a file of lines is one stream, not one round trip each.",
      level: "strict",
    },
    { stdin: INPUT, server: { delayMs: 1500 } },
    (run) => {
      const r = run.server.received;
      if (r.length === LINES.length && r[r.length - 1].at < r[0].at + 1000) return undefined;
      return fail(
        `all ${LINES.length} messages before the first answer (sent 1.5 s after the first message)`,
        r.length === 0
          ? "no message"
          : `${r.length} message(s), at ${r.map((m) => `${Math.round(m.at)} ms`).join(", ")}`,
      );
    },
  ),
  clientCase(
    {
      id: "client/receive/printed",
      title: "each answer is printed as a line of stdout",
      row: ROW_PRINT,
      level: "course",
    },
    { stdin: INPUT },
    (run) => printedAnswers(run, LINES),
  ),
  clientCase(
    {
      id: "client/receive/split",
      title: "answers written a byte per segment are printed whole",
      row: ROW_PRINT,
      level: "course",
    },
    { stdin: INPUT, server: { splitBytes: 1, splitMs: 10 } },
    (run) => printedAnswers(run, LINES),
  ),
  clientCase(
    {
      id: "client/receive/coalesced",
      title: "answers that arrive together in one segment are each printed",
      row: ROW_PRINT,
      level: "course",
    },
    { stdin: INPUT, server: { coalesceMs: 500 } },
    (run) => printedAnswers(run, LINES),
  ),
  clientCase(
    {
      id: "client/receive/characters",
      title: "multi-byte text: the length counts bytes and the answer is printed right",
      row: ROW_SEND + " " + ROW_PRINT,
      level: "course",
    },
    { stdin: CHARACTERS.map((l) => l + "\n").join("") },
    (run) => sentLines(run, CHARACTERS, false) ?? printedAnswers(run, CHARACTERS),
  ),
  clientCase(
    {
      id: "client/receive/long",
      title: "an answer of 20000 bytes (longer than a read buffer) is printed whole",
      row: "The client reassembles answers of any size up to --max-message. " + ROW_PRINT,
      level: "course",
    },
    { stdin: LONG + "\n" },
    (run) => printedAnswers(run, [LONG]),
  ),
  clientCase(
    {
      id: "client/eof/exit-zero",
      title: "stdin ended and every answer in: exit 0",
      row: ROW_EXIT,
      level: "course",
    },
    { stdin: INPUT },
    (run) => exitedZero(run, "once stdin has ended and every message has its answer"),
  ),
  clientCase(
    {
      id: "client/eof/waits-answers",
      title: "stdin ends before the answers come (1.5 s): they are still printed, then exit 0",
      row: ROW_EXIT,
      level: "course",
    },
    { stdin: INPUT, server: { delayMs: 1500 } },
    (run) => printedAnswers(run, LINES) ?? exitedZero(run, "after the late answers"),
  ),
  clientCase(
    {
      id: "client/close/server-closes",
      title: "the server closes after the first answer: the client exits, not 0, and says so",
      row: ROW_EXIT,
      level: "course",
    },
    ENDS("close"),
    (run) => noticedEnd(run, false),
  ),
  clientCase(
    {
      id: "client/close/reset",
      title: "the server resets the connection: the client exits, not 0, and says so",
      row: ROW_EXIT,
      level: "course",
    },
    ENDS("reset"),
    (run) => noticedEnd(run, false),
  ),
  clientCase(
    {
      id: "client/close/exit-one",
      title: "the server closes first: exit 1 and one line on stderr",
      row: ROW_EXIT,
      level: "strict",
    },
    ENDS("close"),
    (run) => printedAnswers(run, ["0123456789one"]) ?? noticedEnd(run, true),
  ),
];
