/**
 * `pudp ids client`: the driver around {@link IdsClientSession}. Over UDP a
 * socket that takes replies only from the server; over TCP one connection,
 * replies read as lines.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import { escapeText } from "../io/terminal_text.ts";
import { writeAll } from "../io/write_all.ts";
import { NEED_MORE, ReceiveBuffer } from "../bytes/receive_buffer.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { TcpConnection } from "../net/tcp.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { Driver, SIGNAL_EXIT } from "../runtime/driver.ts";
import { type IdsClientResult, IdsClientSession } from "./client_machine.ts";
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
}

/** Asks for the id and prints the reply on stdout; returns how it went. */
export async function runIdsClient(config: IdsClientConfig): Promise<IdsClientResult> {
  const peer = await resolveHost(config.host);
  const server = { hostname: peer.hostname, port: config.port };
  const label = serverLabel(config.host, config.port);
  const session = new IdsClientSession({
    id: config.id,
    timeoutMs: config.timeoutMs,
    transport: config.tcp ? "tcp" : "udp",
    serverLabel: label,
  });
  const done = Promise.withResolvers<IdsClientResult>();
  const fail = (message: string) => done.resolve({ code: 1, message });

  const tcp = config.tcp ? await TcpConnection.connect(server) : undefined;
  const udp = config.tcp ? undefined : UdpEndpoint.bind({ hostname: peer.anyAddress, port: 0 }, {
    onSendError: (e) => fail(`cannot send to ${label}: ${errorText(e)}`),
  });
  const driver = new Driver(session, () => {
    for (let data = session.pollTransmit(); data; data = session.pollTransmit()) {
      if (tcp) tcp.write(data);
      else udp!.send({ data, to: server });
    }
    if (session.result) done.resolve(session.result);
  });
  const now = driver.clock;
  driver.onSignals((signal) => done.resolve({ code: SIGNAL_EXIT[signal] }));

  udp?.receive((bytes, from) => {
    if (from.hostname !== server.hostname || from.port !== server.port) return;
    session.handleReply(bytes, now());
    driver.afterEvent();
  }, (e) => fail(`cannot receive: ${errorText(e)}`));

  if (tcp) {
    const rx = new ReceiveBuffer(MAX_LINE + 2);
    tcp.read((bytes) => {
      rx.push(bytes);
      const line = rx.decode(decodeLine);
      if (line !== NEED_MORE) {
        session.handleReply(line, now());
        driver.afterEvent();
      }
    }).then((end) => {
      if (end.kind === "eof" && rx.length > 0) session.handleReply(rx.takeAll(), now());
      else if (end.kind === "eof") session.handleEnd("closed the connection");
      else if (end.kind === "reset") session.handleEnd("reset the connection");
      else if (end.kind === "error") fail(`cannot read from ${label}: ${errorText(end.error)}`);
      driver.afterEvent();
    }, (e) => fail(`cannot read from ${label}: ${errorText(e)}`));
  }

  session.start(now());
  driver.afterEvent();
  const result = await done.promise;
  driver.quiet();
  await udp?.close();
  tcp?.close();
  if (result.reply !== undefined) {
    // The reply is the server's text: escaped on a terminal (it could drive it).
    const reply = Deno.stdout.isTerminal() ? escapeText(result.reply) : result.reply;
    await writeAll(Deno.stdout, new TextEncoder().encode(reply + "\n"));
  }
  return result;
}
