/**
 * TCP for the stream families: a listener whose accept loop numbers its
 * connections, and connections with queued writes (backpressure), half-close
 * and a read loop that tells an orderly end (EOF) from a reset.
 *
 * How reading works: `read(onData)` runs until the stream ends, handing each
 * chunk (a view of one reused buffer: copy what you keep) to `onData`; when
 * `onData` returns a promise the next read waits for it, so a slow consumer
 * slows the sender instead of growing memory. It resolves with how the
 * stream ended: `eof` (the peer half-closed or closed), `reset`, `closed`
 * (we closed it) or `error`.
 *
 * Resets (measured with Deno 2.9 on Linux): a reset from the peer ends a
 * read as `reset` (ConnectionReset). But Deno's own `close()` sends FIN
 * first (it calls `shutdown(SHUT_WR)`), so a Deno peer that closes with
 * bytes of ours unread looks like an orderly end: a protocol that must know
 * its bytes were taken cannot rely on the FIN alone unless its peer closes
 * only after reading everything (the pipe server does). A later write to a
 * reset peer fails, and {@link TcpConnection.peerReset} says so.
 *
 * Memory: `read` starts with a small buffer ({@link FIRST_READ_SIZE}) and
 * makes it bigger only when a read fills it, up to its `readSize`, so an
 * idle connection costs a few KiB, not its largest read; the buffer goes
 * with the loop when the stream ends.
 *
 * Limits: a listener given {@link TcpLimits} admits at most
 * `maxConnections` at once (more are accepted and closed at once, and said
 * through `onNotice`) and closes a connection whose read has waited
 * `idleTimeoutMs` without a byte: the read ends as `idle`, with the reason
 * for the `closed` event ({@link ConnectionLimits} decides both).
 *
 * @module
 */

import { errorText, ExchangeError } from "../util/errors.ts";
import { Fifo } from "../util/fifo.ts";
import { Alarm } from "../runtime/alarm.ts";
import type { Timer } from "../runtime/timer_table.ts";
import { ConnectionLimits, type TcpLimits } from "./connection_limits.ts";
import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";

/** How a stream's read side ended. */
export type ReadEnd =
  | { kind: "eof" }
  | { kind: "reset" }
  | { kind: "closed" }
  | { kind: "idle"; reason: string }
  | { kind: "error"; error: unknown };

/** Default size of one read. */
const READ_SIZE = 64 * 1024;

/** The size of a connection's first read buffer (it grows when reads fill it). */
export const FIRST_READ_SIZE = 4 * 1024;

/** A clock in ms for idle deadlines. */
const now = (): number => performance.now();

/** What an admitted connection tells its listener's {@link ConnectionLimits}. */
interface Guard {
  limits: ConnectionLimits<TcpConnection>;
  timer: Timer<TcpConnection>;
  /** Makes sure the listener's alarm goes off by the connection's deadline. */
  arm(): void;
}

function isReset(e: unknown): boolean {
  return e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe ||
    e instanceof Deno.errors.ConnectionAborted;
}

function isClosed(e: unknown): boolean {
  return e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted;
}

/** One TCP connection. */
export class TcpConnection {
  /** The peer's address. */
  readonly peer: PeerAddress;
  readonly #queue = new Fifo<Uint8Array>();
  /** Set while the write loop runs; resolves when it has nothing left. */
  #writing: Promise<void> | undefined;
  #pendingWrite = 0;
  #bytesWritten = 0;
  #writeError: unknown;
  #closed = false;
  #idle = false;
  #guard: Guard | undefined;

  /**
   * Wraps `conn`; `id` names it in events.
   * @param conn the Deno connection
   * @param id its number, unique within its listener (0 for a client's)
   */
  constructor(readonly conn: Deno.TcpConn, readonly id = 0) {
    const remote = conn.remoteAddr as Deno.NetAddr;
    this.peer = { hostname: remote.hostname, port: remote.port };
  }

  /** Connects to `address`. Throws ExchangeError `cannot connect to HOST:PORT: …`. */
  static async connect(address: PeerAddress): Promise<TcpConnection> {
    try {
      return new TcpConnection(await Deno.connect({ ...address, transport: "tcp" }));
    } catch (e) {
      throw new ExchangeError(`cannot connect to ${formatAddress(address)}: ${errorText(e)}`);
    }
  }

  /** Reads until the stream ends; see the module comment. */
  async read(
    onData: (bytes: Uint8Array) => void | Promise<void>,
    readSize = READ_SIZE,
  ): Promise<ReadEnd> {
    let buf = new Uint8Array(Math.min(FIRST_READ_SIZE, readSize));
    for (;;) {
      const n = await this.readInto(buf);
      if (typeof n !== "number") return n;
      const wait = onData(buf.subarray(0, n));
      if (wait) await wait;
      if (n === buf.length && n < readSize) buf = new Uint8Array(Math.min(n * 4, readSize));
    }
  }

  /**
   * One read into `buf`: the number of bytes read (at least 1), or how the
   * stream ended. For callers that pull (the frame library); loops use
   * {@link read}.
   */
  async readInto(buf: Uint8Array): Promise<number | ReadEnd> {
    let n: number | null;
    const guard = this.#guard;
    if (guard) {
      guard.limits.reading(guard.timer, now());
      guard.arm();
    }
    try {
      n = await this.conn.read(buf);
    } catch (e) {
      if (this.#idle) return { kind: "idle", reason: guard!.limits.idleReason };
      if (this.#closed || isClosed(e)) return { kind: "closed" };
      if (isReset(e)) return { kind: "reset" };
      return { kind: "error", error: e };
    } finally {
      if (guard && !this.#closed) guard.limits.notReading(guard.timer);
    }
    return n === null ? { kind: "eof" } : n;
  }

  /** Whether this side closed the connection because it was idle. */
  get idle(): boolean {
    return this.#idle;
  }

  /** Counts this connection in `limits` until it is closed (a listener's). */
  guard(limits: ConnectionLimits<TcpConnection>, arm: () => void): void {
    this.#guard = { limits, timer: limits.timer(this), arm };
  }

  /** Closes it for idleness: a pending read ends as `idle`. */
  closeIdle(): void {
    if (this.#closed) return;
    this.#idle = true;
    this.close();
  }

  /** Queues `bytes` (kept, not copied) to be written in order. */
  write(bytes: Uint8Array): void {
    if (this.#closed || this.#writeError !== undefined || bytes.length === 0) return;
    this.#pendingWrite += bytes.length;
    this.#queue.push(bytes);
    this.#writing ??= this.#writeLoop();
  }

  /** Bytes queued and not yet written. */
  get pendingWrite(): number {
    return this.#pendingWrite;
  }

  /** Bytes the socket took so far (written, not merely queued). */
  get bytesWritten(): number {
    return this.#bytesWritten;
  }

  /** Whether this side closed the connection (`close`, `end`). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a write failed because the peer reset the connection (or closed it for good). */
  get peerReset(): boolean {
    return isReset(this.#writeError);
  }

  /** Why writing stopped (a reset peer, a closed socket), if it did. */
  get writeError(): unknown {
    return this.#writeError;
  }

  /** Resolves when everything queued so far is written (or writing failed). */
  drained(): Promise<void> {
    return this.#writing ?? Promise.resolve();
  }

  /** Half-closes: writes what is queued, then sends FIN; reading goes on. */
  async closeWrite(): Promise<void> {
    await this.drained();
    if (this.#closed || this.#writeError !== undefined) return;
    try {
      await this.conn.closeWrite();
    } catch (e) {
      this.#writeError ??= e;
    }
  }

  /** Writes what is queued, then closes. */
  async end(): Promise<void> {
    await this.drained();
    this.close();
  }

  /** Closes at once (a pending read ends as `closed`). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#guard) this.#guard.limits.release(this.#guard.timer);
    try {
      this.conn.close();
    } catch {
      // closed already
    }
  }

  /**
   * Writes the queue in order, one async loop per burst (not one per chunk:
   * a request-response server writes a small answer per message, and every
   * promise hop is latency). The loop's end and the check that the queue is
   * empty are one synchronous step, so a chunk queued at any moment is
   * either seen by the running loop or starts a new one.
   */
  async #writeLoop(): Promise<void> {
    for (let bytes = this.#queue.shift(); bytes; bytes = this.#queue.shift()) {
      try {
        for (let done = 0; done < bytes.length;) {
          const n = await this.conn.write(done === 0 ? bytes : bytes.subarray(done));
          done += n;
          this.#bytesWritten += n;
        }
      } catch (e) {
        this.#writeError ??= e;
        this.#queue.clear();
        this.#pendingWrite = 0;
        break;
      }
      this.#pendingWrite -= bytes.length;
    }
    this.#writing = undefined;
  }
}

/** No cap and no idle timeout: a listener given no {@link TcpLimits}. */
const UNLIMITED: TcpLimits = { maxConnections: Infinity, idleTimeoutMs: 0 };

/**
 * A listening TCP socket that numbers the connections it accepts, and keeps
 * its {@link TcpLimits}: connections past the cap are closed at once, idle
 * ones are closed (see the module comment).
 */
export class TcpListener {
  #nextId = 1;
  #closing = false;
  #accepting: Promise<void> = Promise.resolve();
  /** Open connections and idle deadlines. */
  readonly limits: ConnectionLimits<TcpConnection>;
  readonly #alarm: Alarm;

  private constructor(readonly listener: Deno.TcpListener, limits: TcpLimits) {
    this.limits = new ConnectionLimits(limits);
    this.#alarm = new Alarm(now, () => this.#closeIdle());
  }

  /**
   * Listens on `address` (port 0 picks one) with `limits` (default: none).
   * Throws ExchangeError `cannot listen on HOST:PORT: …`.
   */
  static listen(address: PeerAddress, limits: TcpLimits = UNLIMITED): TcpListener {
    try {
      return new TcpListener(Deno.listen({ ...address, transport: "tcp" }), limits);
    } catch (e) {
      throw new ExchangeError(`cannot listen on ${formatAddress(address)}: ${errorText(e)}`);
    }
  }

  /** The address it listens on. */
  get address(): Deno.NetAddr {
    return this.listener.addr;
  }

  /**
   * Accepts until closed, handing each connection (numbered from 1) to
   * `onConnection`. An accept error other than the close goes to `onError`;
   * the loop goes on (a client that resets before it is accepted is no reason
   * to stop serving). A connection past the cap is closed at once and not
   * handed on; the notice that says so (the first time, then at most once a
   * minute) goes to `onNotice`.
   */
  accept(
    onConnection: (conn: TcpConnection) => void,
    onError: (e: unknown) => void,
    onNotice: (line: string) => void = () => {},
  ): Promise<void> {
    this.#accepting = (async () => {
      while (!this.#closing) {
        let conn: Deno.TcpConn;
        try {
          conn = await this.listener.accept();
        } catch (e) {
          if (this.#closing || isClosed(e)) return;
          onError(e);
          await new Promise((r) => setTimeout(r, 10)); // e.g. out of file descriptors: no busy loop
          continue;
        }
        if (!this.limits.admit(now())) {
          try {
            conn.close();
          } catch {
            // reset already
          }
          const notice = this.limits.pollNotice();
          if (notice !== undefined) onNotice(notice);
          continue;
        }
        const connection = new TcpConnection(conn, this.#nextId++);
        connection.guard(this.limits, () => this.#alarm.set(this.limits.nextAt));
        onConnection(connection);
      }
    })();
    return this.#accepting;
  }

  /** Stops accepting and waits for the accept loop to end. */
  async close(): Promise<void> {
    this.#closing = true;
    try {
      this.listener.close();
    } catch {
      // closed already
    }
    await this.#accepting;
  }

  /** The alarm went off: closes the connections idle by now, then waits for the next. */
  #closeIdle(): void {
    const t = now();
    for (let c = this.limits.popIdle(t); c; c = this.limits.popIdle(t)) c.closeIdle();
    this.#alarm.set(this.limits.nextAt);
  }
}
