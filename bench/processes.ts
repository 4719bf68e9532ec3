/**
 * Process plumbing for the benchmarks: start a command with stdin and stdout
 * bound to files (as a shell user would with `<` and `>`), wait for its
 * `listening on HOST:PORT` line, and read its CPU time and memory from
 * /proc while it runs.
 *
 * @module
 */

/** A benchmark child process. */
export class BenchProcess {
  readonly child: Deno.ChildProcess;
  readonly startedAt = performance.now();
  #stderr = "";
  readonly #stderrDone: Promise<void>;
  #cpu: CpuSample | undefined;
  #sampler: ReturnType<typeof setInterval> | undefined;

  /**
   * Starts `argv` with stdin from `stdinPath` (or /dev/null, or a pipe when
   * `"piped"`) and stdout to `stdoutPath` (or /dev/null).
   */
  constructor(
    argv: string[],
    options: { stdinPath?: string | "piped"; stdoutPath?: string } = {},
  ) {
    const piped = options.stdinPath === "piped";
    this.child = new Deno.Command("sh", {
      args: piped
        ? ["-c", 'exec "$@" >"$BENCH_OUT"', "sh", ...argv]
        : ["-c", 'exec "$@" <"$BENCH_IN" >"$BENCH_OUT"', "sh", ...argv],
      env: {
        BENCH_IN: piped ? "" : options.stdinPath ?? "/dev/null",
        BENCH_OUT: options.stdoutPath ?? "/dev/null",
      },
      stdin: piped ? "piped" : "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const stderr = this.child.stderr;
    this.#stderrDone = (async () => {
      const decoder = new TextDecoder();
      for await (const chunk of stderr) {
        this.#stderr += decoder.decode(chunk, { stream: true });
      }
    })();
  }

  /** What the process wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Waits (bounded) for `listening on HOST:PORT` on stderr and returns the port. */
  async port(timeoutMs = 15_000): Promise<number> {
    const deadline = performance.now() + timeoutMs;
    while (performance.now() < deadline) {
      const m = this.#stderr.match(/listening on \S+:(\d+)\b/);
      if (m) return Number(m[1]);
      await sleep(10);
    }
    throw new Error(`no "listening on" line within ${timeoutMs} ms: ${this.#stderr}`);
  }

  /** Samples CPU time every 50 ms, so the last value before exit is known. */
  sampleCpu(): void {
    const read = () => {
      const s = readCpu(this.child.pid);
      if (s) this.#cpu = s;
    };
    read();
    this.#sampler = setInterval(read, 50);
  }

  /** CPU seconds used (user + system) at the last sample, if /proc is readable. */
  get cpuSeconds(): number | undefined {
    const s = readCpu(this.child.pid) ?? this.#cpu;
    return s ? s.user + s.system : undefined;
  }

  /** Resident memory in bytes, if /proc is readable. */
  rssBytes(): number | undefined {
    return this.#statusBytes("VmRSS");
  }

  /** The most resident memory so far (the kernel's high-water mark), in bytes. */
  peakRssBytes(): number | undefined {
    return this.#statusBytes("VmHWM");
  }

  #statusBytes(field: string): number | undefined {
    try {
      const status = Deno.readTextFileSync(`/proc/${this.child.pid}/status`);
      const m = status.match(new RegExp(`${field}:\\s+(\\d+) kB`));
      return m ? Number(m[1]) * 1024 : undefined;
    } catch {
      return undefined;
    }
  }

  /** Waits (bounded) for exit; returns the exit code and wall seconds since start. */
  async exit(timeoutMs: number): Promise<{ code: number; seconds: number }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), timeoutMs)
    );
    const status = await Promise.race([this.child.status, timeout]);
    clearTimeout(timer);
    clearInterval(this.#sampler);
    if (status === "timeout") {
      this.kill("SIGKILL");
      await this.child.status;
      throw new Error(`process did not exit within ${timeoutMs} ms: ${this.#stderr.slice(-500)}`);
    }
    const seconds = (performance.now() - this.startedAt) / 1000;
    await this.#stderrDone;
    return { code: status.code, seconds };
  }

  /** Sends a signal, ignoring a process that has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }
}

interface CpuSample {
  user: number;
  system: number;
}

/** utime and stime of a process, in seconds (Linux /proc; undefined elsewhere). */
function readCpu(pid: number): CpuSample | undefined {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[0] is field 3 (state); utime is field 14, stime field 15.
    return { user: Number(fields[11]) / 100, system: Number(fields[12]) / 100 };
  } catch {
    return undefined;
  }
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
