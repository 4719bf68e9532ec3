/**
 * The PUDP family's client cases: pudp plays the server (a
 * {@link ScriptedServer}), starts the client with `{host}` and `{port}`
 * pointing at it, feeds its stdin and judges every datagram it sends and
 * how it exits.
 *
 * @module
 */

import { firstBytes } from "../io/terminal_text.ts";
import { Command, commandName, type Message } from "../pudp/wire.ts";
import {
  type CaseOptions,
  type CheckCase,
  fail,
  type Outcome,
  pass,
  type TraceSink,
} from "./case_model.ts";
import { Probe } from "./probe.ts";
import { pudpDescriber } from "./trace.ts";
import { type Behaviour, NORMAL, ScriptedServer } from "./scripted_server.ts";
import type { ClientTarget, Spawned } from "./target.ts";

/** What a client run gave. */
export interface ClientRun {
  /** The scripted server, with what the client sent. */
  server: ScriptedServer;
  /** The client. */
  program: Spawned;
  /** Its exit code, undefined if it was still running at the end. */
  code: number | undefined;
  /** When it exited, ms since the case began. */
  exitAt: number | undefined;
}

/** How long a client may take to start and finish an exchange that needs no timer. */
const RUN_MS = 10_000;

const decoderText = (p: Uint8Array) => new TextDecoder().decode(p);

/**
 * Plays `behaviour` against the client: starts it, writes `input` to its
 * stdin (closed after unless `keepOpen`), moves datagrams between the
 * client and the machine until it exits or `untilMs` passes.
 */
export async function driveClient(
  target: ClientTarget,
  trace: TraceSink,
  o: CaseOptions,
  behaviour: Behaviour,
  input: string,
  more: { keepOpen?: boolean; rest?: string; untilMs?: number } = {},
): Promise<ClientRun> {
  const untilMs = more.untilMs ?? RUN_MS;
  let rest = more.rest;
  const server = new ScriptedServer(behaviour, o.magic, o.version);
  const main = new Probe(trace, "127.0.0.1", 0, undefined, pudpDescriber(o));
  const other = behaviour.impostor === "other-address"
    ? new Probe(trace, "127.0.0.1", 0, "from another address", pudpDescriber(o))
    : undefined;
  const program = target.start({ host: "127.0.0.1", port: main.port });
  let clientPort: number | undefined;
  let exitAt: number | undefined;
  try {
    await program.write(input);
    if (!more.keepOpen && rest === undefined) await program.closeStdin();
    const exited = program.waitExit(untilMs).then((c) => {
      if (c !== undefined) exitAt = trace.now();
    });
    let done = false;
    exited.then(() => done = true);
    while (!done && trace.now() < untilMs) {
      const due = server.pollTimeout();
      const wait = Math.max(0, Math.min(50, due === undefined ? 50 : due - trace.now()));
      const got = await main.next(wait);
      if (got) {
        clientPort = got.port;
        server.handleDatagram(got.bytes, got.at);
      }
      server.handleTimeout(trace.now());
      if (
        rest !== undefined && server.helloAnsweredAt !== undefined &&
        trace.now() >= server.helloAnsweredAt + 300
      ) {
        await program.write(rest);
        rest = undefined;
        if (!more.keepOpen) await program.closeStdin();
      }
      for (
        let t = server.pollTransmit();
        t && clientPort !== undefined;
        t = server.pollTransmit()
      ) {
        await (t.via === "other" && other ? other : main).send(t.bytes, clientPort);
      }
    }
    await exited;
    // What it sent as it exited.
    for (const got of await main.during(20)) server.handleDatagram(got.bytes, got.at);
    return { server, program, code: program.code, exitAt };
  } finally {
    main.close();
    other?.close();
  }
}

function describe(m: Message | undefined): string {
  if (!m) return "nothing";
  const head = `${commandName(m.command)} seq=${m.seq}`;
  return m.command === Command.DATA ? `${head} ${firstBytes(m.payload)}` : head;
}

/** A line as the client sent it: the line, or the line with its `\n` (course clients keep it). */
function sameLine(payload: Uint8Array, line: string): boolean {
  const text = decoderText(payload);
  return text === line || text === line + "\n" || text === line + "\r\n";
}

function exited(run: ClientRun, want: "zero" | "nonzero", within: string): Outcome | undefined {
  if (run.code === undefined) {
    return fail(`exit ${want === "zero" ? "0" : "not 0"} ${within}`, "still running");
  }
  if ((run.code === 0) !== (want === "zero")) {
    return fail(`exit ${want === "zero" ? "0" : "not 0"} ${within}`, `exit ${run.code}`);
  }
  return undefined;
}

const LINES = ["alpha", "beta", "", "gamma"];
const INPUT = LINES.map((l) => l + "\n").join("");

type ClientCase = CheckCase<ClientTarget>;

/** A case's data: its id, title, row and level. */
type CaseHead = Omit<ClientCase, "run" | "needsTimeout">;

/** How a case drives the client: the scripted server's changes, stdin and the deadline. */
interface Drive {
  /** Changes to the {@link NORMAL} server. */
  server?: Partial<Behaviour>;
  /** What is written to stdin (default: {@link INPUT}). */
  stdin?: string;
  /** Keep stdin open after it. */
  keepOpen?: boolean;
  /** More stdin, 300 ms after the HELLO reply. */
  rest?: string;
  /** How long the run may take, ms (default {@link RUN_MS}). */
  untilMs?: number;
}

/** Judges a run: a failure, or undefined when it passed. */
type Judge = (run: ClientRun) => Outcome | undefined;

function drivenCase(
  head: CaseHead,
  drive: Drive,
  judge: Judge,
  deadline: (o: CaseOptions) => number | undefined,
  needsTimeout?: true,
): ClientCase {
  const { server, stdin, ...more } = drive;
  return {
    ...head,
    ...(needsTimeout ? { needsTimeout } : {}),
    run: async (t, trace, o) =>
      judge(
        await driveClient(t, trace, o, { ...NORMAL, ...server }, stdin ?? INPUT, {
          ...more,
          untilMs: deadline(o),
        }),
      ) ?? pass(),
  };
}

/** A case that runs the client once against a scripted server and judges the run. */
function clientCase(head: CaseHead, drive: Drive, judge: Judge): ClientCase {
  return drivenCase(head, drive, judge, () => drive.untilMs);
}

/** A {@link clientCase} that needs `--timeout`: its deadline is the timeout + 5 s. */
function timerCase(head: CaseHead, drive: Omit<Drive, "untilMs">, judge: Judge): ClientCase {
  return drivenCase(head, drive, judge, (o) => o.timeoutMs! + 5000, true);
}

/** A silent server, and one line on stdin. */
const SILENT: Drive = { server: { answerHello: false }, stdin: "alpha\n" };

/** The first message of `command` the client sent. */
function sent(run: ClientRun, command: number): Message | undefined {
  return run.server.messages().find((m) => m.command === command);
}

/** Every line sent as one DATA and exit 0. */
const normalEnd: Judge = (run) => {
  const data = run.server.messages().filter((m) => m.command === Command.DATA);
  return exited(run, "zero", "after a normal session") ??
    (data.length === LINES.length
      ? undefined
      : fail(`${LINES.length} DATA`, `${data.length} DATA`));
};

function robustCase(
  id: string,
  impostor: Behaviour["impostor"],
  what: string,
  row: string,
  level: "course" | "strict" = "course",
): ClientCase {
  const title = `a GOODBYE ${what} mid-session is ignored: the client goes on and exits 0`;
  // The impostor comes right after the HELLO reply; the rest of stdin 300 ms later, so
  // the client is still in its session (not Closing) when it arrives.
  return clientCase(
    { id, title, row, level },
    { server: { impostor }, stdin: "alpha\nbeta\n", rest: "\ngamma\n" },
    normalEnd,
  );
}

/** Every PUDP client case, in the order they are listed and reported. */
export const PUDP_CLIENT_CASES: readonly CheckCase<ClientTarget>[] = [
  clientCase(
    {
      id: "client/hello/first",
      title: "the first datagram is a HELLO with sequence number 0",
      row: "start | — | send HELLO, start timer | Hello wait",
      level: "course",
    },
    {},
    (run) => {
      const first = run.server.received[0];
      if (first?.message?.command === Command.HELLO && first.message.seq === 0) return undefined;
      return fail("HELLO seq=0 first", first ? describe(first.message) : "nothing");
    },
  ),
  clientCase(
    {
      id: "client/hello/waits",
      title: "no DATA before the server's HELLO (answered 400 ms late)",
      row:
        "Hello wait | HELLO | stop timer; handle the stdin lines and EOF that arrived meanwhile, in order | Ready",
      level: "course",
    },
    { server: { helloDelayMs: 400 } },
    (run) => {
      const early = run.server.received.find((r) =>
        r.message && r.message.command !== Command.HELLO &&
        (run.server.helloAnsweredAt === undefined || r.at < run.server.helloAnsweredAt)
      );
      return early
        ? fail("only HELLO before the HELLO reply", `${describe(early.message)} before it`)
        : undefined;
    },
  ),
  clientCase(
    {
      id: "client/data/one-per-line",
      title: "each stdin line becomes one DATA, its payload the line (an empty line too)",
      row:
        "Each stdin line becomes one DATA whose payload is the line without its `\\n` (or `\\r\\n`)",
      level: "course",
    },
    {},
    (run) => {
      const data = run.server.messages().filter((m) => m.command === Command.DATA);
      const ok = data.length === LINES.length &&
        data.every((m, i) => sameLine(m.payload, LINES[i]));
      return ok ? undefined : fail(
        LINES.map((l) => `DATA '${l}'`).join(", "),
        data.map((m) => `DATA ${firstBytes(m.payload)}`).join(", ") || "no DATA",
      );
    },
  ),
  clientCase(
    {
      id: "client/data/sequence",
      title: "sequence numbers 0 (HELLO), 1, 2, … and the GOODBYE next",
      row: "Sequence numbers 0 (HELLO), 1, 2, … .",
      level: "course",
    },
    {},
    (run) => {
      const seen: string[] = [];
      let want = 0;
      for (const m of run.server.messages()) {
        const repeat = (m.command === Command.HELLO && m.seq === 0 && want === 1) ||
          (m.command === Command.GOODBYE && m.seq === want - 1);
        if (repeat) continue; // a repeated HELLO or GOODBYE keeps its number
        seen.push(`${commandName(m.command)} ${m.seq}`);
        if (m.seq !== want) return fail(`sequence number ${want}`, seen.join(", "));
        want++;
      }
      return want === LINES.length + 2
        ? undefined
        : fail(`${LINES.length + 2} messages numbered 0…`, seen.join(", "));
    },
  ),
  clientCase(
    {
      id: "client/data/same-session",
      title: "every message carries the session id of the HELLO",
      row: "Random session id (crypto).",
      level: "course",
    },
    {},
    (run) => {
      const all = run.server.messages();
      const other = all.find((m) => m.sessionId !== all[0]?.sessionId);
      return other
        ? fail(
          `session 0x${all[0].sessionId.toString(16)}`,
          `0x${other.sessionId.toString(16)} in ${describe(other)}`,
        )
        : undefined;
    },
  ),
  clientCase(
    {
      id: "client/closing/goodbye",
      title: "at EOF the client sends GOODBYE after its last DATA",
      row: "Ready, Ready Timer | stdin EOF … | send GOODBYE, start timer | Closing",
      level: "course",
    },
    {},
    (run) => {
      const all = run.server.messages();
      const last = all.filter((m) => m.command !== Command.GOODBYE).at(-1);
      const bye = all.find((m) => m.command === Command.GOODBYE);
      if (!bye) return fail("a GOODBYE", "none");
      return last && bye.seq === last.seq + 1
        ? undefined
        : fail(`GOODBYE seq=${(last?.seq ?? 0) + 1}`, describe(bye));
    },
  ),
  clientCase(
    {
      id: "client/closing/exit-zero",
      title: "its GOODBYE answered, the client exits 0 at once",
      row: "Closing | GOODBYE | exit 0 | Closed",
      level: "course",
    },
    {},
    (run) => {
      const bye = run.server.received.find((r) => r.message?.command === Command.GOODBYE);
      const f = exited(run, "zero", "when the GOODBYE is answered");
      if (f) return f;
      if (bye && run.exitAt !== undefined && run.exitAt - bye.at > 2000) {
        return fail(
          "exit within 2 s of the GOODBYE reply",
          `${(run.exitAt - bye.at).toFixed(0)} ms`,
        );
      }
      return undefined;
    },
  ),
  clientCase(
    {
      id: "client/closing/server-goodbye",
      title: "a GOODBYE from the server ends the client, exit not 0, stdin still open",
      row:
        "any | GOODBYE from server (before Closing) | exit 1 `server closed the session` | Closed",
      level: "course",
    },
    { server: { goodbyeAfterData: 1 }, stdin: "alpha\n", keepOpen: true, untilMs: 6000 },
    (run) => {
      const f = exited(run, "nonzero", "after the server's GOODBYE");
      if (f) return f;
      const late = run.exitAt! - (run.server.goodbyeSentAt ?? 0);
      return late > 3000
        ? fail("exit within 3 s of the server's GOODBYE", `${late.toFixed(0)} ms`)
        : undefined;
    },
  ),
  robustCase(
    "client/robust/wrong-session",
    "wrong-session",
    "with another session id",
    "Datagrams from another address, another session id, or that fail to decode are ignored.",
  ),
  robustCase(
    "client/robust/wrong-magic",
    "wrong-magic",
    "with another magic number",
    "Datagrams … that fail to decode are ignored.",
  ),
  robustCase(
    "client/robust/other-address",
    "other-address",
    "from another address",
    "Datagrams from another address … are ignored.",
    "strict",
  ),
  robustCase(
    "client/robust/short",
    "short",
    "cut short (5 bytes), and an empty datagram,",
    "Datagrams … that fail to decode are ignored.",
  ),
  clientCase(
    {
      id: "client/robust/duplicates",
      title: "every reply sent twice: the client still sends each line once and exits 0",
      row: "Ready | ALIVE | ignore | Ready; Closing | ALIVE | count it | Closing",
      level: "course",
    },
    { server: { duplicate: true } },
    normalEnd,
  ),
  timerCase(
    {
      id: "client/hello/no-answer",
      title: "a silent server: no DATA sent, exit not 0 within the timeout",
      row: "Hello wait | timer | send GOODBYE, exit 1 `no answer from HOST:PORT` | Closed",
      level: "course",
    },
    SILENT,
    (run) => {
      const data = sent(run, Command.DATA);
      return exited(run, "nonzero", `within --timeout + 5 s`) ??
        (data ? fail("no DATA without a HELLO reply", describe(data)) : undefined);
    },
  ),
  timerCase(
    {
      id: "client/hello/no-answer-goodbye",
      title: "a silent server: the client says GOODBYE before it gives up",
      row: "Hello wait | timer | send GOODBYE, exit 1 `no answer from HOST:PORT` | Closed",
      level: "strict",
    },
    SILENT,
    (run) =>
      exited(run, "nonzero", `within --timeout + 5 s`) ??
        (sent(run, Command.GOODBYE) ? undefined : fail("a GOODBYE", "none")),
  ),
  timerCase(
    {
      id: "client/timeout/no-alive",
      title: "a server that never sends ALIVE: exit not 0 within the timeout, stdin still open",
      row: "Ready Timer | timer | send GOODBYE, exit 1 `server stopped answering` | Closed",
      level: "course",
    },
    { server: { answerData: false }, stdin: "alpha\n", keepOpen: true },
    (run) => exited(run, "nonzero", "within --timeout + 5 s"),
  ),
  timerCase(
    {
      id: "client/closing/timer",
      title: "its GOODBYE never answered, the client still ends within the timeout",
      row:
        "Closing | timer | exit 0 if every DATA was answered by an ALIVE, else exit 1 … | Closed",
      level: "course",
    },
    { server: { answerGoodbye: false } },
    (run) => {
      const bye = run.server.messages().find((m) => m.command === Command.GOODBYE);
      if (!bye) return fail("a GOODBYE at EOF", "none");
      return run.code === undefined
        ? fail("an exit within --timeout + 5 s", "still running")
        : undefined;
    },
  ),
  timerCase(
    {
      id: "client/closing/timer-exit-zero",
      title: "every DATA answered but the GOODBYE not: exit 0 after the timeout",
      row: "Closing | timer | exit 0 if every DATA was answered by an ALIVE, else exit 1",
      level: "strict",
    },
    { server: { answerGoodbye: false } },
    (run) => exited(run, "zero", "within --timeout + 5 s"),
  ),
  timerCase(
    {
      id: "client/closing/unconfirmed",
      title: "no ALIVE and no GOODBYE: exit not 0 after the timeout",
      row:
        "Closing | timer | … else exit 1 `end not confirmed: N DATA sent, M ALIVE received, no GOODBYE`",
      level: "course",
    },
    { server: { answerData: false, answerGoodbye: false }, stdin: "alpha\n" },
    (run) => exited(run, "nonzero", "within --timeout + 5 s"),
  ),
];
