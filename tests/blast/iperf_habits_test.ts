/**
 * The pure side of `--time`, `--report-every` and `--parallel`: the timed
 * request line and its bound, the interval accounting, and N streams' sum.
 */
import assert from "node:assert/strict";
import {
  type IntervalFigures,
  intervalLine,
  IntervalMeter,
  ParallelMeter,
  sumIntervals,
} from "../../lib/blast/intervals.ts";
import { combineReports, parallelLines } from "../../lib/blast/parallel.ts";
import { patternAt } from "../../lib/blast/pattern.ts";
import { SegmentReceiver } from "../../lib/blast/receiver.ts";
import type { BlastReport } from "../../lib/blast/report.ts";
import {
  formatAnswer,
  formatRequest,
  parseAnswer,
  parseRequest,
  refusal,
  SegmentType,
  timedBound,
  type TransferRequest,
  WireError,
} from "../../lib/blast/wire.ts";

const pure = { permissions: "none" } as const;

Deno.test(
  "blast --time: the timed request line round-trips; the old lines are unchanged",
  pure,
  () => {
    for (
      const line of [
        "GET time=1000 size=1400 rate=0",
        "PUT time=250 size=100 rate=20000000",
        "GET time=1000 interval=5 size=1400 rate=0",
        "GET bytes=1000 size=1400 rate=0",
        "PUT count=3 interval=10 size=1400 rate=0",
      ]
    ) {
      assert.equal(formatRequest(parseRequest(line)), line);
    }
    const r = parseRequest("GET time=1000") as TransferRequest;
    assert.deepEqual(r, {
      kind: "transfer",
      direction: "get",
      bytes: undefined,
      count: undefined,
      intervalMs: 0,
      size: 1400,
      rate: 0,
      timeMs: 1000,
    });
    assert.equal("timeMs" in parseRequest("GET bytes=5"), false, "no timeMs key on old requests");
    for (
      const bad of [
        "GET time=0",
        "GET time=1.5",
        "GET time=86400001",
        "GET time=10 bytes=5",
        "GET time=10 count=5",
        "GET time=10 time=20",
      ]
    ) {
      assert.throws(() => parseRequest(bad), WireError, bad);
    }
  },
);

Deno.test(
  "blast --time: the server bounds a timed run by --max-bytes and says the bound",
  pure,
  () => {
    const r = parseRequest("PUT time=60000 size=1000") as TransferRequest;
    assert.equal(refusal(r, 10), undefined, "a timed run is never over the limit: bounded by it");
    assert.match(refusal(parseRequest("GET time=10 size=24"), 10)!, /no room for payload/);
    assert.deepEqual(timedBound(r, 123_456_789, true).count, 123_456);
    assert.equal(timedBound(r, 123_456_789, true).bytes, undefined);
    assert.equal(timedBound(r, 123_456_789, false).bytes, 123_456_789);
    assert.equal(timedBound(r, 999, true).count, 0);
    const old = parseRequest("GET bytes=5") as TransferRequest;
    assert.equal(timedBound(old, 1, true), old, "other requests pass unchanged");
    assert.equal(formatAnswer({ kind: "ok", bytes: 123_456_789 }), "OK bytes=123456789");
    assert.deepEqual(parseAnswer("OK bytes=123456789"), { kind: "ok", bytes: 123_456_789 });
    assert.deepEqual(parseAnswer("OK"), { kind: "ok" });
    for (const bad of ["OK bytes=", "OK bytes=-1", "OK bytes=1 x", "OK bytes=99999999999999999"]) {
      assert.throws(() => parseAnswer(bad), WireError, bad);
    }
  },
);

Deno.test("blast --time: a timed receiver expects what the END says was sent", pure, () => {
  const request = { ...(parseRequest("GET time=100 size=100") as TransferRequest), count: 1000 };
  const receiver = new SegmentReceiver(request);
  assert.equal(receiver.expectedBytes, 1000 * 76, "the bound, until the end");
  const data = (seq: number) => ({ type: SegmentType.Data, run: 1, seq, total: 1000, sent: 0 });
  receiver.handleData(data(0), patternAt(0, 76), 1);
  receiver.handleData(data(2), patternAt(152, 76), 2);
  const cut = receiver.report(); // no END yet: what came and the gap seen, not the bound
  assert.deepEqual([cut.bytes, cut.expected_bytes, cut.missing_bytes], [152, 228, 76]);
  receiver.handleEnd(12);
  assert.equal(receiver.expectedBytes, 12 * 76);
  assert.equal(receiver.report().segments!.lost, 10);
  assert.equal(receiver.report().missing_bytes, 10 * 76);
});

Deno.test(
  "blast --report-every: intervals follow the boundaries, whatever the sampling",
  pure,
  () => {
    const meter = new IntervalMeter(500, 10_000);
    const bytes = (t: number) => (t - 10_000) * 1000; // 1,000 bytes a ms: 8 Mbit/s
    for (let t = 10_000; t <= 11_600; t += 7) meter.sample(t, { bytes: bytes(t) });
    assert.equal(meter.intervals.length, 3);
    const last = meter.finish(11_700, { bytes: bytes(11_700) })!;
    assert.equal(meter.intervals.length, 4);
    assert.equal(meter.intervals.reduce((a, i) => a + i.bytes, 0), bytes(11_700), "they add up");
    for (const [k, i] of meter.intervals.entries()) {
      assert.ok(Math.abs(i.start - k * 0.5) < 0.01, `interval ${k} starts on its boundary`);
      assert.ok(Math.abs(i.mbit_per_s! - 8) < 1e-9, "the rate over the time really passed");
    }
    assert.ok(last.end - last.start < 0.5, "the last one is partial");
    // An end just after a boundary with nothing new adds nothing.
    const idle = new IntervalMeter(1000, 0);
    idle.sample(1000, { bytes: 5 });
    assert.equal(idle.finish(1020, { bytes: 5 }), undefined);
    assert.equal(idle.finish(1020, { bytes: 6 })?.bytes, 1);
  },
);

Deno.test(
  "blast --report-every: UDP intervals count received and lost, never a negative loss",
  pure,
  () => {
    const meter = new IntervalMeter(100, 0);
    meter.sample(100, { bytes: 760, received: 10, lost: 2 });
    meter.sample(200, { bytes: 1520, received: 20, lost: 0 }); // the two arrived late
    meter.sample(300, { bytes: 2280, received: 30, lost: 1 });
    meter.sample(400, { bytes: 3040, received: 40, lost: 5 });
    assert.deepEqual(meter.intervals.map((i) => [i.received, i.lost]), [
      [10, 2],
      [10, 0],
      [10, 0], // 1 - (2 shown and taken back) stays at 0
      [10, 3], // 5 in all, 2 shown
    ]);
    assert.match(intervalLine(meter.intervals[3]), /lost\/total 3\/13 \(23\.08%\)$/);
  },
);

Deno.test("blast --parallel: the streams' intervals line up and add up", pure, () => {
  const meter = new ParallelMeter(3, 1000, 0);
  assert.equal(meter.sample(999, [{ bytes: 1 }, { bytes: 1 }, { bytes: 1 }]), undefined);
  const row = meter.sample(1000, [{ bytes: 100 }, { bytes: 200 }, { bytes: 0 }])!;
  assert.deepEqual(row.streams.map((s) => s.bytes), [100, 200, 0]);
  assert.equal(row.sum.bytes, 300);
  const end = meter.finish(1600, [{ bytes: 150 }, { bytes: 200 }, { bytes: 10 }])!;
  assert.deepEqual(end.streams.map((s) => [s.start, s.end, s.bytes]), [
    [1, 1.6, 50],
    [1, 1.6, 0],
    [1, 1.6, 10],
  ]);
  assert.deepEqual(meter.sums.map((s) => s.bytes), [300, 60]);
  const udp: IntervalFigures[] = [
    { start: 0, end: 1, bytes: 10, mbit_per_s: 0, received: 5, lost: 1 },
    { start: 0, end: 1.002, bytes: 20, mbit_per_s: 0, received: 6, lost: 2 },
  ];
  const sum = sumIntervals(udp);
  assert.deepEqual([sum.end, sum.bytes, sum.received, sum.lost], [1.002, 30, 11, 3]);
});

function download(bytes: number, seconds: number, extra: Partial<BlastReport> = {}): BlastReport {
  return {
    transport: "udp",
    server: "127.0.0.1:5201",
    mode: "download",
    request: "GET time=1000 size=1400 rate=0",
    measured_by: "client",
    complete: true,
    mb_per_s: 1,
    mbit_per_s: 8,
    receiver: {
      bytes,
      expected_bytes: bytes + 1376,
      seconds,
      corrupt_bytes: 0,
      first_corrupt_at: null,
      missing_bytes: 1376,
      segments: { sent: 11, received: 10, lost: 1, duplicated: 0, reordered: 0 },
      complete: true,
    },
    ...extra,
  };
}

Deno.test(
  "blast --parallel: the sum of the streams, and the first stream's failure fails all",
  pure,
  () => {
    const ok = combineReports([download(13_760, 1), download(13_760, 2)]);
    assert.equal(ok.error, undefined);
    assert.equal(ok.streams!.length, 2);
    assert.deepEqual(ok.sum, {
      bytes: 27_520,
      expected_bytes: 30_272,
      seconds: 2,
      segments: { sent: 22, received: 20, lost: 2, duplicated: 0, reordered: 0 },
    });
    assert.equal(ok.mbit_per_s, (27_520 * 8) / 2 / 1e6);
    const lines = parallelLines(ok);
    assert.match(lines[0], /^\[ {2}1\] received 13760 of 15136 bytes/);
    assert.match(lines.at(-1)!, /^\[SUM\] segments: 22 sent, 20 received, 2 lost \(9\.09%\)/);
    const bad = combineReports([
      download(13_760, 1),
      download(0, 0, { complete: false, error: "no answer from the server within 5 s" }),
    ]);
    assert.equal(bad.complete, false);
    assert.equal(bad.error, "stream 2: no answer from the server within 5 s");
    assert.ok(parallelLines(bad).includes("[  2] failed: no answer from the server within 5 s"));
  },
);
