/**
 * `pudp blast` over UDP through `pudp impair` with a seeded plan of loss,
 * duplication and reordering: the report's counts must equal what the
 * relay's log says it did to the DATA segments.
 */
import assert from "node:assert/strict";
import type { BlastReport } from "../../lib/blast/report.ts";
import { spawnCli, startListening } from "../helpers/cli.ts";

/** A line of impair's `--log`, as parsed (docs/events.md). */
interface LogLine {
  event: string;
  direction: "up" | "down";
  datagram: number;
  overtaken_by?: number | null;
  pudp?: { command: string; seq: number; session: string };
  blast?: { type: string; seq: number; run: string };
}

function expected(log: LogLine[], dir: "up" | "down") {
  const data = log.filter((r) => r.direction === dir && r.blast?.type === "data");
  const count = (event: string) => data.filter((r) => r.event === event).length;
  return {
    lost: count("dropped"),
    duplicated: count("duplicated"),
    // A held datagram counts as reordered when another overtook it (not when its hold ran out).
    reordered: data.filter((r) => r.event === "released" && r.overtaken_by !== null).length,
  };
}

for (const upload of [false, true]) {
  Deno.test(`blast through impair: ${upload ? "upload" : "download"} counts equal the relay's log`, async () => {
    const server = await startListening(["blast", "server", "--udp", "--host", "127.0.0.1", "0"]);
    const logPath = await Deno.makeTempFile({ suffix: ".jsonl" });
    const relay = await startListening([
      "impair",
      "--host",
      "127.0.0.1",
      "--loss",
      "0.05",
      "--dup",
      "0.05",
      "--reorder",
      "0.05",
      "--direction",
      upload ? "up" : "down",
      "--seed",
      "7",
      "--log",
      logPath,
      "0",
      "127.0.0.1",
      String(server.port),
    ]);
    try {
      await using client = spawnCli([
        "blast",
        "client",
        "--udp",
        "--json",
        "127.0.0.1",
        String(relay.port),
        "--count",
        "400",
        "--interval",
        "1",
        "--size",
        "300",
        ...(upload ? ["--upload"] : []),
      ]);
      const r = await client.exit(30_000);
      assert.equal(r.code, 0, r.stderr);
      const report: BlastReport = JSON.parse(r.stdout);
      relay.process.kill("SIGTERM");
      await relay.process.exit();
      const log: LogLine[] = Deno.readTextFileSync(logPath).trim().split("\n").map((l) =>
        JSON.parse(l)
      );
      const want = expected(log, upload ? "up" : "down");
      assert.ok(want.lost > 5 && want.duplicated > 5 && want.reordered > 5, JSON.stringify(want));
      const s = report.receiver!.segments!;
      assert.deepEqual(
        { lost: s.lost, duplicated: s.duplicated, reordered: s.reordered },
        want,
      );
      assert.equal(s.sent, 400);
      assert.equal(s.received, 400 - want.lost);
      assert.equal(report.receiver!.corrupt_bytes, 0);
    } finally {
      relay.process.kill("SIGTERM");
      server.process.kill("SIGTERM");
      await relay.process.exit();
      await server.process.exit();
      await Deno.remove(logPath);
    }
  });
}
