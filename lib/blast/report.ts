/**
 * The client's report of one blast run: the figures as one object (what
 * `--json` prints, like `iperf3 -J`) and as text lines.
 *
 * @module
 */

import type { IntervalFigures } from "./intervals.ts";
import type { ReceiverReport } from "./receiver.ts";
import type { SenderFigures } from "./segment_source.ts";
import type { ClassicFigures } from "./classic_receiver.ts";
import type { SegmentCounts } from "./tally.ts";

/** Round trips of an echo run. */
export interface EchoFigures {
  /** The text sent in each round. */
  text: string;
  /** Round trips asked for, and answered. */
  rounds: number;
  /** Round trips answered. */
  answered: number;
  /** Requests sent (retries included, over UDP). */
  requests: number;
  /** Smallest, mean and largest round trip in ms; null when none was answered. */
  rtt_ms: { min: number; avg: number; max: number } | null;
  /** Every round trip, in ms. */
  samples: number[];
}

/** Everything a client run measured. */
export interface BlastReport {
  /** The transport the run used. */
  transport: "tcp" | "udp";
  /** The server, HOST:PORT. */
  server: string;
  /** `echo`, `download` (the server sent) or `upload`. */
  mode: "echo" | "download" | "upload";
  /** The request line sent. */
  request: string;
  /** Which side's figures `bytes`, `seconds` and the counts are: always the receiver's. */
  measured_by: "client" | "server";
  /** Whether the run ended as the protocol says (the end marker, every byte). */
  complete: boolean;
  /** Bytes per second over the measured time, in MB (10^6) and Mbit (10^6 bits); null for 0 s. */
  mb_per_s: number | null;
  /** The same rate in Mbit/s (10^6 bits); null for 0 s. */
  mbit_per_s: number | null;
  /** The receiver's figures, for a transfer. */
  receiver?: ReceiverReport;
  /** The sender's figures, where the sender told them (UDP, and TCP uploads). */
  sender?: SenderFigures;
  /** For an echo. */
  echo?: EchoFigures;
  /**
   * `--report-every`: the run's intervals (with `--parallel`, their sums);
   * `intervals_by` says whose count they are.
   */
  intervals?: IntervalFigures[];
  /** `receiver` (a download: the client counts what arrives), or `sender` (an upload: what the client sent). */
  intervals_by?: "receiver" | "sender";
  /** `--parallel N`: the number of streams (present when N > 1). */
  parallel?: number;
  /** `--parallel N`: all streams' figures added up (the top rates are the sum's). */
  sum?: StreamsSum;
  /** `--parallel N`: each stream's own report. */
  streams?: BlastReport[];
  /** `--classic`: the 2015 protocol's request and how its end was known. */
  classic?: ClassicFigures;
  /** `--time`: present (true) when the server's `--max-bytes` ended the run before its time. */
  cut_by_limit?: boolean;
  /** Why the run failed, when it did (also the one line on stderr). */
  error?: string;
}

/** The sum of N streams (`--parallel`). */
export interface StreamsSum {
  /** Payload bytes received, all streams. */
  bytes: number;
  /** Payload bytes the streams should have had. */
  expected_bytes: number;
  /** The longest stream's measured time, in seconds. */
  seconds: number;
  /** UDP: the segment counts added up (`sent` only when every stream's end marker came). */
  segments?: Omit<SegmentCounts, "out_of_range">;
}

/** MB/s and Mbit/s of `bytes` in `seconds` (null for no time). */
export function rates(bytes: number, seconds: number): { mb: number | null; mbit: number | null } {
  if (!(seconds > 0)) return { mb: null, mbit: null };
  return { mb: bytes / seconds / 1e6, mbit: (bytes * 8) / seconds / 1e6 };
}

const ms = (v: number) => v.toFixed(3);

/** The report as text lines (for stdout). */
export function reportLines(r: BlastReport): string[] {
  const lines: string[] = [];
  if (r.echo) {
    const e = r.echo;
    for (const [i, rtt] of e.samples.entries()) {
      lines.push(`echo ${i + 1} from ${r.server} (${r.transport}): round trip ${ms(rtt)} ms`);
    }
    if (e.rounds > 1 && e.rtt_ms) {
      lines.push(
        `${e.answered} of ${e.rounds} ${
          e.rounds === 1 ? "echo" : "echoes"
        } answered (${e.requests} sent), ` +
          `round trip min ${ms(e.rtt_ms.min)} / avg ${ms(e.rtt_ms.avg)} / max ${
            ms(e.rtt_ms.max)
          } ms`,
      );
    }
    if (r.classic) lines.push(classicLine(r.classic));
    return lines;
  }
  const rx = r.receiver;
  if (!rx) return r.classic ? [...lines, classicLine(r.classic)] : lines;
  lines.push(transferLine(r, rx));
  if (rx.segments) lines.push(segmentsLine(rx.segments));
  if (rx.delay_ms) {
    const d = rx.delay_ms;
    lines.push(
      `one-way delay: min ${ms(d.min)} / avg ${ms(d.avg)} / max ${ms(d.max)} ms, ` +
        `spread ${ms(d.spread)} ms, jitter ${ms(d.jitter)} ms`,
    );
  }
  const checked = rx.corrupt_bytes === 0
    ? `pattern: every byte that arrived is right`
    : `pattern: ${rx.corrupt_bytes} bytes wrong, the first at offset ${rx.first_corrupt_at}`;
  lines.push(rx.missing_bytes > 0 ? `${checked}; ${rx.missing_bytes} bytes missing` : checked);
  if (r.classic) lines.push(classicLine(r.classic));
  return lines;
}

/**
 * The line of what was moved: `received B of E bytes from SERVER (tcp) in
 * S s: RATE`; the figures are `moved`'s (a receiver's, or `--parallel`'s
 * sum), the rate, direction and server `r`'s.
 */
export function transferLine(
  r: BlastReport,
  moved: { bytes: number; expected_bytes: number; seconds: number },
): string {
  const verb = r.mode === "download" ? "received" : "sent";
  const who = r.measured_by === "server" ? ", measured by the server" : "";
  const rate = r.mb_per_s === null
    ? "too short to time"
    : `${r.mb_per_s.toFixed(2)} MB/s, ${r.mbit_per_s!.toFixed(2)} Mbit/s`;
  return `${verb} ${moved.bytes} of ${moved.expected_bytes} bytes ${
    r.mode === "download" ? "from" : "to"
  } ${r.server} (${r.transport}) in ${moved.seconds.toFixed(3)} s: ${rate}${who}`;
}

/** The line of the segment counts: `segments: N sent, N received, N lost (P%), …`. */
export function segmentsLine(s: SegmentCounts): string {
  const sent = s.sent === undefined ? "no end marker" : `${s.sent} sent`;
  const pct = s.sent ? ` (${((100 * s.lost) / s.sent).toFixed(2)}%)` : "";
  return `segments: ${sent}, ${s.received} received, ${s.lost} lost${pct}, ` +
    `${s.duplicated} duplicated, ${s.reordered} reordered` +
    (s.out_of_range ? `, ${s.out_of_range} out of range (dropped)` : "");
}

/** The `--classic` line: the request, and how the end was known. */
function classicLine(c: ClassicFigures): string {
  const notice = c.notice === undefined ? "" : c.notice ? ", file_prepared" : ", no file_prepared";
  const chunks = c.chunks === undefined ? "" : `, ${c.chunks} reads or datagrams`;
  const extra = c.extra_bytes ? `, ${c.extra_bytes} bytes extra` : "";
  return `classic: '${c.request}'${notice}${chunks}${extra}, end: ${c.end}`;
}
