/**
 * `deno task bench`: the pudp benchmark suite. A benchmark, not a test: it
 * prints a table and writes bench/results.json (with every option at its
 * default; otherwise .tmp/bench-results.json, unless --out names a file);
 * nothing here passes or fails on a number.
 *
 * - transfer: N lines (about 60 bytes each) from `pudp client` to `pudp
 *   server` with stdout to a file, and the same client driving the bare
 *   reflector (the baseline, bench/reflector.ts) in the same run, in
 *   rounds of one run each back to back; medians reported, and the server's
 *   rate as a ratio of the reflector's: the median of the rounds' ratios;
 * - unpaced: the same transfer with `--window 0` (the classic client);
 * - fan-in: many concurrent `pudp client` processes;
 * - sessions: sessions opened and closed per second, and the server's
 *   resident memory per session held open.
 *
 * Usage: deno task bench [--lines N] [--runs N] [--clients N]
 *        [--client-lines N] [--sessions N] [--held N] [--only a,b] [--out FILE]
 *
 * @module
 */

import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { parseByteSize } from "../lib/cli/flags.ts";
import { sourceCommand } from "../lib/cli/source_command.ts";
import { ensureIperf3, runBlastBench } from "./blast.ts";
import { BenchProcess, sleep } from "./processes.ts";
import { SessionLoad } from "./session_load.ts";
import { ensureSocat, type FrameRun, type PipeRun, runFrame, runPipe } from "./streams.ts";
import {
  type FanInRun,
  type Receiver,
  runFanIn,
  runTransfer,
  type TransferRun,
  writeInput,
} from "./transfer.ts";

/** Lines of the untimed warm-up transfer to each receiver. */
const WARM_UP_LINES = 50_000;

const SCENARIOS = ["transfer", "unpaced", "fanin", "sessions", "pipe", "frame", "blast"] as const;
type Scenario = typeof SCENARIOS[number];

const USAGE = "usage: deno task bench [--lines N] [--runs N] [--clients N] [--client-lines N] " +
  "[--sessions N] [--held N] [--pipe-bytes BYTES] [--frame-seconds S] " +
  "[--blast-bytes BYTES] [--blast-udp-bytes BYTES] " +
  "[--only transfer,unpaced,fanin,sessions,pipe,frame,blast] [--out FILE]";

/** The file a run with every default writes (tracked: the README's figures come from it). */
const TRACKED_RESULTS = new URL("./results.json", import.meta.url).pathname;
/** Where a run with other options writes, unless --out says (untracked: .tmp is ignored). */
const CUSTOM_RESULTS = new URL("../.tmp/bench-results.json", import.meta.url).pathname;

const OPTIONS = {
  lines: { type: "string", default: "1000000" },
  runs: { type: "string", default: "3" },
  clients: { type: "string", default: "200" },
  "client-lines": { type: "string", default: "1000" },
  sessions: { type: "string", default: "100000" },
  held: { type: "string", default: "10000" },
  "pipe-bytes": { type: "string", default: "2GiB" },
  "frame-seconds": { type: "string", default: "3" },
  "blast-bytes": { type: "string", default: "4G" },
  "blast-udp-bytes": { type: "string", default: "1G" },
  only: { type: "string", default: SCENARIOS.join(",") },
  out: { type: "string" },
  help: { type: "boolean", default: false },
} as const;

function parseOptions() {
  try {
    return parseArgs({
      options: OPTIONS,
      strict: true,
    }).values;
  } catch (e) {
    console.error(`bench: ${e instanceof Error ? e.message : e} (see --help)`);
    Deno.exit(2);
  }
}

const values = parseOptions();
if (values.help) {
  console.log(USAGE);
  Deno.exit(0);
}
/** Whether any option differs from its default (then the tracked results stay as they are). */
const custom = Object.entries(OPTIONS).some(([name, o]) =>
  "default" in o && name !== "help" && values[name as keyof typeof values] !== o.default
);
const outFile = values.out ?? (custom ? CUSTOM_RESULTS : TRACKED_RESULTS);

function count(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    console.error(`bench: --${name} must be a positive integer, not ${text}`);
    Deno.exit(2);
  }
  return n;
}

const lines = count("lines", values.lines);
const runs = count("runs", values.runs);
const clients = count("clients", values.clients);
const clientLines = count("client-lines", values["client-lines"]);
const sessions = count("sessions", values.sessions);
const held = count("held", values.held);
const pipeBytes = parseByteSize(values["pipe-bytes"]) ?? NaN;
if (!(pipeBytes >= 1)) {
  console.error(`bench: --pipe-bytes must be a size such as 2GiB, not ${values["pipe-bytes"]}`);
  Deno.exit(2);
}
const frameSeconds = Number(values["frame-seconds"]);
if (!(frameSeconds > 0)) {
  console.error(`bench: --frame-seconds must be a positive number, not ${values["frame-seconds"]}`);
  Deno.exit(2);
}
const blastBytes = parseByteSize(values["blast-bytes"]) ?? NaN;
const blastUdpBytes = parseByteSize(values["blast-udp-bytes"]) ?? NaN;
if (!(blastBytes >= 1 && blastUdpBytes >= 1)) {
  console.error("bench: --blast-bytes and --blast-udp-bytes must be sizes such as 4G");
  Deno.exit(2);
}
const only = new Set(values.only.split(",")) as Set<string>;
for (const s of only) {
  if (!SCENARIOS.includes(s as Scenario)) {
    console.error(`bench: unknown scenario ${s} (known: ${SCENARIOS.join(", ")})`);
    Deno.exit(2);
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const fmt = (n: number, digits = 0) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function machine() {
  let cpu = "unknown CPU";
  try {
    cpu = Deno.readTextFileSync("/proc/cpuinfo").match(/model name\s*:\s*(.*)/)?.[1] ?? cpu;
  } catch {
    // not Linux
  }
  return {
    date: new Date().toISOString(),
    os: `${Deno.build.os} ${Deno.build.arch}`,
    cpu,
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
  };
}

const tmp = await Deno.makeTempDir({ prefix: "pudp-bench-" });
const results: Record<string, unknown> = { machine: machine() };
const rows: string[][] = [];
const log = (s: string) => console.error(`bench: ${s}`);

try {
  const m = results.machine as ReturnType<typeof machine>;
  console.log(
    `pudp bench, ${m.date.slice(0, 10)}: ${m.os}, ${m.cores} cores (${m.cpu}), Deno ${m.deno}`,
  );

  if (only.has("transfer") || only.has("unpaced")) {
    const input = `${tmp}/input.txt`;
    await writeInput(input, lines);
    const out = `${tmp}/out.txt`;
    if (only.has("transfer")) {
      const by: Record<Receiver, TransferRun[]> = { pudp: [], reflector: [] };
      // A short untimed round first: the code caches of the client, the
      // server and the reflector are warm before anything is measured.
      const warmLines = Math.min(lines, WARM_UP_LINES);
      const warmInput = `${tmp}/warm-up.txt`;
      await writeInput(warmInput, warmLines);
      for (const receiver of ["reflector", "pudp"] as const) {
        await runTransfer(receiver, warmInput, warmLines, out);
      }
      // Each round runs the two back to back, alternating which goes first,
      // and yields one ratio: the load of a shared machine drifts by more
      // than the difference measured, so a round's two runs see about the
      // same machine, while runs far apart in time do not.
      const ratios: number[] = [];
      for (let r = 0; r < runs; r++) {
        const order: Receiver[] = r % 2 ? ["pudp", "reflector"] : ["reflector", "pudp"];
        for (const receiver of order) {
          const run = await runTransfer(receiver, input, lines, out);
          log(`${receiver} run ${r + 1}: ${run.seconds.toFixed(2)} s, lost ${run.lost ?? "-"}`);
          by[receiver].push(run);
        }
        ratios.push(by.pudp[r].rate / by.reflector[r].rate);
        log(`round ${r + 1}: pudp at ${ratios[r].toFixed(3)}x the reflector's rate`);
      }
      const summary = (rs: TransferRun[]) => ({
        runs: rs,
        medianSeconds: median(rs.map((r) => r.seconds)),
        medianRate: median(rs.map((r) => r.rate)),
      });
      const base = summary(by.reflector);
      const pudp = summary(by.pudp);
      const ratio = median(ratios);
      results.transfer = { lines, reflector: base, pudp, ratios, ratio };
      // CPU time says who limits the rate (a process near 100% of its wall
      // time), and the receiver's CPU per line is its cost per message
      // whoever the bottleneck is.
      const cpu = (rs: TransferRun[]) => {
        const receiver = median(rs.map((r) => r.receiverCpu ?? NaN));
        return `client ${fmt(median(rs.map((r) => r.clientCpu ?? NaN)), 1)} s, ` +
          `receiver ${fmt(receiver, 1)} s = ${fmt(receiver / lines * 1e6, 1)} µs/line`;
      };
      rows.push([
        `bare reflector (baseline), ${fmt(lines)} lines`,
        `${fmt(base.medianSeconds, 2)} s`,
        `${fmt(base.medianRate)} lines/s`,
        "-",
        "1.00",
        cpu(by.reflector),
      ]);
      rows.push([
        `pudp server, ${fmt(lines)} lines`,
        `${fmt(pudp.medianSeconds, 2)} s`,
        `${fmt(pudp.medianRate)} lines/s`,
        fmt(Math.max(...by.pudp.map((r) => r.lost ?? 0))),
        ratio.toFixed(2),
        cpu(by.pudp),
      ]);
    }
    if (only.has("unpaced")) {
      const run = await runTransfer("pudp", input, lines, out, ["--window", "0"]);
      log(`unpaced: ${run.seconds.toFixed(2)} s, lost ${run.lost}`);
      results.unpaced = { lines, run };
      rows.push([
        `pudp server, ${fmt(lines)} lines, client --window 0`,
        `${fmt(run.seconds, 2)} s`,
        `${fmt(run.rate)} lines/s`,
        `${fmt(run.lost ?? 0)} (${((run.lost ?? 0) / lines * 100).toFixed(1)}%)`,
        "",
        "",
      ]);
    }
  }

  if (only.has("fanin")) {
    const run: FanInRun = await runFanIn(clients, clientLines, `${tmp}/fanin.txt`);
    log(`fan-in: ${run.seconds.toFixed(2)} s, lost ${run.lost}`);
    results.fanIn = run;
    rows.push([
      `fan-in, ${clients} clients x ${fmt(clientLines)} lines`,
      `${fmt(run.seconds, 2)} s`,
      `${fmt(run.rate)} msgs/s`,
      fmt(run.lost) + (run.failedClients ? ` (${run.failedClients} clients failed)` : ""),
      "",
      "",
    ]);
  }

  if (only.has("sessions")) {
    results.sessions = await runSessions(sessions, held, rows);
  }

  if (only.has("pipe")) {
    await ensureSocat(log);
    // Rounds of two back-to-back runs, alternating which goes first; one ratio per round.
    const by: Record<PipeRun["tool"], PipeRun[]> = { socat: [], pudp: [] };
    const ratios: number[] = [];
    for (let r = 0; r < runs; r++) {
      const order: PipeRun["tool"][] = r % 2 ? ["pudp", "socat"] : ["socat", "pudp"];
      for (const tool of order) {
        const run = await runPipe(tool, pipeBytes);
        log(`pipe ${tool} run ${r + 1}: ${run.seconds.toFixed(2)} s`);
        by[tool].push(run);
      }
      ratios.push(by.pudp[r].rate / by.socat[r].rate);
      log(`pipe round ${r + 1}: pudp at ${ratios[r].toFixed(3)}x socat's rate`);
    }
    const ratio = median(ratios);
    results.pipe = { bytes: pipeBytes, socat: by.socat, pudp: by.pudp, ratios, ratio };
    for (const tool of ["socat", "pudp"] as const) {
      const rate = median(by[tool].map((r) => r.rate));
      rows.push([
        tool === "socat"
          ? `socat -u STDIN TCP (baseline), ${fmt(pipeBytes / 2 ** 20)} MiB`
          : `pudp pipe client -> server, ${fmt(pipeBytes / 2 ** 20)} MiB`,
        `${fmt(median(by[tool].map((r) => r.seconds)), 2)} s`,
        `${fmt(rate / 1e6)} MB/s`,
        "-",
        tool === "socat" ? "1.00" : ratio.toFixed(2),
        "",
      ]);
    }
  }

  if (only.has("frame")) {
    const frame: Record<string, unknown> = {};
    for (const clients of [1, 50]) {
      const by: Record<FrameRun["server"], FrameRun[]> = { minimal: [], pudp: [] };
      const ratios: number[] = [];
      for (let r = 0; r < runs; r++) {
        const order: FrameRun["server"][] = r % 2 ? ["pudp", "minimal"] : ["minimal", "pudp"];
        for (const server of order) {
          const run = await runFrame(server, clients, frameSeconds);
          log(`frame ${server}, ${clients} clients, run ${r + 1}: ${fmt(run.rate)} round trips/s`);
          by[server].push(run);
        }
        ratios.push(by.pudp[r].rate / by.minimal[r].rate);
      }
      const ratio = median(ratios);
      frame[`clients${clients}`] = { minimal: by.minimal, pudp: by.pudp, ratios, ratio };
      for (const server of ["minimal", "pudp"] as const) {
        rows.push([
          server === "minimal"
            ? `minimal Deno frame echo (baseline), ${clients} client${clients > 1 ? "s" : ""}`
            : `pudp frame server, ${clients} client${clients > 1 ? "s" : ""}`,
          `${fmt(frameSeconds, 1)} s`,
          `${fmt(median(by[server].map((r) => r.rate)))} round trips/s`,
          "-",
          server === "minimal" ? "1.00" : ratio.toFixed(2),
          "",
        ]);
      }
    }
    results.frame = frame;
  }

  if (only.has("blast")) {
    await ensureIperf3(log);
    const blast: Record<string, unknown> = {};
    for (const udp of [false, true]) {
      const bytes = udp ? blastUdpBytes : blastBytes;
      const rounds = await runBlastBench(udp, bytes, runs, log);
      const ratios = rounds.map((r) => r.blast / r.iperf3);
      const ratio = median(ratios);
      blast[udp ? "udp" : "tcp"] = { bytes, rounds, ratios, ratio };
      const what = udp
        ? `UDP 1400-byte datagrams, no rate limit, ${fmt(bytes / 1e6)} MB`
        : `TCP, ${fmt(bytes / 1e6)} MB`;
      const loss = (xs: (number | undefined)[]) =>
        `${median(xs.map((x) => x ?? 0)).toFixed(2)}% lost`;
      rows.push([
        `iperf3 ${udp ? "-u -b 0 -l 1400 " : ""}-n (baseline), ${what}`,
        "-",
        `${fmt(median(rounds.map((r) => r.iperf3)) / 1e6)} Mbit/s`,
        udp ? loss(rounds.map((r) => r.iperf3Loss)) : "-",
        "1.00",
        "",
      ]);
      rows.push([
        `pudp blast client ${udp ? "--udp --upload --size 1400" : ""} --bytes, ${what}`,
        "-",
        `${fmt(median(rounds.map((r) => r.blast)) / 1e6)} Mbit/s`,
        udp ? loss(rounds.map((r) => r.blastLoss)) : "-",
        ratio.toFixed(2),
        "",
      ]);
    }
    results.blast = blast;
  }

  printTable(rows);
  await Deno.mkdir(dirname(outFile), { recursive: true });
  await Deno.writeTextFile(outFile, JSON.stringify(results, null, 2) + "\n");
  log(
    `wrote ${outFile}` +
      (outFile === CUSTOM_RESULTS
        ? " (not bench/results.json: the options differ from the defaults; --out FILE to choose)"
        : ""),
  );
} finally {
  await Deno.remove(tmp, { recursive: true });
}

async function runSessions(total: number, held: number, rows: string[][]) {
  const server = () =>
    new BenchProcess([...sourceCommand(), "server", "--host", "127.0.0.1", "--no-stdin", "0"]);
  let cycled;
  {
    const s = server();
    const load = new SessionLoad(await s.port());
    cycled = await load.openAndClose(total, 64);
    await load.dispose();
    s.kill("SIGTERM");
    await s.exit(30_000);
  }
  log(`sessions: ${cycled.completed} opened and closed in ${cycled.seconds.toFixed(2)} s`);
  rows.push([
    `sessions opened and closed, ${fmt(total)}`,
    `${fmt(cycled.seconds, 2)} s`,
    `${fmt(cycled.completed / cycled.seconds)} sessions/s`,
    fmt(cycled.failed),
    "",
    "",
  ]);

  const s = server();
  const load = new SessionLoad(await s.port());
  await load.openAndClose(1_000, 64); // warm up: code compiled, heap grown
  await sleep(500);
  const before = s.rssBytes();
  const ids: number[] = [];
  const opened = await load.open(held, 64, ids);
  await sleep(500);
  const after = s.rssBytes();
  await load.close(ids, 64);
  await load.dispose();
  s.kill("SIGTERM");
  await s.exit(30_000);
  const perSession = before !== undefined && after !== undefined
    ? (after - before) / opened.completed
    : undefined;
  log(`held: ${opened.completed} open, RSS ${before} -> ${after}`);
  rows.push([
    `sessions held open, ${fmt(held)}`,
    "",
    perSession === undefined ? "n/a" : `${fmt(perSession)} bytes RSS/session`,
    fmt(opened.failed),
    "",
    before === undefined
      ? ""
      : `RSS ${fmt(before / 2 ** 20, 1)} -> ${fmt(after! / 2 ** 20, 1)} MiB`,
  ]);
  return { cycled, held: { ...opened, rssBefore: before, rssAfter: after, perSession } };
}

function printTable(rows: string[][]) {
  const head = ["scenario", "time", "rate", "lost", "vs baseline", "CPU / notes"];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  for (const r of all) {
    console.log(r.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd());
  }
}
