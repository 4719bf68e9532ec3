/**
 * The driver parts every blast server shares (the default protocol's and
 * `--classic`'s): over UDP, a machine on one socket with its
 * {@link BlastUdpLoop}; over TCP, a listener whose connections are each
 * served by their own loop. Both build the event output and the
 * {@link Lifecycle} (signals, the ordered shutdown, the summary line) and
 * print `listening on ADDRESS (KIND)` when ready.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { EventSink } from "../events/sink.ts";
import { type TcpConnection, TcpListener } from "../net/tcp.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import type { TimedMachine } from "../runtime/machine.ts";
import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";
import { type BlastServerEvent, blastServerLife, droppedText } from "./events.ts";
import {
  type BlastServerConfig,
  type BlastServerStats,
  blastSummaryLine,
  newServerStats,
} from "./server_common.ts";
import { BlastUdpLoop, type SendSource } from "./udp_send_loop.ts";

/** Longest wait at shutdown for the TCP runs to log how they ended, in ms. */
const SHUTDOWN_WAIT_MS = 2_000;

/** `sink`, and with `--verbose` each `dropped` event also as a line on stderr. */
export function withDroppedLog(
  sink: EventSink<BlastServerEvent>,
  verbose: boolean,
  log: (line: string) => void,
): EventSink<BlastServerEvent> {
  if (!verbose) return sink;
  return {
    emit(e) {
      sink.emit(e);
      if (e.event === "dropped") log(droppedText(e));
    },
  };
}

/** A blast UDP server machine, as {@link runUdpServer} drives it. */
export interface UdpServerMachine extends SendSource, TimedMachine {
  /** The counters of the summary line. */
  readonly stats: BlastServerStats;
  /** One datagram arrived from `from`. */
  handleDatagram(bytes: Uint8Array, from: PeerAddress, now: number): void;
  /** The server stops: every run ends (`closed`, reason `shutdown`). */
  shutdown(now: number): void;
}

/**
 * Runs a UDP server until SIGINT/SIGTERM/SIGHUP: `machine` is made with the
 * event sink (with `--verbose`, `dropped` events also go to `log`); `notice`,
 * when given, goes to `log` once the socket is bound.
 */
export function runUdpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
  kind: string,
  machine: (sink: EventSink<BlastServerEvent>) => UdpServerMachine,
  notice?: string,
): Promise<number> {
  const { life, output } = blastServerLife(config.json);
  const server = machine(withDroppedLog(output.sink, config.verbose, log));
  const endpoint = UdpEndpoint.bind({ hostname: config.host, port: config.port }, {
    io: config.udpIo,
    log: config.verbose ? log : undefined,
  });
  const driver = new BlastUdpLoop(endpoint.socket, server, () => life.kickOutput(), (e) => {
    if (config.verbose) log(`cannot send: ${errorText(e)}`);
  });
  endpoint.receive((bytes, from) => {
    if (life.stop.stopping) return;
    server.handleDatagram(bytes, from, driver.loop.clock());
    driver.afterEvent();
  }, (e) => life.stop.request(`cannot receive: ${errorText(e)}`));
  if (notice !== undefined) log(notice);
  return life.serve({
    ready: `listening on ${formatAddress(endpoint.address)} (${kind})`,
    shutdown: () => {
      server.shutdown(driver.loop.clock());
      driver.afterEvent(); // the last drain: the `closed` events
    },
    close: async () => {
      driver.stop();
      await endpoint.close();
    },
    summary: () => blastSummaryLine(server.stats),
  }, log);
}

/** Serves one TCP connection until it ends; every way out emits `closed`. */
export type ServeConnection = (
  conn: TcpConnection,
  stats: BlastServerStats,
  emit: (e: BlastServerEvent) => void,
) => Promise<void>;

/**
 * Runs a TCP server until SIGINT/SIGTERM/SIGHUP: each accepted connection
 * (no Nagle delay: paced segments go when written) is served by `serve`, and
 * closed when that ends. At shutdown the open connections are closed and
 * their loops waited for (bounded), so each run ends with its `closed` event
 * and its bytes in the summary.
 */
export function runTcpServer(
  config: BlastServerConfig,
  log: (line: string) => void,
  kind: string,
  serve: ServeConnection,
): Promise<number> {
  const { life, output } = blastServerLife(config.json);
  const stats = newServerStats();
  const open = new Set<TcpConnection>();
  /** The connections' serving loops: shutdown waits for their `closed` events. */
  const serving = new Set<Promise<void>>();
  const emit = (e: BlastServerEvent) => {
    output.sink.emit(e);
    life.kickOutput();
  };
  const listener = TcpListener.listen({ hostname: config.host, port: config.port }, config.limits);
  listener.accept((conn) => {
    if (life.stop.stopping) return conn.close();
    conn.conn.setNoDelay(true);
    open.add(conn);
    const done = serve(conn, stats, emit).finally(() => {
      open.delete(conn);
      serving.delete(done);
      conn.close();
    });
    serving.add(done);
  }, (e) => {
    if (config.verbose) log(`cannot accept: ${errorText(e)}`);
  }, log);
  return life.serve({
    ready: `listening on ${formatAddress(listener.address)} (${kind})`,
    shutdown: () => {},
    close: async () => {
      await listener.close();
      for (const conn of open) conn.close();
      // A closed connection ends its loop at once; bounded all the same.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        Promise.allSettled([...serving]),
        new Promise((r) => timer = setTimeout(r, SHUTDOWN_WAIT_MS)),
      ]);
      clearTimeout(timer);
    },
    summary: () => blastSummaryLine(stats),
  }, log);
}
