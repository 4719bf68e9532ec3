/**
 * The pipe server (seed 004), as a pure state machine: which connection's
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
 * A connection is closed (our side) as soon as every byte it sent is
 * written or held: the pipe client exits 0 only on that close, so it is the
 * promise that nothing it sent will be lost. A connection that ends by a
 * reset keeps what it sent, too.
 *
 * Outputs are one ordered list of operations ({@link PipeOp}), carried out
 * one at a time and in order by the driver: the order is what keeps a
 * connection's held bytes ahead of its live ones, and its spilled bytes in
 * the file before the file is replayed. `write` and `spill` operations may
 * point into the read buffer the bytes came in: the driver must finish them
 * before that buffer is reused.
 *
 * Memory held counts until the driver reports the held bytes written
 * (`handleWritten`), so `holdMemory` bounds them from arrival to stdout.
 *
 * Inputs: `handleConnect`, `handleStreamBytes`, `handleStreamEnd`,
 * `handleStreamGone` (the {@link StreamMachine} inputs), `handleWritten`. Outputs:
 * `pollOp()` and events to the sink. No timers.
 *
 * @example
 * ```ts
 * import { EventQueue } from "../events/sink.ts";
 * import type { PipeEvent } from "./events.ts";
 *
 * const turns = new StdoutTurns(DEFAULT_PIPE_OPTIONS, new EventQueue<PipeEvent>());
 * turns.handleConnect(1, { hostname: "127.0.0.1", port: 40000 }, 0);
 * turns.handleConnect(2, { hostname: "127.0.0.1", port: 40001 }, 0);
 * turns.handleStreamBytes(2, new TextEncoder().encode("held until 1 is done"), 1);
 * turns.handleStreamBytes(1, new TextEncoder().encode("live"), 1);
 * turns.pollOp(); // { kind: "write", connection: 1, ... }: 1 streams live; 2 waits its turn
 * ```
 *
 * @module
 */

import type { EventSink } from "../events/sink.ts";
import type { StreamMachine } from "../net/stream_server.ts";
import type { PeerAddress } from "../net/transmit.ts";
import { Fifo } from "../util/fifo.ts";
import type { PipeEvent } from "./events.ts";

/** Settings of a {@link StdoutTurns}. */
export interface PipeServerOptions {
  /** The most bytes held in memory, all waiting connections together. */
  holdMemory: number;
}

/** Defaults, as in SPEC. */
export const DEFAULT_PIPE_OPTIONS: PipeServerOptions = { holdMemory: 64 * 1024 * 1024 };

/** One thing for the driver to do, in order. */
export type PipeOp =
  /** Write bytes to stdout (`held`: bytes that were held in memory; report them done with `handleWritten`). */
  | { kind: "write"; connection: number; data: Uint8Array; held: boolean }
  /** Append bytes to the connection's temporary file (create it first if need be). */
  | { kind: "spill"; connection: number; data: Uint8Array }
  /** Write the connection's temporary file to stdout, then delete it. */
  | { kind: "replay"; connection: number }
  /** Every byte of the connection is written or held: close our side. */
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
}

class Connection {
  bytes = 0;
  readonly memory: Uint8Array[] = [];
  memoryBytes = 0;
  spilled = 0;
  ended = false;
  constructor(readonly id: number, readonly peer: PeerAddress) {}
}

/** Turn-taking on stdout among the pipe server's connections. */
export class StdoutTurns implements StreamMachine {
  /** Counters since the start, for the summary line. */
  readonly stats: PipeStats = { connections: 0, bytes: 0, spilled: 0, peakMemory: 0 };
  readonly #connections = new Map<number, Connection>();
  readonly #waiting = new Fifo<Connection>();
  readonly #ops = new Fifo<PipeOp>();
  #live: Connection | undefined;
  #memoryHeld = 0;

  /** A server with no connections yet; events go to `events`. */
  constructor(readonly options: PipeServerOptions, readonly events: EventSink<PipeEvent>) {}

  /** Connections open or with bytes not yet passed to stdout. */
  get pending(): number {
    return this.#connections.size;
  }

  /** Operations queued and not yet polled. */
  get queuedOps(): number {
    return this.#ops.size;
  }

  /** Bytes held in memory now. */
  get memoryHeld(): number {
    return this.#memoryHeld;
  }

  handleConnect(connection: number, peer: PeerAddress, _now: number): void {
    const c = new Connection(connection, peer);
    this.#connections.set(connection, c);
    this.stats.connections++;
    this.events.emit({ event: "opened", peer, connection });
    if (this.#live === undefined && this.#waiting.size === 0) this.#goLive(c);
    else this.#waiting.push(c);
  }

  handleStreamBytes(connection: number, bytes: Uint8Array, _now: number): void {
    const c = this.#connections.get(connection);
    if (!c || c.ended || bytes.length === 0) return;
    c.bytes += bytes.length;
    this.stats.bytes += bytes.length;
    if (c === this.#live) {
      this.#ops.push({ kind: "write", connection, data: bytes, held: false });
    } else if (c.spilled === 0 && this.#memoryHeld + bytes.length <= this.options.holdMemory) {
      c.memory.push(bytes.slice());
      c.memoryBytes += bytes.length;
      this.#memoryHeld += bytes.length;
      this.stats.peakMemory = Math.max(this.stats.peakMemory, this.#memoryHeld);
    } else {
      c.spilled += bytes.length;
      this.stats.spilled += bytes.length;
      this.#ops.push({ kind: "spill", connection, data: bytes });
    }
  }

  handleStreamEnd(connection: number, _now: number): void {
    this.#end(connection, "peer closed");
  }

  handleStreamGone(connection: number, why: string): void {
    this.#end(connection, why);
  }

  /** A `write` of held bytes is done: their memory is free for others to hold. */
  handleWritten(op: PipeOp & { kind: "write" }): void {
    if (op.held) this.#memoryHeld -= op.data.length;
  }

  /** This machine sets no timers: nothing to do. */
  handleTimeout(_now: number): void {}

  /** Always undefined: this machine sets no timers. */
  pollTimeout(): number | undefined {
    return undefined;
  }

  /** The next operation to carry out, in order. */
  pollOp(): PipeOp | undefined {
    return this.#ops.shift();
  }

  #end(connection: number, reason: string): void {
    const c = this.#connections.get(connection);
    if (!c || c.ended) return;
    c.ended = true;
    this.#ops.push({ kind: "close", connection });
    this.events.emit({
      event: "closed",
      peer: c.peer,
      connection,
      bytes: c.bytes,
      memory: c.memoryBytes,
      spilled: c.spilled,
      reason,
    });
    if (c === this.#live) {
      this.#connections.delete(connection);
      this.#live = undefined;
      this.#nextTurn();
    }
  }

  /** Gives stdout to the waiting connections in order, until one is still open. */
  #nextTurn(): void {
    for (let c = this.#waiting.shift(); c; c = this.#waiting.shift()) {
      this.#goLive(c);
      if (!c.ended) return;
      this.#connections.delete(c.id);
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
      this.#ops.push({ kind: "write", connection: c.id, data, held: true });
    }
    c.memory.length = 0;
    c.memoryBytes = 0;
    if (c.spilled > 0) this.#ops.push({ kind: "replay", connection: c.id });
  }
}
