/**
 * The PUDP family of `pudp check`: `pudp check server` and `pudp check
 * client` (flat, as `pudp server` and `pudp client` are).
 *
 * @module
 */

import type { CheckFamily } from "./family.ts";
import { PUDP_CLIENT_CASES } from "./pudp_client_cases.ts";
import { PUDP_SERVER_CASES } from "./pudp_server_cases.ts";

/** PUDP: sessions over UDP. */
export const PUDP_FAMILY: CheckFamily = {
  label: "PUDP",
  transport: "udp",
  magicFlag: true,
  serverCases: PUDP_SERVER_CASES,
  clientCases: PUDP_CLIENT_CASES,
  serverHelp: `
Checks a PUDP server against the protocol's rules, like h2spec for HTTP/2: a running
one at HOST PORT (judged by what it sends), or a program pudp starts with
-- CMD ARG… {port} on a free port for each case (also judged by its stdout
and exit status; its stdin is a pipe that stays open; stopped by its pid).
CASE arguments are case ids or prefixes (server/hello). Prints a tree of the
cases (✓ passed, ✗ failed, - skipped) and, for each failure, what was
expected, what was observed and the case's wire trace. Exit 0 when every
selected case passed, 1 when any failed.`,
  clientHelp: `
Checks a PUDP client against the protocol's rules: pudp plays the server (a normal
one, a silent one, one that never sends ALIVE or never answers GOODBYE, one
that says GOODBYE first, duplicate and foreign datagrams, another session id
or magic), starts the client with {host} and {port} replaced for each case,
feeds its stdin and judges every datagram, its exit status and output. CASE
arguments are case ids or prefixes (client/closing). Exit 0 when every
selected case passed, 1 when any failed.`,
};
