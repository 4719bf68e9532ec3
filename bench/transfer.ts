/**
 * The transfer benchmarks: `pudp client` streaming a file to `pudp server`
 * (stdout to a file), to the bare reflector (the baseline), and from many
 * clients at once (fan-in). Every figure comes with what was lost, counted
 * from the server's own output against the input.
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import { BenchProcess, sleep } from "./processes.ts";

const REFLECTOR = new URL("./reflector.ts", import.meta.url).pathname;
const WINDOWED = new URL("./windowed_sender.ts", import.meta.url).pathname;

/** DATA in flight of the windowed sender (bench/windowed_sender.ts). */
export const WINDOWED_WINDOW = 64;

/** Writes `count` lines of about 60 bytes to `path`; `tag` makes them unique per client. */
export async function writeInput(path: string, count: number, tag = "line"): Promise<void> {
  await Deno.writeTextFile(path, inputLines(count, tag).join("\n") + "\n");
}

/** The lines of an input file made by {@link writeInput}, without newlines. */
export function inputLines(count: number, tag = "line"): string[] {
  const pad = "x".repeat(60);
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const head = `${tag} ${String(i).padStart(7, "0")} `;
    lines.push(head + pad.slice(head.length));
  }
  return lines;
}

/** Pause before each timed run, after the disk writes are flushed. */
const SETTLE_MS = 500;

/**
 * Lets the machine settle before a timed run: the input just written and the
 * previous run's output (tens of MB of dirty pages each) are written back
 * now, not by the kernel's flusher in the middle of the next run, where it
 * would take CPU from whichever receiver happens to be measured then.
 */
export async function settle(): Promise<void> {
  try {
    await new Deno.Command("sync", { stdout: "null", stderr: "null" }).output();
  } catch {
    // no sync(1) here: the pause alone
  }
  await sleep(SETTLE_MS);
}

/** One transfer measured. */
export interface TransferRun {
  /** Wall seconds of the client process, from start to exit. */
  seconds: number;
  /** Lines per second (input lines / seconds). */
  rate: number;
  /** Input lines not printed by the server (undefined for the reflector, which prints nothing). */
  lost: number | undefined;
  /** CPU seconds of the client and of the receiving process. */
  clientCpu: number | undefined;
  receiverCpu: number | undefined;
  /** The windowed sender's own time from its HELLO to its GOODBYE's answer (windowed runs). */
  senderSeconds?: number;
}

/**
 * What runs the transfer: `pudp client` into `pudp server` ("pudp") or into
 * the bare reflector ("reflector"), or the minimal windowed sender
 * (bench/windowed_sender.ts) into the bare reflector ("windowed").
 */
export type Receiver = "pudp" | "reflector" | "windowed";

/**
 * Streams the file `input` (of `lines` lines) with `pudp client` (or the
 * windowed sender) to a fresh receiver; `clientArgs` are extra client flags
 * (such as `--window 0`), `serverArgs` extra `pudp server` flags (such as
 * `--udp-io deno`).
 */
export async function runTransfer(
  receiver: Receiver,
  input: string,
  lines: number,
  outPath: string,
  clientArgs: string[] = [],
  serverArgs: string[] = [],
): Promise<TransferRun> {
  await settle();
  const receiverArgv = receiver === "pudp"
    ? [...sourceCommand(), "server", "--host", "127.0.0.1", "--no-stdin", ...serverArgs, "0"]
    : [Deno.execPath(), "run", "--quiet", "--allow-net", REFLECTOR];
  const server = new BenchProcess(receiverArgv, {
    stdoutPath: receiver === "pudp" ? outPath : undefined,
  });
  try {
    const port = await server.port();
    const client = receiver === "windowed"
      ? new BenchProcess(
        [Deno.execPath(), "run", "--quiet", "--allow-net", "--allow-read", WINDOWED]
          .concat(["127.0.0.1", String(port), input, String(WINDOWED_WINDOW)]),
        { stdoutPath: outPath },
      )
      : new BenchProcess(
        [...sourceCommand(), "client", ...clientArgs, "127.0.0.1", String(port)],
        { stdinPath: input },
      );
    client.sampleCpu();
    const { code, seconds } = await client.exit(600_000);
    if (code !== 0) throw new Error(`client exited ${code}: ${client.stderr.trim()}`);
    const receiverCpu = server.cpuSeconds;
    server.kill("SIGTERM");
    await server.exit(30_000);
    const lost = receiver === "pudp" ? lines - (await countDelivered(outPath, [lines])) : undefined;
    const run: TransferRun = {
      seconds,
      rate: lines / seconds,
      lost,
      clientCpu: client.cpuSeconds,
      receiverCpu,
    };
    if (receiver === "windowed") {
      const elapsed = (await Deno.readTextFile(outPath)).match(/elapsed (\S+)/)?.[1];
      if (elapsed !== undefined) run.senderSeconds = Number(elapsed);
    }
    return run;
  } finally {
    server.kill("SIGKILL");
  }
}

/**
 * Counts the payload lines in a server output file that match their input
 * line. `perSession[i]` is the line count of the i-th session's input, and
 * its lines are `inputLines(n, tagOf(i))`; a session's DATA with sequence
 * number k carries input line k − 1.
 */
export async function countDelivered(
  outPath: string,
  perSession: number[],
  tagOf: (session: number) => string = () => "line",
): Promise<number> {
  const text = await Deno.readTextFile(outPath);
  const sessions = new Map<string, { index: number; expected: string[] }>();
  let delivered = 0;
  for (const line of text.split("\n")) {
    const m = line.match(/^(0x[0-9a-f]{8}) \[(\d+)\] (.*)$/);
    if (!m) continue;
    const [, id, seqText, payload] = m;
    if (payload === "Session created") {
      const index = sessions.size;
      sessions.set(id, { index, expected: inputLines(perSession[index] ?? 0, tagOf(index)) });
      continue;
    }
    const session = sessions.get(id);
    if (session && session.expected[Number(seqText) - 1] === payload) delivered++;
  }
  return delivered;
}

/** Fan-in measured. */
export interface FanInRun {
  clients: number;
  linesPerClient: number;
  /** From the moment the first client got its input to the last client's exit. */
  seconds: number;
  /** DATA messages per second, all clients together. */
  rate: number;
  lost: number;
  /** Clients that did not exit 0. */
  failedClients: number;
}

/**
 * Starts `clients` real `pudp client` processes, waits until each has its
 * session, then gives all of them their input at once.
 */
export async function runFanIn(
  clients: number,
  linesPerClient: number,
  outPath: string,
): Promise<FanInRun> {
  await settle();
  const server = new BenchProcess(
    [...sourceCommand(), "server", "--host", "127.0.0.1", "--no-stdin", "0"],
    { stdoutPath: outPath },
  );
  const procs: BenchProcess[] = [];
  try {
    const port = await server.port();
    for (let i = 0; i < clients; i++) {
      procs.push(
        new BenchProcess([...sourceCommand(), "client", "127.0.0.1", String(port)], {
          stdinPath: "piped",
        }),
      );
      if (i % 20 === 19) await sleep(200); // no fork storm
    }
    const deadline = performance.now() + 120_000;
    while (countCreated(await Deno.readTextFile(outPath)) < clients) {
      if (performance.now() > deadline) throw new Error("clients did not all start within 120 s");
      await sleep(100);
    }
    // Every client sends the same lines; delivery is checked per session.
    const input = new TextEncoder().encode(inputLines(linesPerClient).join("\n") + "\n");
    const start = performance.now();
    await Promise.all(procs.map(async (p) => {
      const w = p.child.stdin.getWriter();
      await w.write(input);
      await w.close();
    }));
    const codes = await Promise.all(procs.map((p) => p.exit(600_000)));
    const seconds = (performance.now() - start) / 1000;
    server.kill("SIGTERM");
    await server.exit(30_000);
    const total = clients * linesPerClient;
    const delivered = await countDelivered(outPath, Array(clients).fill(linesPerClient));
    return {
      clients,
      linesPerClient,
      seconds,
      rate: total / seconds,
      lost: total - delivered,
      failedClients: codes.filter((c) => c.code !== 0).length,
    };
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    server.kill("SIGKILL");
  }
}

function countCreated(text: string): number {
  let n = 0;
  for (
    let i = text.indexOf("Session created");
    i >= 0;
    i = text.indexOf("Session created", i + 1)
  ) {
    n++;
  }
  return n;
}
