/**
 * Test helpers that run the real `pudp` CLI as a user would: a child process
 * of this Deno (`Deno.execPath()`), or the compiled binary when one is given.
 * Every wait is bounded in time; every process is killed and reaped on
 * dispose, so tests cannot leak processes.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sourceCommand } from "../../scripts/source_command.ts";

export { sourceCommand };

const ROOT = new URL("../../", import.meta.url);
/** Absolute path of the repository root. */
export const ROOT_DIR = new URL(".", ROOT).pathname;

const decoder = new TextDecoder();
const encoder = new TextEncoder();

/**
 * How a test reads a process's output: called after each chunk with the
 * bytes read so far; a promise it returns pauses the reading (a slow or
 * stalling reader: the process then blocks on a full pipe).
 */
export type ReadPace = (bytesSoFar: number) => Promise<void> | undefined;

/** Collects a stream's text as it arrives, so tests can wait for a line. */
class TextCollector {
  text = "";
  readonly done: Promise<void>;
  #waiters = new Set<() => void>();

  constructor(stream: ReadableStream<Uint8Array>, pace?: ReadPace) {
    this.done = (async () => {
      const d = new TextDecoder();
      let bytes = 0;
      for await (const chunk of stream) {
        this.text += d.decode(chunk, { stream: true });
        for (const w of this.#waiters) w();
        bytes += chunk.length;
        const pause = pace?.(bytes);
        if (pause) await pause;
      }
      this.text += d.decode();
      for (const w of this.#waiters) w();
    })();
  }

  /** Waits until `predicate(text)` holds; fails after `timeoutMs`. */
  async waitFor(
    predicate: (text: string) => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    if (predicate(this.text)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let wake = () => {};
    const timedOut = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), timeoutMs)
    );
    try {
      for (;;) {
        const changed = new Promise<"changed">((r) => wake = () => r("changed"));
        this.#waiters.add(wake);
        const why = await Promise.race([changed, timedOut, this.done.then(() => "ended" as const)]);
        this.#waiters.delete(wake);
        if (predicate(this.text)) return;
        if (why !== "changed") {
          assert.fail(
            `${what}: not seen within ${timeoutMs} ms (${why}); got:\n${this.text.slice(-2000)}`,
          );
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /** Complete lines so far. */
  lines(): string[] {
    const all = this.text.split("\n");
    all.pop();
    return all;
  }
}

/** A running CLI process with its stdout and stderr collected. */
export class CliProcess {
  readonly child: Deno.ChildProcess;
  readonly stdout: TextCollector;
  readonly stderr: TextCollector;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array> | undefined;
  readonly startedAt = performance.now();
  #status: Promise<Deno.CommandStatus>;

  /**
   * Starts `argv`; `stdoutPace`, when given, is how fast the test reads its
   * stdout (default: as fast as it comes).
   */
  constructor(
    argv: string[],
    stdin: "piped" | "null",
    env?: Record<string, string>,
    stdoutPace?: ReadPace,
  ) {
    this.child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      stdin,
      stdout: "piped",
      stderr: "piped",
      cwd: ROOT_DIR,
      env,
    }).spawn();
    this.stdout = new TextCollector(this.child.stdout, stdoutPace);
    this.stderr = new TextCollector(this.child.stderr);
    this.#stdin = stdin === "piped" ? this.child.stdin.getWriter() : undefined;
    this.#status = this.child.status;
  }

  /** Writes to the process's stdin. */
  async write(data: string | Uint8Array): Promise<void> {
    assert.ok(this.#stdin, "stdin is not piped");
    await this.#stdin.write(typeof data === "string" ? encoder.encode(data) : data);
  }

  /** Closes the process's stdin (EOF). */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close().catch(() => {});
  }

  /** Waits for exit (bounded); returns the code and collected output. */
  async exit(
    timeoutMs = 15_000,
  ): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) =>
      timer = setTimeout(() => r("timeout"), timeoutMs)
    );
    const status = await Promise.race([this.#status, timeout]);
    clearTimeout(timer);
    if (status === "timeout") {
      this.kill("SIGKILL");
      assert.fail(`process did not exit within ${timeoutMs} ms; stderr:\n${this.stderr.text}`);
    }
    const ms = performance.now() - this.startedAt;
    await Promise.all([this.stdout.done, this.stderr.done]);
    return { code: status.code, stdout: this.stdout.text, stderr: this.stderr.text, ms };
  }

  /** Sends a signal, ignoring a process that has already exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGKILL");
    await this.closeStdin();
    await this.#status;
    await Promise.all([this.stdout.done, this.stderr.done]).catch(() => {});
  }
}

/** Runs the CLI with `args` (argv prefix `cmd`) and stdin piped or null. */
export function spawnCli(
  args: string[],
  stdin: "piped" | "null" = "null",
  cmd = sourceCommand(),
): CliProcess {
  return new CliProcess([...cmd, ...args], stdin);
}

/** A running `pudp server` on 127.0.0.1 with its port. */
export interface RunningServer {
  process: CliProcess;
  port: number;
}

/**
 * Starts `pudp server 0` with extra args (stdin piped and kept open, so EOF
 * is under the test's control) and waits for its `listening on` line. Its
 * stdout is read as fast as it comes, or as `stdoutPace` says.
 */
export async function startServer(
  args: string[] = [],
  cmd = sourceCommand(),
  stdoutPace?: ReadPace,
): Promise<RunningServer> {
  const argv = [...cmd, "server", "--host", "127.0.0.1", ...args, "0"];
  const process = new CliProcess(argv, "piped", undefined, stdoutPace);
  await process.stderr.waitFor((t) => /listening on \S+:\d+\n/.test(t), 15_000, "listening line");
  const port = Number(process.stderr.text.match(/listening on \S+:(\d+)\n/)![1]);
  return { process, port };
}

/**
 * Starts any long-running pudp command (`frame server … 0`, `pipe server …
 * 0`) and waits for its `listening on HOST:PORT` line.
 */
export async function startListening(
  args: string[],
  stdin: "piped" | "null" = "null",
  env?: Record<string, string>,
): Promise<RunningServer> {
  const process = new CliProcess([...sourceCommand(), ...args], stdin, env);
  await process.stderr.waitFor((t) => /listening on \S+:\d+\b/.test(t), 15_000, "listening line");
  const port = Number(process.stderr.text.match(/listening on \S+:(\d+)\b/)![1]);
  return { process, port };
}

/** Stops a server started by {@link startServer} by closing its stdin; asserts exit 0, returns its output. */
export async function stopServer(server: RunningServer) {
  await server.process.closeStdin();
  const out = await server.process.exit();
  assert.equal(out.code, 0, out.stderr);
  return out;
}

/** Runs `pudp client` to completion with `input` on stdin. */
export async function runClient(
  port: number,
  input: string | Uint8Array,
  args: string[] = [],
  cmd = sourceCommand(),
  host = "127.0.0.1",
): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  await using client = spawnCli(["client", ...args, host, String(port)], "piped", cmd);
  await client.write(input);
  await client.closeStdin();
  return await client.exit(30_000);
}

/** Lines of a server's stdout that belong to the session with `hexId`, without the id. */
export function sessionLines(stdout: string, hexId: string): string[] {
  return stdout.split("\n").filter((l) => l.startsWith(hexId + " ")).map((l) =>
    l.slice(hexId.length + 1)
  );
}

/** The ids of sessions created, in order, from a server's stdout. */
export function createdSessions(stdout: string): string[] {
  return [...stdout.matchAll(/^(0x[0-9a-f]{8}) \[\d+\] Session created$/gm)].map((m) => m[1]);
}

export { decoder };
