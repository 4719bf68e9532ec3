/**
 * The frame family of `pudp check`: `pudp check frame server` and `pudp
 * check frame client` (length-prefixed messages over TCP).
 *
 * @module
 */

import type { CheckFamily } from "./family.ts";
import { FRAME_CLIENT_CASES } from "./frame_client_cases.ts";
import { FRAME_SERVER_CASES } from "./frame_server_cases.ts";

/** frame: length-prefixed messages over TCP, answered minus 10 characters. */
export const FRAME_FAMILY: CheckFamily = {
  command: "frame",
  label: "frame",
  transport: "tcp",
  serverCases: FRAME_SERVER_CASES,
  clientCases: FRAME_CLIENT_CASES,
  serverHelp: `
Checks a frame server (4-byte big-endian length, then UTF-8; each message
answered with its text minus 10 characters) against the protocol's rules: a
running one at HOST PORT, or a program pudp starts with -- CMD ARG… {port}
on a free port for each case (its stdin is a pipe that stays open; stopped
by its pid; judged also by whether it is still running after a peer
misbehaved). pudp plays the clients over TCP: messages split a byte per
segment, the length apart, several in one segment, long ones, multi-byte
text, 20 clients at once, one stalled mid-message, a FIN, a reset, a length
over the limit, bytes that are not UTF-8. CASE arguments are case ids or
prefixes (server/split). Prints a tree of the cases (✓ passed, ✗ failed,
- skipped) and, for each failure, what was expected, what was observed and
the case's trace of segments, decoded. Exit 0 when every selected case
passed, 1 when any failed.`,
  clientHelp: `
Checks a frame client against the protocol's rules: pudp plays the server (a
normal one, one that writes its answers a byte per segment, one that
coalesces them into one segment, a slow one, one that closes or resets the
connection after its first answer), starts the client with {host} and
{port} replaced for each case, feeds its stdin and judges the messages it
sends, the answers it prints on stdout, its stderr and its exit status.
CASE arguments are case ids or prefixes (client/receive). Exit 0 when every
selected case passed, 1 when any failed.`,
};
