/**
 * A session load generator for the benchmarks: many PUDP sessions from one
 * UDP socket, each a HELLO answered by HELLO and, when closing, a GOODBYE
 * answered by GOODBYE. A bounded number of exchanges is in flight at once
 * (the server's socket buffer holds about 256 small datagrams), and one that
 * gets no answer within a second is counted as failed, so a run always ends.
 *
 * @module
 */

import { Command, decode, encode, WireError } from "../lib/pudp/wire.ts";

/** What a run of the generator achieved. */
export interface LoadResult {
  /** Exchanges completed. */
  completed: number;
  /** Exchanges that got no answer within a second. */
  failed: number;
  /** Wall time of the run in seconds. */
  seconds: number;
}

const ANSWER_TIMEOUT_MS = 1_000;

/** Sessions against one server, from one socket. */
export class SessionLoad {
  readonly #socket: Deno.DatagramConn;
  readonly #server: Deno.NetAddr;
  /** Session id → when its pending request was sent and which answer completes it. */
  readonly #pending = new Map<number, { sentAt: number; expect: number }>();
  #nextId: number;
  #onAnswer: ((id: number) => void) | undefined;
  readonly #receiving: Promise<void>;

  constructor(port: number) {
    this.#socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
    this.#server = { transport: "udp", hostname: "127.0.0.1", port };
    this.#nextId = crypto.getRandomValues(new Uint32Array(1))[0] & 0x7fffffff;
    this.#receiving = this.#receive();
  }

  /** Opens `count` sessions and closes each at once: HELLO, HELLO, GOODBYE, GOODBYE. */
  openAndClose(count: number, concurrency: number): Promise<LoadResult> {
    return this.#run(count, concurrency, async (_id, exchange) => {
      if (!await exchange(Command.HELLO, 0)) return false;
      return await exchange(Command.GOODBYE, 1);
    });
  }

  /** Opens `count` sessions and leaves them open; returns their ids through `opened`. */
  open(count: number, concurrency: number, opened: number[]): Promise<LoadResult> {
    return this.#run(count, concurrency, async (id, exchange) => {
      if (!await exchange(Command.HELLO, 0)) return false;
      opened.push(id);
      return true;
    });
  }

  /** Closes sessions opened with `open`. */
  close(ids: number[], concurrency: number): Promise<LoadResult> {
    let i = 0;
    return this.#run(
      ids.length,
      concurrency,
      (_id, exchange) => exchange(Command.GOODBYE, 1),
      () => ids[i++],
    );
  }

  /** Closes the socket. */
  async dispose(): Promise<void> {
    this.#socket.close();
    await this.#receiving;
  }

  async #run(
    count: number,
    concurrency: number,
    script: (
      id: number,
      exchange: (command: number, seq: number) => Promise<boolean>,
    ) => Promise<boolean>,
    nextId = () => this.#nextId++ >>> 0,
  ): Promise<LoadResult> {
    const start = performance.now();
    const waiters = new Map<number, (ok: boolean) => void>();
    this.#onAnswer = (id) => {
      waiters.get(id)?.(true);
    };
    const watchdog = setInterval(() => {
      const now = performance.now();
      for (const [id, p] of this.#pending) {
        if (now - p.sentAt > ANSWER_TIMEOUT_MS) waiters.get(id)?.(false);
      }
    }, 100);
    let started = 0;
    let completed = 0;
    let failed = 0;
    const worker = async () => {
      while (started < count) {
        started++;
        const id = nextId();
        const exchange = async (command: number, seq: number) => {
          const answered = new Promise<boolean>((resolve) =>
            waiters.set(id, (ok) => {
              waiters.delete(id);
              this.#pending.delete(id);
              resolve(ok);
            })
          );
          this.#pending.set(id, { sentAt: performance.now(), expect: command });
          await this.#socket.send(
            encode({ command, seq, sessionId: id, payload: new Uint8Array() }),
            this.#server,
          );
          return await answered;
        };
        if (await script(id, exchange)) completed++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    clearInterval(watchdog);
    return { completed, failed, seconds: (performance.now() - start) / 1000 };
  }

  async #receive(): Promise<void> {
    const buf = new Uint8Array(2048);
    for (;;) {
      let data: Uint8Array;
      try {
        [data] = await this.#socket.receive(buf);
      } catch {
        return; // closed
      }
      try {
        const msg = decode(data);
        const pending = this.#pending.get(msg.sessionId);
        if (pending && pending.expect === msg.command) this.#onAnswer?.(msg.sessionId);
      } catch (e) {
        if (!(e instanceof WireError)) throw e;
      }
    }
  }
}
