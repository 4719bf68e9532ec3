/**
 * The targets of `pudp check`: a program pudp starts (`-- CMD ARG… {port}`),
 * with its stdout and stderr collected, its stdin a pipe that stays open
 * until a case closes it, and every wait bounded; it is stopped by its pid.
 * Also a free UDP port for it, and the wait until it is bound there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   fillTemplate(["python3", "c.py", "{host}", "{port}", "--port={port}"], { host: "127.0.0.1", port: 9 }),
 *   ["python3", "c.py", "127.0.0.1", "9", "--port=9"],
 * );
 * assert.equal(procPortBound("  1: 0100007F:2328 00000000:0000 07 …\n", 9000), true);
 * assert.equal(procPortBound("  1: 0100007F:2329 00000000:0000 07 …\n", 9000), false);
 * ```
 *
 * @module
 */

import { UsageError } from "../util/errors.ts";

/** `{host}` and `{port}` replaced in every argument. */
export function fillTemplate(
  argv: readonly string[],
  at: { host: string; port: number },
): string[] {
  return argv.map((a) => a.replaceAll("{host}", at.host).replaceAll("{port}", String(at.port)));
}

/** Checks that a command template names `{port}` (and `{host}` when `needHost`). */
export function checkTemplate(argv: readonly string[], needHost: boolean): void {
  if (argv.length === 0) throw new UsageError("missing the command after --");
  if (!argv.some((a) => a.includes("{port}"))) {
    throw new UsageError("the command must take the port as {port}");
  }
  if (needHost && !argv.some((a) => a.includes("{host}"))) {
    throw new UsageError("the command must take the server's host as {host}");
  }
}

/** A free UDP port on 127.0.0.1: bound to port 0, read, closed. */
export function freeUdpPort(): number {
  const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/** Whether a `/proc/net/udp` (or `udp6`) table has a socket bound to local `port`. */
export function procPortBound(table: string, port: number): boolean {
  const hex = ":" + port.toString(16).toUpperCase().padStart(4, "0") + " ";
  return table.split("\n").some((line) => {
    const local = line.trim().split(/\s+/)[1];
    return local !== undefined && (local + " ").endsWith(hex);
  });
}

/** The socket inodes a `/proc/net/udp` (or `udp6`) table lists as bound to local `port`. */
export function procPortInodes(table: string, port: number): string[] {
  const hex = ":" + port.toString(16).toUpperCase().padStart(4, "0") + " ";
  const inodes: string[] = [];
  for (const line of table.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (fields[1] !== undefined && (fields[1] + " ").endsWith(hex) && fields[9] !== undefined) {
      inodes.push(fields[9]);
    }
  }
  return inodes;
}

/**
 * Whether one of `inodes` is a socket of process `pid` or of one of its
 * descendants (a wrapper script's child). Undefined when /proc cannot say.
 */
async function ownedBy(pid: number, inodes: readonly string[]): Promise<boolean | undefined> {
  const pids = [pid];
  let readable = false;
  for (let i = 0; i < pids.length && i < 64; i++) {
    try {
      for await (const e of Deno.readDir(`/proc/${pids[i]}/fd`)) {
        readable = true;
        const link = await Deno.readLink(`/proc/${pids[i]}/fd/${e.name}`).catch(() => "");
        const m = /^socket:\[(\d+)\]$/.exec(link);
        if (m && inodes.includes(m[1])) return true;
      }
    } catch {
      // gone, or not ours to read
    }
    try {
      const children = await Deno.readTextFile(`/proc/${pids[i]}/task/${pids[i]}/children`);
      for (const c of children.trim().split(/\s+/)) if (c !== "") pids.push(Number(c));
    } catch {
      // no children file: only the process itself is looked at
    }
  }
  return readable ? false : undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Collects a stream's text and lets a case wait (bounded) for what it expects. */
export class TextCollector {
  /** Everything read so far. */
  text = "";
  /** Settles when the stream ends. */
  readonly done: Promise<void>;
  #wake: (() => void)[] = [];

  /** Starts reading `stream`. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const d = new TextDecoder();
      try {
        for await (const chunk of stream) {
          this.text += d.decode(chunk, { stream: true });
          this.#notify();
        }
      } catch {
        // the process went away
      }
      this.text += d.decode();
      this.#notify();
    })();
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /** Complete lines so far. */
  lines(): string[] {
    const all = this.text.split("\n");
    all.pop();
    return all;
  }

  /** Waits at most `ms` for `predicate(text)`; says whether it held. */
  async waitFor(predicate: (text: string) => boolean, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    let ended = false;
    this.done.then(() => ended = true);
    while (!predicate(this.text)) {
      const left = end - performance.now();
      if (left <= 0 || ended) return predicate(this.text);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#wake.push(r)),
        new Promise<void>((r) => timer = setTimeout(r, left)),
        this.done,
      ]);
      clearTimeout(timer);
    }
    return true;
  }
}

/** A program started for a case; stopped by its pid. */
export class Spawned {
  /** The child process. */
  readonly child: Deno.ChildProcess;
  /** Its stdout. */
  readonly stdout: TextCollector;
  /** Its stderr. */
  readonly stderr: TextCollector;
  /** Its exit code once known. */
  code: number | undefined;
  readonly #status: Promise<Deno.CommandStatus>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array>;
  /** The command line it was started with. */
  readonly argv: string[];

  /** Starts `argv` with stdin, stdout and stderr piped. */
  constructor(argv: string[]) {
    this.argv = argv;
    try {
      this.child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (e) {
      throw new UsageError(`cannot start ${argv[0]}: ${e instanceof Error ? e.message : e}`);
    }
    this.stdout = new TextCollector(this.child.stdout);
    this.stderr = new TextCollector(this.child.stderr);
    this.#stdin = this.child.stdin.getWriter();
    this.#status = this.child.status.then((s) => {
      this.code = s.code;
      return s;
    });
  }

  /** Writes to its stdin (a failed write, the program gone, is ignored). */
  async write(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(text)).catch(() => {});
  }

  /** Closes its stdin: EOF. */
  async closeStdin(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /** Waits at most `ms` for it to exit; its code, or undefined if it is still running. */
  async waitExit(ms: number): Promise<number | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const out = await Promise.race([
      this.#status.then((s) => s.code),
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
    clearTimeout(timer);
    return out;
  }

  /** Stops it by its pid: SIGTERM, then SIGKILL after `graceMs`; waits for it and its pipes. */
  async stop(graceMs = 2000): Promise<void> {
    if (this.code === undefined) {
      this.#kill("SIGTERM");
      if (await this.waitExit(graceMs) === undefined) {
        this.#kill("SIGKILL");
        await this.waitExit(5000);
      }
    }
    await this.closeStdin();
    await Promise.race([
      Promise.all([this.stdout.done, this.stderr.done]),
      sleep(1000),
    ]);
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.child.kill(signal);
    } catch {
      // already gone
    }
  }

  /** What it wrote and how it ended, for a failure's report. */
  describe(): string {
    const show = (t: string) =>
      t === "" ? "(nothing)" : t.trimEnd().split("\n").slice(-20).join("\n");
    return `command: ${this.argv.join(" ")}\nexit: ${this.code ?? "still running"}\nstdout:\n${
      show(this.stdout.text)
    }\nstderr:\n${show(this.stderr.text)}`;
  }
}

/**
 * Waits at most `ms` for the program (or a child of it) to bind UDP `port`
 * (read from `/proc/net/udp` and `udp6`, the socket's owner from
 * `/proc/PID/fd`; where there is no /proc, waits a fixed 1 s).
 * False when the program exited first or the time ran out.
 */
export async function waitBound(program: Spawned, port: number, ms: number): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (program.code !== undefined) return false;
    let tables: string[];
    try {
      tables = [await Deno.readTextFile("/proc/net/udp")];
      tables.push(await Deno.readTextFile("/proc/net/udp6").catch(() => ""));
    } catch {
      await sleep(1000);
      return program.code === undefined;
    }
    // The port must be bound by the program (or its children): another process's socket
    // on the same number (a client's ephemeral port, under load) is not the server.
    const inodes = tables.flatMap((t) => procPortInodes(t, port));
    if (inodes.length > 0 && (await ownedBy(program.child.pid, inodes)) !== false) return true;
    await sleep(15);
  }
  return false;
}
