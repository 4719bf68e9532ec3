/**
 * Helpers for the `pudp pipe` tests: a server whose stdout this process
 * reads as raw bytes (or hashes), clients, input patterns, peak memory.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type CliProcess, sourceCommand, spawnCli } from "./cli.ts";

/**
 * A pipe server's stdout, read by this process: kept as raw bytes, or (for
 * the big runs) hashed in segments of `segment` bytes, one hash each.
 */
export class PipeOutput {
  readonly chunks: Uint8Array[] = [];
  readonly segmentHashes: string[] = [];
  length = 0;
  readonly done: Promise<void>;
  #hash = createHash("sha256");
  #inSegment = 0;

  constructor(readonly child: Deno.ChildProcess, readonly segment?: number) {
    this.done = (async () => {
      for await (const chunk of child.stdout) {
        this.length += chunk.length;
        if (segment === undefined) this.chunks.push(chunk);
        else this.#hashed(chunk, segment);
      }
      if (this.#inSegment > 0) this.segmentHashes.push(this.#hash.digest("hex"));
    })();
  }

  #hashed(chunk: Uint8Array, segment: number): void {
    for (let at = 0; at < chunk.length;) {
      const n = Math.min(segment - this.#inSegment, chunk.length - at);
      this.#hash.update(chunk.subarray(at, at + n));
      this.#inSegment += n;
      at += n;
      if (this.#inSegment === segment) {
        this.segmentHashes.push(this.#hash.digest("hex"));
        this.#hash = createHash("sha256");
        this.#inSegment = 0;
      }
    }
  }

  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let at = 0;
    for (const c of this.chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

/** Starts `pudp pipe server` on 127.0.0.1 with stdout read by this process (see {@link PipeOutput}). */
export async function startPipe(args: string[], segment?: number, env?: Record<string, string>) {
  const child = new Deno.Command(sourceCommand()[0], {
    args: [...sourceCommand().slice(1), "pipe", "server", "--host", "127.0.0.1", ...args, "0"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  let stderr = "";
  const stderrDone = (async () => {
    const d = new TextDecoder();
    for await (const c of child.stderr) stderr += d.decode(c, { stream: true });
  })();
  const deadline = Date.now() + 15_000;
  while (!/listening on \S+:\d+/.test(stderr)) {
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      assert.fail(`no listening line: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  const output = new PipeOutput(child, segment);
  return {
    port: Number(stderr.match(/listening on \S+:(\d+)/)![1]),
    output,
    child,
    stderr: () => stderr,
    /** SIGINT, then the exit status and everything written, within `ms`. */
    async stop(ms = 30_000) {
      child.kill("SIGINT");
      const timer = setTimeout(() => child.kill("SIGKILL"), ms);
      const status = await child.status;
      clearTimeout(timer);
      await Promise.all([output.done, stderrDone]);
      return status.code;
    },
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone
      }
      await child.status;
      await Promise.all([output.done, stderrDone]).catch(() => {});
    },
  };
}

export function pipeClient(port: number): CliProcess {
  return spawnCli(["pipe", "client", "127.0.0.1", String(port)], "piped");
}

/** Peak resident memory of a process so far (VmHWM), in bytes; 0 once it is gone. */
export async function peakRss(pid: number): Promise<number> {
  try {
    const status = await Deno.readTextFile(`/proc/${pid}/status`);
    return Number(status.match(/VmHWM:\s+(\d+) kB/)![1]) * 1024;
  } catch {
    return 0;
  }
}

/** Deterministic pseudo-random bytes (xorshift32) for input `seed`. */
export function pattern(seed: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  let x = seed * 2654435761 >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}
