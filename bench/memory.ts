/**
 * The memory benchmark: `pudp client` at full speed for a while, fed by an
 * endless generator (`yes` with a 60-byte line, writing into a FIFO that is
 * the client's stdin, so nothing sits in between), into `pudp server
 * --no-stdin` with stdout to /dev/null; the resident memory (VmRSS) of both
 * processes is sampled every 10 s from /proc, and the client's high-water
 * mark (VmHWM) is read at the end.
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import { lastLine } from "./faults.ts";
import { BenchProcess, sleep } from "./processes.ts";
import { settle } from "./transfer.ts";

/** Seconds between two samples. */
export const SAMPLE_EVERY_S = 10;

/** One sample: seconds since the client started, resident bytes of each. */
export interface MemorySample {
  t: number;
  clientRss: number | undefined;
  serverRss: number | undefined;
}

/** A memory run measured. */
export interface MemoryRun {
  seconds: number;
  samples: MemorySample[];
  /** The largest sample of each, and the client's VmHWM just before it was stopped. */
  clientPeakSampled: number;
  serverPeakSampled: number;
  clientHighWater: number | undefined;
  /** The client's /proc/PID/exe: the sampled process is deno itself, not a shell. */
  clientExe: string;
  /** DATA the server received (from its summary line), and per second. */
  messages: number | undefined;
  rate: number | undefined;
  /** The client's exit code after SIGTERM (143: it said GOODBYE and stopped). */
  clientCode: number;
  server: string;
}

/** Runs the client for `seconds`, sampling both processes' RSS; `fifo` is a path to create. */
export async function runMemory(
  seconds: number,
  fifo: string,
  log: (s: string) => void,
): Promise<MemoryRun> {
  const made = await new Deno.Command("mkfifo", { args: [fifo], stderr: "piped" }).output();
  if (!made.success) throw new Error(`mkfifo ${fifo}: ${new TextDecoder().decode(made.stderr)}`);
  await settle();
  const server = new BenchProcess([
    ...sourceCommand(),
    "server",
    ...["--host", "127.0.0.1", "--no-stdin", "0"],
  ]);
  let client: BenchProcess | undefined;
  let generator: Deno.ChildProcess | undefined;
  try {
    const port = await server.port();
    const line = "memory benchmark line, the same one again and again: xxxxxx";
    generator = new Deno.Command("sh", {
      args: ["-c", 'exec yes "$1" >"$2"', "sh", line, fifo],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // BenchProcess execs the command in place of its shell: the pid is deno's.
    client = new BenchProcess([...sourceCommand(), "client", "127.0.0.1", String(port)], {
      stdinPath: fifo,
    });
    let exited = false;
    client.child.status.then(() => exited = true);
    const started = client.startedAt;
    const samples: MemorySample[] = [];
    let clientExe = "";
    const sample = () => {
      if (exited) throw new Error(`pudp client exited early: ${client!.stderr.trim()}`);
      const s: MemorySample = {
        t: Math.round((performance.now() - started) / 100) / 10,
        clientRss: client!.rssBytes(),
        serverRss: server.rssBytes(),
      };
      samples.push(s);
      log(
        `memory at ${s.t} s: client ${mib(s.clientRss)} MiB, server ${mib(s.serverRss)} MiB`,
      );
    };
    let next = SAMPLE_EVERY_S;
    while (next <= seconds) {
      await sleep(started + next * 1000 - performance.now());
      if (!clientExe) clientExe = exeOf(client.child.pid);
      sample();
      next += SAMPLE_EVERY_S;
    }
    if (samples.length === 0 || samples.at(-1)!.t < seconds - 0.5) {
      await sleep(started + seconds * 1000 - performance.now());
      if (!clientExe) clientExe = exeOf(client.child.pid);
      sample();
    }
    const clientHighWater = client.peakRssBytes();
    client.kill("SIGTERM");
    const { code } = await client.exit(30_000);
    stop(generator, "SIGTERM");
    await generator.status;
    server.kill("SIGTERM");
    await server.exit(30_000);
    const summary = lastLine(server.stderr, "pudp server:");
    const messages = summary.match(/(\d+) messages/)?.[1];
    const peak = (xs: (number | undefined)[]) => Math.max(...xs.map((x) => x ?? 0));
    return {
      seconds,
      samples,
      clientPeakSampled: peak(samples.map((s) => s.clientRss)),
      serverPeakSampled: peak(samples.map((s) => s.serverRss)),
      clientHighWater,
      clientExe,
      messages: messages === undefined ? undefined : Number(messages),
      rate: messages === undefined ? undefined : Number(messages) / seconds,
      clientCode: code,
      server: summary,
    };
  } finally {
    if (generator) stop(generator, "SIGKILL");
    client?.kill("SIGKILL");
    server.kill("SIGKILL");
  }
}

/** Bytes in MiB with one decimal ("?" when unknown). */
export function mib(bytes: number | undefined): string {
  return bytes === undefined ? "?" : (bytes / 2 ** 20).toFixed(1);
}

function stop(p: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    p.kill(signal);
  } catch {
    // already gone
  }
}

function exeOf(pid: number): string {
  try {
    return Deno.readLinkSync(`/proc/${pid}/exe`);
  } catch {
    return "?";
  }
}
