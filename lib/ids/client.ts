/**
 * `pudp ids client`: the driver around {@link IdsClientMachine}. Over UDP a
 * socket that takes replies only from the server; over TCP one connection,
 * replies read as lines.
 *
 * How this works: the machine has a deadline (the timeout, the UDP
 * repeats), so a {@link TimerLoop} drains it after every reply and at its
 * alarm: requests to the socket or the connection, and its result, which
 * ends the {@link Lifecycle}'s run (a signal ends it with 130/143/129).
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { escapeText } from "../io/terminal_text.ts";
import { writeAll } from "../io/write_all.ts";
import { NEED_MORE, ReceiveBuffer } from "../bytes/receive_buffer.ts";
import { resolveServer } from "../net/resolve.ts";
import { TcpConnection } from "../net/tcp.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import type { UdpIo } from "../net/udp_socket.ts";
import { type ClientEnd, Lifecycle } from "../runtime/lifecycle.ts";
import { TimerLoop } from "../runtime/timer_loop.ts";
import { IdsClientMachine } from "./client_machine.ts";
import { decodeLine, MAX_LINE } from "./wire.ts";

/** What `pudp ids client` was asked to do. */
export interface IdsClientConfig {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** The id to ask for. */
  id: string;
  /** Over TCP (`--tcp`) instead of UDP. */
  tcp: boolean;
  /** How long to wait for the reply, in ms (`--timeout`). */
  timeoutMs: number;
  /** Say each send (what, when, why) and each reply's first bytes on stderr (`--verbose`). */
  verbose: boolean;
  /** Which UDP sockets (`--udp-io`; default `auto`). */
  udpIo?: UdpIo;
}

/** Asks for the id and prints the reply on stdout; returns how it went (`--verbose` lines to `log`). */
export async function runIdsClient(
  config: IdsClientConfig,
  log: (line: string) => void,
): Promise<ClientEnd> {
  const { server, label, anyAddress } = await resolveServer(config.host, config.port);
  const machine = new IdsClientMachine({
    id: config.id,
    timeoutMs: config.timeoutMs,
    transport: config.tcp ? "tcp" : "udp",
    serverLabel: label,
  });
  /** Ends the run (the lifecycle's `finish`, once it has started). */
  let finish: (end: ClientEnd) => void = () => {};
  const fail = (message: string) => finish({ code: 1, message });

  const tcp = config.tcp ? await TcpConnection.connect(server) : undefined;
  const udp = config.tcp ? undefined : UdpEndpoint.bind({ hostname: anyAddress, port: 0 }, {
    onSendError: (e) => fail(`cannot send to ${label}: ${errorText(e)}`),
    io: config.udpIo,
    log: config.verbose ? log : undefined,
  });
  const loop = new TimerLoop(machine, () => {
    for (let data = machine.pollTransmit(); data; data = machine.pollTransmit()) {
      if (tcp) tcp.write(data);
      else udp!.send({ data, to: server });
    }
    for (let note = machine.pollNote(); note !== undefined; note = machine.pollNote()) {
      if (config.verbose) log(note);
    }
    if (machine.result) finish(machine.result);
  });
  const now = loop.clock;

  return await new Lifecycle().run({
    start(finishRun) {
      finish = finishRun;
      udp?.receive((bytes, from) => {
        if (from.hostname !== server.hostname || from.port !== server.port) return;
        machine.handleReply(bytes, now());
        loop.afterEvent();
      }, (e) => fail(`cannot receive: ${errorText(e)}`));

      if (tcp) {
        const rx = new ReceiveBuffer(MAX_LINE + 2);
        tcp.read((bytes) => {
          rx.push(bytes);
          const line = rx.decode(decodeLine);
          if (line !== NEED_MORE) {
            machine.handleReply(line, now());
            loop.afterEvent();
          }
        }).then((end) => {
          if (end.kind === "eof" && rx.length > 0) machine.handleReply(rx.takeAll(), now());
          else if (end.kind === "eof") machine.handleEnd("closed the connection");
          else if (end.kind === "reset") machine.handleEnd("reset the connection");
          else if (end.kind === "error") fail(`cannot read from ${label}: ${errorText(end.error)}`);
          loop.afterEvent();
        }, (e) => fail(`cannot read from ${label}: ${errorText(e)}`));
      }

      machine.start(now());
      loop.afterEvent();
    },
    async close(end) {
      loop.cancel();
      await udp?.close();
      tcp?.close();
      // The machine's own result carries the reply: the server's text, escaped on a terminal
      // (it could drive it).
      const reply = end === machine.result ? machine.result.reply : undefined;
      if (reply !== undefined) {
        const text = Deno.stdout.isTerminal() ? escapeText(reply) : reply;
        await writeAll(Deno.stdout, new TextEncoder().encode(text + "\n"));
      }
    },
  });
}
