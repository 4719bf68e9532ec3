/**
 * `pudp ids server`: the driver around {@link IdRegistry}, over UDP (one
 * request per datagram) or TCP (`--tcp`: many connections, a request per
 * line). It exits 0 by itself after `--idle-exit` seconds without a request.
 *
 * @module
 */

import { errorText } from "../cli/errors.ts";
import { EventOutput } from "../events/event_output.ts";
import { type TcpConnection, TcpListener } from "../net/tcp.ts";
import { formatAddress } from "../net/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { type IdsEvent, idsJsonFields, IdsTextSink } from "./events.ts";
import { IdRegistry, type IdsOptions, type IdsStats } from "./registry_machine.ts";

/** What `pudp ids server` was asked to do. */
export interface IdsServerConfig extends IdsOptions {
  host: string;
  port: number;
  tcp: boolean;
  json: boolean;
  verbose: boolean;
}

/** A connection stops being read while this many reply bytes wait to be written to it. */
const WRITE_HIGH_WATER = 64 * 1024;

/** The summary line printed to stderr at exit. */
export function idsSummaryLine(s: IdsStats, tcp: boolean): string {
  return `pudp ids server: ${s.requests} requests, ${s.ok} ok, ${s.reset} reset, ` +
    `${s.errors} errors, ${s.expired} expired` + (tcp ? `, ${s.connections} connections` : "");
}

/** Runs the server until it has been idle for `--idle-exit`, or a signal. */
export function runIdsServer(
  config: IdsServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const output = new EventOutput<IdsEvent>({
    json: config.json,
    text: () => new IdsTextSink(),
    fields: idsJsonFields,
    clock: monotonicNow,
  });
  const machine = new IdRegistry(config, output.sink, monotonicNow());
  const address = { hostname: config.host, port: config.port };
  const udp = config.tcp ? undefined : UdpEndpoint.bind(address, {
    maxInFlight: 16,
    onSendError: (e, t) => {
      if (config.verbose) log(`cannot send to ${formatAddress(t.to)}: ${errorText(e)}`);
    },
  });
  const tcp = config.tcp ? TcpListener.listen(address) : undefined;
  const connections = new Map<number, TcpConnection>();

  const driver = new Driver(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      if (t.kind === "datagram") udp?.send(t);
      else connections.get(t.connection)?.write(t.data);
    }
    for (let id = machine.pollClose(); id !== undefined; id = machine.pollClose()) {
      const conn = connections.get(id);
      connections.delete(id);
      conn?.end();
    }
    output.kick();
    if (output.failure !== undefined) driver.stop.request(output.failure);
    if (machine.finished && !driver.stop.stopping) {
      log(`no request for ${config.idleExitMs / 1000} s: exiting`);
      driver.stop.request();
    }
  });
  const now = driver.clock;

  udp?.receive((bytes, from) => {
    if (driver.stop.stopping) return;
    machine.handleDatagram(bytes, from, now());
    driver.afterEvent();
  }, (e) => driver.stop.request(`cannot receive: ${errorText(e)}`));

  tcp?.accept((conn) => {
    if (driver.stop.stopping) return conn.close();
    connections.set(conn.id, conn);
    machine.handleConnect(conn.id, conn.peer, now());
    driver.afterEvent();
    conn.read((bytes) => {
      machine.handleStreamBytes(conn.id, bytes, now());
      driver.afterEvent();
      // A client that sends and does not read is read no further until it does.
      return conn.pendingWrite > WRITE_HIGH_WATER ? conn.drained() : undefined;
    }).then((end) => {
      if (end.kind === "eof") machine.handleStreamEnd(conn.id, now());
      else if (end.kind !== "closed") {
        machine.handleStreamGone(
          conn.id,
          end.kind === "reset" ? "peer reset" : `error: ${errorText(end.error)}`,
        );
        connections.delete(conn.id);
        conn.close();
      }
      driver.afterEvent();
    });
  }, (e) => {
    if (config.verbose) log(`cannot accept: ${errorText(e)}`);
  });

  const bound = (udp?.address ?? tcp?.address)!;
  return driver.serve({
    ready: `listening on ${formatAddress(bound)} (${config.tcp ? "tcp" : "udp"})`,
    shutdown: () => machine.shutdown(),
    close: async () => {
      await udp?.close();
      await tcp?.close();
      await Promise.all([...connections.values()].map((c) => c.end()));
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => idsSummaryLine(machine.stats, config.tcp),
  }, log);
}
