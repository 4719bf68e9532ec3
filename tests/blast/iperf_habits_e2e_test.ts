/**
 * `--time`, `--report-every` and `--parallel` as a user runs them: a real
 * server and client on 127.0.0.1, over TCP and UDP, download and upload.
 * The machine may be busy (two cores, other tests): the checks are on the
 * structure and the sums, never on a rate.
 */
import assert from "node:assert/strict";
import type { BlastReport } from "../../lib/blast/report.ts";
import { spawnCli } from "../helpers/cli.ts";
import { withBlastServer } from "../helpers/blast.ts";

async function blast(args: string[]) {
  await using client = spawnCli(["blast", "client", ...args]);
  return await client.exit(30_000);
}

async function jsonRun(
  port: number,
  args: string[],
): Promise<{ report: BlastReport; code: number; stderr: string; ms: number }> {
  const r = await blast(["--json", "127.0.0.1", String(port), ...args]);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, `one JSON object: ${r.stdout}`);
  return { report: JSON.parse(lines[0]), code: r.code, stderr: r.stderr, ms: r.ms };
}

const INTERVAL_LINE =
  /^(\[(  \d|SUM)\] )?\[ *\d+\.\d\d- *\d+\.\d\d s\]  \d+\.\d\d MB  [\d.]+ Mbit\/s/;

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

for (const transport of ["tcp", "udp"] as const) {
  // UDP at a rate loopback carries on a busy machine; TCP is as fast as it goes.
  const t = transport === "udp" ? ["--udp", "--rate", "20M"] : [];
  const server = transport === "udp" ? ["--udp"] : [];

  Deno.test(`blast --time (${transport}): a 1 s run both ways, the peer's end confirmed`, async () => {
    await withBlastServer([...server, "--max-bytes", "100G"], async ({ port }) => {
      for (const dir of [[], ["--upload"]]) {
        const { report, code, stderr } = await jsonRun(port, [...t, ...dir, "--time", "1"]);
        assert.equal(code, 0, stderr);
        assert.match(report.request, /^(GET|PUT) time=1000 /);
        assert.equal(report.complete, true);
        assert.equal(report.cut_by_limit, undefined);
        const rx = report.receiver!;
        assert.ok(rx.bytes > 0);
        assert.equal(rx.corrupt_bytes, 0);
        assert.ok(
          report.sender!.seconds >= 0.9,
          `the sender ran its second: ${report.sender!.seconds}`,
        );
        assert.ok(report.sender!.seconds < 5);
        if (transport === "tcp") {
          assert.equal(rx.bytes, report.sender!.bytes, "every byte the sender says it sent");
          assert.equal(rx.expected_bytes, rx.bytes);
        } else {
          const s = rx.segments!;
          assert.equal(s.sent, report.sender!.segments);
          assert.equal(s.received + s.lost, s.sent);
          assert.equal(rx.expected_bytes, s.sent! * 1376);
        }
      }
    });
  });

  Deno.test(`blast --time (${transport}): the server's --max-bytes cuts the run, said and exit 1`, async () => {
    await withBlastServer([...server, "--max-bytes", "1M"], async ({ port, process }) => {
      for (const dir of [[], ["--upload"]]) {
        const { report, code, stderr, ms } = await jsonRun(port, [...t, ...dir, "--time", "20"]);
        assert.equal(code, 1);
        assert.match(
          stderr,
          /cut by the server's limit \(--max-bytes\) after \d+ bytes, before the 20 s asked/,
        );
        assert.equal(report.cut_by_limit, true);
        assert.equal(report.sender!.limited, true);
        assert.ok(report.receiver!.bytes <= 1_000_000);
        assert.ok(report.receiver!.bytes > 0);
        assert.ok(ms < 15_000, `the limit ended it, not the 20 s: ${ms} ms`);
      }
      await process.stdout.waitFor(
        (text) => text.split("cut by --max-bytes").length === 3,
        10_000,
        "the server's closed events say the limit",
      );
    });
  });

  Deno.test(`blast --report-every (${transport}): a line per 0.5 s, intervals that add up`, async () => {
    await withBlastServer([...server, "--max-bytes", "100G"], async ({ port }) => {
      // Text: the interval lines, then the report.
      const text = await blast([
        ...t,
        "127.0.0.1",
        String(port),
        "--time",
        "1.2",
        "--report-every",
        "0.5",
      ]);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.trim().split("\n");
      const intervals = lines.filter((l) => INTERVAL_LINE.test(l));
      assert.ok(intervals.length >= 2, text.stdout);
      assert.match(intervals[0], /^\[ {2}0\.00- {2}0\.\d\d s\]/);
      if (transport === "udp") assert.match(intervals[0], /lost\/total \d+\/\d+ \(\d+\.\d\d%\)$/);
      assert.match(lines.at(-1)!, /^pattern: /);

      for (const dir of [[], ["--upload"]]) {
        const upload = dir.length > 0;
        const { report, code, stderr } = await jsonRun(port, [
          ...t,
          ...dir,
          "--time",
          "1.2",
          "--report-every",
          "0.5",
        ]);
        assert.equal(code, 0, stderr);
        const iv = report.intervals!;
        assert.ok(iv.length >= 2 && iv.length <= 5, JSON.stringify(iv));
        assert.equal(report.intervals_by, upload ? "sender" : "receiver");
        assert.equal(iv[0].start, 0);
        for (let k = 1; k < iv.length; k++) {
          assert.equal(iv[k].start, iv[k - 1].end, "back to back");
        }
        // The intervals count what the client counts: received (download) or sent (upload).
        const counted = upload ? report.sender!.bytes : report.receiver!.bytes;
        assert.equal(sum(iv.map((i) => i.bytes)), counted);
        if (transport === "udp" && !upload) {
          assert.equal(sum(iv.map((i) => i.received!)), report.receiver!.segments!.received);
          assert.ok(sum(iv.map((i) => i.lost!)) <= report.receiver!.segments!.lost);
        }
      }
    });
  });

  Deno.test(`blast --parallel 3 (${transport}): three streams, each counted, and their sum`, async () => {
    await withBlastServer([...server, "--max-bytes", "100G"], async ({ port, process }) => {
      for (const dir of [[], ["--upload"]]) {
        const { report, code, stderr } = await jsonRun(port, [
          ...t,
          ...dir,
          "--bytes",
          "300k",
          "--parallel",
          "3",
        ]);
        assert.equal(code, 0, stderr);
        assert.equal(report.parallel, 3);
        assert.equal(report.streams!.length, 3);
        assert.equal(report.complete, true);
        for (const s of report.streams!) {
          assert.equal(s.receiver!.expected_bytes, 300_000);
          assert.equal(s.receiver!.corrupt_bytes, 0);
        }
        assert.equal(report.sum!.bytes, sum(report.streams!.map((s) => s.receiver!.bytes)));
        assert.equal(report.sum!.expected_bytes, 900_000);
        assert.ok(report.mbit_per_s! > 0);
      }
      // Each stream is its own connection or socket: six requests from six ports.
      await process.stdout.waitFor(
        (text) => (text.match(/ (GET|PUT) bytes=300000 /g) ?? []).length === 6,
        10_000,
        "six requests",
      );
      const ports = new Set(
        [...process.stdout.text.matchAll(/127\.0\.0\.1:(\d+) \S+: (GET|PUT)/g)].map((m) => m[1]),
      );
      assert.equal(ports.size, 6);

      // Text, with intervals: each stream's lines, then the [SUM] lines.
      const text = await blast([
        ...t,
        "127.0.0.1",
        String(port),
        "--time",
        "1",
        "--report-every",
        "0.5",
        "--parallel",
        "3",
      ]);
      assert.equal(text.code, 0, text.stderr);
      const lines = text.stdout.trim().split("\n");
      for (const tag of ["[  1]", "[  2]", "[  3]", "[SUM]"]) {
        assert.ok(
          lines.some((l) => l.startsWith(tag) && INTERVAL_LINE.test(l)),
          `${tag} interval line:\n${text.stdout}`,
        );
      }
      assert.match(
        lines.filter((l) => !INTERVAL_LINE.test(l)).at(-1)!,
        /^\[SUM\] (received|segments)/,
      );
    });
  });
}
