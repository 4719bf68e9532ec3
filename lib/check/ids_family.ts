/**
 * The ids family of `pudp check`: `pudp check ids server` and `pudp check ids client`.
 *
 * @module
 */

import type { CheckFamily } from "./family.ts";
import { IDS_CLIENT_CASES } from "./ids_client_cases.ts";
import { IDS_SERVER_CASES } from "./ids_server_cases.ts";

/** ids: a registry of connection ids, over UDP or TCP (`--tcp`). */
export const IDS_FAMILY: CheckFamily = {
  command: "ids",
  label: "ids",
  transport: "udp",
  tcpSwitch: true,
  clientId: true,
  serverCases: IDS_SERVER_CASES,
  clientCases: IDS_CLIENT_CASES,
  serverHelp: `
Checks an ids server (HELLO <id> → OK <id> <ip> <port> or RESET <id>) against
the protocol's rules, over UDP or, with --tcp, TCP: a running one at HOST PORT
(judged by what it sends), or a program pudp starts with -- CMD ARG… {port} on
a free port for each case (also judged by its stdout; its stdin is a pipe that
stays open; stopped by its pid). pudp plays the clients, each with fresh
random 4-digit ids. --timeout is the server's --id-ttl: the case that waits
for an id to be released runs only when it is given. CASE arguments are case
ids or prefixes (server/request). Prints a tree of the cases (✓ passed, ✗
failed, - skipped) and, for each failure, what was expected, what was
observed and the case's wire trace. Exit 0 when every selected case passed, 1
when any failed.`,
  clientHelp: `
Checks an ids client against the protocol's rules, over UDP or, with --tcp,
TCP: pudp plays the server (a normal one, one that answers RESET, ERROR,
garbage or nothing, one whose first OK is lost, one that slips in a forged OK
from another address; over TCP one that closes without a word or answers
without a line ending), starts the client with {host}, {port} and {id} (a
random 4-digit id) replaced for each case, and judges what it sends, what it
prints and its exit status. --timeout is the client's own --timeout: the
cases that wait for it run only when it is given. CASE arguments are case
ids or prefixes (client/reply). Exit 0 when every selected case passed, 1
when any failed.`,
};
