/**
 * Runs a command on a real pseudo-terminal with util-linux `script`, for the
 * behaviour that depends on a terminal (a `q` line, escaping, the progress
 * line). Bounded in time; the process is killed if it does not exit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { sourceCommand } from "./cli.ts";

/** Whether `script` is installed (`.ci/run` installs bsdutils when it is not). */
export const HAS_SCRIPT = await new Deno.Command("sh", {
  args: ["-c", "command -v script"],
  stdout: "null",
}).output().then((o) => o.success).catch(() => false);

/** `args` as one shell word each, after the pudp command: for {@link onTerminal}. */
export function pudpCommandLine(args: string[]): string {
  return [...sourceCommand(), ...args].map((a) => `'${a}'`).join(" ");
}

/**
 * Runs the shell command line `line` with the pty as its terminal (stdin,
 * stdout and stderr, unless `line` redirects them); `input` chunks are typed
 * 700 ms apart. Returns the exit code and everything the terminal showed.
 */
export async function onTerminal(
  line: string,
  input: string[] = [],
  timeoutMs = 15_000,
): Promise<{ code: number; output: string; ms: number }> {
  const started = performance.now();
  const child = new Deno.Command("script", {
    args: ["-qec", line, "/dev/null"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  for (const chunk of input) {
    await writer.write(new TextEncoder().encode(chunk));
    await new Promise((r) => setTimeout(r, 700));
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), timeoutMs));
  const result = await Promise.race([child.output(), timeout]);
  clearTimeout(timer);
  await writer.close().catch(() => {});
  if (result === "timeout") {
    child.kill("SIGKILL");
    await child.status;
    assert.fail("process on the terminal did not exit");
  }
  return {
    code: result.code,
    output: new TextDecoder().decode(result.stdout),
    ms: performance.now() - started,
  };
}

/** A long-running command on a pseudo-terminal: what the terminal shows so far, keys to type. */
export class TerminalProcess implements AsyncDisposable {
  readonly #child: Deno.ChildProcess;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>;
  readonly #reading: Promise<void>;
  /** Everything the terminal showed so far (stdout and stderr of the command). */
  text = "";

  /** Starts the shell command line `line` under `script`. */
  constructor(line: string) {
    const child = new Deno.Command("script", {
      args: ["-qec", line, "/dev/null"],
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#writer = child.stdin.getWriter();
    this.#reading = (async () => {
      const d = new TextDecoder();
      for await (const chunk of child.stdout) this.text += d.decode(chunk, { stream: true });
    })();
  }

  /** Waits (at most `ms`) until the terminal shows a match of `pattern`; returns the match. */
  async waitFor(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    const deadline = performance.now() + ms;
    for (;;) {
      const m = this.text.match(pattern);
      if (m) return m;
      assert.ok(performance.now() < deadline, `no ${pattern} in:\n${JSON.stringify(this.text)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Types `keys` on the terminal (`\x03` is Ctrl-C). */
  async type(keys: string): Promise<void> {
    await this.#writer.write(new TextEncoder().encode(keys));
  }

  /** Waits (at most `ms`) for the command to exit; returns its status code. */
  async exit(ms = 15_000): Promise<number> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((r) => timer = setTimeout(() => r("timeout"), ms));
    const status = await Promise.race([this.#child.status, timeout]);
    clearTimeout(timer);
    assert.ok(status !== "timeout", "process on the terminal did not exit");
    await this.#reading;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.#writer.close().catch(() => {});
    await this.#child.status;
    await this.#reading.catch(() => {});
  }
}
