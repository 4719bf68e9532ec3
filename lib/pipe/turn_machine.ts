/**
 * The pipe server, as a pure state machine: which connection's
 * bytes go to stdout now, and where the others wait.
 *
 * How this works: stdout takes one connection at a time, so two clients'
 * bytes never interleave. The first connection streams live; the others
 * wait in the order they came, their bytes held in memory while the total
 * held stays within `holdMemory`, and in a temporary file of their own
 * beyond it (once a connection spills, the rest of its bytes follow into
 * the file, so their order is kept). When the live connection ends, the
 * next in line takes its turn: its memory, then its file, are written out,
 * and it streams live if it is still open; one that has already ended just
 * passes its turn on once its bytes are out.
 *
 * Budgets and backpressure: memory held counts until the driver reports the
 * held bytes written (`handleWritten`), and bytes in temporary files until
 * the driver reports the file replayed (`handleReplayed`), so `holdMemory`
 * and `holdDisk` bound them from arrival to stdout. When both are full, a
 * waiting connection is {@link StdoutTurns.heldBack}: the driver reads it
 * no further (its client waits) until room frees or its turn comes. Bytes
 * already read are kept, so the disk budget is exceeded by at most one read
 * per waiting connection.
 *
 * A connection is closed (our side) as soon as every byte it sent is
 * written or held: the pipe client exits 0 only on that close, so it is the
 * promise that nothing it sent will be lost. A connection that ends by a
 * reset keeps what it sent, too.
 *
 * Failures (`handleFailed`: an operation could not be carried out — a
 * temporary file that cannot be written, stdout that cannot be written)
 * affect only the connection the operation was for: its queued operations
 * are dropped, what it held is freed, and, if its client has not been told
 * yet (its connection is not closed), a `refuse` operation tells it (an
 * `ERR …` line, then the close: its client exits 1). A refused connection
 * that is still open is read and dropped for {@link REFUSE_LINGER_MS} (so
 * its client can read the line and leave), then closed. Every other
 * connection goes on as if nothing happened.
 *
 * Stopping (`handleShutdown`): the connections go on, but one still open
 * `drainTimeoutMs` later — or at a second call (a second signal) — is cut
 * (refused: its client exits 1; what it held is dropped), and what the
 * others hold is written. {@link StdoutTurns.pending} says when all is done.
 *
 * Outputs are one ordered list of operations ({@link PipeOp}), carried out
 * one at a time and in order by the driver: the order is what keeps a
 * connection's held bytes ahead of its live ones, and its spilled bytes in
 * the file before the file is replayed. `write` and `spill` operations may
 * point into the read buffer the bytes came in: the driver must finish them
 * before that buffer is reused.
 *
 * Inputs: `handleConnect`, `handleStreamBytes`, `handleStreamEnd`,
 * `handleStreamGone` (the {@link StreamMachine} inputs), `handleWritten`,
 * `handleReplayed`, `handleFailed`, `handleShutdown`, `handleTimeout`.
 * Outputs: `pollOp()`, `pollTimeout()`, `heldBack()` and events to the sink.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EventQueue } from "../events/sink.ts";
 * import type { PipeEvent } from "./events.ts";
 *
 * const turns = new StdoutTurns(DEFAULT_PIPE_OPTIONS, new EventQueue<PipeEvent>());
 * turns.handleConnect(1, { hostname: "127.0.0.1", port: 40000 }, 0);
 * turns.handleConnect(2, { hostname: "127.0.0.1", port: 40001 }, 0);
 * const held = new TextEncoder().encode("held until 1 is done");
 * const live = new TextEncoder().encode("live");
 * turns.handleStreamBytes(2, held, 1);
 * turns.handleStreamBytes(1, live, 1);
 * // 1 streams live; 2 waits its turn
 * assert.deepEqual(turns.pollOp(), { kind: "write", connection: 1, data: live, held: false });
 * assert.equal(turns.pollOp(), undefined);
 * turns.handleStreamEnd(1, 2); // 1 is done: 2's held bytes go next
 * assert.deepEqual(turns.pollOp(), { kind: "close", connection: 1 });
 * assert.deepEqual(turns.pollOp(), { kind: "write", connection: 2, data: held, held: true });
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import type { StreamMachine } from "../net/stream_server.ts";
import type { PeerAddress } from "../runtime/transmit.ts";
import { Fifo } from "../util/fifo.ts";
import type { PipeEvent } from "./events.ts";

/** Settings of a {@link StdoutTurns}. */
export interface PipeServerOptions {
  /** The most bytes held in memory, all waiting connections together. */
  holdMemory: number;
  /** The most bytes held in temporary files, all waiting connections together. */
  holdDisk: number;
  /** After a stop: how long a connection still open may go on before it is cut (ms). */
  drainTimeoutMs: number;
}

/** Defaults, as docs/pipe.md lists them (the disk budget's default is sized by the driver from the free space). */
export const DEFAULT_PIPE_OPTIONS: PipeServerOptions = {
  holdMemory: 64 * 1024 * 1024,
  holdDisk: Infinity,
  drainTimeoutMs: 10_000,
};

/** How long a refused connection that is still open is read (and dropped) before it is closed. */
export const REFUSE_LINGER_MS = 2_000;

/** One thing for the driver to do, in order. */
export type PipeOp =
  /** Write bytes to stdout (`held`: bytes that were held in memory; report them done with `handleWritten`). */
  | { kind: "write"; connection: number; data: Uint8Array; held: boolean }
  /** Append bytes to the connection's temporary file (create it first if need be). */
  | { kind: "spill"; connection: number; data: Uint8Array }
  /** Write the connection's temporary file (`bytes` long) to stdout, delete it, then `handleReplayed`. */
  | { kind: "replay"; connection: number; bytes: number }
  /** Tell the client its bytes were not kept (`ERR reason`), and delete its temporary file if any. */
  | { kind: "refuse"; connection: number; reason: string }
  /** Every byte of the connection is written or held (or it was refused): close our side. */
  | { kind: "close"; connection: number };

/** What the server counted. */
export interface PipeStats {
  /** Connections accepted. */
  connections: number;
  /** Bytes received, all connections. */
  bytes: number;
  /** Bytes that went through a temporary file. */
  spilled: number;
  /** Most bytes held in memory at once. */
  peakMemory: number;
  /** Connections whose bytes could not all be kept (refused, or lost after their client was told). */
  failed: number;
}

class Connection {
  bytes = 0;
  readonly memory: Uint8Array[] = [];
  memoryBytes = 0;
  /** Bytes sent to its temporary file, in all. */
  spilled = 0;
  /** Bytes in its temporary file that count in the disk budget (not replayed yet). */
  onDisk = 0;
  ended = false;
  /** Its turn is over, or it failed: no longer one of the machine's connections. */
  out = false;
  failed = false;
  waitReported = false;
  constructor(readonly id: number, readonly peer: PeerAddress) {}
}

/** Turn-taking on stdout among the pipe server's connections. */
export class StdoutTurns implements StreamMachine {
  /** Counters since the start, for the summary line. */
  readonly stats: PipeStats = { connections: 0, bytes: 0, spilled: 0, peakMemory: 0, failed: 0 };
  readonly #connections = new Map<number, Connection>();
  /** Refused connections still open: read and dropped until their end or the deadline. */
  readonly #refused = new Map<number, number>();
  #waiting = new Fifo<Connection>();
  #ops = new Fifo<PipeOp>();
  /** The connection each queued or running operation is for. */
  readonly #owner = new WeakMap<PipeOp, Connection>();
  #live: Connection | undefined;
  #memoryHeld = 0;
  #diskHeld = 0;
  #stopping = false;
  #drainAt: number | undefined;
  #dropped = 0;

  /** A server with no connections yet; events go to `events`. */
  constructor(readonly options: PipeServerOptions, readonly events: EventSink<PipeEvent>) {}

  /** Connections open or with bytes not yet passed to stdout (refused ones still open too). */
  get pending(): number {
    return this.#connections.size + this.#refused.size;
  }

  /** Operations queued and not yet polled. */
  get queuedOps(): number {
    return this.#ops.size;
  }

  /** Operations dropped from the queue (a failed connection's) since the start: they count as done. */
  get droppedOps(): number {
    return this.#dropped;
  }

  /** Bytes held in memory now. */
  get memoryHeld(): number {
    return this.#memoryHeld;
  }

  /** Bytes held in temporary files now. */
  get diskHeld(): number {
    return this.#diskHeld;
  }

  handleConnect(connection: number, peer: PeerAddress, _now: number): void {
    const c = new Connection(connection, peer);
    this.#connections.set(connection, c);
    this.stats.connections++;
    this.events.emit({ event: "connected", peer, connection });
    if (this.#live === undefined && this.#waiting.size === 0) this.#goLive(c);
    else this.#waiting.push(c);
  }

  handleStreamBytes(connection: number, bytes: Uint8Array, _now: number): void {
    const c = this.#connections.get(connection);
    if (!c || c.ended || bytes.length === 0) return;
    c.bytes += bytes.length;
    this.stats.bytes += bytes.length;
    if (c === this.#live) {
      this.#push(c, { kind: "write", connection, data: bytes, held: false });
      return;
    }
    if (c.spilled === 0 && this.#memoryHeld + bytes.length <= this.options.holdMemory) {
      c.memory.push(bytes.slice());
      c.memoryBytes += bytes.length;
      this.#memoryHeld += bytes.length;
      this.stats.peakMemory = Math.max(this.stats.peakMemory, this.#memoryHeld);
    } else {
      c.spilled += bytes.length;
      c.onDisk += bytes.length;
      this.#diskHeld += bytes.length;
      this.stats.spilled += bytes.length;
      this.#push(c, { kind: "spill", connection, data: bytes });
    }
    if (!c.waitReported && this.heldBack(connection)) {
      c.waitReported = true;
      this.events.emit({
        event: "waiting",
        peer: c.peer,
        connection,
        memory: this.#memoryHeld,
        disk: this.#diskHeld,
      });
    }
  }

  handleStreamEnd(connection: number, _now: number): void {
    this.#end(connection, "peer closed");
  }

  handleStreamGone(connection: number, why: string): void {
    this.#end(connection, why);
  }

  /**
   * Whether a connection must not be read for now: it waits for its turn and
   * the memory and disk budgets are full (backpressure). False once room
   * frees, its turn comes, or it is gone.
   */
  heldBack(connection: number): boolean {
    const c = this.#connections.get(connection);
    if (!c || c === this.#live || c.ended) return false;
    return this.#diskHeld >= this.options.holdDisk &&
      (c.spilled > 0 || this.#memoryHeld >= this.options.holdMemory);
  }

  /** A `write` is done: held bytes' memory is free for others to hold. */
  handleWritten(op: PipeOp & { kind: "write" }): void {
    if (op.held) this.#memoryHeld -= op.data.length;
  }

  /** A `replay` is done: its file is gone, its bytes free in the disk budget. */
  handleReplayed(op: PipeOp & { kind: "replay" }): void {
    this.#diskHeld -= op.bytes;
  }

  /**
   * An operation failed (`reason`: `cannot write to stdout: …`, `temporary
   * file: …`): its connection fails alone (see the module comment); the
   * failed operation counts as done.
   */
  handleFailed(op: PipeOp, reason: string, now: number): void {
    const c = this.#owner.get(op) ?? this.#connections.get(op.connection);
    if (!c) return;
    if (op.kind === "write" && op.held) this.#memoryHeld -= op.data.length;
    if (op.kind === "replay") this.#diskHeld -= op.bytes;
    this.#fail(c, reason, now);
  }

  /**
   * The server stops: new connections are not the machine's business; the
   * open ones get `drainTimeoutMs`. A second call cuts them at once.
   */
  handleShutdown(now: number): void {
    for (const id of this.#refused.keys()) this.#closeRefused(id);
    if (this.#stopping) {
      this.#drainAt = undefined;
      this.#cutOpen("cut: the server was stopped by a second signal", now);
      return;
    }
    this.#stopping = true;
    this.#drainAt = now + this.options.drainTimeoutMs;
  }

  /** Closes refused connections whose time is up; cuts the open ones once the drain time is up. */
  handleTimeout(now: number): void {
    for (const [id, until] of this.#refused) if (until <= now) this.#closeRefused(id);
    if (this.#drainAt !== undefined && now >= this.#drainAt) {
      this.#drainAt = undefined;
      const s = this.options.drainTimeoutMs / 1000;
      this.#cutOpen(`cut: still sending ${s} s after the server was told to stop`, now);
    }
  }

  /** The next deadline: a refused connection's close, or the end of the drain time. */
  pollTimeout(): number | undefined {
    let at = this.#drainAt ?? Infinity;
    for (const until of this.#refused.values()) at = Math.min(at, until);
    return at === Infinity ? undefined : at;
  }

  /** The next operation to carry out, in order. */
  pollOp(): PipeOp | undefined {
    return this.#ops.shift();
  }

  #push(c: Connection, op: PipeOp): void {
    this.#owner.set(op, c);
    this.#ops.push(op);
  }

  #end(connection: number, reason: string): void {
    if (this.#refused.has(connection)) return this.#closeRefused(connection);
    const c = this.#connections.get(connection);
    if (!c || c.ended) return;
    c.ended = true;
    this.#push(c, { kind: "close", connection });
    this.events.emit({
      event: "closed",
      peer: c.peer,
      connection,
      bytes: c.bytes,
      memory: c.memoryBytes,
      disk: c.spilled,
      reason,
    });
    if (c === this.#live) {
      this.#retire(c);
      this.#live = undefined;
      this.#nextTurn();
    }
  }

  #closeRefused(connection: number): void {
    this.#refused.delete(connection);
    this.#ops.push({ kind: "close", connection });
  }

  /** Cuts every connection still open (refused: its client exits 1). */
  #cutOpen(reason: string, now: number): void {
    const open = [...this.#connections.values()].filter((c) => !c.ended);
    // The waiting ones first, so the live one's turn passes only to connections that ended.
    open.sort((a, b) => Number(a === this.#live) - Number(b === this.#live));
    for (const c of open) this.#fail(c, reason, now);
  }

  #fail(c: Connection, reason: string, now: number): void {
    if (c.failed) return;
    c.failed = true;
    // Its queued operations go; a queued close means its client has not been told yet.
    let closeQueued = false;
    const kept = new Fifo<PipeOp>();
    for (let op = this.#ops.shift(); op; op = this.#ops.shift()) {
      if (this.#owner.get(op) !== c) {
        kept.push(op);
        continue;
      }
      this.#dropped++;
      if (op.kind === "close") closeQueued = true;
      else if (op.kind === "write" && op.held) this.#memoryHeld -= op.data.length;
      else if (op.kind === "replay") this.#diskHeld -= op.bytes;
    }
    this.#ops = kept;
    const told = !c.ended || closeQueued;
    const wasLive = c === this.#live;
    if (!c.out) {
      this.#memoryHeld -= c.memoryBytes;
      c.memory.length = 0;
      c.memoryBytes = 0;
      if (!wasLive) {
        this.#diskHeld -= c.onDisk;
        const waiting = new Fifo<Connection>();
        for (let w = this.#waiting.shift(); w; w = this.#waiting.shift()) {
          if (w !== c) waiting.push(w);
        }
        this.#waiting = waiting;
      }
      c.onDisk = 0;
      this.#retire(c);
    }
    this.stats.failed++;
    this.events.emit({
      event: "failed",
      peer: c.peer,
      connection: c.id,
      bytes: c.bytes,
      reason,
      told,
    });
    if (told) {
      this.#ops.push({ kind: "refuse", connection: c.id, reason });
      if (c.ended || this.#stopping) this.#ops.push({ kind: "close", connection: c.id });
      else this.#refused.set(c.id, now + REFUSE_LINGER_MS);
    }
    if (wasLive) {
      this.#live = undefined;
      this.#nextTurn();
    }
  }

  #retire(c: Connection): void {
    c.out = true;
    this.#connections.delete(c.id);
  }

  /** Gives stdout to the waiting connections in order, until one is still open. */
  #nextTurn(): void {
    for (let c = this.#waiting.shift(); c; c = this.#waiting.shift()) {
      this.#goLive(c);
      if (!c.ended) return;
      this.#retire(c);
      this.#live = undefined;
    }
  }

  #goLive(c: Connection): void {
    this.#live = c;
    this.events.emit({
      event: "live",
      peer: c.peer,
      connection: c.id,
      held: c.memoryBytes + c.spilled,
    });
    for (const data of c.memory) {
      this.#push(c, { kind: "write", connection: c.id, data, held: true });
    }
    c.memory.length = 0;
    c.memoryBytes = 0;
    if (c.spilled > 0) {
      this.#push(c, { kind: "replay", connection: c.id, bytes: c.onDisk });
      c.onDisk = 0;
    }
  }
}
