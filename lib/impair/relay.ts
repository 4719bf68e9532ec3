/**
 * `pudp impair`: the I/O driver around {@link RelayMachine}.
 *
 * One listening socket faces the clients; each client (flow) gets its own
 * upstream socket towards the server, so the server sees one address per
 * client and replies can be told apart. Each socket has a receive loop
 * with its own reused buffer; every datagram is copied (the machine may
 * hold it) and handed to the machine, then the machine is drained:
 * datagrams to ordered senders (the relay adds no reordering of its own),
 * log records to the `--log` file, closed flows to socket closes, the next
 * deadline to the one alarm of its {@link TimerLoop}. It runs on a
 * {@link Lifecycle} until SIGINT, SIGTERM or SIGHUP.
 *
 * @module
 */

import { errorText, ExchangeError } from "../util/errors.ts";
import { resolveHost } from "../net/resolve.ts";
import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import type { UdpIo } from "../net/udp_socket.ts";
import { Lifecycle } from "../runtime/lifecycle.ts";
import { machineHooks } from "../net/service.ts";
import { TimerLoop } from "../runtime/timer_loop.ts";
import { relayLogLine, RelayMachine, type RelayOptions, type RelayStats } from "./relay_machine.ts";

/** What `pudp impair` was asked to do. */
export interface RelayConfig extends RelayOptions {
  /** Which UDP sockets (`--udp-io`; default `auto`). */
  udpIo?: UdpIo;
  /** Address to listen on for clients. */
  host: string;
  /** The port clients send to. */
  listenPort: number;
  /** The server datagrams are relayed to. */
  targetHost: string;
  /** The server's port. */
  targetPort: number;
  /** Where to write one JSON line per decision, if anywhere. */
  logPath: string | undefined;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
}

/** The summary line printed to stderr at exit. */
export function relaySummaryLine(s: RelayStats): string {
  const side = (name: string, d: RelayStats["up"]) =>
    `${name} ${d.datagrams} datagrams (${d.dropped} dropped, ${d.duplicated} duplicated, ` +
    `${d.reordered} reordered, ${d.delayed} delayed)`;
  return `pudp impair: ${s.flows} flows, ${side("up", s.up)}, ${side("down", s.down)}, ` +
    `${s.refused} refused`;
}

/** Runs the relay until SIGINT/SIGTERM/SIGHUP. Returns the exit status. */
export async function runRelay(config: RelayConfig, log: (line: string) => void): Promise<number> {
  const target = await resolveHost(config.targetHost);
  const targetAddr: PeerAddress = { hostname: target.hostname, port: config.targetPort };
  const onSendError = (e: unknown) => {
    if (config.verbose) log(`cannot send: ${errorText(e)}`);
  };
  const listener = UdpEndpoint.bind({ hostname: config.host, port: config.listenPort }, {
    onSendError,
    io: config.udpIo,
    log: config.verbose ? log : undefined,
  });
  let logFile: Deno.FsFile | undefined;
  if (config.logPath !== undefined) {
    try {
      logFile = Deno.openSync(config.logPath, { write: true, create: true, truncate: true });
    } catch (e) {
      await listener.close();
      throw new ExchangeError(`cannot open log file ${config.logPath}: ${errorText(e)}`);
    }
  }

  const machine = new RelayMachine(config, performance.now());
  const encoder = new TextEncoder();
  const upstreams = new Map<string, UdpEndpoint>();
  const life = new Lifecycle();
  const loop = new TimerLoop(machine, () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      if (t.direction === "down") {
        listener.send({ data: t.data, to: t.client });
      } else {
        try {
          const up = upstreams.get(t.flow) ?? openUpstream(t.flow, t.client);
          up.send({ data: t.data, to: targetAddr });
        } catch (e) {
          if (config.verbose) log(`cannot open a socket for ${t.flow}: ${errorText(e)}`);
        }
      }
    }
    for (let key = machine.pollClosedFlow(); key; key = machine.pollClosedFlow()) {
      const up = upstreams.get(key);
      upstreams.delete(key);
      up?.close();
    }
    writeLog();
  });
  const now = loop.clock;
  const stop = life.stop;

  /** Each datagram is copied: the machine may hold it (delay, reorder). */
  const openUpstream = (key: string, client: PeerAddress): UdpEndpoint => {
    const up = UdpEndpoint.bind({ hostname: target.anyAddress, port: 0 }, {
      onSendError,
      io: config.udpIo,
    });
    upstreams.set(key, up);
    up.receive((bytes, from) => {
      if (stop.stopping) return;
      if (from.hostname !== targetAddr.hostname || from.port !== targetAddr.port) return;
      machine.handleDatagram("down", bytes.slice(), client, now());
      loop.afterEvent();
    }, () => {});
    return up;
  };

  const writeLog = () => {
    let text = "";
    for (let r = machine.pollLog(); r; r = machine.pollLog()) {
      if (logFile) text += relayLogLine(r);
    }
    if (logFile && text.length > 0) {
      try {
        const bytes = encoder.encode(text);
        for (let off = 0; off < bytes.length;) off += logFile.writeSync(bytes.subarray(off));
      } catch (e) {
        stop.request(`cannot write to ${config.logPath}: ${errorText(e)}`);
      }
    }
  };

  listener.receive((bytes, from) => {
    if (stop.stopping) return;
    machine.handleDatagram("up", bytes.slice(), from, now());
    loop.afterEvent();
  }, (e) => stop.request(`cannot receive: ${errorText(e)}`));

  return life.serve(
    machineHooks({
      ready: `listening on ${formatAddress(listener.address)}, relaying to ${
        formatAddress(targetAddr)
      } (seed ${config.seed})`,
      machine,
      loop,
      close: async () => {
        await listener.close();
        await Promise.all([...upstreams.values()].map((up) => up.close()));
        writeLog();
        logFile?.close();
      },
      summary: () => relaySummaryLine(machine.stats),
    }),
    log,
  );
}
