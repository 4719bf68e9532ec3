/**
 * `--parallel N` (iperf3's `-P`): N streams' reports and their sum, pure.
 *
 * How this works: each stream is a whole run of its own (a TCP connection,
 * or a UDP run on its own socket, so its own port: the UDP server's one run
 * per address holds). {@link combineReports} makes the report of all of
 * them: each stream's report in `streams`, and in `sum` their bytes,
 * expected bytes and segment counts added up over the longest stream's
 * time (the streams run together, so that is the time the bytes took); the
 * rates at the top are the sum's. The run is complete, and succeeded, only
 * when every stream did: the first stream's error is the run's.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { BlastReport } from "./report.ts";
 *
 * const stream = (bytes: number, seconds: number): BlastReport => ({
 *   transport: "tcp",
 *   server: "127.0.0.1:5201",
 *   mode: "download",
 *   request: "GET bytes=1000000 size=1400 rate=0",
 *   measured_by: "client",
 *   complete: true,
 *   mb_per_s: bytes / seconds / 1e6,
 *   mbit_per_s: (bytes * 8) / seconds / 1e6,
 *   receiver: {
 *     bytes,
 *     expected_bytes: bytes,
 *     seconds,
 *     corrupt_bytes: 0,
 *     first_corrupt_at: null,
 *     missing_bytes: 0,
 *     complete: true,
 *   },
 * });
 * const all = combineReports([stream(1_000_000, 0.5), stream(1_000_000, 1)]);
 * assert.equal(all.parallel, 2);
 * assert.deepEqual(all.sum, { bytes: 2_000_000, expected_bytes: 2_000_000, seconds: 1 });
 * assert.equal(all.mbit_per_s, 16);
 * assert.equal(all.complete, true);
 * assert.equal(all.error, undefined);
 * assert.equal(
 *   parallelLines(all).at(-1),
 *   "[SUM] received 2000000 of 2000000 bytes from 127.0.0.1:5201 (tcp) in 1.000 s: 2.00 MB/s, 16.00 Mbit/s",
 * );
 * ```
 *
 * @module
 */

import {
  type BlastReport,
  rates,
  reportLines,
  segmentsLine,
  type StreamsSum,
  transferLine,
} from "./report.ts";

/** The report of N streams: each one's, and their sum (the rates at the top are the sum's). */
export function combineReports(streams: BlastReport[]): BlastReport {
  const first = streams[0];
  const withReceiver = streams.filter((s) => s.receiver !== undefined);
  const sum: StreamsSum = {
    bytes: withReceiver.reduce((a, s) => a + s.receiver!.bytes, 0),
    expected_bytes: withReceiver.reduce((a, s) => a + s.receiver!.expected_bytes, 0),
    seconds: Math.max(0, ...withReceiver.map((s) => s.receiver!.seconds)),
  };
  const counted = withReceiver.filter((s) => s.receiver!.segments !== undefined);
  if (counted.length > 0) {
    const total = (key: "received" | "lost" | "duplicated" | "reordered") =>
      counted.reduce((a, s) => a + s.receiver!.segments![key], 0);
    const sent = counted.every((s) => s.receiver!.segments!.sent !== undefined)
      ? counted.reduce((a, s) => a + s.receiver!.segments!.sent!, 0)
      : undefined;
    sum.segments = {
      sent,
      received: total("received"),
      lost: total("lost"),
      duplicated: total("duplicated"),
      reordered: total("reordered"),
    };
  }
  const { mb, mbit } = withReceiver.length > 0
    ? rates(sum.bytes, sum.seconds)
    : { mb: null, mbit: null };
  const report: BlastReport = {
    transport: first.transport,
    server: first.server,
    mode: first.mode,
    request: first.request,
    measured_by: first.measured_by,
    complete: streams.every((s) => s.complete),
    mb_per_s: mb,
    mbit_per_s: mbit,
    parallel: streams.length,
    sum,
    streams,
  };
  const failed = streams.findIndex((s) => s.error !== undefined);
  if (failed >= 0) report.error = `stream ${failed + 1}: ${streams[failed].error}`;
  return report;
}

/** A stream's tag at the start of its lines: `[  1]`, or `[SUM]`. */
export function streamTag(index: number | "sum"): string {
  return index === "sum" ? "[SUM]" : `[${String(index + 1).padStart(3)}]`;
}

/** The text of a combined report: each stream's lines tagged, then the sum's. */
export function parallelLines(r: BlastReport): string[] {
  const lines: string[] = [];
  for (const [i, s] of (r.streams ?? []).entries()) {
    for (const line of reportLines(s)) lines.push(`${streamTag(i)} ${line}`);
    if (s.error !== undefined) lines.push(`${streamTag(i)} failed: ${s.error}`);
  }
  const sum = r.sum;
  if (!sum) return lines;
  lines.push(`${streamTag("sum")} ${transferLine(r, sum)}`);
  if (sum.segments) lines.push(`${streamTag("sum")} ${segmentsLine(sum.segments)}`);
  return lines;
}
