/**
 * The PUDP family's server cases: pudp plays a client (one or two UDP
 * sockets, a fresh session id per case) and judges what the server sends
 * and, when pudp started it, the lines it prints and how it exits.
 *
 * @module
 */

import { Command, commandName, encode, HEADER_SIZE, type Message } from "../pudp/wire.ts";
import { decode, WireError } from "../pudp/wire.ts";
import {
  type CaseOptions,
  type CheckCase,
  fail,
  type Outcome,
  pass,
  skip,
  type TraceSink,
} from "./case_model.ts";
import { bindAddress, Probe } from "./probe.ts";
import { pudpDescriber } from "./trace.ts";
import type { ServerTarget } from "./target.ts";

/** How long a reply may take on loopback (a busy machine included). */
const REPLY_MS = 2000;
/** How long the first reply may take (a program that has just started). */
const OPEN_MS = 5000;
/** How long a printed line may take to show. */
const LINE_MS = 1500;

const enc = new TextEncoder();

/** `0x0000abcd`: a session id as servers print it. */
export function hexId(id: number): string {
  return "0x" + id.toString(16).padStart(8, "0");
}

function describe(m: Message | undefined): string {
  if (!m) return "nothing";
  return `${commandName(m.command)} seq=${m.seq} session=${hexId(m.sessionId)}`;
}

/** One client session the checker plays: its socket and its random session id. */
class Session {
  readonly id = crypto.getRandomValues(new Uint32Array(1))[0];
  readonly probe: Probe;

  constructor(readonly target: ServerTarget, readonly trace: TraceSink, readonly o: CaseOptions) {
    this.probe = new Probe(trace, bindAddress(target.host), 0, undefined, pudpDescriber(o));
  }

  send(command: number, seq: number, payload = "", magic = this.o.magic): Promise<void> {
    const bytes = encode(
      { command, seq, sessionId: this.id, payload: enc.encode(payload) },
      magic,
      this.o.version,
    );
    return this.probe.send(bytes, this.target.port, this.target.host);
  }

  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.probe.send(bytes, this.target.port, this.target.host);
  }

  /** The next message of this session within `ms` (others are traced and skipped). */
  async reply(ms = REPLY_MS): Promise<Message | undefined> {
    const end = performance.now() + ms;
    for (;;) {
      const got = await this.probe.next(Math.max(0, end - performance.now()));
      if (!got) return undefined;
      try {
        const m = decode(got.bytes, this.o.magic, this.o.version);
        if (m.sessionId === this.id) return m;
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    }
  }

  /**
   * What the server sent for this session until it answered a HELLO of
   * another session sent now (it handles datagrams in order, so anything it
   * was going to say about this session's earlier datagrams came first);
   * undefined when that HELLO is not answered.
   */
  async quiet(probe: Probe = this.probe): Promise<Message[] | undefined> {
    const id = crypto.getRandomValues(new Uint32Array(1))[0];
    const hello = encode(
      {
        command: Command.HELLO,
        seq: 0,
        sessionId: id,
        payload: new Uint8Array(),
      },
      this.o.magic,
      this.o.version,
    );
    await probe.send(hello, this.target.port, this.target.host);
    const end = performance.now() + REPLY_MS;
    const out: Message[] = [];
    for (;;) {
      const got = await probe.next(Math.max(0, end - performance.now()));
      if (!got) return undefined;
      try {
        const m = decode(got.bytes, this.o.magic, this.o.version);
        if (m.sessionId === id && m.command === Command.HELLO) return out;
        if (m.sessionId === this.id) out.push(m);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    }
  }

  /** Sends and expects `command` back; undefined, or the failure. */
  async exchange(command: number, seq: number, payload: string, expect: number, why: string) {
    await this.send(command, seq, payload);
    const sent = performance.now();
    const got = await this.reply();
    const late = this.o.timeoutMs !== undefined &&
      performance.now() - sent >= this.o.timeoutMs * 0.8;
    if (got?.command === Command.GOODBYE && expect === Command.GOODBYE && late) {
      return fail(
        `GOODBYE for session ${hexId(this.id)} (${why})`,
        "only the GOODBYE of the session's --timeout",
      );
    }
    if (got?.command === expect) return undefined;
    return fail(`${commandName(expect)} for session ${hexId(this.id)} (${why})`, describe(got));
  }

  /** Opens the session: HELLO, its HELLO reply (a program just started may take longer). */
  async open(): Promise<Outcome | undefined> {
    await this.send(Command.HELLO, 0);
    const got = await this.reply(OPEN_MS);
    if (got?.command === Command.HELLO) return undefined;
    return fail(`HELLO for session ${hexId(this.id)} (the reply to HELLO)`, describe(got));
  }

  line(rest: string): string {
    return `${hexId(this.id)} ${rest}`;
  }

  close(): void {
    this.probe.close();
  }
}

/** Checks that the program printed `lines`, in this order, as whole lines (undefined: fine or not judged). */
async function printed(target: ServerTarget, lines: string[]): Promise<Outcome | undefined> {
  const program = target.program;
  if (!program) return undefined;
  const inOrder = (text: string) => {
    const all = text.split("\n");
    all.pop();
    let at = 0;
    for (const want of lines) {
      const i = all.indexOf(want, at);
      if (i < 0) return false;
      at = i + 1;
    }
    return true;
  };
  if (await program.stdout.waitFor(inOrder, LINE_MS)) return undefined;
  return fail(
    `stdout lines, in order:\n${lines.join("\n")}`,
    `stdout:\n${program.stdout.text.trimEnd().split("\n").slice(-15).join("\n") || "(nothing)"}`,
  );
}

/** Runs `body` with a session (or sessions), closing their sockets after. */
async function withSession(
  target: ServerTarget,
  trace: TraceSink,
  o: CaseOptions,
  body: (s: Session) => Promise<Outcome | undefined>,
): Promise<Outcome> {
  const s = new Session(target, trace, o);
  try {
    return (await body(s)) ?? pass();
  } finally {
    s.close();
  }
}

function nothingBut(
  got: Message[] | undefined,
  allowed: number[],
  expected: string,
): Outcome | undefined {
  if (got === undefined) {
    return fail(`${expected}, then a HELLO of another session answered`, "that HELLO not answered");
  }
  const bad = got.filter((m) => !allowed.includes(m.command));
  return bad.length === 0 ? undefined : fail(expected, bad.map(describe).join(", "));
}

const needsProgram = (t: ServerTarget): Promise<Outcome> | undefined =>
  t.program
    ? undefined
    : Promise.resolve(skip("needs the server started by pudp (-- CMD … {port})"));

type ServerCase = CheckCase<ServerTarget>;

/** Every PUDP server case, in the order they are listed and reported. */
export const PUDP_SERVER_CASES: readonly CheckCase<ServerTarget>[] = [
  {
    id: "server/hello/created",
    title: "a HELLO with a new session id is answered with HELLO and a session is created",
    row:
      "HELLO, unknown session id | create session bound to the sender's address, reply HELLO | `0x%08x [seq] Session created`",
    level: "course",
    run: (t, trace, o) =>
      withSession(
        t,
        trace,
        o,
        async (s) => (await s.open()) ?? await printed(t, [s.line("[0] Session created")]),
      ),
  },
  {
    id: "server/hello/repeat",
    title: "a repeated HELLO neither closes the session nor stops it",
    row:
      "any, seq == expected − 1 (repeat of the last) | ignore, reply nothing — except a repeated HELLO (seq 0, nothing else received yet), which gets the HELLO reply again",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const open = await s.open();
        if (open) return open;
        await s.send(Command.HELLO, 0);
        const got = await s.quiet();
        return nothingBut(got, [Command.HELLO], "a HELLO reply or nothing") ??
          await s.exchange(Command.DATA, 1, "after\n", Command.ALIVE, "the session goes on");
      }),
  },
  {
    id: "server/hello/repeat-answered",
    title: "a repeated HELLO gets the HELLO reply again and a Duplicate line",
    row:
      "a repeated HELLO (seq 0, nothing else received yet), which gets the HELLO reply again | `0x%08x [seq] Duplicate packet!`",
    level: "strict",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.HELLO, 0, "", Command.HELLO, "the repeated HELLO")) ??
          await printed(t, [s.line("[0] Session created"), s.line("[0] Duplicate packet!")])),
  },
  {
    id: "server/hello/unknown-session",
    title: "DATA and GOODBYE for a session that never said HELLO get no answer",
    row: "anything else, unknown session id | drop",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        await s.send(Command.DATA, 1, "nobody\n");
        await s.send(Command.GOODBYE, 2);
        return nothingBut(await s.quiet(), [], "no answer");
      }),
  },
  {
    id: "server/hello/nonzero-seq",
    title: "a HELLO with a sequence number other than 0 creates no session",
    row: "HELLO with seq ≠ 0, unknown session id | drop (counted)",
    level: "strict",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        await s.send(Command.HELLO, 1);
        return nothingBut(await s.quiet(), [], "no answer");
      }),
  },
  {
    id: "server/data/in-order",
    title: "each DATA in order is answered with ALIVE and printed",
    row: "DATA, seq == expected | reply ALIVE | `0x%08x [seq] <payload>`",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const open = await s.open();
        if (open) return open;
        const words = ["alpha", "beta", "gamma"];
        for (const [i, w] of words.entries()) {
          const f = await s.exchange(Command.DATA, i + 1, w + "\n", Command.ALIVE, `DATA ${i + 1}`);
          if (f) return f;
        }
        return printed(t, words.map((w, i) => s.line(`[${i + 1}] ${w}`)));
      }),
  },
  {
    id: "server/data/newline",
    title: "a payload is printed followed by one newline, none added when it ends with one",
    row:
      "`<payload>` is printed as received, followed by one newline (none is added when the payload already ends with `\\n`, as course clients send it)",
    level: "course",
    run: (t, trace, o) =>
      needsProgram(t) ?? withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "one", Command.ALIVE, "DATA 1")) ??
          (await s.exchange(Command.DATA, 2, "two\n", Command.ALIVE, "DATA 2")) ??
          (await s.exchange(Command.DATA, 3, "three", Command.ALIVE, "DATA 3")) ??
          await printed(t, [s.line("[1] one"), s.line("[2] two"), s.line("[3] three")]) ??
          (t.program!.stdout.lines().includes("")
            ? fail("no empty line", `an empty line in stdout:\n${t.program!.stdout.text}`)
            : undefined)),
  },
  {
    id: "server/data/server-seq",
    title: "the server's own sequence numbers go up by one per message",
    row:
      "Sequence numbers it sends come from one counter shared by all sessions, starting at 0, +1 per message sent.",
    level: "strict",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const seqs: number[] = [];
        for (
          const [command, seq, expect] of [
            [Command.HELLO, 0, Command.HELLO],
            [Command.DATA, 1, Command.ALIVE],
            [Command.DATA, 2, Command.ALIVE],
            [Command.GOODBYE, 3, Command.GOODBYE],
          ]
        ) {
          await s.send(command, seq, command === Command.DATA ? "x\n" : "");
          const got = await s.reply();
          if (got?.command !== expect) return fail(commandName(expect), describe(got));
          seqs.push(got.seq);
        }
        const ok = seqs.every((q, i) => i === 0 || q === seqs[i - 1] + 1);
        return ok ? undefined : fail("sequence numbers n, n+1, n+2, n+3", seqs.join(", "));
      }),
  },
  {
    id: "server/gap/lost-lines",
    title: "a gap in sequence numbers prints one Lost line per missing number",
    row:
      "any message, seq > expected | one line per missing number … then handle it by its command | `0x%08x [n] Lost packet!`",
    level: "course",
    run: (t, trace, o) =>
      needsProgram(t) ?? withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1")) ??
          (await s.exchange(Command.DATA, 4, "d\n", Command.ALIVE, "DATA 4 after a gap")) ??
          await printed(t, [
            s.line("[1] a"),
            s.line("[2] Lost packet!"),
            s.line("[3] Lost packet!"),
            s.line("[4] d"),
          ])),
  },
  {
    id: "server/gap/continues",
    title: "after a gap the session goes on: the DATA is answered, and the next one too",
    row:
      "any message, seq > expected | … then handle it by its command (a gap never ends a session)",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1")) ??
          (await s.exchange(Command.DATA, 5, "e\n", Command.ALIVE, "DATA 5 after a gap")) ??
          await s.exchange(Command.DATA, 6, "f\n", Command.ALIVE, "DATA 6")),
  },
  {
    id: "server/duplicate/ignored",
    title: "a repeat of the last DATA gets no reply and a Duplicate line; the session goes on",
    row:
      "any, seq == expected − 1 (repeat of the last) | ignore, reply nothing | `0x%08x [seq] Duplicate packet!`",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const f = (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1"));
        if (f) return f;
        await s.send(Command.DATA, 1, "a\n");
        return nothingBut(await s.quiet(), [], "no reply to the repeat") ??
          (await s.exchange(Command.DATA, 2, "b\n", Command.ALIVE, "DATA 2 after the repeat")) ??
          await printed(t, [s.line("[1] a"), s.line("[1] Duplicate packet!"), s.line("[2] b")]);
      }),
  },
  {
    id: "server/duplicate/old-closes",
    title: "a message older than the last is a protocol error: GOODBYE",
    row: "any, seq < expected − 1 | protocol error: send GOODBYE, close | `0x%08x Session closed`",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1")) ??
          (await s.exchange(Command.DATA, 2, "b\n", Command.ALIVE, "DATA 2")) ??
          (await s.exchange(Command.DATA, 3, "c\n", Command.ALIVE, "DATA 3")) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.GOODBYE, "DATA 1 again")) ??
          await printed(t, [s.line("[3] c"), s.line("Session closed")])),
  },
  {
    id: "server/goodbye/reply",
    title: "a GOODBYE is answered with GOODBYE and the session closes",
    row:
      "GOODBYE | reply GOODBYE, close | `0x%08x [seq] GOODBYE from client.` then `0x%08x Session closed`",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1")) ??
          (await s.exchange(Command.GOODBYE, 2, "", Command.GOODBYE, "the reply to GOODBYE")) ??
          await printed(t, [s.line("[2] GOODBYE from client."), s.line("Session closed")])),
  },
  {
    id: "server/goodbye/closed",
    title: "after GOODBYE the session is gone: its DATA gets no ALIVE",
    row: "anything else, unknown session id | drop",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const f = (await s.open()) ??
          (await s.exchange(Command.GOODBYE, 1, "", Command.GOODBYE, "the reply to GOODBYE"));
        if (f) return f;
        await s.send(Command.DATA, 2, "late\n");
        return nothingBut(await s.quiet(), [], "no answer to DATA of a closed session");
      }),
  },
  {
    id: "server/goodbye/repeat",
    title: "a repeated GOODBYE (its reply lost) is answered again",
    row:
      "GOODBYE repeated for a session closed by GOODBYE within the last `--timeout` | reply GOODBYE again",
    level: "strict",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.GOODBYE, 1, "", Command.GOODBYE, "the reply to GOODBYE")) ??
          await s.exchange(Command.GOODBYE, 1, "", Command.GOODBYE, "the repeated GOODBYE")),
  },
  {
    id: "server/session/other-address",
    title: "a message for a session from another address is dropped",
    row: "any message for a known session from another address | drop (counted)",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const f = await s.open();
        if (f) return f;
        const other = new Probe(
          trace,
          bindAddress(t.host),
          0,
          "from another address",
          pudpDescriber(o),
        );
        try {
          const bytes = encode(
            { command: Command.DATA, seq: 1, sessionId: s.id, payload: enc.encode("spoof\n") },
            o.magic,
            o.version,
          );
          await other.send(bytes, t.port, t.host);
          const f = nothingBut(await s.quiet(other), [], "no answer to the other address");
          if (f) return f;
        } finally {
          other.close();
        }
        return (await s.exchange(
          Command.DATA,
          1,
          "mine\n",
          Command.ALIVE,
          "DATA 1 from the session's address",
        )) ??
          await printed(t, [s.line("[1] mine")]);
      }),
  },
  {
    id: "server/wire/foreign",
    title: "datagrams that are not this PUDP (other magic or version, short, empty) get no answer",
    row:
      "A datagram shorter than 12 bytes, or with another magic or version, is dropped silently (counted). Empty datagrams happen",
    level: "course",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const hello = encode(
          {
            command: Command.HELLO,
            seq: 0,
            sessionId: s.id,
            payload: new Uint8Array(),
          },
          o.magic,
          o.version,
        );
        const otherMagic = hello.slice();
        otherMagic[0] ^= 0x01;
        otherMagic[1] ^= 0x01;
        const otherVersion = hello.slice();
        otherVersion[2] = 7;
        for (
          const bytes of [
            otherMagic,
            otherVersion,
            hello.subarray(0, HEADER_SIZE - 1),
            new Uint8Array(),
          ]
        ) {
          await s.sendRaw(bytes);
        }
        return nothingBut(await s.quiet(), [], "no answer") ??
          await s.open(); // and it still works
      }),
  },
  {
    id: "server/wire/inside-hello",
    title: "a HELLO inside a session is a protocol error: GOODBYE",
    row: "HELLO or ALIVE inside a session, unknown command | protocol error, as above",
    level: "strict",
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) =>
        (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1")) ??
          await s.exchange(Command.HELLO, 2, "", Command.GOODBYE, "HELLO inside the session")),
  },
  {
    id: "server/timeout/goodbye",
    title: "a session silent for the server's --timeout gets GOODBYE",
    row:
      "no message for `--timeout` s (default 60; the course used 5 …) | send GOODBYE, close | `0x%08x Session closed`",
    level: "course",
    needsTimeout: true,
    run: (t, trace, o) =>
      withSession(t, trace, o, async (s) => {
        const f = await s.open();
        if (f) return f;
        const timeout = o.timeoutMs!;
        const start = trace.now();
        const got = await s.reply(timeout + 3000);
        const after = trace.now() - start;
        if (got?.command !== Command.GOODBYE) {
          return fail(`GOODBYE within ${timeout + 3000} ms of silence`, describe(got));
        }
        if (after < timeout * 0.8) {
          return fail(`GOODBYE after about ${timeout} ms`, `GOODBYE after ${after.toFixed(0)} ms`);
        }
        return printed(t, [s.line("Session closed")]);
      }),
  },
  {
    id: "server/stdin/eof",
    title: "EOF on stdin: GOODBYE to every session, then exit 0",
    row: "stdin: EOF … | GOODBYE to every session, then exit 0 | `0x%08x Session closed` for each",
    level: "course",
    run: (t, trace, o) =>
      needsProgram(t) ?? withSession(t, trace, o, async (s) => {
        const f = (await s.open()) ??
          (await s.exchange(Command.DATA, 1, "a\n", Command.ALIVE, "DATA 1"));
        if (f) return f;
        await t.program!.closeStdin();
        const got = await s.reply(3000);
        if (got?.command !== Command.GOODBYE) {
          return fail("GOODBYE after EOF on stdin", describe(got));
        }
        const code = await t.program!.waitExit(3000);
        if (code !== 0) {
          return fail(
            "exit 0 after EOF on stdin",
            code === undefined ? "still running after 3 s" : `exit ${code}`,
          );
        }
        return printed(t, [s.line("Session closed")]);
      }),
  },
];
