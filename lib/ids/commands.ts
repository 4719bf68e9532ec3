/**
 * The `pudp ids` group: `pudp ids server PORT` and `pudp ids client HOST PORT ID`.
 *
 * @module
 */

import type { Command, Group } from "../cli/command_tree.ts";
import { defineClient, defineFamily, defineServer, serverArgs } from "../cli/roles.ts";
import { UsageError } from "../util/errors.ts";
import {
  type ArgDef,
  count,
  JSON_FLAG,
  LISTEN_HOST,
  seconds,
  switchFlag,
  tcpLimitFlags,
  tcpLimits,
  UDP_IO_FLAG,
} from "../cli/flags.ts";
import { runIdsClient } from "./client.ts";
import { ERROR_BURST, ERROR_RATE } from "./error_limiter.ts";
import { DEFAULT_IDS_OPTIONS } from "./registry_machine.ts";
import { runIdsServer } from "./server.ts";
import { isValidId, MAX_ID_LENGTH } from "./wire.ts";

const TCP_FLAG = switchFlag("use TCP instead of UDP");

/** `pudp ids server PORT`. */
export const idsServerCommand: Command = defineServer({
  name: "server",
  summary: "hands out connection ids: OK <id> <ip> <port>, or RESET <id> when in use",
  description: `
Answers "HELLO <id>" requests on PORT, over UDP (one request per datagram) or
TCP (--tcp; one request per line; a line without its newline counts after
200 ms or at EOF). An id nobody holds is granted with "OK <id> <client-ip>
<client-port>" and held for --id-ttl seconds; an id in use gets "RESET <id>"
(over TCP the connection is then closed); a repeat from the address that holds
the id gets OK again; a malformed request gets "ERROR <reason>" (at most
${ERROR_BURST} at once, then ${ERROR_RATE} a second, per address; none with --course). A datagram or
line that looks like a reply (OK, RESET, ERROR) or is not printable text gets
no reply at all. With --max-ids ids held, a request for a new id gets "ERROR id
table full". Ids are 1 to ${MAX_ID_LENGTH} visible ASCII characters. Prints one line
per reply and expiry to stdout and exits 0 after --idle-exit seconds without a
request (counted from the start too), or on SIGINT/SIGTERM. Over TCP at most
--max-connections are open at once (more are closed at once), and a
connection that sends nothing for --idle-timeout is closed.`,
  flags: {
    tcp: TCP_FLAG,
    host: LISTEN_HOST,
    "id-ttl": seconds(
      "release an id this long after it was taken",
      String(DEFAULT_IDS_OPTIONS.idTtlMs / 1000),
    ),
    "idle-exit": seconds(
      "exit after this long without a request; 0 = never",
      String(DEFAULT_IDS_OPTIONS.idleExitMs / 1000),
      true,
    ),
    "max-ids": count(
      "most ids held; then a new id gets ERROR id table full",
      String(DEFAULT_IDS_OPTIONS.maxIds),
      1,
      100_000_000,
    ),
    course: switchFlag("send no ERROR replies, as the course servers did"),
    json: JSON_FLAG,
    "udp-io": UDP_IO_FLAG,
    ...tcpLimitFlags(),
  },
  run: (flags, listen, context) =>
    runIdsServer({
      ...listen,
      tcp: flags.tcp,
      idTtlMs: flags["id-ttl"],
      idleExitMs: flags["idle-exit"],
      maxIds: flags["max-ids"],
      course: flags.course,
      limits: tcpLimits(flags),
      udpIo: flags["udp-io"],
    }, context.log),
});

const idArg: ArgDef<string> = {
  name: "ID",
  parse(text) {
    if (!isValidId(text)) {
      throw new UsageError(
        `bad id '${text}': expected 1 to ${MAX_ID_LENGTH} visible ASCII characters`,
      );
    }
    return text;
  },
};

/** `pudp ids client HOST PORT ID`. */
export const idsClientCommand: Command = defineClient({
  name: "client",
  summary: "asks an ids server for an id and prints the reply",
  description: `
Sends "HELLO <ID>" to the ids server at HOST PORT and prints its reply on
stdout. Exits 0 on OK, 1 on RESET, ERROR or no answer within --timeout. Over
UDP the request is repeated 4 times within --timeout; a RESET that answers a
repeated request says the id may be the client's own (its first OK was lost,
and servers that do not recognise a repeat answer it RESET). --verbose says
each send (what, when, why) and each reply's first bytes on stderr.`,
  flags: {
    tcp: TCP_FLAG,
    timeout: seconds("how long to wait for the reply", "5"),
    "udp-io": UDP_IO_FLAG,
  },
  args: [...serverArgs(), idArg],
  run: (flags, [host, port, id], context) =>
    runIdsClient(
      {
        host,
        port,
        id,
        tcp: flags.tcp,
        timeoutMs: flags.timeout,
        verbose: context.verbose,
        udpIo: flags["udp-io"],
      },
      context.log,
    ),
});

/** `pudp ids`. */
export const idsGroup: Group = defineFamily(
  "ids",
  "connection-id registry over UDP or TCP",
  "A registry of connection ids: HELLO <id> is answered OK or RESET.",
  idsServerCommand,
  idsClientCommand,
);
