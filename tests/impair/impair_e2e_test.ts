/**
 * `pudp impair` between a real `pudp client` and `pudp server` on loopback:
 * the server's report must match the relay's log exactly.
 */

import assert from "node:assert/strict";
import { decide, type FaultOptions, NO_FAULTS } from "../../lib/impair/fault_plan.ts";
import {
  type CliProcess,
  createdSessions,
  runClient,
  sessionLines,
  spawnCli,
  startServer,
} from "../helpers/cli.ts";

/**
 * Starts a `pudp server` and a `pudp impair` with `args` in front of it;
 * returns both, with the ports to reach them.
 */
async function startServerBehindImpair(args: string[]): Promise<{
  server: { process: CliProcess; port: number };
  relay: { process: CliProcess; port: number };
}> {
  const server = await startServer();
  const process = spawnCli([
    "impair",
    "--host",
    "127.0.0.1",
    ...args,
    "0",
    "127.0.0.1",
    String(server.port),
  ]);
  await process.stderr.waitFor((t) => /listening on \S+:\d+/.test(t), 15_000, "listening line");
  const port = Number(process.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  return { server, relay: { process, port } };
}

/** The first seed (from 1) for which `ok(seed)` holds. */
function findSeed(ok: (seed: number) => boolean): number {
  for (let seed = 1; seed < 10_000; seed++) if (ok(seed)) return seed;
  throw new Error("no seed found");
}

function lines(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `line ${i + 1}`);
}

/** A line of impair's `--log`, as parsed (docs/events.md). */
interface LogLine {
  event: string;
  direction: "up" | "down";
  datagram: number;
  overtaken_by?: number | null;
  pudp?: { command: string; seq: number; session: string };
  blast?: { type: string; seq: number; run: string };
}

function readLog(path: string): LogLine[] {
  return Deno.readTextFileSync(path).trim().split("\n").map((l) => JSON.parse(l));
}

/** Sequence numbers of the server's `[n] <event>` lines for one session. */
function eventSeqs(session: string[], event: string): number[] {
  return session.filter((l) => l.endsWith("] " + event)).map((l) =>
    Number(l.slice(1, l.indexOf("]")))
  );
}

Deno.test("impair: loss and duplication upstream match the server's Lost and Duplicate lines exactly", async () => {
  const N = 2000;
  const faults: FaultOptions = { ...NO_FAULTS, loss: 0.05, dup: 0.05, direction: "up", seed: 0 };
  // HELLO (datagram 0) and GOODBYE (datagram N + 1) must get through for a clean session.
  const seed = findSeed((s) =>
    !decide({ ...faults, seed: s }, 0, "up", 0).drop &&
    !decide({ ...faults, seed: s }, 0, "up", N + 1).drop
  );
  const logPath = await Deno.makeTempFile({ suffix: ".jsonl" });
  const { server, relay } = await startServerBehindImpair([
    "--loss",
    "0.05",
    "--dup",
    "5%",
    "--direction",
    "up",
    "--seed",
    String(seed),
    "--log",
    logPath,
  ]);
  await using _s = server.process;
  await using _r = relay.process;
  const input = lines(N);
  const client = await runClient(relay.port, input.join("\n") + "\n", ["--timeout", "3"]);
  assert.equal(client.code, 0, client.stderr);
  relay.process.kill("SIGTERM");
  const relayExit = await relay.process.exit();
  assert.equal(relayExit.code, 0, relayExit.stderr);
  await server.process.closeStdin();
  const out = await server.process.exit();
  assert.equal(out.code, 0);

  const log = readLog(logPath);
  const up = log.filter((r) => r.direction === "up");
  // N DATA, each decided once; HELLO and GOODBYE, repeated while unanswered.
  const data = up.filter((r) => r.pudp!.command === "DATA");
  assert.equal(data.length, N);
  assert.ok(up.every((r) => r.pudp!.command !== "DATA" ? r.pudp!.seq % (N + 1) === 0 : true));
  const dropped = data.filter((r) => r.event === "dropped").map((r) => r.pudp!.seq);
  const duplicated = data.filter((r) => r.event === "duplicated").map((r) => r.pudp!.seq);
  assert.ok(
    dropped.length > 20 && duplicated.length > 20,
    `${dropped.length} ${duplicated.length}`,
  );
  // The relay's decisions are the seed's.
  for (const r of up) {
    const d = decide({ ...faults, seed }, 0, "up", r.datagram);
    assert.equal(r.event, d.drop ? "dropped" : d.duplicate ? "duplicated" : "passed");
  }

  const [id] = createdSessions(out.stdout);
  const session = sessionLines(out.stdout, id);
  assert.deepEqual(eventSeqs(session, "Lost packet!"), dropped);
  // A duplicate GOODBYE finds the session closed: it is dropped, not reported; a
  // second HELLO is a duplicate too.
  assert.deepEqual(eventSeqs(session, "Duplicate packet!").filter((s) => s !== 0), duplicated);
  // Every line not dropped is printed exactly once, in order.
  const printed = session.filter((l) => /^\[\d+\] line \d+$/.test(l));
  const lost = new Set(dropped);
  assert.deepEqual(
    printed,
    input.map((l, i) => `[${i + 1}] ${l}`).filter((_, i) => !lost.has(i + 1)),
  );
  assert.match(
    relayExit.stderr,
    new RegExp(
      `up ${up.length} datagrams \\(${up.filter((r) => r.event === "dropped").length} dropped, ${
        up.filter((r) => r.event === "duplicated").length
      } duplicated`,
    ),
  );
  await Deno.remove(logPath);
});

Deno.test("impair: a reordered DATA ends the session as a protocol error; the client exits 1 with a clear message", async () => {
  const N = 3000;
  const faults: FaultOptions = { ...NO_FAULTS, reorder: 0.01, direction: "up", seed: 0 };
  // The first reordering well inside the transfer, when the window is open.
  const firstReorder = (s: number) => {
    for (let n = 0; n <= N + 1; n++) {
      if (decide({ ...faults, seed: s }, 0, "up", n).reorder) return n;
    }
    return -1;
  };
  const seed = findSeed((s) => firstReorder(s) >= 200 && firstReorder(s) <= 1000);
  const k = firstReorder(seed);
  const logPath = await Deno.makeTempFile({ suffix: ".jsonl" });
  const { server, relay } = await startServerBehindImpair([
    "--reorder",
    "0.01",
    "--direction",
    "up",
    "--seed",
    String(seed),
    "--log",
    logPath,
  ]);
  await using _s = server.process;
  await using _r = relay.process;
  const client = await runClient(relay.port, lines(N).join("\n") + "\n");
  assert.equal(client.code, 1);
  assert.match(client.stderr, /server closed the session/);
  relay.process.kill("SIGTERM");
  await relay.process.exit();
  await server.process.closeStdin();
  const out = await server.process.exit();
  const [id] = createdSessions(out.stdout);
  const session = sessionLines(out.stdout, id);
  const log = readLog(logPath);
  const release = log.find((r) => r.event === "released")!;
  assert.equal(release.datagram, k);
  assert.equal(release.overtaken_by, k + 1, "the next DATA overtook it");
  // DATA k+1 arrives first: k is reported lost, k+1 printed; then k is older than the last: closed.
  const tail = session.slice(session.indexOf(`[${k - 1}] line ${k - 1}`) + 1);
  assert.deepEqual(tail, [`[${k}] Lost packet!`, `[${k + 1}] line ${k + 1}`, "Session closed"]);
  await Deno.remove(logPath);
});

Deno.test("impair: ALIVEs lost downstream neither stall the paced client nor lose a line", async () => {
  const N = 3000;
  const faults: FaultOptions = { ...NO_FAULTS, loss: 0.1, direction: "down", seed: 0 };
  // The HELLO reply (datagram 0 down) must arrive, or the client rightly gives up.
  const seed = findSeed((s) => !decide({ ...faults, seed: s }, 0, "down", 0).drop);
  const { server, relay } = await startServerBehindImpair([
    "--loss",
    "0.1",
    "--direction",
    "down",
    "--seed",
    String(seed),
  ]);
  await using _s = server.process;
  await using _r = relay.process;
  const input = lines(N);
  const client = await runClient(relay.port, input.join("\n") + "\n", [
    "--verbose",
    "--timeout",
    "2",
  ]);
  assert.equal(client.code, 0, client.stderr);
  const seen = Number(client.stderr.match(/(\d+) ALIVE received/)![1]);
  assert.ok(seen < N, "ALIVEs were lost on the way");
  relay.process.kill("SIGTERM");
  const relayExit = await relay.process.exit();
  assert.match(relayExit.stderr, /down \d+ datagrams \(([1-9]\d*) dropped/);
  await server.process.closeStdin();
  const out = await server.process.exit();
  const [id] = createdSessions(out.stdout);
  const session = sessionLines(out.stdout, id);
  assert.equal(eventSeqs(session, "Lost packet!").length, 0);
  assert.deepEqual(
    session.filter((l) => /^\[\d+\] line \d+$/.test(l)),
    input.map((l, i) => `[${i + 1}] ${l}`),
  );
});
