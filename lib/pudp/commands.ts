/**
 * The `pudp server` and `pudp client` commands: their flags, help and defaults.
 *
 * @module
 */

import type { Command } from "../cli/command_tree.ts";
import { defineClient, defineServer, serverArgs, showProgress } from "../cli/roles.ts";
import {
  count,
  type FlagDef,
  JSON_FLAG,
  LISTEN_HOST,
  magic,
  optionalFlag,
  QUIET_FLAG,
  seconds,
  switchFlag,
  UDP_IO_FLAG,
} from "../cli/flags.ts";
import { DEFAULT_CLIENT_OPTIONS } from "./client_machine.ts";
import { runClient } from "./client.ts";
import { runServer } from "./server.ts";
import { DEFAULT_SERVER_OPTIONS } from "./server_machine.ts";
import { MAX_PAYLOAD, VERSION } from "./wire.ts";

/** `--magic`, shared by every command that speaks PUDP. */
export const MAGIC_FLAG: FlagDef<number> = magic(
  "magic number (0xC461 talks to CSE 461 P0P peers)",
  "0xC356",
);

/** `--wire-version`, next to `--magic` on every command that speaks PUDP: the version byte. */
export const WIRE_VERSION_FLAG: FlagDef<number> = count(
  "version byte sent and expected (2 talks to the 0xE86D peers, with --magic 0xE86D)",
  String(VERSION),
  0,
  0xff,
);

/** `pudp server PORT`. */
export const serverCommand: Command = defineServer({
  name: "server",
  summary: "PUDP server: prints what every client sends (UDP, event loop)",
  description: `
Runs a PUDP server on UDP PORT and prints every session's messages to stdout,
one line each: "0x<session> [<seq>] <payload>". PORT 0 picks a free port; the
port in use is printed to stderr as "listening on HOST:PORT". A payload that
ends with a newline (as course clients send lines) gets no second one. Missing
sequence numbers print "Lost packet!" each, up to --max-gap such lines per
session in all; beyond that, each gap is one "Lost packets! (N)" line; the
session goes on. When --max-sessions are open, a new
HELLO evicts the oldest session that has sent nothing since its HELLO (said on
stderr). The server stops at EOF on stdin, at a line "q" when stdin is a
terminal, or on SIGINT/SIGTERM/SIGHUP, saying GOODBYE to every session, and
prints a summary line to stderr, with the sessions closed by each reason
(goodbye, timeout, protocol error, evicted, shutdown); --verbose says each close
and why, and why it dropped datagrams (once per client and reason). A client
that speaks another PUDP variant (--magic, --wire-version) is named on stderr
with the flags that would talk to it, once. While 4 MiB of output wait for a
slow stdout reader, it stops reading clients.`,
  flags: {
    host: LISTEN_HOST,
    timeout: seconds(
      "close a session after this long without a message",
      String(DEFAULT_SERVER_OPTIONS.timeoutMs / 1000),
    ),
    "max-gap": count(
      "most Lost lines per session in all; then each gap gets one summary line",
      String(DEFAULT_SERVER_OPTIONS.maxGap),
      0,
    ),
    "max-sessions": count(
      "most sessions open; then a HELLO evicts the oldest half-open one",
      String(DEFAULT_SERVER_OPTIONS.maxSessions),
      1,
    ),
    magic: MAGIC_FLAG,
    "wire-version": WIRE_VERSION_FLAG,
    "no-stdin": switchFlag("leave stdin alone (for service managers and background jobs)"),
    json: JSON_FLAG,
    "udp-io": UDP_IO_FLAG,
  },
  run: (flags, listen, context) =>
    runServer({
      ...listen,
      timeoutMs: flags.timeout,
      maxGap: flags["max-gap"],
      maxSessions: flags["max-sessions"],
      magic: flags.magic,
      version: flags["wire-version"],
      readStdin: !flags["no-stdin"],
      udpIo: flags["udp-io"],
    }, context.log),
});

/** `pudp client HOST PORT`. */
export const clientCommand: Command = defineClient({
  name: "client",
  summary: "PUDP client: sends each stdin line to a server (UDP, threads)",
  description: `
Opens a PUDP session with the server at HOST PORT and sends each line of stdin
as one DATA message (without its line ending, or with it: --keep-newlines, as
the course clients send). At EOF (or a line "q" when stdin is a terminal) it
says GOODBYE and exits 0 once the server answers. Exits 1 if the server does
not answer, stops answering or closes the session first. Lines longer than
--max-payload bytes are sent as several messages, with a warning, cut between
UTF-8 characters (a piece may be a few bytes shorter, never inside a character).
On SIGINT, SIGTERM or SIGHUP it says GOODBYE, waits up to 1 s for the answer,
and exits 130, 143 or 129. While it runs, a progress line on stderr (when that
is a terminal and stdin is not; --quiet hides it) shows the lines sent and
acknowledged (ALIVEs received), the rate and the time. A server that answers
in another PUDP variant (--magic, --wire-version) is named on stderr with the
flags that would talk to it, once.`,
  flags: {
    timeout: seconds(
      "how long to wait for the server",
      String(DEFAULT_CLIENT_OPTIONS.timeoutMs / 1000),
    ),
    window: count(
      "most messages in flight without an ALIVE; 0 = unpaced",
      String(DEFAULT_CLIENT_OPTIONS.window),
      0,
      1_000_000,
    ),
    "keep-newlines": switchFlag("send each line with its line ending (as the course clients do)"),
    "max-payload": count(
      "largest DATA payload in bytes; longer lines are split between characters",
      String(MAX_PAYLOAD),
      1,
      MAX_PAYLOAD,
    ),
    magic: MAGIC_FLAG,
    "wire-version": WIRE_VERSION_FLAG,
    bind: optionalFlag(
      "ADDR",
      "send from this local address (like nc -s): one of 127.0.0.0/8, an interface's address",
      (value) => value,
    ),
    quiet: QUIET_FLAG,
    "udp-io": UDP_IO_FLAG,
  },
  args: serverArgs(),
  run: (flags, [host, port], context) =>
    runClient({
      host,
      port,
      timeoutMs: flags.timeout,
      window: flags.window,
      magic: flags.magic,
      version: flags["wire-version"],
      keepNewlines: flags["keep-newlines"],
      maxPayload: flags["max-payload"],
      bind: flags.bind,
      progress: showProgress(flags.quiet),
      verbose: context.verbose,
      udpIo: flags["udp-io"],
    }, context.log),
});
