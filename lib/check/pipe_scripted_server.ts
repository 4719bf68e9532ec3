/**
 * The pipe server pudp plays for `pudp check pipe client`.
 *
 * How this works: {@link PipeScriptedServer} is a pure machine (time as a
 * number in, what to do next out): told when the connection came, how many
 * bytes were read and when the client ended its side, it says what to do
 * next by its {@link PipePlan}: wait (read nothing yet, so the
 * client's stdin backs up), read, half-close (`fin`), close (a reset when
 * bytes are left unread), or hold the connection open and do nothing more.
 * {@link PipeServerPeer} is its I/O shell: one TCP listener on 127.0.0.1,
 * the first connection read into a bounded prefix and a callback (so a
 * large transfer is judged as it comes, never held), every segment (the
 * first ones) and every end in the case's trace, every wait bounded.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const m = new PipeScriptedServer({ ...NORMAL_PIPE, pauseMs: 100 });
 * m.connected(0);
 * assert.deepEqual(m.next(10), { kind: "wait", until: 100 });
 * assert.deepEqual(m.next(100), { kind: "read" });
 * m.received(5, 120);
 * m.peerEnded(130);
 * assert.deepEqual(m.next(130), { kind: "close" });
 * assert.deepEqual(m.next(131), { kind: "done" });
 * ```
 *
 * @module
 */

import type { TraceSink } from "./case_model.ts";
import { describeBytes } from "./stream_probe.ts";

/** How the scripted pipe server behaves. */
export interface PipePlan {
  /** Read nothing for this long after the connection (ms): the client's input backs up. */
  pauseMs: number;
  /** After the client's EOF: close its side (`close`), or keep the connection open (`never`). */
  afterEof: "close" | "never";
  /** How long after the client's EOF the close comes (ms; 0 by default). */
  closeDelayMs?: number;
  /** Close (a reset, with bytes unread) once this many bytes are read, before the client's EOF. */
  closeAfter?: number;
  /** Half-close (FIN) once this many bytes are read, and read on until the client's EOF. */
  finAfter?: number;
}

/** A normal pipe server: reads everything at once, closes after the client's EOF. */
export const NORMAL_PIPE: PipePlan = { pauseMs: 0, afterEof: "close" };

/** What the shell does next. */
export type PipeAction =
  | { kind: "wait"; until: number }
  | { kind: "read" }
  | { kind: "fin" }
  | { kind: "close" }
  | { kind: "hold" }
  | { kind: "done" };

/** The scripted pipe server's decisions (pure). */
export class PipeScriptedServer {
  /** Bytes read so far. */
  bytes = 0;
  /** When the connection came (ms). */
  connectedAt: number | undefined;
  /** When the client ended its side (FIN), if it has. */
  eofAt: number | undefined;
  /** When the client's connection failed (reset), if it did. */
  resetAt: number | undefined;
  /** When this server half-closed, if it did. */
  finAt: number | undefined;
  /** When this server closed, if it did. */
  closedAt: number | undefined;

  /** A machine playing `plan`. */
  constructor(readonly plan: PipePlan) {}

  /** The client connected at `now`. */
  connected(now: number): void {
    this.connectedAt = now;
  }

  /** `n` bytes were read at `now`. */
  received(n: number, _now: number): void {
    this.bytes += n;
  }

  /** The client ended its side (FIN) at `now`. */
  peerEnded(now: number): void {
    this.eofAt ??= now;
  }

  /** The client's connection failed at `now`. */
  peerReset(now: number): void {
    this.resetAt ??= now;
  }

  /** What to do at `now`; `fin` and `close` are taken as done once said. */
  next(now: number): PipeAction {
    if (this.closedAt !== undefined || this.resetAt !== undefined) return { kind: "done" };
    if (this.connectedAt === undefined) return { kind: "wait", until: Infinity };
    const { closeAfter, finAfter } = this.plan;
    if (closeAfter !== undefined && this.bytes >= closeAfter && this.eofAt === undefined) {
      this.closedAt = now;
      return { kind: "close" };
    }
    if (finAfter !== undefined && this.bytes >= finAfter && this.finAt === undefined) {
      this.finAt = now;
      return { kind: "fin" };
    }
    if (this.eofAt !== undefined) {
      if (this.plan.afterEof === "never") return { kind: "hold" };
      const at = this.eofAt + (this.plan.closeDelayMs ?? 0);
      if (now < at) return { kind: "wait", until: at };
      this.closedAt = now;
      return { kind: "close" };
    }
    const until = this.connectedAt + this.plan.pauseMs;
    if (now < until) return { kind: "wait", until };
    return { kind: "read" };
  }
}

/** The most segments the trace records (a large transfer shows its start). */
const TRACE_SEGMENTS = 120;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The scripted pipe server on a TCP port of 127.0.0.1: the machine's I/O shell. */
export class PipeServerPeer {
  /** Its port. */
  readonly port: number;
  /** The machine. */
  readonly machine: PipeScriptedServer;
  /** Called with every chunk read (a large transfer compared as it comes). */
  onBytes: ((chunk: Uint8Array) => void) | undefined;
  /** How many bytes read are kept in {@link PipeServerPeer.prefix}. */
  keep = 1 << 20;
  /** Connections after the first (accepted and closed at once): a client must use one. */
  extra = 0;
  readonly #listener: Deno.TcpListener;
  readonly #trace: TraceSink;
  #conn: Deno.TcpConn | undefined;
  #peerPort = 0;
  #chunks: Uint8Array[] = [];
  #kept = 0;
  #recorded = 0;
  #wake: (() => void)[] = [];
  #stopped = false;
  /** Settles when the connection is over (closed, reset, or held and stopped). */
  readonly finished: Promise<void>;

  /** Listens on 127.0.0.1, a free port, and serves the first connection by `plan`. */
  constructor(trace: TraceSink, plan: PipePlan) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0, transport: "tcp" });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#trace = trace;
    this.machine = new PipeScriptedServer(plan);
    this.finished = this.#serve();
  }

  /** The first bytes read (up to {@link PipeServerPeer.keep}). */
  get prefix(): Uint8Array {
    if (this.#chunks.length !== 1) {
      const all = new Uint8Array(this.#kept);
      let at = 0;
      for (const c of this.#chunks) {
        all.set(c, at);
        at += c.length;
      }
      this.#chunks = [all];
    }
    return this.#chunks[0];
  }

  #note(dir: "sent" | "received", text: string, bytes = new Uint8Array(0)): void {
    this.#trace.add(dir, this.#peerPort, bytes.subarray(0, 64), undefined, text);
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  async #accept(): Promise<Deno.TcpConn | undefined> {
    try {
      const conn = await this.#listener.accept();
      this.#peerPort = (conn.remoteAddr as Deno.NetAddr).port;
      this.#note("received", "connect (SYN), accepted");
      this.#acceptMore();
      return conn;
    } catch {
      return undefined;
    }
  }

  async #acceptMore(): Promise<void> {
    try {
      for await (const c of this.#listener) {
        this.extra++;
        this.#trace.add(
          "received",
          (c.remoteAddr as Deno.NetAddr).port,
          new Uint8Array(0),
          undefined,
          "another connection: closed at once",
        );
        c.close();
      }
    } catch {
      // closed
    }
  }

  async #serve(): Promise<void> {
    const conn = await this.#accept();
    if (!conn) return;
    this.#conn = conn;
    const m = this.machine;
    m.connected(this.#trace.now());
    this.#notify();
    const buffer = new Uint8Array(256 << 10);
    for (;;) {
      if (this.#stopped) break;
      const action = m.next(this.#trace.now());
      if (action.kind === "done") break;
      if (action.kind === "hold") {
        this.#note("sent", "(holds the connection open: never closes)");
        await new Promise<void>((r) => this.#wake.push(r));
        break;
      }
      if (action.kind === "wait") {
        await sleep(Math.max(1, action.until - this.#trace.now()));
        continue;
      }
      if (action.kind === "fin") {
        this.#note("sent", "FIN (half-close, reading on)");
        await conn.closeWrite().catch(() => {});
        continue;
      }
      if (action.kind === "close") {
        this.#note("sent", `close (after ${m.bytes} bytes)`);
        this.#close();
        break;
      }
      let n: number | null;
      try {
        n = await conn.read(buffer);
      } catch {
        if (this.#stopped) break;
        m.peerReset(this.#trace.now());
        this.#note("received", "reset (the connection failed)");
        break;
      }
      if (n === null) {
        m.peerEnded(this.#trace.now());
        this.#note("received", `FIN (the client's EOF, after ${m.bytes} bytes)`);
        this.#notify();
        continue;
      }
      const chunk = buffer.subarray(0, n);
      m.received(n, this.#trace.now());
      if (this.#kept < this.keep) {
        const kept = chunk.slice(0, this.keep - this.#kept);
        this.#chunks.push(kept);
        this.#kept += kept.length;
      }
      this.onBytes?.(chunk);
      if (this.#recorded++ < TRACE_SEGMENTS) {
        this.#note("received", describeBytes(chunk.subarray(0, 64), n), chunk);
      } else if (this.#recorded === TRACE_SEGMENTS + 1) {
        this.#note("received", "… (more segments not shown)");
      }
      this.#notify();
    }
    this.#notify();
  }

  #close(): void {
    try {
      this.#conn?.close();
    } catch {
      // already closed
    }
  }

  /** Waits at most `ms` for `predicate` (on the machine) to hold; whether it did. */
  async waitFor(predicate: (m: PipeScriptedServer) => boolean, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    let over = false;
    this.finished.then(() => over = true);
    while (!predicate(this.machine)) {
      const left = end - performance.now();
      if (left <= 0 || over) return predicate(this.machine);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#wake.push(r)),
        new Promise<void>((r) => timer = setTimeout(r, left)),
        this.finished,
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  /** Stops: closes the connection (if still open) and the listener; waits for the loop. */
  async close(): Promise<void> {
    this.#stopped = true;
    this.#close();
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    this.#notify();
    await Promise.race([this.finished, sleep(2000)]);
  }
}
