/**
 * `pudp blast` as a user runs it: a real server and client on loopback, each
 * mode over TCP and UDP, refusals, bad input, and servers that corrupt,
 * cut short or vanish.
 */
import assert from "node:assert/strict";
import { patternAt } from "../../lib/blast/pattern.ts";
import type { BlastReport } from "../../lib/blast/report.ts";
import { spawnCli, startListening } from "../helpers/cli.ts";
import { withBlastServer } from "../helpers/blast.ts";

async function blast(args: string[]) {
  await using client = spawnCli(["blast", "client", ...args]);
  return await client.exit(30_000);
}

async function jsonRun(
  port: number,
  args: string[],
): Promise<{ report: BlastReport; code: number; stderr: string }> {
  const r = await blast(["--json", "127.0.0.1", String(port), ...args]);
  const lines = r.stdout.trim().split("\n");
  assert.equal(lines.length, 1, `one JSON object: ${r.stdout}`);
  return { report: JSON.parse(lines[0]), code: r.code, stderr: r.stderr };
}

const withServer = withBlastServer;

for (const transport of ["tcp", "udp"] as const) {
  const t = transport === "udp" ? ["--udp"] : [];
  Deno.test(`blast e2e (${transport}): echo, download, upload and streams both ways`, async () => {
    await withServer(t, async ({ port, process }) => {
      const echo = await blast([
        ...t,
        "127.0.0.1",
        String(port),
        "--echo",
        "héllo wörld",
        "--count",
        "3",
      ]);
      assert.equal(echo.code, 0, echo.stderr);
      assert.match(
        echo.stdout,
        new RegExp(
          `echo 1 from 127\\.0\\.0\\.1:${port} \\(${transport}\\): round trip \\d+\\.\\d{3} ms`,
        ),
      );
      assert.match(echo.stdout, /3 of 3 echoes answered/);

      // UDP at a rate loopback carries without loss, so the byte counts are exact.
      const rate = transport === "udp" ? ["--rate", "200M"] : [];
      const down = await jsonRun(port, [...t, ...rate, "--bytes", "2MiB"]);
      assert.equal(down.code, 0, down.stderr);
      assert.equal(down.report.mode, "download");
      assert.equal(down.report.transport, transport);
      assert.equal(down.report.receiver!.expected_bytes, 2 * 1024 * 1024);
      assert.equal(down.report.receiver!.corrupt_bytes, 0);
      assert.ok(down.report.mbit_per_s! > 0);
      if (transport === "tcp") assert.equal(down.report.receiver!.bytes, 2 * 1024 * 1024);
      else {
        const s = down.report.receiver!.segments!;
        assert.equal(s.sent, Math.ceil((2 * 1024 * 1024) / 1376));
        assert.equal(s.received + s.lost, s.sent);
      }

      const up = await jsonRun(port, [...t, ...rate, "--bytes", "1M", "--upload"]);
      assert.equal(up.code, 0, up.stderr);
      assert.equal(up.report.measured_by, "server");
      assert.equal(up.report.receiver!.expected_bytes, 1_000_000);
      assert.equal(up.report.receiver!.corrupt_bytes, 0);

      for (const dir of [[], ["--upload"]]) {
        const stream = await jsonRun(port, [
          ...t,
          ...dir,
          "--count",
          "20",
          "--interval",
          "2",
          "--size",
          "200",
        ]);
        assert.equal(stream.code, 0, stream.stderr);
        assert.deepEqual(stream.report.receiver!.segments, {
          sent: 20,
          received: 20,
          lost: 0,
          duplicated: 0,
          reordered: 0,
        });
        assert.equal(stream.report.receiver!.bytes, 20 * 176);
        const d = stream.report.receiver!.delay_ms!;
        assert.ok(d.min >= 0 && d.min <= d.avg && d.avg <= d.max && d.spread === d.max - d.min);
        // The sender's schedule: segment i is never sent before start + 2i ms.
        // (A TCP download has no END to carry the sender's figures.)
        const sender = stream.report.sender;
        if (transport === "udp" || dir.length > 0) {
          assert.ok(sender!.seconds >= 0.038 - 1e-6, "19 intervals of 2 ms");
        }
      }
      await process.stdout.waitFor(
        (text) => (text.match(/closed \(complete\)/g) ?? []).length >= 4,
        5000,
        "closed lines",
      );
      assert.match(process.stdout.text, /: GET bytes=2097152 size=1400/);
    });
  });

  Deno.test(`blast e2e (${transport}): over --max-bytes is refused, one line, exit 1`, async () => {
    await withServer([...t, "--max-bytes", "1000"], async ({ port }) => {
      const r = await blast([...t, "127.0.0.1", String(port), "--bytes", "1001"]);
      assert.equal(r.code, 1);
      assert.equal(r.stdout, "");
      assert.equal(
        r.stderr,
        "pudp blast client: server refused: 1001 bytes is over this server's limit of 1000 bytes (--max-bytes)\n",
      );
      const j = await jsonRun(port, [...t, "--bytes", "1001"]);
      assert.equal(j.code, 1);
      assert.match(j.report.error!, /server refused/);
    });
  });
}

Deno.test("blast e2e: usage errors exit 2 with one line", async () => {
  for (
    const args of [
      ["127.0.0.1", "9"],
      ["127.0.0.1", "9", "--bytes", "1", "--echo", "x"],
      ["127.0.0.1", "9", "--bytes", "4Gb"],
      ["127.0.0.1", "9", "--echo", "x", "--upload"],
      ["127.0.0.1", "9", "--bytes", "1", "--size", "24"],
    ]
  ) {
    const r = await blast(args);
    assert.equal(r.code, 2, args.join(" "));
    assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  }
});

Deno.test("blast e2e: nothing listening: TCP refused and UDP silent are one line, exit 1", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const tcp = await blast(["127.0.0.1", String(port), "--bytes", "10"]);
  assert.equal(tcp.code, 1);
  assert.match(tcp.stderr, /^pudp blast client: cannot connect to 127\.0\.0\.1:\d+: .+\n$/);
  const udp = await blast([
    "--udp",
    "--timeout",
    "0.5",
    "127.0.0.1",
    String(port),
    "--bytes",
    "10",
  ]);
  assert.equal(udp.code, 1);
  assert.match(
    udp.stderr,
    /^pudp blast client: (no answer from the server within 0\.5 s|no server at .+)\n$/,
  );
});

/** A fake TCP blast server that answers OK and then sends what `body` gives. */
async function fakeServer(body: Uint8Array, run: (port: number) => Promise<void>): Promise<void> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await l.accept();
    const buf = new Uint8Array(1024);
    await conn.read(buf);
    await conn.write(new TextEncoder().encode("OK\n"));
    for (let at = 0; at < body.length;) at += await conn.write(body.subarray(at));
    conn.close();
  })();
  try {
    await run((l.addr as Deno.NetAddr).port);
  } finally {
    await serving.catch(() => {});
    l.close();
  }
}

Deno.test("blast e2e: a wrong byte, or bytes missing, are reported and fail the run", async () => {
  const bytes = patternAt(0, 100_000).slice();
  bytes[54_321] ^= 0x20;
  await fakeServer(bytes, async (port) => {
    const r = await blast(["127.0.0.1", String(port), "--bytes", "100000"]);
    assert.equal(r.code, 1);
    assert.match(r.stdout, /pattern: 1 bytes wrong, the first at offset 54321/);
    assert.match(r.stderr, /1 bytes differ from the pattern \(the first at offset 54321\)/);
  });
  await fakeServer(patternAt(0, 60_000).slice(), async (port) => {
    const r = await jsonRun(port, ["--bytes", "100000"]);
    assert.equal(r.code, 1);
    assert.match(r.report.error!, /closed the connection after 60000 of 100000 bytes/);
    assert.equal(r.report.receiver!.missing_bytes, 40_000);
  });
});

Deno.test("blast e2e (tcp): SIGTERM mid-transfer logs the run's closed line with the bytes really sent", async () => {
  const server = await startListening(["blast", "server", "--host", "127.0.0.1", "0"]);
  await using _ = server.process;
  // A client that asks for 100 MB and reads slowly: the transfer is still going at the signal.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  try {
    await conn.write(new TextEncoder().encode("GET bytes=100000000\n"));
    const buf = new Uint8Array(65_536);
    let got = 0;
    while (got < 300_000) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    await server.process.stdout.waitFor((t) => /GET bytes=100000000/.test(t), 5000, "request line");
    server.process.kill("SIGTERM");
    const out = await server.process.exit(10_000);
    assert.equal(out.code, 0, out.stderr);
    const m = out.stdout.match(/closed \(shutdown\), sent (\d+) bytes/);
    assert.ok(m, `a closed line for the run: ${out.stdout}`);
    const sent = Number(m[1]);
    assert.ok(sent >= got - 3 && sent < 100_000_000, `sent ${sent}, the client got ${got}`);
    const summary = out.stderr.match(/(\d+) bytes sent/);
    assert.equal(Number(summary?.[1]), sent, out.stderr);
  } finally {
    try {
      conn.close();
    } catch {
      // closed already
    }
  }
});

Deno.test("blast e2e: a signal cuts the client's run short at once: the report, then 128 + the signal", async () => {
  const cases = [
    ["tcp", [], "SIGINT", 130],
    ["tcp", ["--upload"], "SIGHUP", 129],
    ["udp", ["--udp"], "SIGTERM", 143],
    ["udp", ["--udp", "--upload"], "SIGINT", 130],
  ] as const;
  for (const [transport, args, signal, code] of cases) {
    const t = transport === "udp" ? ["--udp"] : [];
    await withServer(t, async ({ port, process }) => {
      // 5,000 segments 2 ms apart: 10 s if it ran to the end.
      await using client = spawnCli([
        "blast",
        "client",
        "--json",
        ...args,
        "--count",
        "5000",
        "--interval",
        "2",
        "127.0.0.1",
        String(port),
      ]);
      await process.stdout.waitFor((s) => /count=5000/.test(s), 10_000, "the run's request line");
      await new Promise((r) => setTimeout(r, 300));
      const signalled = performance.now();
      client.kill(signal);
      const r = await client.exit(10_000);
      const what = `${transport} ${args.join(" ")} ${signal}`;
      assert.ok(performance.now() - signalled < 3000, `${what}: ended promptly`);
      assert.equal(r.code, code, `${what}: ${r.stderr}`);
      assert.equal(r.stderr, "", what);
      const report: BlastReport = JSON.parse(r.stdout);
      assert.equal(report.error, "interrupted", what);
      assert.equal(report.complete, false, what);
    });
  }
});
