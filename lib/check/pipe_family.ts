/**
 * The pipe family of `pudp check`: `pudp check pipe server` and `pudp check pipe client`.
 *
 * @module
 */

import type { CheckFamily } from "./family.ts";
import { PIPE_CLIENT_CASES } from "./pipe_client_cases.ts";
import { PIPE_SERVER_CASES } from "./pipe_server_cases.ts";

/** pipe: stdin to a server's stdout over TCP. */
export const PIPE_FAMILY: CheckFamily = {
  command: "pipe",
  label: "pipe",
  transport: "tcp",
  serverCases: PIPE_SERVER_CASES,
  clientCases: PIPE_CLIENT_CASES,
  serverHelp: `
Checks a pipe server (TCP; each client's bytes to its stdout) against the protocol's
rules: a running one at HOST PORT (judged on the wire: when it closes), or a
program pudp starts with -- CMD ARG… {port} on a free port for each case (also
judged by its stdout, byte for byte: every client's bytes exact, binary and
large ones included, each client's contiguous however many send at once; and
by how it exits on SIGTERM). pudp plays the clients: one or twelve at once,
in small pieces or 64 MiB, going away mid-stream or sending nothing. CASE
arguments are case ids or prefixes (server/data). Exit 0 when every selected
case passed, 1 when any failed.`,
  clientHelp: `
Checks a pipe client against the protocol's rules: pudp plays the server (a
normal one that reads everything and closes after the client's EOF, one that
reads nothing for a while, one that never closes, one that closes or
half-closes before the end), starts the client with {host} and {port} replaced
for each case, feeds its stdin (text, binary, slowly, or 48 MiB) and judges
the bytes that arrive, the client's half-close, its memory (from /proc) and
its exit status. CASE arguments are case ids or prefixes (client/eof). Exit 0
when every selected case passed, 1 when any failed.`,
};
