/**
 * The checker's TCP connections: one {@link StreamProbe} per connection
 * (connected to a server under test, or accepted by a
 * {@link StreamListener} when pudp plays the server). Every segment written
 * or read is recorded in the case's trace (time, direction, how its family
 * describes it), and so are the ends: a half-close (`FIN`), a reset, a
 * close. The bytes read accumulate in {@link StreamProbe.received}; every
 * wait is bounded in time.
 *
 * @module
 */

import { Arrivals } from "./arrivals.ts";
import type { TraceSink } from "./case_model.ts";

/** How a peer ended its side: an orderly close (`fin`) or an error/reset (`reset`). */
export type StreamEnd = "fin" | "reset";

/** How a family describes a segment in a trace (`bytes` may be the first part only; `length` is its size). */
export type DescribeSegment = (bytes: Uint8Array, length: number) => string;

/** A segment's default description: its size and first bytes, escaped. */
export const describeBytes: DescribeSegment = (bytes: Uint8Array, length: number): string => {
  let text = "";
  for (const b of bytes.subarray(0, 32)) {
    text += b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c
      ? String.fromCharCode(b)
      : "\\x" + b.toString(16).padStart(2, "0");
  }
  return `${length} byte${length === 1 ? "" : "s"} '${text}'${length > 32 ? "…" : ""}`;
};

/** How much of a segment the trace keeps (its description gives the whole length). */
const TRACE_KEEP = 64;
/** The most segments a trace records per connection (a large transfer shows its start and end). */
const TRACE_SEGMENTS = 200;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One TCP connection of a case. */
export class StreamProbe {
  readonly #conn: Deno.TcpConn;
  readonly #trace: TraceSink;
  readonly #describe: DescribeSegment;
  /**
   * Marks this connection's lines in the trace when the checker connected:
   * its own port (`from :51234`), which tells its connections to one server apart.
   */
  readonly #note: string | undefined;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #joined: Uint8Array = new Uint8Array(0);
  #wake: (() => void)[] = [];
  #recorded = 0;
  #closed = false;
  /** The peer's port. */
  readonly port: number;
  /** This end's address (the one the peer sees). */
  readonly local: Deno.NetAddr;
  /** How the peer ended its side, once it has. */
  end: StreamEnd | undefined;
  /** When the peer ended its side, ms since the case began. */
  endAt: number | undefined;
  /** Settles when the peer has ended its side (or the connection was closed here). */
  readonly ended: Promise<StreamEnd>;

  /**
   * Wraps a connection (use {@link StreamProbe.connect} or a
   * {@link StreamListener}); `markLocal` marks its trace lines with the
   * checker's own port.
   */
  constructor(
    conn: Deno.TcpConn,
    trace: TraceSink,
    describe: DescribeSegment = describeBytes,
    markLocal = false,
  ) {
    this.#conn = conn;
    this.#trace = trace;
    this.#describe = describe;
    this.port = (conn.remoteAddr as Deno.NetAddr).port;
    this.local = conn.localAddr as Deno.NetAddr;
    this.#note = markLocal ? `from :${this.local.port}` : undefined;
    this.ended = this.#readLoop();
  }

  /**
   * Connects to `host:port` (bounded by `ms`); the connect is in the trace.
   * Throws a one-line error when it is refused or takes too long.
   */
  static async connect(
    trace: TraceSink,
    host: string,
    port: number,
    describe?: DescribeSegment,
    ms = 5000,
  ): Promise<StreamProbe> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const attempt = Deno.connect({ hostname: host, port, transport: "tcp" });
    try {
      const conn = await Promise.race([
        attempt,
        new Promise<never>((_, reject) =>
          timer = setTimeout(
            () => reject(new Error(`no TCP connection to ${port} within ${ms} ms`)),
            ms,
          )
        ),
      ]);
      const local = (conn.localAddr as Deno.NetAddr).port;
      trace.add("sent", port, new Uint8Array(0), `from :${local}`, "connect (SYN), accepted");
      return new StreamProbe(conn, trace, describe, true);
    } catch (e) {
      attempt.then((c) => c.close(), () => {});
      trace.add("sent", port, new Uint8Array(0), undefined, "connect (SYN), failed");
      throw new Error(`cannot connect to ${host}:${port}: ${e instanceof Error ? e.message : e}`);
    } finally {
      clearTimeout(timer);
    }
  }

  #record(dir: "sent" | "received", bytes: Uint8Array, text?: string): void {
    if (this.#recorded === TRACE_SEGMENTS) {
      this.#trace.add(dir, this.port, new Uint8Array(0), this.#note, "… (more segments not shown)");
    }
    this.#recorded++;
    if (this.#recorded > TRACE_SEGMENTS && text === undefined) return;
    this.#trace.add(
      dir,
      this.port,
      bytes.subarray(0, TRACE_KEEP),
      this.#note,
      text ?? this.#describe(bytes.subarray(0, TRACE_KEEP), bytes.length),
    );
  }

  async #readLoop(): Promise<StreamEnd> {
    const buffer = new Uint8Array(65536);
    let end: StreamEnd = "fin";
    try {
      for (;;) {
        const n = await this.#conn.read(buffer);
        if (n === null) break;
        const chunk = buffer.slice(0, n);
        this.#chunks.push(chunk);
        this.#length += n;
        this.#record("received", chunk);
        this.#notify();
      }
    } catch {
      end = "reset";
    }
    if (!this.#closed) {
      this.end = end;
      this.endAt = this.#trace.now();
      this.#record(
        "received",
        new Uint8Array(0),
        end === "fin" ? "FIN (the peer closed its side)" : "reset (the connection failed)",
      );
    }
    this.#notify();
    return end;
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = [];
    for (const f of w) f();
  }

  /** Every byte read so far. */
  get received(): Uint8Array {
    if (this.#joined.length !== this.#length) {
      const all = new Uint8Array(this.#length);
      let at = 0;
      for (const c of this.#chunks) {
        all.set(c, at);
        at += c.length;
      }
      this.#chunks = [all];
      this.#joined = all;
    }
    return this.#joined;
  }

  /** How many bytes were read so far. */
  get receivedLength(): number {
    return this.#length;
  }

  /** Writes `bytes` (recorded); false when the write failed (the peer gone). */
  async write(bytes: Uint8Array): Promise<boolean> {
    this.#record("sent", bytes);
    try {
      for (let done = 0; done < bytes.length;) {
        done += await this.#conn.write(bytes.subarray(done));
      }
      return true;
    } catch {
      this.#trace.add("sent", this.port, new Uint8Array(0), this.#note, "write failed");
      return false;
    }
  }

  /** Half-closes: no more bytes from here (`FIN`); reading goes on. */
  async closeWrite(): Promise<void> {
    this.#trace.add("sent", this.port, new Uint8Array(0), this.#note, "FIN (half-close)");
    await this.#conn.closeWrite().catch(() => {});
  }

  /** Waits at most `ms` for `predicate(received)` to hold; false when the time ran out or the peer ended first. */
  async waitFor(predicate: (received: Uint8Array) => boolean, ms: number): Promise<boolean> {
    const end = performance.now() + ms;
    while (!predicate(this.received)) {
      const left = end - performance.now();
      if (left <= 0 || this.end !== undefined || this.#closed) return predicate(this.received);
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        new Promise<void>((r) => this.#wake.push(r)),
        new Promise<void>((r) => timer = setTimeout(r, left)),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  /** Waits at most `ms` for at least `n` bytes in all. */
  waitBytes(n: number, ms: number): Promise<boolean> {
    return this.waitFor((r) => r.length >= n, ms);
  }

  /** Waits at most `ms` for the peer to end its side; how, or undefined when it has not. */
  async waitEnd(ms: number): Promise<StreamEnd | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const out = await Promise.race([
      this.ended,
      new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms)),
    ]);
    clearTimeout(timer);
    return this.#closed && this.end === undefined ? undefined : out;
  }

  /** Closes the connection (recorded when the peer had not ended it). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.end === undefined) {
      this.#trace.add("sent", this.port, new Uint8Array(0), this.#note, "close");
    }
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

/** A TCP listener on 127.0.0.1 when pudp plays the server; its connections are {@link StreamProbe}s. */
export class StreamListener {
  readonly #listener: Deno.TcpListener;
  readonly #trace: TraceSink;
  readonly #describe: DescribeSegment | undefined;
  readonly #accepted: StreamProbe[] = [];
  readonly #waiting = new Arrivals<StreamProbe>();
  /** Its port. */
  readonly port: number;

  /** Listens on `hostname`, a free port. */
  constructor(trace: TraceSink, describe?: DescribeSegment, hostname = "127.0.0.1") {
    this.#listener = Deno.listen({ hostname, port: 0, transport: "tcp" });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
    this.#trace = trace;
    this.#describe = describe;
    this.#loop();
  }

  async #loop(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        this.#trace.add(
          "received",
          (conn.remoteAddr as Deno.NetAddr).port,
          new Uint8Array(0),
          undefined,
          "connect (SYN), accepted",
        );
        const probe = new StreamProbe(conn, this.#trace, this.#describe);
        this.#accepted.push(probe);
        this.#waiting.push(probe);
      }
    } catch {
      // closed
    }
  }

  /** The next connection within `ms`, or undefined. */
  accept(ms: number): Promise<StreamProbe | undefined> {
    return this.#waiting.next(ms);
  }

  /** Every connection accepted so far. */
  get connections(): readonly StreamProbe[] {
    return this.#accepted;
  }

  /** Stops listening and closes every connection. */
  close(): void {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const c of this.#accepted) c.close();
  }
}

/** Waits `ms` (for cases that pace their writes). */
export function pause(ms: number): Promise<void> {
  return sleep(ms) as Promise<void>;
}
