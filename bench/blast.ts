/**
 * `pudp blast` against iperf3 on loopback, in paired rounds (iperf3, then
 * blast, back to back, so both see the same machine load):
 * - TCP: `iperf3 -n BYTES` against `pudp blast client --bytes BYTES` (a
 *   download, every byte checked against the pattern);
 * - UDP at 1,400-byte datagrams and no rate limit: `iperf3 -u -b 0 -l 1400
 *   -n BYTES` against `pudp blast client --udp --upload --size 1400 --bytes
 *   BYTES`; the figure is the throughput the receiver got, and both tools'
 *   loss is printed beside it.
 * iperf3 is installed with apt-get when missing.
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import { BenchProcess } from "./processes.ts";

/** One round's figures, in bit/s received, and the loss in percent (UDP). */
export interface BlastRound {
  iperf3: number;
  blast: number;
  iperf3Loss?: number;
  blastLoss?: number;
}

/** Installs iperf3 with apt-get when it is missing. */
export async function ensureIperf3(log: (s: string) => void): Promise<void> {
  const has = async () => {
    try {
      return (await new Deno.Command("iperf3", {
        args: ["--version"],
        stdout: "null",
        stderr: "null",
      })
        .output()).success;
    } catch {
      return false;
    }
  };
  if (await has()) return;
  log("iperf3 is missing: installing it with apt-get");
  await new Deno.Command("sh", {
    args: [
      "-c",
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iperf3",
    ],
    stdout: "null",
  }).output();
  if (!await has()) throw new Error("iperf3 is not installed and apt-get could not install it");
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function output(argv: string[]): Promise<string> {
  const r = await new Deno.Command(argv[0], {
    args: argv.slice(1),
    stdin: "null",
    stderr: "inherit",
  })
    .output();
  const text = new TextDecoder().decode(r.stdout);
  if (!r.success && !text.startsWith("{")) throw new Error(`${argv.join(" ")} failed (${r.code})`);
  return text;
}

/** One iperf3 run: received bit/s and (UDP) loss in percent. */
export async function iperf3(udp: boolean, bytes: number): Promise<{ bps: number; loss?: number }> {
  const port = freePort();
  const server = new BenchProcess(["iperf3", "-s", "-1", "-B", "127.0.0.1", "-p", String(port)]);
  try {
    await new Promise((r) => setTimeout(r, 300));
    const args = ["iperf3", "-c", "127.0.0.1", "-p", String(port), "-n", String(bytes), "-J"];
    if (udp) args.push("-u", "-b", "0", "-l", "1400");
    const j = JSON.parse(await output(args));
    if (!udp) return { bps: j.end.sum_received.bits_per_second };
    const sum = j.end.sum_received ?? j.end.sum;
    const loss = j.end.sum.lost_percent as number;
    const bps = j.end.sum_received ? sum.bits_per_second : sum.bits_per_second * (1 - loss / 100);
    return { bps, loss };
  } finally {
    server.kill("SIGKILL");
    await server.child.status;
  }
}

/**
 * One blast run: received bit/s and (UDP) loss in percent; `extra` flags go
 * to both ends (such as `--udp-io deno`).
 */
export async function blast(
  udp: boolean,
  bytes: number,
  extra: string[] = [],
): Promise<{ bps: number; loss?: number }> {
  const cmd = sourceCommand();
  const t = udp ? ["--udp"] : [];
  const server = new BenchProcess([
    ...cmd,
    "blast",
    "server",
    ...t,
    ...extra,
    "--host",
    "127.0.0.1",
    "--max-bytes",
    String(bytes),
    "0",
  ]);
  try {
    const port = await server.port();
    const args = [
      ...cmd,
      "blast",
      "client",
      ...t,
      ...extra,
      "--json",
      "127.0.0.1",
      String(port),
      "--bytes",
      String(bytes),
    ];
    if (udp) args.push("--upload", "--size", "1400");
    const r = JSON.parse(await output(args));
    if (r.error) throw new Error(`blast: ${r.error}`);
    const rx = r.receiver;
    const bps = (rx.bytes * 8) / rx.seconds;
    if (!udp) return { bps };
    const s = rx.segments;
    return { bps, loss: (100 * s.lost) / s.sent };
  } finally {
    server.kill("SIGKILL");
    await server.child.status;
  }
}

/** `rounds` paired rounds of one transport. */
export async function runBlastBench(
  udp: boolean,
  bytes: number,
  rounds: number,
  log: (s: string) => void,
): Promise<BlastRound[]> {
  const out: BlastRound[] = [];
  for (let r = 0; r < rounds; r++) {
    const i = await iperf3(udp, bytes);
    const b = await blast(udp, bytes);
    const round: BlastRound = { iperf3: i.bps, blast: b.bps };
    if (udp) {
      round.iperf3Loss = i.loss;
      round.blastLoss = b.loss;
    }
    log(
      `blast ${udp ? "udp" : "tcp"} round ${r + 1}: iperf3 ${(i.bps / 1e9).toFixed(2)} Gbit/s` +
        (udp ? ` (${i.loss!.toFixed(2)}% lost)` : "") +
        `, blast ${(b.bps / 1e9).toFixed(2)} Gbit/s` +
        (udp ? ` (${b.loss!.toFixed(2)}% lost)` : "") +
        `: ${(b.bps / i.bps).toFixed(3)}x`,
    );
    out.push(round);
  }
  return out;
}
