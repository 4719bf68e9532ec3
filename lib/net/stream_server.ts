/**
 * The TCP side of a server whose protocol machine speaks in connections: it
 * accepts, numbers and reads connections, feeds the machine
 * ({@link StreamMachine}) and carries out what the machine asks (bytes to
 * write, connections to close). The ids server (`--tcp`) and the frame
 * server are built on it; each family's driver only maps its machine's
 * outputs onto {@link StreamServer.write} and {@link StreamServer.end}.
 *
 * How this works: every input (a connection, bytes, its end) is fed to the
 * machine with the time, then the driver's `afterEvent()` runs: a
 * `TimerLoop`'s for a machine with deadlines (its clock too), the
 * family's drain for a machine without (fed {@link monotonicNow}).
 *
 * Backpressure: a connection whose replies pile up (the peer sends and does
 * not read) is read no further until they are written, so a client cannot
 * make the server's memory grow.
 *
 * Limits ({@link TcpLimits}, `--max-connections` and `--idle-timeout`): the
 * listener closes connections past the cap at once (a notice goes to
 * `onNotice`), and a connection that keeps the server waiting for a byte
 * too long is closed and reported to the machine as gone, with the reason
 * (`idle for 60 s`) for its `closed` event.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { TcpLimits } from "./connection_limits.ts";
import type { StreamMachine } from "../runtime/machine.ts";
import type { PeerAddress } from "../runtime/transmit.ts";
import { monotonicNow } from "../runtime/timer_loop.ts";

export type { StreamMachine };
import { type TcpConnection, TcpListener } from "./tcp.ts";

/**
 * What a {@link StreamServer} needs of its driver: a `TimerLoop`, or
 * `{ afterEvent: drain }` for a machine without deadlines.
 */
export interface StreamDriver {
  /** Call after every input: drains the machine (a TimerLoop re-arms its alarm too). */
  readonly afterEvent: () => void;
  /** The clock the machine is fed with (default {@link monotonicNow}). */
  readonly clock?: () => number;
}

/** Settings of a {@link StreamServer}. */
export interface StreamServerOptions {
  /** The most bytes one read takes. */
  readSize: number;
  /** A connection is not read while more reply bytes than this wait to be written to it. */
  writeHighWater: number;
  /**
   * After each read has been fed to the machine: a promise to wait for
   * before the next read of that connection (the read buffer is reused
   * then, so a family whose outputs point into it waits for them here).
   */
  readPause?: (conn: TcpConnection) => Promise<void> | undefined;
  /** An accept error (the loop goes on). */
  onAcceptError: (e: unknown) => void;
  /** The cap and the idle timeout (default: none). */
  limits?: TcpLimits;
  /** Where the notice of connections refused at the cap goes (stderr). */
  onNotice?: (line: string) => void;
}

/** Accepted connections, read into a machine and written from its outputs. */
export class StreamServer {
  readonly #connections = new Map<number, TcpConnection>();

  /** A server on `listener`; call `serve()` to accept connections. */
  constructor(readonly listener: TcpListener, readonly options: StreamServerOptions) {}

  /**
   * Listens on `address` (throws ExchangeError `cannot listen on …`); accept
   * errors go to `logAcceptError` when given (a server's `--verbose`), else
   * nowhere: the loop goes on either way.
   */
  static listen(
    address: PeerAddress,
    options: Omit<StreamServerOptions, "onAcceptError">,
    logAcceptError?: (line: string) => void,
  ): StreamServer {
    return new StreamServer(TcpListener.listen(address, options.limits), {
      ...options,
      onAcceptError: (e) => logAcceptError?.(`cannot accept: ${errorText(e)}`),
    });
  }

  /**
   * Starts accepting, feeding each connection's life into `machine`; once
   * `stop` is stopping, new connections are closed at once.
   */
  start(
    machine: StreamMachine,
    driver: StreamDriver,
    stop: { readonly stopping: boolean },
  ): void {
    const { readSize, writeHighWater, readPause } = this.options;
    const { afterEvent, clock = monotonicNow } = driver;
    this.listener.accept(
      (conn) => {
        if (stop.stopping) return conn.close();
        this.#connections.set(conn.id, conn);
        machine.handleConnect(conn.id, conn.peer, clock());
        afterEvent();
        conn.read((bytes) => {
          machine.handleStreamBytes(conn.id, bytes, clock());
          afterEvent();
          if (readPause) return readPause(conn);
          return conn.pendingWrite > writeHighWater ? conn.drained() : undefined;
        }, readSize).then((end) => {
          if (end.kind === "eof") machine.handleStreamEnd(conn.id, clock());
          else if (end.kind !== "closed") {
            machine.handleStreamGone(
              conn.id,
              end.kind === "reset"
                ? "peer reset"
                : end.kind === "idle"
                ? end.reason
                : `error: ${errorText(end.error)}`,
            );
            this.#connections.delete(conn.id);
            conn.close();
          }
          afterEvent();
        });
      },
      this.options.onAcceptError,
      this.options.onNotice,
    );
  }

  /** Queues bytes for a connection (ignored if it is gone). */
  write(connection: number, data: Uint8Array): void {
    this.#connections.get(connection)?.write(data);
  }

  /** Writes what is queued for a connection, then closes it. */
  end(connection: number): void {
    const conn = this.#connections.get(connection);
    this.#connections.delete(connection);
    conn?.end();
  }

  /** Connections open now. */
  get open(): number {
    return this.#connections.size;
  }

  /** Stops accepting; the connections go on. */
  stopAccepting(): Promise<void> {
    return this.listener.close();
  }

  /** Stops accepting, then writes what is queued to every connection and closes them all. */
  async close(): Promise<void> {
    await this.stopAccepting();
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map((c) => c.end()));
  }
}
