/**
 * `deno task bench` end to end at a tiny size: every scenario runs, nothing
 * is lost, and results.json holds the figures the README table shows. No
 * timing is asserted (speed is the benchmark's business, not the tests').
 */

import assert from "node:assert/strict";
import { ROOT_DIR } from "./helpers/cli.ts";

Deno.test("bench: a tiny run of every scenario writes its table and results.json", async () => {
  const out = await Deno.makeTempFile({ suffix: ".json" });
  try {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-all",
        "bench/bench.ts",
        ...["--lines", "3000", "--runs", "2", "--clients", "3", "--client-lines", "200"],
        ...["--sessions", "300", "--held", "200", "--out", out],
        ...["--pipe-bytes", "20MB", "--frame-seconds", "0.3"],
        ...["--blast-bytes", "20MB", "--blast-udp-bytes", "5MB"],
        ...["--fault-lines", "300,200,100", "--crowd-lines", "1000"],
        ...["--crowd-lossy-clients", "4", "--crowd-lossy-lines", "200", "--memory-seconds", "2"],
        ...["--udpio-lines", "2000", "--course-lines", "200"],
      ],
      cwd: ROOT_DIR,
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(stdout);
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const expectedRows = ["bare reflector", "pudp server", "--window 0", "fan-in", "held open"];
    expectedRows.push("socat -u STDIN TCP", "pudp pipe client", "minimal Deno frame echo");
    expectedRows.push("iperf3 -n (baseline)", "pudp blast client --udp --upload");
    expectedRows.push("windowed sender (64 in flight)", "impair --loss 0.3 both ways");
    expectedRows.push("crowd, 3 clients", "crowd, 4 clients", "memory, client at full speed");
    expectedRows.push("--udp-io ffi, 2,000 lines", "--udp-io deno, 200 lines");
    for (const row of [...expectedRows, "pudp frame server, 1 client", "pudp frame server, 50"]) {
      assert.ok(text.includes(row), `table row ${row}:\n${text}`);
    }
    const r = JSON.parse(await Deno.readTextFile(out));
    assert.deepEqual(r.transfer.pudp.runs.map((run: { lost: number }) => run.lost), [0, 0]);
    // One ratio per round of two back-to-back runs; the figure is their median.
    const [a, b] = r.transfer.ratios;
    assert.equal(r.transfer.ratios.length, 2);
    assert.equal(a, r.transfer.pudp.runs[0].rate / r.transfer.reflector.runs[0].rate);
    assert.equal(r.transfer.ratio, (a + b) / 2);
    assert.equal(r.fanIn.lost, 0);
    assert.equal(r.fanIn.failedClients, 0);
    assert.equal(r.sessions.cycled.completed, 300);
    assert.equal(r.sessions.held.completed, 200);
    assert.ok(r.unpaced.run.lost >= 0);
    // windowed: the same pudp runs against the minimal windowed sender, one ratio per round.
    assert.equal(r.windowed.ratios.length, 2);
    assert.equal(
      r.windowed.ratios[0],
      r.windowed.pudp.runs[0].rate / r.windowed.windowed.runs[0].rate,
    );
    // faults: each loss rate paired with a clean run through the relay; counts as given.
    // A line may be missing only because the relay dropped its DATA (no retransmission).
    type Account = { missing: number; dataDropped: number; lostBeyondRelay: number };
    const accounted = (a: Account) => {
      assert.equal(a.lostBeyondRelay, 0, JSON.stringify(a));
      assert.equal(a.missing, a.dataDropped, JSON.stringify(a));
    };
    assert.deepEqual(r.faults.levels.map((l: { lines: number }) => l.lines), [300, 200, 100]);
    assert.equal(r.faults.lostBeyondRelay, 0);
    for (const level of r.faults.levels) {
      assert.equal(level.lossy.length, 2);
      level.lossy.forEach(accounted);
      accounted(level.lossyTotal);
      assert.deepEqual(level.clean.map((run: Account) => run.missing), [0, 0]);
      assert.deepEqual(level.clean.map((run: Account) => run.dataDropped), [0, 0]);
      assert.equal(level.exits.length, 2);
    }
    // crowd: every client accounted for; spans from the server's --json times.
    assert.deepEqual(r.crowd.direct.perClient.map((c: { code: number }) => c.code), [0, 0, 0]);
    assert.equal(r.crowd.direct.missing, 0);
    assert.equal(r.crowd.lossy.perClient.length, 4);
    accounted(r.crowd.lossy);
    r.crowd.lossy.perClient.forEach(accounted);
    assert.equal(r.crowd.lossy.unattributedDataDropped, 0);
    assert.ok(r.crowd.lossy.span.slowestOverMedian >= 1);
    // memory: the sampled process is deno itself.
    assert.ok(r.memory.samples.length >= 1);
    assert.match(r.memory.clientExe, /deno$/);
    // pipe and frame: paired rounds against socat and a minimal Deno server.
    assert.equal(r.pipe.bytes, 20_000_000);
    assert.equal(r.pipe.ratios.length, 2);
    assert.equal(r.pipe.ratios[0], r.pipe.pudp[0].rate / r.pipe.socat[0].rate);
    for (const clients of [1, 50]) {
      const f = r.frame[`clients${clients}`];
      assert.equal(f.ratios.length, 2);
      assert.ok(f.pudp.every((run: { roundTrips: number }) => run.roundTrips > 0));
    }
    // blast: paired rounds against iperf3, both transports, UDP with both tools' loss.
    for (const t of ["tcp", "udp"]) {
      assert.equal(r.blast[t].rounds.length, 2);
      assert.equal(r.blast[t].ratios[0], r.blast[t].rounds[0].blast / r.blast[t].rounds[0].iperf3);
    }
    assert.ok(r.blast.udp.rounds.every((x: { blastLoss: number }) => x.blastLoss >= 0));
  } finally {
    await Deno.remove(out);
  }
});

Deno.test("bench: a bad option is one line and exit 2", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "bench/bench.ts", "--bogus"],
    cwd: ROOT_DIR,
    stdin: "null",
  }).output();
  assert.equal(code, 2);
  assert.match(
    new TextDecoder().decode(stderr).trim(),
    /^bench: Unknown option '--bogus' \(see --help\)$/,
  );
});

Deno.test("bench: options other than the defaults leave the tracked bench/results.json alone", async () => {
  const tracked = await Deno.readTextFile(`${ROOT_DIR}bench/results.json`);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", "bench/bench.ts", "--only", "sessions", "--sessions", "50"],
    cwd: ROOT_DIR,
    stdin: "null",
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
  assert.equal(await Deno.readTextFile(`${ROOT_DIR}bench/results.json`), tracked);
  const written = `${ROOT_DIR}.tmp/bench-results.json`;
  assert.ok(text.includes(`wrote ${written} (not bench/results.json`), text);
  assert.equal(JSON.parse(await Deno.readTextFile(written)).sessions.cycled.completed, 50);
});
