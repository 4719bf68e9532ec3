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
 * - windowed: in the same rounds, a minimal windowed sender (64 DATA in
 *   flight, bench/windowed_sender.ts) into the bare reflector; pudp's rate
 *   as a ratio of it (median of the rounds' ratios);
 * - unpaced: the same transfer with `--window 0` (the classic client);
 * - fan-in: many concurrent `pudp client` processes;
 * - sessions: sessions opened and closed per second, and the server's
 *   resident memory per session held open;
 * - faults: `pudp client` → `pudp impair --loss X` (both ways) → `pudp
 *   server`, each X paired in its round with a run through the same relay
 *   without faults (the relay's --log says which DATA it dropped); rate,
 *   ratio, and the lines missing: DATA dropped by the relay (rightly
 *   missing: PUDP does not retransmit), or lost beyond it (must be 0);
 * - crowd: 3 clients at once into one server (finish times, slowest over
 *   fastest), and many clients through one lossy relay (send spans from the
 *   server's --json times, slowest over median; lines missing accounted
 *   for as in faults);
 * - memory: the client's and the server's RSS, sampled every 10 s while the
 *   client sends an endless input at full speed;
 * - udpio: pudp's batched UDP socket (`--udp-io ffi`) against Deno's
 *   (`--udp-io deno`) in paired rounds (bench/udp_io.ts): the transfer
 *   (ffi's rate over deno's), blast UDP uploads against iperf3 -u, and the
 *   unpaced course client's lines printed.
 *
 * Usage: deno task bench [--lines N] [--runs N] [--clients N]
 *        [--client-lines N] [--sessions N] [--held N] [--fault-lines N,N,N]
 *        [--crowd-lines N] [--crowd-lossy-clients N] [--crowd-lossy-lines N]
 *        [--memory-seconds S] [--udpio-lines N] [--course-lines N]
 *        [--only a,b] [--out FILE]
 *
 * @module
 */

import { dirname } from "node:path";
import { parseArgs } from "node:util";
import { parseByteSize } from "../lib/cli/flags.ts";
import { sourceCommand } from "../scripts/source_command.ts";
import { ensureIperf3, runBlastBench } from "./blast.ts";
import { type CrowdRun, runCrowd } from "./crowd.ts";
import { type FaultRun, type LineAccount, runFault, sumAccounts } from "./faults.ts";
import { mib, runMemory, SAMPLE_EVERY_S } from "./memory.ts";
import { BenchProcess, sleep } from "./processes.ts";
import { SessionLoad } from "./session_load.ts";
import { udpIoBlast, udpIoCourse, udpIoTransfer } from "./udp_io.ts";
import { ensureSocat, type FrameRun, type PipeRun, runFrame, runPipe } from "./streams.ts";
import {
  type FanInRun,
  type Receiver,
  runFanIn,
  runTransfer,
  type TransferRun,
  WINDOWED_WINDOW,
  writeInput,
} from "./transfer.ts";

/** Lines of the untimed warm-up transfer to each receiver. */
const WARM_UP_LINES = 50_000;

const SCENARIOS = [
  "transfer",
  "windowed",
  "unpaced",
  "fanin",
  "sessions",
  "faults",
  "crowd",
  "memory",
  "pipe",
  "frame",
  "blast",
  "udpio",
] as const;
type Scenario = typeof SCENARIOS[number];

const USAGE = "usage: deno task bench [--lines N] [--runs N] [--clients N] [--client-lines N] " +
  "[--sessions N] [--held N] [--pipe-bytes BYTES] [--frame-seconds S] " +
  "[--blast-bytes BYTES] [--blast-udp-bytes BYTES] [--fault-loss P,P,P] [--fault-lines N,N,N] " +
  "[--crowd-lines N] [--crowd-lossy-clients N] [--crowd-lossy-lines N] [--memory-seconds S] " +
  "[--udpio-lines N] [--course-lines N] " +
  `[--only ${SCENARIOS.join(",")}] [--out FILE]`;

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
  "fault-loss": { type: "string", default: "0.01,0.1,0.3" },
  "fault-lines": { type: "string", default: "100000,20000,2000" },
  "crowd-lines": { type: "string", default: "300000" },
  "crowd-lossy-clients": { type: "string", default: "50" },
  "crowd-lossy-lines": { type: "string", default: "5000" },
  "memory-seconds": { type: "string", default: "180" },
  "udpio-lines": { type: "string", default: "200000" },
  "course-lines": { type: "string", default: "2000" },
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
const faultLoss = values["fault-loss"].split(",").map(Number);
if (!faultLoss.every((p) => p > 0 && p < 1)) {
  console.error(`bench: --fault-loss must be probabilities such as 0.01,0.1,0.3`);
  Deno.exit(2);
}
const faultLines = values["fault-lines"].split(",").map((n) => count("fault-lines", n));
if (faultLines.length !== faultLoss.length) {
  console.error(`bench: --fault-lines needs one count per --fault-loss (${faultLoss.length})`);
  Deno.exit(2);
}
const crowdLines = count("crowd-lines", values["crowd-lines"]);
const crowdLossyClients = count("crowd-lossy-clients", values["crowd-lossy-clients"]);
const crowdLossyLines = count("crowd-lossy-lines", values["crowd-lossy-lines"]);
const memorySeconds = Number(values["memory-seconds"]);
if (!(memorySeconds > 0)) {
  console.error(`bench: --memory-seconds must be a positive number`);
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
/** One or two lines per scenario, printed after the table. */
const summaries: string[] = [];
const log = (s: string) => console.error(`bench: ${s}`);

try {
  const m = results.machine as ReturnType<typeof machine>;
  console.log(
    `pudp bench, ${m.date.slice(0, 10)}: ${m.os}, ${m.cores} cores (${m.cpu}), Deno ${m.deno}`,
  );

  if (only.has("transfer") || only.has("windowed") || only.has("unpaced")) {
    const input = `${tmp}/input.txt`;
    await writeInput(input, lines);
    const out = `${tmp}/out.txt`;
    if (only.has("transfer") || only.has("windowed")) {
      // transfer: pudp client into the reflector and into pudp server;
      // windowed: the minimal windowed sender into the reflector, against
      // the same pudp runs.
      const kinds = (["reflector", "pudp", "windowed"] as const).filter((k) =>
        k === "pudp" || only.has(k === "reflector" ? "transfer" : "windowed")
      );
      const by: Record<Receiver, TransferRun[]> = { pudp: [], reflector: [], windowed: [] };
      // A short untimed round first: the code caches of the client, the
      // server and the reflector are warm before anything is measured.
      const warmLines = Math.min(lines, WARM_UP_LINES);
      const warmInput = `${tmp}/warm-up.txt`;
      await writeInput(warmInput, warmLines);
      for (const receiver of kinds) {
        await runTransfer(receiver, warmInput, warmLines, out);
      }
      // Each round runs them back to back, alternating the order (pudp is
      // always in the middle, next to each baseline), and yields one ratio
      // per baseline: the load of a shared machine drifts by more than the
      // difference measured, so a round's runs see about the same machine,
      // while runs far apart in time do not.
      const ratios: number[] = [];
      const windowedRatios: number[] = [];
      for (let r = 0; r < runs; r++) {
        const order = r % 2 ? [...kinds].reverse() : kinds;
        for (const receiver of order) {
          const run = await runTransfer(receiver, input, lines, out);
          log(`${receiver} run ${r + 1}: ${run.seconds.toFixed(2)} s, lost ${run.lost ?? "-"}`);
          by[receiver].push(run);
        }
        if (only.has("transfer")) {
          ratios.push(by.pudp[r].rate / by.reflector[r].rate);
          log(`round ${r + 1}: pudp at ${ratios[r].toFixed(3)}x the reflector's rate`);
        }
        if (only.has("windowed")) {
          windowedRatios.push(by.pudp[r].rate / by.windowed[r].rate);
          log(`round ${r + 1}: pudp at ${windowedRatios[r].toFixed(3)}x the windowed sender's`);
        }
      }
      const summary = (rs: TransferRun[]) => ({
        runs: rs,
        medianSeconds: median(rs.map((r) => r.seconds)),
        medianRate: median(rs.map((r) => r.rate)),
      });
      const pudp = summary(by.pudp);
      // CPU time says who limits the rate (a process near 100% of its wall
      // time), and the receiver's CPU per line is its cost per message
      // whoever the bottleneck is.
      const cpu = (rs: TransferRun[]) => {
        const receiver = median(rs.map((r) => r.receiverCpu ?? NaN));
        return `client ${fmt(median(rs.map((r) => r.clientCpu ?? NaN)), 1)} s, ` +
          `receiver ${fmt(receiver, 1)} s = ${fmt(receiver / lines * 1e6, 1)} µs/line`;
      };
      let ratio = NaN;
      const wRatio = only.has("windowed") ? median(windowedRatios) : NaN;
      if (only.has("transfer")) {
        const base = summary(by.reflector);
        ratio = median(ratios);
        results.transfer = { lines, reflector: base, pudp, ratios, ratio };
        rows.push([
          `bare reflector (baseline), ${fmt(lines)} lines`,
          `${fmt(base.medianSeconds, 2)} s`,
          `${fmt(base.medianRate)} lines/s`,
          "-",
          "1.00",
          cpu(by.reflector),
        ]);
      }
      rows.push([
        `pudp server, ${fmt(lines)} lines`,
        `${fmt(pudp.medianSeconds, 2)} s`,
        `${fmt(pudp.medianRate)} lines/s`,
        fmt(Math.max(...by.pudp.map((r) => r.lost ?? 0))),
        (only.has("transfer") ? ratio : wRatio).toFixed(2),
        cpu(by.pudp),
      ]);
      if (only.has("windowed")) {
        const windowed = summary(by.windowed);
        results.windowed = {
          lines,
          window: WINDOWED_WINDOW,
          windowed,
          pudp,
          ratios: windowedRatios,
          ratio: wRatio,
          goal: 0.9,
        };
        rows.push([
          `windowed sender (${WINDOWED_WINDOW} in flight) -> bare reflector, ${fmt(lines)} lines`,
          `${fmt(windowed.medianSeconds, 2)} s`,
          `${fmt(windowed.medianRate)} lines/s`,
          "-",
          only.has("transfer")
            ? median(by.windowed.map((w, i) => w.rate / by.reflector[i].rate)).toFixed(2)
            : "1.00",
          cpu(by.windowed),
        ]);
        summaries.push(
          `windowed: pudp client -> pudp server at ${wRatio.toFixed(2)}x the rate of the minimal ` +
            `windowed sender -> bare reflector (rounds ${
              windowedRatios.map((x) => x.toFixed(2)).join(", ")
            }; goal >= 0.9: ${wRatio >= 0.9 ? "met" : "NOT met"}); pudp lost ` +
            `${fmt(Math.max(...by.pudp.map((r) => r.lost ?? 0)))} lines`,
        );
      }
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

  if (only.has("faults")) {
    results.faults = await faultScenario(rows);
  }

  if (only.has("crowd")) {
    results.crowd = await crowdScenario(rows);
  }

  if (only.has("memory")) {
    const run = await runMemory(memorySeconds, `${tmp}/memory-fifo`, log);
    results.memory = run;
    const clientSeries = run.samples.map((x) => mib(x.clientRss)).join(", ");
    const serverSeries = run.samples.map((x) => mib(x.serverRss)).join(", ");
    rows.push([
      `memory, client at full speed for ${fmt(memorySeconds)} s`,
      `${fmt(memorySeconds)} s`,
      run.rate === undefined ? "n/a" : `${fmt(run.rate)} msgs/s`,
      "-",
      "",
      `client peak ${mib(run.clientHighWater)} MiB (VmHWM), server ${
        mib(run.serverPeakSampled)
      } MiB`,
    ]);
    summaries.push(
      `memory: client RSS every ${SAMPLE_EVERY_S} s (MiB): ${clientSeries}; peak ${
        mib(run.clientHighWater)
      } MiB (VmHWM; sampled ${mib(run.clientPeakSampled)}); goal < 150 MB: ${
        (run.clientHighWater ?? run.clientPeakSampled) < 150e6 ? "met" : "NOT met"
      }`,
      `memory: server RSS (MiB): ${serverSeries}; ${fmt(run.messages ?? NaN)} messages; ` +
        `sampled process ${run.clientExe}, client exit ${run.clientCode} after SIGTERM`,
    );
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

  if (only.has("udpio")) await udpIoScenario(rows);

  printTable(rows);
  if (summaries.length) console.log(summaries.join("\n"));
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

/** "M missing = D DATA dropped by the relay + B lost beyond it", and what B is made of. */
function accountText(a: LineAccount): string {
  const parts = a.lostBeyondRelay && a.neverForwarded !== undefined
    ? ` (${fmt(a.neverForwarded)} never passed on by the relay, ${
      fmt(a.forwardedNotPrinted ?? 0)
    } passed on and not printed)`
    : "";
  return `missing ${fmt(a.missing)} = DATA dropped by the relay ${fmt(a.dataDropped)} + ` +
    `lost beyond the relay ${fmt(a.lostBeyondRelay)}${parts}`;
}

/** The verdict on lines lost beyond the relay (or without one): the goal is 0. */
function beyondVerdict(lost: number, what = "lost beyond the relay"): string {
  return lost === 0
    ? `${what} 0 (must be 0: met)`
    : `-- ${fmt(lost)} LINES ${what.toUpperCase()} (must be 0: NOT met)`;
}

/** The table's "lost" cell of a run through the relay. */
function accountCell(a: LineAccount): string {
  return `${fmt(a.lostBeyondRelay)} beyond relay (${fmt(a.missing)} missing, ` +
    `${fmt(a.dataDropped)} DATA dropped)`;
}

/** The exit codes of runs, with the client's last word when it was not 0. */
function exitsText(runs: { code: number | null; clientError?: string }[]): string {
  return runs.map((x) =>
    `${x.code ?? "killed"}` + (x.code === 0 ? "" : ` (${x.clientError || "no message"})`)
  ).join(", ");
}

/**
 * For each loss rate, rounds of two runs through `pudp impair --log`: with
 * the loss both ways, and without faults; the order alternates, and each
 * round's ratio is the lossy run's rate over the clean one's. Every missing
 * line is accounted for: its DATA dropped by the relay (rightly missing:
 * PUDP does not retransmit) or lost beyond the relay (must be 0).
 */
async function faultScenario(rows: string[][]) {
  const out = `${tmp}/faults-out.txt`;
  const levels = [];
  for (const [i, loss] of faultLoss.entries()) {
    const n = faultLines[i];
    const input = `${tmp}/faults-input.txt`;
    await writeInput(input, n);
    const lossy: FaultRun[] = [];
    const clean: FaultRun[] = [];
    const ratios: number[] = [];
    for (let r = 0; r < runs; r++) {
      const seed = r + 1;
      const order = r % 2 ? [loss, 0] : [0, loss];
      for (const p of order) {
        const run = await runFault(p, seed, input, n, out);
        log(
          `faults: loss ${p} round ${r + 1}: ${run.seconds.toFixed(2)} s, exit ${run.code}, ` +
            `${accountText(run)} (of ${n})`,
        );
        (p ? lossy : clean).push(run);
      }
      ratios.push(lossy[r].rate / clean[r].rate);
    }
    const ratio = median(ratios);
    const lossyTotal = sumAccounts(lossy);
    const cleanTotal = sumAccounts(clean);
    // The relay drops nothing without faults: every line missing then is lost beyond it.
    const lostBeyondRelay = lossyTotal.lostBeyondRelay + cleanTotal.lostBeyondRelay;
    const failed = [...lossy, ...clean].filter((x) => x.code !== 0).length;
    levels.push({
      loss,
      lines: n,
      lossy,
      clean,
      ratios,
      ratio,
      lossyTotal,
      cleanTotal,
      lostBeyondRelay,
      exits: lossy.map((x) => x.code),
      cleanExits: clean.map((x) => x.code),
      failed,
    });
    const pct = `${Number((loss * 100).toFixed(2))}%`;
    const totals = runs > 1 ? `, totals of ${runs} runs` : "";
    rows.push([
      `impair, no faults, ${fmt(n)} lines`,
      `${fmt(median(clean.map((x) => x.seconds)), 2)} s`,
      `${fmt(median(clean.map((x) => x.rate)))} lines/s`,
      accountCell(cleanTotal),
      "1.00",
      `exits ${clean.map((x) => x.code).join(",")}${totals}`,
    ]);
    rows.push([
      `impair --loss ${loss} both ways, ${fmt(n)} lines`,
      `${fmt(median(lossy.map((x) => x.seconds)), 2)} s`,
      `${fmt(median(lossy.map((x) => x.rate)))} lines/s`,
      accountCell(lossyTotal),
      ratio.toFixed(2),
      `exits ${lossy.map((x) => x.code).join(",")}${totals}`,
    ]);
    summaries.push(
      `faults: loss ${pct} both ways, ${fmt(n)} lines: ${
        fmt(median(lossy.map((x) => x.rate)))
      } lines/s, ${ratio.toFixed(2)}x the rate without faults (rounds ${
        ratios.map((x) => x.toFixed(2)).join(", ")
      }); ${beyondVerdict(lostBeyondRelay)}` +
        (failed ? `; ${failed} client exits not 0` : ""),
      ...lossy.map((x) =>
        `  loss ${pct}, seed ${x.seed}: ${accountText(x)}; client exit ${exitsText([x])}`
      ),
      `  no faults: ${accountText(cleanTotal)}; client exits ${exitsText(clean)}`,
    );
  }
  return {
    seeds: "round number (1, 2, …)",
    lostBeyondRelay: levels.reduce((n, l) => n + l.lostBeyondRelay, 0),
    levels,
  };
}

/**
 * 3 clients at once into one server (finish times), then many clients
 * through one `pudp impair --loss 0.01 --log` (send spans from --json
 * times; missing lines accounted for as in the fault scenario).
 */
async function crowdScenario(rows: string[][]) {
  const out = `${tmp}/crowd-out.txt`;
  const describe = (run: CrowdRun) =>
    run.perClient.map((c) =>
      `c${c.client} exit ${c.code ?? "killed"} ${fmt(c.finishSeconds, 2)} s` +
      (c.spanSeconds === undefined ? "" : ` span ${fmt(c.spanSeconds, 2)} s`) +
      ` printed ${fmt(c.printed)} missing ${fmt(c.missing)}` +
      (run.loss === null
        ? ""
        : ` (dropped ${fmt(c.dataDropped)}, beyond ${fmt(c.lostBeyondRelay)})`)
    ).join("; ");
  const row = (what: string, run: CrowdRun, note: string) =>
    rows.push([
      what,
      `${fmt(run.seconds, 2)} s`,
      `${fmt(run.rate)} lines/s`,
      (run.loss === null ? fmt(run.missing) : accountCell(run)) +
      (run.failedClients ? ` (${run.failedClients} clients failed)` : ""),
      "",
      note,
    ]);
  const exitCounts = (run: CrowdRun) => {
    const exits = new Map<string, number>();
    for (const c of run.perClient) {
      exits.set(String(c.code ?? "killed"), (exits.get(String(c.code ?? "killed")) ?? 0) + 1);
    }
    return [...exits].map(([code, n]) => `${n} x ${code}`).join(", ");
  };
  const failures = (run: CrowdRun) => {
    const failed = run.perClient.filter((c) => c.code !== 0);
    return failed.length
      ? [
        `  clients not exiting 0: ${
          failed.map((c) => `c${c.client} ${exitsText([c])}`).join("; ")
        }`,
      ]
      : [];
  };

  const direct = await runCrowd(3, crowdLines, { json: false, outPath: out });
  log(`crowd: 3 clients in ${direct.seconds.toFixed(2)} s, lost ${direct.missing}`);
  const f = direct.finish;
  row(
    `crowd, 3 clients x ${fmt(crowdLines)} lines at once`,
    direct,
    `finish ${fmt(f.fastest, 2)}-${fmt(f.slowest, 2)} s, slowest/fastest ${
      f.slowestOverFastest.toFixed(2)
    }`,
  );
  summaries.push(
    `crowd: 3 clients x ${fmt(crowdLines)} lines into one server: slowest/fastest finish ` +
      `${f.slowestOverFastest.toFixed(2)} (goal <= 2: ${
        f.slowestOverFastest <= 2 ? "met" : "NOT met"
      }); ${beyondVerdict(direct.missing, "lost (no relay)")}; exits ${
        direct.perClient.map((c) => c.code ?? "killed").join(", ")
      }`,
    `  per client (time from the common start to exit): ${describe(direct)}`,
    ...failures(direct),
  );

  const lossy = await runCrowd(crowdLossyClients, crowdLossyLines, {
    loss: 0.01,
    json: true,
    outPath: out,
    seed: 1,
  });
  log(
    `crowd: ${crowdLossyClients} clients in ${lossy.seconds.toFixed(2)} s, ${accountText(lossy)}`,
  );
  const s = lossy.span;
  row(
    `crowd, ${crowdLossyClients} clients x ${fmt(crowdLossyLines)} lines, impair --loss 0.01`,
    lossy,
    s
      ? `send span ${fmt(s.fastest, 2)}/${fmt(s.median, 2)}/${fmt(s.slowest, 2)} s, ` +
        `slowest/median ${s.slowestOverMedian.toFixed(2)}`
      : "no span for every client",
  );
  const total = crowdLossyClients * crowdLossyLines;
  summaries.push(
    `crowd: ${crowdLossyClients} clients x ${fmt(crowdLossyLines)} lines through impair ` +
      `--loss 0.01: send span (first to last DATA of the client in the server's --json times) ` +
      (s
        ? `fastest ${fmt(s.fastest, 2)} s, median ${fmt(s.median, 2)} s, slowest ${
          fmt(s.slowest, 2)
        } s, slowest/median ${s.slowestOverMedian.toFixed(2)} (goal <= 2: ${
          s.slowestOverMedian <= 2 ? "met" : "NOT met"
        })`
        : "missing for some client") +
      `; wall to exit slowest/median ${lossy.finish.slowestOverMedian.toFixed(2)}; exit codes ${
        exitCounts(lossy)
      }; ${beyondVerdict(lossy.lostBeyondRelay)}`,
    `  ${accountText(lossy)} (missing ${(lossy.missing / total * 100).toFixed(2)}% of ${
      fmt(total)
    } lines)` +
      (lossy.unattributedDataDropped
        ? `; ${
          fmt(lossy.unattributedDataDropped)
        } more DATA dropped in sessions with no line printed`
        : ""),
    `  per client: ${describe(lossy)}`,
    ...failures(lossy),
  );
  return { direct, lossy };
}

function printTable(rows: string[][]) {
  const head = ["scenario", "time", "rate", "lost", "vs baseline", "CPU / notes"];
  const all = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  for (const r of all) {
    console.log(r.map((c, i) => (c ?? "").padEnd(widths[i])).join("  ").trimEnd());
  }
}

/**
 * `udpio`: the batched socket against Deno's, in paired rounds: the
 * transfer, blast UDP against iperf3, the unpaced course client.
 */
async function udpIoScenario(rows: string[][]) {
  const udpioLines = count("udpio-lines", values["udpio-lines"]);
  const courseLines = count("course-lines", values["course-lines"]);
  const input = `${tmp}/udpio-input.txt`;
  await writeInput(input, udpioLines);
  await runTransfer("pudp", input, Math.min(udpioLines, 20_000), `${tmp}/out.txt`); // warm-up
  const transfer = await udpIoTransfer(input, udpioLines, `${tmp}/out.txt`, runs, log);
  const ratio = median(transfer.map((r) => r.ratio));
  const lost = Math.max(...transfer.map((r) => Math.max(r.ffi.lost ?? 0, r.deno.lost ?? 0)));
  for (const io of ["deno", "ffi"] as const) {
    const rs = transfer.map((r) => r[io]);
    rows.push([
      `pudp client -> server, --udp-io ${io}, ${fmt(udpioLines)} lines`,
      `${fmt(median(rs.map((r) => r.seconds)), 2)} s`,
      `${fmt(median(rs.map((r) => r.rate)))} lines/s`,
      fmt(Math.max(...rs.map((r) => r.lost ?? 0))),
      io === "deno" ? "1.00" : ratio.toFixed(2),
      `client ${fmt(median(rs.map((r) => r.clientCpu ?? NaN)), 1)} s, receiver ${
        fmt(median(rs.map((r) => r.receiverCpu ?? NaN)), 1)
      } s`,
    ]);
  }
  summaries.push(
    `udpio transfer: --udp-io ffi at ${ratio.toFixed(2)}x the rate of --udp-io deno (rounds ${
      transfer.map((r) => r.ratio.toFixed(2)).join(", ")
    }; goal >= 1.5 with 0 lost: ${ratio >= 1.5 && lost === 0 ? "met" : "NOT met"})`,
  );

  await ensureIperf3(log);
  const blast = await udpIoBlast(blastUdpBytes, runs, log);
  const loss = (xs: number[]) => `${median(xs).toFixed(2)}% lost`;
  rows.push([
    `iperf3 -u -b 0 -l 1400 -n (baseline), ${fmt(blastUdpBytes / 1e6)} MB`,
    "-",
    `${fmt(median(blast.map((r) => r.iperf3)) / 1e6)} Mbit/s`,
    loss(blast.map((r) => r.iperf3Loss)),
    "1.00",
    "",
  ]);
  const blastRatios: Record<string, number> = {};
  for (const io of ["deno", "ffi"] as const) {
    blastRatios[io] = median(blast.map((r) => r[io] / r.iperf3));
    rows.push([
      `pudp blast --udp --upload --size 1400 --udp-io ${io}, ${fmt(blastUdpBytes / 1e6)} MB`,
      "-",
      `${fmt(median(blast.map((r) => r[io])) / 1e6)} Mbit/s`,
      loss(blast.map((r) => io === "ffi" ? r.ffiLoss : r.denoLoss)),
      blastRatios[io].toFixed(2),
      "",
    ]);
  }

  const course = await udpIoCourse(courseLines, runs, tmp, log);
  const fractions: Record<string, number> = {};
  for (const io of ["deno", "ffi"] as const) {
    const rs = course.filter((r) => r.io === io);
    fractions[io] = median(rs.map((r) => r.fraction));
    rows.push([
      `course client (unpaced) -> pudp server --udp-io ${io}, ${fmt(courseLines)} lines`,
      "-",
      "-",
      `${(100 - fractions[io] * 100).toFixed(1)}%`,
      "",
      `printed ${rs.map((r) => `${(r.fraction * 100).toFixed(1)}%`).join(", ")}`,
    ]);
  }
  summaries.push(
    `udpio blast: received rate over iperf3 -u: ffi ${blastRatios.ffi.toFixed(2)}x, deno ${
      blastRatios.deno.toFixed(2)
    }x; course client lines printed: ffi ${(fractions.ffi * 100).toFixed(1)}%, deno ${
      (fractions.deno * 100).toFixed(1)
    }% (goal >= 95% with ffi: ${fractions.ffi >= 0.95 ? "met" : "NOT met"})`,
  );
  results.udpio = {
    transfer: { lines: udpioLines, rounds: transfer, ratio },
    blast: { bytes: blastUdpBytes, rounds: blast, ratios: blastRatios },
    course: { lines: courseLines, runs: course, fractions },
  };
}
