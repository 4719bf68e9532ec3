/**
 * The crowd benchmark: several `pudp client` processes sending at once into
 * one `pudp server`, directly or through one `pudp impair` relay, and how
 * evenly they are served. Every client's lines carry its tag (`c7 0000042
 * xxx…`), so the server's output says which client each printed line came
 * from; with `--json` the server stamps every DATA with its time, which gives
 * each client's send span (first to last DATA printed). Through the relay,
 * its `--log` says which DATA it dropped (rightly never printed: PUDP does
 * not retransmit), and every other missing line is lost beyond the relay.
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import {
  accountLines,
  DROPPED,
  fileLines,
  lastLine,
  type LineAccount,
  mergeFates,
  readRelayLog,
  sumAccounts,
} from "./faults.ts";
import { BenchProcess, sleep } from "./processes.ts";
import { inputLines, settle } from "./transfer.ts";

/** One client of a crowd; missing lines accounted for as in {@link LineAccount}. */
export interface CrowdClient extends LineAccount {
  client: number;
  /** Exit code; null when it had not exited within the time limit (then it was killed). */
  code: number | null;
  /** The client's last stderr line when it did not exit 0. */
  clientError?: string;
  /** Seconds from the moment every client got its input to this client's exit. */
  finishSeconds: number;
  /** Distinct input lines of this client that the server printed in their place. */
  printed: number;
  /** The client's PUDP sessions, as the server printed its lines (normally one). */
  sessions: string[];
  /** With --json: the server's time of this client's first and last DATA printed, and the span. */
  firstData?: string;
  lastData?: string;
  spanSeconds?: number;
}

/** A crowd measured; its missing lines accounted for as in {@link LineAccount}, all clients together. */
export interface CrowdRun extends LineAccount {
  clients: number;
  linesPerClient: number;
  /** The relay's --loss both ways, or null without a relay. */
  loss: number | null;
  /** The server's output format: "json" gives the send spans. */
  output: "text" | "json";
  /** From the moment every client got its input to the last exit. */
  seconds: number;
  /** DATA lines printed per second, all clients together. */
  rate: number;
  /**
   * DATA the relay dropped (every copy) in sessions with no line printed, so
   * of no known client (their missing lines count as lost beyond the relay).
   */
  unattributedDataDropped?: number;
  /** Clients that did not exit 0. */
  failedClients: number;
  finish: Spread;
  /** The send spans (with --json output only). */
  span?: Spread;
  perClient: CrowdClient[];
  impair?: string;
  server: string;
}

/** The fastest, median and slowest of a figure over the clients, and two ratios. */
export interface Spread {
  fastest: number;
  median: number;
  slowest: number;
  slowestOverFastest: number;
  slowestOverMedian: number;
}

/**
 * Starts `clients` `pudp client` processes (into a relay with `loss` both
 * ways when given), waits until the server has all their sessions, then
 * gives each its own tagged input at the same moment.
 */
export async function runCrowd(
  clients: number,
  linesPerClient: number,
  options: { loss?: number; json: boolean; outPath: string; seed?: number },
): Promise<CrowdRun> {
  const { outPath, json } = options;
  const logPath = `${outPath}.relay.jsonl`;
  await settle();
  const server = new BenchProcess(
    [
      ...sourceCommand(),
      "server",
      ...(json ? ["--json"] : []),
      ...["--host", "127.0.0.1", "--no-stdin", "0"],
    ],
    { stdoutPath: outPath },
  );
  let relay: BenchProcess | undefined;
  const procs: BenchProcess[] = [];
  try {
    let port = await server.port();
    if (options.loss !== undefined) {
      relay = new BenchProcess([
        ...sourceCommand(),
        "impair",
        ...["--host", "127.0.0.1", "--loss", String(options.loss), "--direction", "both"],
        ...["--log", logPath, "--seed", String(options.seed ?? 1)],
        ...["0", "127.0.0.1", String(port)],
      ]);
      port = await relay.port();
    }
    for (let i = 0; i < clients; i++) {
      procs.push(
        new BenchProcess([...sourceCommand(), "client", "127.0.0.1", String(port)], {
          stdinPath: "piped",
        }),
      );
      if (i % 10 === 9) await sleep(200); // no fork storm
    }
    const marker = json ? '"event":"created"' : "Session created";
    const deadline = performance.now() + 60_000 + clients * 2_000;
    while (countOf(await Deno.readTextFile(outPath), marker) < clients) {
      if (performance.now() > deadline) throw new Error(`not all ${clients} sessions opened`);
      await sleep(100);
    }
    const encoder = new TextEncoder();
    const inputs = procs.map((_, i) =>
      encoder.encode(inputLines(linesPerClient, `c${i}`).join("\n") + "\n")
    );
    const start = performance.now();
    const finishes = procs.map(async (p, i) => {
      const w = p.child.stdin.getWriter();
      await w.write(inputs[i]).catch(() => {});
      await w.close().catch(() => {});
      let code: number | null = null;
      try {
        code = (await p.exit(900_000)).code;
      } catch {
        // killed at the time limit: code null
      }
      const finishSeconds = (performance.now() - start) / 1000;
      return code === 0
        ? { code, finishSeconds }
        : { code, finishSeconds, clientError: p.stderr.trim().split("\n").at(-1) ?? "" };
    });
    const ends = await Promise.all(finishes);
    const seconds = (performance.now() - start) / 1000;
    relay?.kill("SIGTERM");
    await relay?.exit(30_000);
    server.kill("SIGTERM");
    await server.exit(30_000);
    const tally = await tallyOutput(outPath, clients, linesPerClient, json);
    const fates = relay ? await readRelayLog(logPath) : undefined;
    const perClient: CrowdClient[] = ends.map((e, i) => {
      const t = tally[i];
      const own = fates &&
        mergeFates([...t.sessions].flatMap((s) => fates.get(s) ?? []), linesPerClient + 1);
      const c: CrowdClient = {
        client: i,
        ...e,
        printed: t.printed,
        sessions: [...t.sessions],
        ...accountLines(t.seen, own),
      };
      if (json && t.first !== Infinity) {
        c.firstData = new Date(t.first).toISOString();
        c.lastData = new Date(t.last).toISOString();
        c.spanSeconds = (t.last - t.first) / 1000;
      }
      return c;
    });
    const printed = perClient.reduce((n, c) => n + c.printed, 0);
    let unattributedDataDropped: number | undefined;
    if (fates) {
      const known = new Set(perClient.flatMap((c) => c.sessions));
      unattributedDataDropped = 0;
      for (const [session, f] of fates) {
        if (known.has(session)) continue;
        for (let seq = 1; seq <= Math.min(linesPerClient, f.length - 1); seq++) {
          if (f[seq] === DROPPED) unattributedDataDropped++;
        }
      }
    }
    const spans = perClient.map((c) => c.spanSeconds).filter((s) => s !== undefined);
    return {
      clients,
      linesPerClient,
      loss: options.loss ?? null,
      output: json ? "json" : "text",
      seconds,
      rate: printed / seconds,
      ...sumAccounts(perClient),
      unattributedDataDropped,
      failedClients: perClient.filter((c) => c.code !== 0).length,
      finish: spread(perClient.map((c) => c.finishSeconds)),
      span: json && spans.length === clients ? spread(spans) : undefined,
      perClient,
      impair: relay ? lastLine(relay.stderr, "pudp impair:") : undefined,
      server: lastLine(server.stderr, "pudp server:"),
    };
  } finally {
    for (const p of procs) p.kill("SIGKILL");
    relay?.kill("SIGKILL");
    server.kill("SIGKILL");
    await Deno.remove(logPath).catch(() => {});
  }
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function spread(xs: number[]): Spread {
  const fastest = Math.min(...xs);
  const slowest = Math.max(...xs);
  const mid = median(xs);
  return {
    fastest,
    median: mid,
    slowest,
    slowestOverFastest: slowest / fastest,
    slowestOverMedian: slowest / mid,
  };
}

interface Tally {
  printed: number;
  /** 1 for each input line printed. */
  seen: Uint8Array;
  /** The sessions of the lines printed (--json: the session field; text: the id before the seq). */
  sessions: Set<string>;
  /** Epoch ms of the first and last DATA printed (--json only). */
  first: number;
  last: number;
}

/**
 * Counts each client's input lines in the server's output: a line counts
 * once, when its payload is exactly the client's line and its sequence
 * number is the line's (line k travels as DATA k + 1).
 */
async function tallyOutput(
  outPath: string,
  clients: number,
  linesPerClient: number,
  json: boolean,
): Promise<Tally[]> {
  const tally: Tally[] = Array.from({ length: clients }, () => ({
    printed: 0,
    seen: new Uint8Array(linesPerClient),
    sessions: new Set<string>(),
    first: Infinity,
    last: -Infinity,
  }));
  const pad = "x".repeat(60);
  for await (const line of fileLines(outPath)) {
    let seq: number;
    let payload: string;
    let session: string;
    let time = NaN;
    if (json) {
      if (!line.includes('"event":"data"')) continue;
      const e = JSON.parse(line) as { seq: number; text?: string; time: string; session: string };
      if (e.text === undefined) continue;
      seq = e.seq;
      payload = e.text;
      session = e.session;
      time = Date.parse(e.time);
    } else {
      const m = line.match(/^(0x[0-9a-f]{8}) \[(\d+)\] (.*)$/);
      if (!m) continue;
      session = m[1];
      seq = Number(m[2]);
      payload = m[3];
    }
    const tag = payload.match(/^c(\d+) (\d{7}) /);
    if (!tag) continue;
    const client = Number(tag[1]);
    const index = Number(tag[2]);
    if (client >= clients || index >= linesPerClient || seq !== index + 1) continue;
    if (payload !== tag[0] + pad.slice(tag[0].length)) continue;
    const t = tally[client];
    t.sessions.add(session);
    if (!t.seen[index]) {
      t.seen[index] = 1;
      t.printed++;
    }
    if (time < t.first) t.first = time;
    if (time > t.last) t.last = time;
  }
  return tally;
}

function countOf(text: string, marker: string): number {
  let n = 0;
  for (let i = text.indexOf(marker); i >= 0; i = text.indexOf(marker, i + 1)) n++;
  return n;
}
