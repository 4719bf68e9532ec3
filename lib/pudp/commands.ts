/**
 * The `pudp server` and `pudp client` subcommands: flags, help, defaults.
 *
 * @module
 */

import {
  expectPositionals,
  type FlagSpec,
  parseCommand,
  parseCount,
  parseMagic,
  parsePort,
  parseSeconds,
  stringFlag,
} from "../cli/args.ts";
import type { Command } from "../cli/command.ts";
import { DEFAULT_CLIENT_OPTIONS } from "./client_session.ts";
import { runClient } from "./client.ts";
import { runServer } from "./server.ts";
import { DEFAULT_SERVER_OPTIONS } from "./server_session.ts";

const SERVER_FLAGS: Record<string, FlagSpec> = {
  host: { type: "string" },
  timeout: { type: "string" },
  "max-gap": { type: "string" },
  "max-sessions": { type: "string" },
  magic: { type: "string" },
  "no-stdin": { type: "boolean" },
};

const CLIENT_FLAGS: Record<string, FlagSpec> = {
  timeout: { type: "string" },
  magic: { type: "string" },
  window: { type: "string" },
};

/** `pudp server PORT`. */
export const serverCommand: Command = {
  name: "server",
  summary: "PUDP server: prints what every client sends (UDP, event loop)",
  help: `Usage: pudp server [options] PORT

Runs a PUDP server on UDP PORT and prints every session's messages to stdout,
one line each: "0x<session> [<seq>] <payload>". PORT 0 picks a free port; the
port in use is printed to stderr as "listening on HOST:PORT". The server stops
at EOF on stdin, at a line "q" when stdin is a terminal, or on SIGINT/SIGTERM,
saying GOODBYE to every session, and prints a summary line to stderr.

Options:
  --host HOST          address to listen on (default 0.0.0.0; use :: for IPv6)
  --timeout SECONDS    close a session after this long without a message (default 60)
  --max-gap N          largest sequence gap reported as loss; larger ends the session (default 10000)
  --max-sessions N     most sessions open at once; more HELLOs are dropped (default 100000)
  --magic NUMBER       magic number (default 0xC356; 0xC461 talks to CSE 461 P0P peers)
  --no-stdin           leave stdin alone (for service managers and background jobs)
  --verbose            more diagnostics on stderr
  -h, --help           show this help
`,
  run(args, log) {
    const parsed = parseCommand(args, SERVER_FLAGS);
    const [port] = expectPositionals(parsed.positionals, ["PORT"]);
    const d = DEFAULT_SERVER_OPTIONS;
    return runServer({
      host: stringFlag(parsed, "host", "0.0.0.0"),
      port: parsePort(port, true),
      timeoutMs: parseSeconds("timeout", stringFlag(parsed, "timeout", String(d.timeoutMs / 1000))),
      maxGap: parseCount("max-gap", stringFlag(parsed, "max-gap", String(d.maxGap)), 0),
      maxSessions: parseCount(
        "max-sessions",
        stringFlag(parsed, "max-sessions", String(d.maxSessions)),
        1,
      ),
      magic: parseMagic(stringFlag(parsed, "magic", "0xC356")),
      readStdin: parsed.flags["no-stdin"] !== true,
      verbose: parsed.flags.verbose === true,
    }, log);
  },
};

/** `pudp client HOST PORT`. */
export const clientCommand: Command = {
  name: "client",
  summary: "PUDP client: sends each stdin line to a server (UDP, threads)",
  help: `Usage: pudp client [options] HOST PORT

Opens a PUDP session with the server at HOST PORT and sends each line of stdin
as one DATA message (without its line ending). At EOF (or a line "q" when stdin
is a terminal) it says GOODBYE and exits 0 once the server answers. Exits 1 if
the server does not answer, stops answering or closes the session first.
Lines longer than 65495 bytes are sent as several messages, with a warning.

Options:
  --timeout SECONDS    how long to wait for the server (default 5)
  --window N           most messages in flight without an ALIVE; 0 = unpaced (default ${DEFAULT_CLIENT_OPTIONS.window})
  --magic NUMBER       magic number (default 0xC356; 0xC461 talks to CSE 461 P0P peers)
  --verbose            more diagnostics on stderr
  -h, --help           show this help
`,
  async run(args, log) {
    const parsed = parseCommand(args, CLIENT_FLAGS);
    const [host, port] = expectPositionals(parsed.positionals, ["HOST", "PORT"]);
    const d = DEFAULT_CLIENT_OPTIONS;
    const result = await runClient({
      host,
      port: parsePort(port, false),
      timeoutMs: parseSeconds("timeout", stringFlag(parsed, "timeout", String(d.timeoutMs / 1000))),
      window: parseCount("window", stringFlag(parsed, "window", String(d.window)), 0, 1_000_000),
      magic: parseMagic(stringFlag(parsed, "magic", "0xC356")),
      verbose: parsed.flags.verbose === true,
    }, log);
    if (result.message) log(result.message);
    return result.code;
  },
};
