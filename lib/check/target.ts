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
 * ```
 *
 * @module
 */

import { UsageError } from "../util/errors.ts";

/** `{host}`, `{port}` (and `{id}`, when given) replaced in every argument. */
export function fillTemplate(
  argv: readonly string[],
  at: { host: string; port: number; id?: string },
): string[] {
  return argv.map((a) => {
    const filled = a.replaceAll("{host}", at.host).replaceAll("{port}", String(at.port));
    return at.id === undefined ? filled : filled.replaceAll("{id}", at.id);
  });
}

/** Checks that a command template names `{port}` (and `{host}` when `needHost`, `{id}` when `needId`). */
export function checkTemplate(argv: readonly string[], needHost: boolean, needId = false): void {
  if (argv.length === 0) throw new UsageError("missing the command after --");
  if (!argv.some((a) => a.includes("{port}"))) {
    throw new UsageError("the command must take the port as {port}");
  }
  if (needHost && !argv.some((a) => a.includes("{host}"))) {
    throw new UsageError("the command must take the server's host as {host}");
  }
  if (needId && !argv.some((a) => a.includes("{id}"))) {
    throw new UsageError("the command must take the id as {id}");
  }
}

/** A server under test: where it listens and, when pudp started it, the program. */
export interface ServerTarget {
  /** Its address. */
  host: string;
  /** Its port (UDP or TCP, as its family speaks). */
  port: number;
  /** The program, when pudp started it (`-- CMD …`). */
  program?: Spawned;
}

/** A client under test: starts the program pointed at the server pudp plays. */
export interface ClientTarget {
  /** Starts the client (`{host}`, `{port}`, `{id}` filled in); the runner stops it after the case. */
  start(at: { host: string; port: number; id?: string }): Spawned;
}

/** The transport a server under test listens on. */
export type Transport = "udp" | "tcp";

/** A free UDP (or TCP) port on 127.0.0.1: bound to port 0, read, closed. */
export function freePort(transport: Transport = "udp"): number {
  const socket = transport === "udp"
    ? Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" })
    : Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many raw bytes a {@link TextCollector} keeps by default (beyond, it only counts them). */
export const KEEP_BYTES: number = 256 << 20;

/**
 * Collects a stream's text and lets a case wait (bounded) for what it expects.
 * It also keeps the raw bytes (for outputs that are not text, such as a pipe
 * server's): up to {@link TextCollector.keepBytes}, then it only counts them
 * ({@link TextCollector.byteLength}); a case judging a large output as it
 * comes sets {@link TextCollector.onBytes} and turns `keepText` off, so the
 * checker's memory stays bounded.
 */
export class TextCollector {
  /** Everything read so far (while `keepText`). */
  text = "";
  /** Whether {@link TextCollector.text} keeps growing (a case with a large output turns it off). */
  keepText = true;
  /** How many raw bytes {@link TextCollector.bytes} keeps; beyond them they are only counted. */
  keepBytes: number = KEEP_BYTES;
  /** How many bytes were read in all. */
  byteLength = 0;
  /** Called with every chunk read from now on (a case hashing or comparing as bytes come). */
  onBytes: ((chunk: Uint8Array) => void) | undefined;
  /** Settles when the stream ends. */
  readonly done: Promise<void>;
  #wake: (() => void)[] = [];
  #raw: Uint8Array[] = [];
  #rawLength = 0;

  /** Starts reading `stream`. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      const d = new TextDecoder();
      try {
        for await (const chunk of stream) {
          this.byteLength += chunk.length;
          const room = this.keepBytes - this.#rawLength;
          if (room > 0) {
            const kept = chunk.length <= room ? chunk : chunk.slice(0, room);
            this.#raw.push(kept);
            this.#rawLength += kept.length;
          }
          this.onBytes?.(chunk);
          if (this.keepText) this.text += d.decode(chunk, { stream: true });
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

  /** The raw bytes read so far (the first {@link TextCollector.keepBytes} of them). */
  bytes(): Uint8Array {
    if (this.#raw.length !== 1) {
      const all = new Uint8Array(this.#rawLength);
      let at = 0;
      for (const c of this.#raw) {
        all.set(c, at);
        at += c.length;
      }
      this.#raw = [all];
    }
    return this.#raw[0] ?? new Uint8Array(0);
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

/** The second look {@link Spawned.waitExit} takes at an exit after its time ran out. */
const EXIT_GRACE_MS = 100;

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

  /**
   * Writes raw bytes to its stdin; resolves once they are taken (so a large
   * input is backpressured by the program's reading). False when the write
   * failed (the program gone or its stdin closed).
   */
  async writeBytes(bytes: Uint8Array): Promise<boolean> {
    return await this.#stdin.write(bytes).then(() => true, () => false);
  }

  /** Closes its stdin: EOF. */
  async closeStdin(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /** Waits at most `ms` for it to exit; its code, or undefined if it is still running. */
  async waitExit(ms: number): Promise<number | undefined> {
    const within = async (limit: number) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const out = await Promise.race([
        this.#status.then((s) => s.code),
        new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), limit)),
      ]);
      clearTimeout(timer);
      return out;
    };
    // After the checker's own event loop has stalled (a loaded machine), an
    // exit that came first and the timer can be seen in either order: when
    // the timer wins, the exit gets one short look more.
    return await within(ms) ?? await within(EXIT_GRACE_MS);
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
