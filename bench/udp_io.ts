/**
 * The `udpio` scenario: pudp's batched UDP socket (`--udp-io ffi`) against
 * Deno's (`--udp-io deno`), in paired rounds (each round runs both back to
 * back, alternating which goes first), reported as ratios:
 * - transfer: `pudp client` → `pudp server`, both ends on the same path;
 *   ffi's rate over deno's, and the lines lost (must be 0);
 * - blast: `pudp blast client --udp --upload --size 1400 --bytes N` on each
 *   path against `iperf3 -u -b 0 -l 1400 -n N` on 127.0.0.1 in the same
 *   round: received rate over iperf3's, with each one's loss;
 * - course: the unpaced course-style client (tests/interop/course_peers.py,
 *   no pacing at all) sending N lines to `pudp server`: the fraction of
 *   lines printed, on each path.
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import { blast, iperf3 } from "./blast.ts";
import { BenchProcess } from "./processes.ts";
import { countDelivered, runTransfer, settle, type TransferRun, writeInput } from "./transfer.ts";

/** The two paths compared. */
export const PATHS = ["ffi", "deno"] as const;
/** One of {@link PATHS}. */
export type UdpPath = typeof PATHS[number];

const COURSE = new URL("../tests/interop/course_peers.py", import.meta.url).pathname;

/** One round of the transfer comparison. */
export interface UdpIoTransferRound {
  ffi: TransferRun;
  deno: TransferRun;
  ratio: number;
}

/** `rounds` paired transfers of `lines` lines (the file `input`). */
export async function udpIoTransfer(
  input: string,
  lines: number,
  out: string,
  rounds: number,
  log: (s: string) => void,
): Promise<UdpIoTransferRound[]> {
  const result: UdpIoTransferRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const runs: Partial<Record<UdpPath, TransferRun>> = {};
    for (const io of r % 2 ? [...PATHS].reverse() : PATHS) {
      const flags = ["--udp-io", io];
      runs[io] = await runTransfer("pudp", input, lines, out, flags, flags);
      log(
        `udpio transfer ${io} run ${r + 1}: ${runs[io]!.seconds.toFixed(2)} s, ` +
          `lost ${runs[io]!.lost}`,
      );
    }
    const ratio = runs.ffi!.rate / runs.deno!.rate;
    log(`udpio transfer round ${r + 1}: ffi at ${ratio.toFixed(3)}x deno's rate`);
    result.push({ ffi: runs.ffi!, deno: runs.deno!, ratio });
  }
  return result;
}

/** One round of the blast comparison: bit/s received and loss in percent. */
export interface UdpIoBlastRound {
  iperf3: number;
  iperf3Loss: number;
  ffi: number;
  ffiLoss: number;
  deno: number;
  denoLoss: number;
}

/** `rounds` rounds of iperf3, blast on ffi and blast on deno (UDP, 1,400-byte upload). */
export async function udpIoBlast(
  bytes: number,
  rounds: number,
  log: (s: string) => void,
): Promise<UdpIoBlastRound[]> {
  const result: UdpIoBlastRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const i = await iperf3(true, bytes);
    const got: Partial<Record<UdpPath, { bps: number; loss?: number }>> = {};
    for (const io of r % 2 ? [...PATHS].reverse() : PATHS) {
      got[io] = await blast(true, bytes, ["--udp-io", io]);
    }
    const round = {
      iperf3: i.bps,
      iperf3Loss: i.loss ?? 0,
      ffi: got.ffi!.bps,
      ffiLoss: got.ffi!.loss ?? 0,
      deno: got.deno!.bps,
      denoLoss: got.deno!.loss ?? 0,
    };
    const g = (x: number) => (x / 1e9).toFixed(2);
    log(
      `udpio blast round ${r + 1}: iperf3 ${g(round.iperf3)} Gbit/s ` +
        `(${round.iperf3Loss.toFixed(2)}% lost), ffi ${g(round.ffi)} ` +
        `(${round.ffiLoss.toFixed(2)}%): ${(round.ffi / round.iperf3).toFixed(3)}x, deno ` +
        `${g(round.deno)} (${round.denoLoss.toFixed(2)}%): ${
          (round.deno / round.iperf3).toFixed(3)
        }x`,
    );
    result.push(round);
  }
  return result;
}

/** One course-client run: lines printed by `pudp server` over lines sent. */
export interface CourseRun {
  io: UdpPath;
  delivered: number;
  lines: number;
  fraction: number;
}

/** The unpaced course client sends `lines` lines to `pudp server --udp-io io`. */
export async function courseRun(
  io: UdpPath,
  lines: number,
  tmp: string,
): Promise<CourseRun> {
  const input = `${tmp}/course-input.txt`;
  const out = `${tmp}/course-out.txt`;
  await writeInput(input, lines);
  await settle();
  const server = new BenchProcess(
    [...sourceCommand(), "server", "--host", "127.0.0.1", "--no-stdin", "--udp-io", io, "0"],
    { stdoutPath: out },
  );
  try {
    const port = await server.port();
    const client = new BenchProcess(
      ["python3", COURSE, "client", "127.0.0.1", String(port), "--timeout", "2"],
      { stdinPath: input },
    );
    await client.exit(120_000);
    server.kill("SIGTERM");
    await server.exit(30_000);
    const delivered = await countDelivered(out, [lines]);
    return { io, delivered, lines, fraction: delivered / lines };
  } finally {
    server.kill("SIGKILL");
  }
}

/** `rounds` paired course runs (each round: both paths, alternating which goes first). */
export async function udpIoCourse(
  lines: number,
  rounds: number,
  tmp: string,
  log: (s: string) => void,
): Promise<CourseRun[]> {
  const result: CourseRun[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const io of r % 2 ? [...PATHS].reverse() : PATHS) {
      const run = await courseRun(io, lines, tmp);
      log(
        `udpio course ${io} round ${r + 1}: ${run.delivered} of ${lines} lines printed ` +
          `(${(run.fraction * 100).toFixed(1)}%)`,
      );
      result.push(run);
    }
  }
  return result;
}
