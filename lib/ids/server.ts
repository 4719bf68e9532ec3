/**
 * `pudp ids server`: the driver around {@link IdRegistry}, over UDP (one
 * request per datagram) or TCP (`--tcp`: many connections, a request per
 * line). It exits 0 by itself after `--idle-exit` seconds without a request,
 * counted from the start too. A full id table is said on stderr (the first
 * time, then at most once a minute); with `--verbose` (text output), every
 * message that got no reply, and why.
 *
 * How this works: the registry has deadlines (ids expire, the idle exit), so
 * a {@link TimerLoop} drains it after every datagram or stream input and at
 * its alarm: replies to the socket or the connections, closes, the event
 * output; the {@link Lifecycle} runs it to the stop and shuts it down.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { listenStream, machineHooks, serverLife, type StreamListenConfig } from "../net/service.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { monotonicNow, TimerLoop } from "../runtime/timer_loop.ts";
import { droppedText, idsJsonFields, IdsTextSink, tableFullText } from "./events.ts";
import { IdRegistry, type IdsOptions, type IdsStats } from "./registry_machine.ts";

/** What `pudp ids server` was asked to do (`limits`: TCP only). */
export interface IdsServerConfig extends IdsOptions, StreamListenConfig {
  /** Over TCP (`--tcp`) instead of UDP. */
  tcp: boolean;
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
  const { life, output } = serverLife(config.json, (t) => new IdsTextSink(t), idsJsonFields);
  const sink = output.sink;
  const machine = new IdRegistry(config, {
    emit(e) {
      if (e.event === "table_full") log(tableFullText(e));
      // --verbose says why each message got no reply (--json has it as `dropped`, `reason`).
      if (e.event === "dropped" && config.verbose && !config.json) log(droppedText(e));
      sink.emit(e);
    },
  }, monotonicNow());
  const udp = config.tcp
    ? undefined
    : UdpEndpoint.bind({ hostname: config.host, port: config.port }, {
      maxInFlight: 16,
      onSendError: (e, t) => {
        if (config.verbose) log(`cannot send to ${formatAddress(t.to)}: ${errorText(e)}`);
      },
      io: config.udpIo,
      log: config.verbose ? log : undefined,
    });
  const tcp = config.tcp
    ? listenStream(config, { readSize: 64 * 1024, writeHighWater: WRITE_HIGH_WATER }, log)
    : undefined;

  const loop = new TimerLoop(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      if (t.kind === "datagram") udp?.send(t);
      else tcp?.write(t.connection, t.data);
    }
    for (let id = machine.pollClose(); id !== undefined; id = machine.pollClose()) tcp?.end(id);
    life.kickOutput();
    if (machine.finished && !life.stop.stopping) {
      log(`no request for ${config.idleExitMs / 1000} s: exiting`);
      life.stop.request();
    }
  });

  udp?.receive((bytes, from) => {
    if (life.stop.stopping) return;
    machine.handleDatagram(bytes, from, loop.clock());
    loop.afterEvent();
  }, (e) => life.stop.request(`cannot receive: ${errorText(e)}`));
  tcp?.start(machine, loop, life.stop);

  loop.afterEvent(); // arms the idle timer: --idle-exit counts from the start
  const bound = (udp?.address ?? tcp?.listener.address)!;
  return life.serve(
    machineHooks({
      ready: `listening on ${formatAddress(bound)} (${config.tcp ? "tcp" : "udp"})`,
      machine,
      loop,
      close: async () => {
        await udp?.close();
        await tcp?.close();
      },
      summary: () => idsSummaryLine(machine.stats, config.tcp),
    }),
    log,
  );
}
