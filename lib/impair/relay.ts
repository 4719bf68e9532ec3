/**
 * `pudp impair`: the I/O driver around {@link RelaySessions}.
 *
 * One listening socket faces the clients; each client (flow) gets its own
 * upstream socket towards the server, so the server sees one address per
 * client and replies can be told apart. Each socket has a receive loop
 * with its own reused buffer; every datagram is copied (the machine may
 * hold it) and handed to the machine, then the machine is drained:
 * datagrams to ordered senders (the relay adds no reordering of its own),
 * log records to the `--log` file, closed flows to socket closes, the next
 * deadline to one alarm. It runs until SIGINT or SIGTERM.
 *
 * @module
 */

import { errorText, ExchangeError } from "../cli/errors.ts";
import { Alarm } from "../io/alarm.ts";
import { StopRequest } from "../io/stop_request.ts";
import { DatagramSender } from "../net/datagram_sender.ts";
import { resolveHost } from "../net/resolve.ts";
import { formatAddress, type PeerAddress } from "../net/transmit.ts";
import { type RelayOptions, RelaySessions, type RelayStats } from "./relay_session.ts";

/** What `pudp impair` was asked to do. */
export interface RelayConfig extends RelayOptions {
  /** Address to listen on for clients. */
  host: string;
  listenPort: number;
  /** The server datagrams are relayed to. */
  targetHost: string;
  targetPort: number;
  /** Where to write one JSON line per decision, if anywhere. */
  logPath: string | undefined;
  verbose: boolean;
}

/** Largest UDP datagram. */
const RECEIVE_BUFFER = 65_536;

/** The summary line printed to stderr at exit. */
export function relaySummaryLine(s: RelayStats): string {
  const side = (name: string, d: RelayStats["up"]) =>
    `${name} ${d.datagrams} datagrams (${d.dropped} dropped, ${d.duplicated} duplicated, ` +
    `${d.reordered} reordered, ${d.delayed} delayed)`;
  return `pudp impair: ${s.flows} flows, ${side("up", s.up)}, ${side("down", s.down)}, ` +
    `${s.refused} refused`;
}

interface Upstream {
  socket: Deno.DatagramConn;
  sender: DatagramSender;
}

/** Runs the relay until SIGINT/SIGTERM. Returns the exit status. */
export async function runRelay(config: RelayConfig, log: (line: string) => void): Promise<number> {
  const target = await resolveHost(config.targetHost);
  const targetAddr: PeerAddress = { hostname: target.hostname, port: config.targetPort };
  let listener: Deno.DatagramConn;
  try {
    listener = Deno.listenDatagram({
      hostname: config.host,
      port: config.listenPort,
      transport: "udp",
    });
  } catch (e) {
    throw new ExchangeError(
      `cannot listen on ${formatAddress({ hostname: config.host, port: config.listenPort })}: ${
        errorText(e)
      }`,
    );
  }
  let logFile: Deno.FsFile | undefined;
  if (config.logPath !== undefined) {
    try {
      logFile = Deno.openSync(config.logPath, { write: true, create: true, truncate: true });
    } catch (e) {
      listener.close();
      throw new ExchangeError(`cannot open log file ${config.logPath}: ${errorText(e)}`);
    }
  }

  const clock = () => performance.now();
  const machine = new RelaySessions(config, clock());
  const encoder = new TextEncoder();
  const stop = new StopRequest();
  const requestStop = stop.request;
  const onSendError = (e: unknown) => {
    if (config.verbose) log(`cannot send: ${errorText(e)}`);
  };
  const downstream = new DatagramSender(listener, onSendError);
  const upstreams = new Map<string, Upstream>();
  const receivers: Promise<void>[] = [];

  const openUpstream = (key: string, client: PeerAddress): Upstream => {
    const socket = Deno.listenDatagram({ hostname: target.anyAddress, port: 0, transport: "udp" });
    const up = { socket, sender: new DatagramSender(socket, onSendError) };
    upstreams.set(key, up);
    receivers.push(receiveLoop(socket, (bytes, from) => {
      if (from.hostname !== targetAddr.hostname || from.port !== targetAddr.port) return;
      machine.handleDatagram("down", bytes, client, clock());
    }));
    return up;
  };

  const writeLog = () => {
    let text = "";
    for (let r = machine.pollLog(); r; r = machine.pollLog()) {
      if (logFile) text += JSON.stringify(r) + "\n";
    }
    if (logFile && text.length > 0) {
      try {
        const bytes = encoder.encode(text);
        for (let off = 0; off < bytes.length;) off += logFile.writeSync(bytes.subarray(off));
      } catch (e) {
        requestStop(`cannot write to ${config.logPath}: ${errorText(e)}`);
      }
    }
  };

  const afterEvent = () => {
    for (let t = machine.pollTransmit(); t; t = machine.pollTransmit()) {
      if (t.direction === "down") {
        downstream.push({ data: t.data, to: t.client });
      } else {
        try {
          const up = upstreams.get(t.flow) ?? openUpstream(t.flow, t.client);
          up.sender.push({ data: t.data, to: targetAddr });
        } catch (e) {
          if (config.verbose) log(`cannot open a socket for ${t.flow}: ${errorText(e)}`);
        }
      }
    }
    for (let key = machine.pollClosedFlow(); key; key = machine.pollClosedFlow()) {
      const up = upstreams.get(key);
      upstreams.delete(key);
      if (up) up.sender.drained().then(() => up.socket.close());
    }
    writeLog();
    alarm.set(machine.pollTimeout());
  };
  const alarm = new Alarm(clock, () => {
    machine.handleTimeout(clock());
    afterEvent();
  });

  const onSignal = () => requestStop();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  log(
    `listening on ${formatAddress(listener.addr as Deno.NetAddr)}, relaying to ${
      formatAddress(targetAddr)
    } (seed ${config.seed})`,
  );

  receivers.push(receiveLoop(listener, (bytes, from) => {
    machine.handleDatagram("up", bytes, from, clock());
  }, (e) => requestStop(`cannot receive: ${errorText(e)}`)));

  await stop.requested;
  alarm.cancel();
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
  machine.shutdown();
  afterEvent();
  await downstream.drained();
  listener.close();
  for (const up of upstreams.values()) {
    await up.sender.drained();
    up.socket.close();
  }
  await Promise.all(receivers);
  writeLog();
  logFile?.close();
  log(relaySummaryLine(machine.stats));
  if (stop.failure !== undefined) {
    log(stop.failure);
    return 1;
  }
  return 0;

  /** Receives until the socket closes; each datagram is copied, handled, and the machine drained. */
  async function receiveLoop(
    socket: Deno.DatagramConn,
    handle: (bytes: Uint8Array, from: Deno.NetAddr) => void,
    onError?: (e: unknown) => void,
  ): Promise<void> {
    const buf = new Uint8Array(RECEIVE_BUFFER);
    for (;;) {
      let datagram: [Uint8Array, Deno.Addr];
      try {
        datagram = await socket.receive(buf);
      } catch (e) {
        if (!stop.stopping && onError && !(e instanceof Deno.errors.BadResource)) onError(e);
        return;
      }
      if (stop.stopping) return;
      handle(datagram[0].slice(), datagram[1] as Deno.NetAddr);
      afterEvent();
    }
  }
}
