/**
 * The checker's UDP socket on 127.0.0.1 (or the address family of the
 * target): what it sends and receives is recorded in the case's trace, and
 * every receive is bounded in time.
 *
 * @module
 */

import { Arrivals } from "./arrivals.ts";
import type { TraceSink } from "./case_model.ts";

/** Where the checker's sockets bind to reach `host`: loopback for loopback, else any address. */
export function bindAddress(host: string): string {
  if (host.startsWith("127.")) return "127.0.0.1";
  if (host === "::1") return "::1";
  return host.includes(":") ? "::" : "0.0.0.0";
}

/** A datagram the probe received and the port it came from. */
export interface Arrival {
  /** The datagram. */
  bytes: Uint8Array;
  /** The sender's port. */
  port: number;
  /** The sender's address. */
  hostname: string;
  /** When it arrived, ms since the case began. */
  at: number;
}

/** One UDP socket of a case. */
export class Probe {
  readonly #socket: Deno.DatagramConn;
  readonly #queue = new Arrivals<Arrival>();
  #closed = false;
  readonly #trace: TraceSink;
  readonly #note: string | undefined;
  readonly #describe: ((bytes: Uint8Array) => string) | undefined;
  /** The socket's own port. */
  readonly port: number;

  /**
   * Binds a socket on `hostname`, port `port` (0: any free one); `note`
   * marks its datagrams; `describe` says what a datagram is in the trace
   * (without it, it is decoded as PUDP).
   */
  constructor(
    trace: TraceSink,
    hostname = "127.0.0.1",
    port = 0,
    note?: string,
    describe?: (bytes: Uint8Array) => string,
  ) {
    this.#socket = Deno.listenDatagram({ hostname, port, transport: "udp" });
    this.port = (this.#socket.addr as Deno.NetAddr).port;
    this.#trace = trace;
    this.#note = note;
    this.#describe = describe;
    this.#loop();
  }

  async #loop(): Promise<void> {
    for (;;) {
      let got: [Uint8Array, Deno.Addr];
      try {
        got = await this.#socket.receive();
      } catch {
        if (this.#closed) return;
        continue; // an ICMP error reported on the socket: keep receiving
      }
      const from = got[1] as Deno.NetAddr;
      this.#trace.add("received", from.port, got[0], this.#note, this.#describe?.(got[0]));
      this.#queue.push({
        bytes: got[0],
        port: from.port,
        hostname: from.hostname,
        at: this.#trace.now(),
      });
    }
  }

  /** Sends `bytes` to `host:port` (a failed send is recorded and ignored). */
  async send(bytes: Uint8Array, port: number, host = "127.0.0.1"): Promise<void> {
    this.#trace.add("sent", port, bytes, this.#note, this.#describe?.(bytes));
    await this.#socket.send(bytes, { transport: "udp", hostname: host, port }).catch(() => 0);
  }

  /** The next datagram within `ms`, or undefined. */
  next(ms: number): Promise<Arrival | undefined> {
    return this.#queue.next(ms);
  }

  /** Every datagram that arrives within the next `ms` (and any already waiting). */
  async during(ms: number): Promise<Arrival[]> {
    const end = performance.now() + ms;
    const out: Arrival[] = [];
    for (;;) {
      const left = end - performance.now();
      const got = await this.next(Math.max(0, left));
      if (got) out.push(got);
      else if (left <= 0) return out;
    }
  }

  /** Closes the socket. */
  close(): void {
    this.#closed = true;
    try {
      this.#socket.close();
    } catch {
      // already closed
    }
  }
}
