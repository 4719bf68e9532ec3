/**
 * The ids family's client cases: pudp plays the server (an
 * {@link IdsScriptedServer}), starts the client with `{host}`, `{port}`
 * and `{id}` (a random 4-digit id) filled in, and judges what it sends,
 * what it prints and how it exits.
 *
 * How this works: {@link driveIdsClient} moves bytes between the client and
 * the pure machine (over UDP one socket, plus a second one for a forged
 * reply from another address; over TCP a listener and the connections the
 * client makes) until the client exits or the case's deadline passes; the
 * case's judge then reads the machine's record and the program's run.
 *
 * @module
 */

import {
  type CaseOptions,
  type CheckCase,
  fail,
  type Outcome,
  pass,
  skip,
  type TraceSink,
} from "./case_model.ts";
import { describeIds, randomId } from "./ids_server_cases.ts";
import { IDS_NORMAL, type IdsBehaviour, IdsScriptedServer } from "./ids_scripted_server.ts";
import { Probe } from "./probe.ts";
import { StreamListener, type StreamProbe } from "./stream_probe.ts";
import type { ClientTarget, Spawned } from "./target.ts";

/** What a client run gave. */
export interface IdsClientRun {
  /** The id it was asked to take. */
  id: string;
  /** The scripted server, with what the client sent. */
  server: IdsScriptedServer;
  /** The client. */
  program: Spawned;
  /** Its exit code, undefined if it was still running at the end. */
  code: number | undefined;
  /** When it exited, ms since the case began. */
  exitAt: number | undefined;
}

/** How long a client may take to start and finish an exchange that needs no timer. */
const RUN_MS = 10_000;
/** How long the client's output may take to be read after it exits. */
const OUTPUT_MS = 1000;

/**
 * Plays `behaviour` against the client (over TCP when `o.tcp`): starts it
 * with a fresh id, answers it, until it exits or `untilMs` passes.
 */
export async function driveIdsClient(
  target: ClientTarget,
  trace: TraceSink,
  o: CaseOptions,
  behaviour: IdsBehaviour,
  untilMs: number = RUN_MS,
): Promise<IdsClientRun> {
  const server = new IdsScriptedServer(behaviour);
  const id = randomId();
  const describe = (b: Uint8Array) => describeIds(b);
  const main = o.tcp ? undefined : new Probe(trace, "127.0.0.1", 0, undefined, describe);
  const other = !o.tcp && behaviour.forged
    ? new Probe(trace, "127.0.0.1", 0, "from another address", describe)
    : undefined;
  const listener = o.tcp ? new StreamListener(trace, describeIds) : undefined;
  const port = main?.port ?? listener!.port;
  const program = target.start({ host: "127.0.0.1", port, id });
  let exitAt: number | undefined;
  /** TCP connections by the client's port, with the bytes already given to the machine. */
  const conns = new Map<number, { probe: StreamProbe; fed: number; ended: boolean }>();
  try {
    await program.closeStdin();
    const exited = program.waitExit(untilMs).then((c) => {
      if (c !== undefined) exitAt = trace.now();
    });
    let done = false;
    exited.then(() => done = true);
    while (!done && trace.now() < untilMs) {
      const due = server.pollTimeout();
      const wait = Math.max(0, Math.min(25, due === undefined ? 25 : due - trace.now()));
      if (main) {
        const got = await main.next(wait);
        if (got) {
          server.handleDatagram(got.bytes, { hostname: got.hostname, port: got.port }, got.at);
        }
      } else {
        const c = await listener!.accept(wait);
        if (c) conns.set(c.port, { probe: c, fed: 0, ended: false });
        for (const [p, s] of conns) {
          const from = { hostname: "127.0.0.1", port: p };
          if (s.probe.receivedLength > s.fed) {
            server.handleStreamBytes(s.probe.received.slice(s.fed), from, trace.now());
            s.fed = s.probe.receivedLength;
          }
          if (s.probe.end !== undefined && !s.ended) {
            s.ended = true;
            server.handleStreamEnd(from, trace.now());
          }
        }
      }
      server.handleTimeout(trace.now());
      for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
        if (main) {
          await (t.via === "other" && other ? other : main).send(t.bytes, t.to.port, t.to.hostname);
          continue;
        }
        const s = conns.get(t.to.port);
        if (!s) continue;
        if (t.bytes.length > 0) await s.probe.write(t.bytes);
        if (t.close) s.probe.close();
      }
    }
    await exited;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.all([program.stdout.done, program.stderr.done]),
      new Promise((r) => timer = setTimeout(r, OUTPUT_MS)),
    ]);
    clearTimeout(timer);
    return { id, server, program, code: program.code, exitAt };
  } finally {
    main?.close();
    other?.close();
    listener?.close();
  }
}

/** A failure unless the client exited as `want` says. */
function exited(run: IdsClientRun, want: "zero" | "nonzero", why: string): Outcome | undefined {
  const expected = `exit ${want === "zero" ? "0" : "not 0"} ${why}`;
  if (run.code === undefined) return fail(expected, "still running");
  return (run.code === 0) === (want === "zero") ? undefined : fail(expected, `exit ${run.code}`);
}

/** A failure unless the client printed `line` on stdout (as a line of its own). */
function printed(run: IdsClientRun, line: string): Outcome | undefined {
  const lines = run.program.stdout.text.split(/\r?\n/).map((l) => l.trim());
  return lines.includes(line) ? undefined : fail(
    `the line '${line}' on stdout`,
    `stdout: ${
      run.program.stdout.text === ""
        ? "(nothing)"
        : describeIds(new TextEncoder().encode(run.program.stdout.text))
    }`,
  );
}

/** The requests the client sent, as the trace shows them. */
function requests(run: IdsClientRun): string {
  return run.server.requests.map((r) => describeIds(r.bytes)).join(", ") || "no request";
}

type ClientCase = CheckCase<ClientTarget>;

/** A case's data: its id, title, row and level. */
type CaseHead = Omit<ClientCase, "run" | "needsTimeout">;

/** Which transports a case runs over. */
type Only = "udp" | "tcp" | undefined;

/**
 * A case that runs the client once against `behaviour` changes to a
 * normal server and judges the run; `timer` cases need `--timeout` and
 * run until it + 5 s.
 */
function clientCase(
  head: CaseHead,
  behaviour: Partial<IdsBehaviour>,
  judge: (run: IdsClientRun, o: CaseOptions) => Outcome | undefined,
  more: { only?: Only; timer?: true } = {},
): ClientCase {
  return {
    ...head,
    ...(more.timer ? { needsTimeout: true } : {}),
    run: async (t, trace, o) => {
      if (more.only === "udp" && o.tcp) return skip("UDP only");
      if (more.only === "tcp" && !o.tcp) return skip("TCP only");
      const until = more.timer ? o.timeoutMs! + 5000 : RUN_MS;
      const run = await driveIdsClient(t, trace, o, { ...IDS_NORMAL, ...behaviour }, until);
      return judge(run, o) ?? pass();
    },
  };
}

/** The first request's text is `HELLO <id>` (a line ending allowed). */
function firstRequest(run: IdsClientRun): Outcome | undefined {
  const first = run.server.requests[0];
  return first?.text === `HELLO ${run.id}`
    ? undefined
    : fail(`HELLO ${run.id}`, first ? describeIds(first.bytes) : "no request");
}

/** Every ids client case, in the order they are listed and reported. */
export const IDS_CLIENT_CASES: readonly CheckCase<ClientTarget>[] = [
  clientCase(
    {
      id: "client/request/format",
      title: "the client asks `HELLO <id>` with the id it was given",
      row: "A client asks `HELLO <id>`",
      level: "course",
    },
    {},
    (run) => firstRequest(run),
  ),
  clientCase(
    {
      id: "client/request/exact",
      title: "the request is exactly `HELLO <id>`: no line ending over UDP, one `\\n` over TCP",
      row: "pudp's own client ends its TCP request with `\\n`; UDP datagrams carry no line ending",
      level: "strict",
    },
    {},
    (run, o) => {
      const first = run.server.requests[0];
      const want = `HELLO ${run.id}${o.tcp ? "\n" : ""}`;
      return first && new TextDecoder().decode(first.bytes) === want ? undefined : fail(
        describeIds(new TextEncoder().encode(want)),
        first ? describeIds(first.bytes) : "no request",
      );
    },
  ),
  clientCase(
    {
      id: "client/reply/ok",
      title: "an OK is printed on stdout and the client exits 0",
      row: "The client prints the reply on stdout and exits 0 on OK",
      level: "course",
    },
    {},
    (run) => firstRequest(run) ?? exited(run, "zero", "after OK") ?? printedOk(run),
  ),
  clientCase(
    {
      id: "client/reply/reset",
      title: "a RESET is printed on stdout and the client exits not 0",
      row: "The client prints the reply on stdout and exits … 1 on RESET",
      level: "course",
    },
    { answer: "reset" },
    (run) => exited(run, "nonzero", "after RESET") ?? printed(run, `RESET ${run.id}`),
  ),
  clientCase(
    {
      id: "client/reply/error",
      title: "an ERROR ends the client, exit not 0 (no endless asking again)",
      row: "The client … exits 1 on RESET, on `ERROR …`",
      level: "strict",
    },
    { answer: "error" },
    (run) =>
      exited(run, "nonzero", "after ERROR") ??
        (run.server.requests.length <= 4
          ? undefined
          : fail("at most 4 requests", `${run.server.requests.length} requests`)),
  ),
  clientCase(
    {
      id: "client/reply/silent",
      title: "a server that never answers: the client exits not 0 within its --timeout",
      row:
        "exits 1 … when no reply comes within `--timeout` (`no answer from HOST:PORT` on stderr)",
      level: "course",
    },
    { answer: "silent" },
    (run) => exited(run, "nonzero", "within --timeout + 5 s"),
    { timer: true },
  ),
  clientCase(
    {
      id: "client/reply/repeat-reset",
      title: "the first OK lost, a repeat answered RESET: the client never exits 0",
      row: "The client still exits 1 (it cannot tell whether someone else took the id)",
      level: "course",
    },
    { dropFirst: true },
    (run) => exited(run, "nonzero", "when the only reply is a RESET"),
    { only: "udp", timer: true },
  ),
  clientCase(
    {
      id: "client/reply/lost-ok",
      title: "the first OK lost: the client asks again, and says the RESET may be for its own id",
      row: "a RESET that answers a repeated request says that the id may be its own (the OK lost)",
      level: "strict",
    },
    { dropFirst: true },
    (run) => {
      if (run.server.requests.length < 2) {
        return fail("the request sent again within --timeout", requests(run));
      }
      const said = run.program.stdout.text + run.program.stderr.text;
      return exited(run, "nonzero", "after the RESET") ?? printed(run, `RESET ${run.id}`) ??
        (/\bown\b/i.test(said)
          ? undefined
          : fail("a line saying the id may be the client's own", said.trim() || "(nothing)"));
    },
    { only: "udp", timer: true },
  ),
  clientCase(
    {
      id: "client/robust/foreign",
      title: "an OK from another address is not the answer: the server's RESET is",
      row: "Over UDP the client takes replies only from the server's address",
      level: "strict",
    },
    { forged: true, answer: "reset", replyDelayMs: 200 },
    (run) => exited(run, "nonzero", "after the server's RESET (the OK was forged)"),
    { only: "udp" },
  ),
  clientCase(
    {
      id: "client/robust/garbage",
      title: "a reply that is not OK, RESET or ERROR is no OK: the client exits not 0",
      row: "A client's exit 0 means the peer confirmed what the user asked for",
      level: "strict",
    },
    { answer: "garbage" },
    (run) => exited(run, "nonzero", "after a garbage reply (within --timeout + 5 s)"),
    { timer: true },
  ),
  clientCase(
    {
      id: "client/tcp/closed",
      title: "over TCP a server that closes without answering: exit not 0",
      row: "Over TCP the server may close without answering: exit 1",
      level: "course",
    },
    { answer: "close" },
    (run) => exited(run, "nonzero", "when the server closed without a reply"),
    { only: "tcp" },
  ),
  clientCase(
    {
      id: "client/tcp/no-newline",
      title: "over TCP an OK without a line ending, then the close, is taken: exit 0",
      row: "Course servers send their replies with no line ending",
      level: "course",
    },
    { newline: false },
    (run) => exited(run, "zero", "after an OK with no line ending") ?? printedOk(run),
    { only: "tcp" },
  ),
];

/** The OK line the client should have printed. */
function printedOk(run: IdsClientRun): Outcome | undefined {
  const r = run.server.requests[0];
  if (!r) return fail(`HELLO ${run.id}`, "no request");
  return printed(run, `OK ${run.id} ${r.from.hostname} ${r.from.port}`);
}
