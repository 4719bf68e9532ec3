/**
 * `pudp ids server`: the driver around {@link IdRegistry}, over UDP (one
 * request per datagram) or TCP (`--tcp`: many connections, a request per
 * line). It exits 0 by itself after `--idle-exit` seconds without a request,
 * counted from the start too. A full id table is said on stderr (the first
 * time, then at most once a minute).
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { EventOutput } from "../events/event_output.ts";
import type { TcpLimits } from "../net/connection_limits.ts";
import { StreamServer } from "../net/stream_server.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { Driver, monotonicNow } from "../runtime/driver.ts";
import { type IdsEvent, idsJsonFields, IdsTextSink, tableFullText } from "./events.ts";
import { IdRegistry, type IdsOptions, type IdsStats } from "./registry_machine.ts";

/** What `pudp ids server` was asked to do. */
export interface IdsServerConfig extends IdsOptions {
  /** Address to listen on (`--host`). */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Over TCP (`--tcp`) instead of UDP. */
  tcp: boolean;
  /** One JSON object per event per line (`--json`) instead of text. */
  json: boolean;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** `--max-connections` and `--idle-timeout` (TCP). */
  limits: TcpLimits;
}

/** A TCP connection stops being read while this many reply bytes wait to be written to it. */
const WRITE_HIGH_WATER = 64 * 1024;

/** The summary line printed to stderr at exit. */
export function idsSummaryLine(s: IdsStats, tcp: boolean): string {
  return `pudp ids server: ${s.requests} requests, ${s.ok} ok, ${s.reset} reset, ` +
    `${s.errors} errors, ${s.expired} expired, ${s.dropped} dropped` +
    (s.full > 0 ? `, ${s.full} refused (id table full)` : "") +
    (tcp ? `, ${s.connections} connections` : "");
}

/** Runs the server until it has been idle for `--idle-exit`, or a signal. */
export function runIdsServer(
  config: IdsServerConfig,
  log: (line: string) => void,
): Promise<number> {
  const output = new EventOutput<IdsEvent>({
    json: config.json,
    text: (terminal) => new IdsTextSink(terminal),
    fields: idsJsonFields,
    clock: monotonicNow,
  });
  const sink = output.sink;
  const machine = new IdRegistry(config, {
    emit(e) {
      if (e.event === "table_full") log(tableFullText(e));
      sink.emit(e);
    },
  }, monotonicNow());
  const address = { hostname: config.host, port: config.port };
  const udp = config.tcp ? undefined : UdpEndpoint.bind(address, {
    maxInFlight: 16,
    onSendError: (e, t) => {
      if (config.verbose) log(`cannot send to ${formatAddress(t.to)}: ${errorText(e)}`);
    },
  });
  const tcp = config.tcp
    ? StreamServer.listen(
      address,
      {
        readSize: 64 * 1024,
        writeHighWater: WRITE_HIGH_WATER,
        limits: config.limits,
        onNotice: log,
      },
      config.verbose ? log : undefined,
    )
    : undefined;

  const driver = new Driver(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      if (t.kind === "datagram") udp?.send(t);
      else tcp?.write(t.connection, t.data);
    }
    for (let id = machine.pollClose(); id !== undefined; id = machine.pollClose()) tcp?.end(id);
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

  tcp?.start(machine, {
    clock: now,
    afterEvent: driver.afterEvent,
    stopping: () => driver.stop.stopping,
  });

  driver.afterEvent(); // arms the idle timer: --idle-exit counts from the start
  const bound = (udp?.address ?? tcp?.listener.address)!;
  return driver.serve({
    ready: `listening on ${formatAddress(bound)} (${config.tcp ? "tcp" : "udp"})`,
    shutdown: () => machine.shutdown(),
    close: async () => {
      await udp?.close();
      await tcp?.close();
      await output.close();
      driver.stop.failure ??= output.failure;
    },
    summary: () => idsSummaryLine(machine.stats, config.tcp),
  }, log);
}
