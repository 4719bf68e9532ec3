/**
 * The `pudp pipe` group: `pudp pipe server PORT` and `pudp pipe client HOST PORT`.
 *
 * @module
 */

import type { Command, Group } from "../cli/command_tree.ts";
import {
  defineClient,
  defineFamily,
  defineServer,
  serverArgs,
  showProgress,
} from "../cli/roles.ts";
import {
  byteSize,
  JSON_FLAG,
  LISTEN_HOST,
  optionalFlag,
  parseByteSize,
  QUIET_FLAG,
  seconds,
  tcpLimitFlags,
  tcpLimits,
} from "../cli/flags.ts";
import { UsageError } from "../util/errors.ts";
import { runPipeClient } from "./client.ts";
import { defaultHoldDisk } from "./disk_budget.ts";
import { runPipeServer } from "./server.ts";
import { DEFAULT_PIPE_OPTIONS } from "./turn_machine.ts";

/** `pudp pipe server PORT`. */
export const pipeServerCommand: Command = defineServer({
  name: "server",
  summary: "writes what each client streams to stdout, one client after another, never mixed",
  description: `
Accepts TCP connections on PORT, many at once, and writes each client's bytes
to stdout exactly and contiguously: one client streams live; the others wait
their turn, their bytes held in memory up to --hold-memory in total and in
temporary files (in TMPDIR, deleted on open) beyond it, up to --hold-disk;
when both are full, waiting clients are read no further until there is room
(they wait). A connection is closed as soon as every byte it sent is written
or held, which is what tells a pudp pipe client that its data is safe. If a
temporary file or stdout cannot be written, only the client concerned fails:
it gets a line "ERR REASON" and the close (a pudp pipe client exits 1), and
the server goes on. Events (a line per connection; --json: connected, live,
closed, waiting, failed) go to stderr, since stdout is the data. Runs until
SIGINT/SIGTERM, then finishes the connections it has (one still sending
after --drain-timeout is cut: its client exits 1) and writes everything it
holds before exiting; a second signal cuts the open connections at once but
still writes what is held; a third ends it at once.
At most --max-connections are open at once (more are closed at once); a
connection that sends nothing for --idle-timeout while it is read is closed
(what it sent is kept; its client exits 1), but one whose bytes are all in
and that only waits for its turn is never cut.`,
  flags: {
    host: LISTEN_HOST,
    "hold-memory": byteSize(
      "hold at most this many bytes in memory for waiting clients",
      `${DEFAULT_PIPE_OPTIONS.holdMemory / 2 ** 20}MiB`,
      0,
    ),
    "hold-disk": optionalFlag(
      "BYTES",
      "hold at most this many bytes in temporary files; then waiting clients wait " +
        "(default: half the free space of TMPDIR at start)",
      (text, name) => {
        const value = parseByteSize(text);
        if (value === undefined) {
          throw new UsageError(
            `bad --${name} '${text}': expected a number of bytes (suffixes k, M, G, KiB, MiB, GiB)`,
          );
        }
        return value;
      },
    ),
    "drain-timeout": seconds(
      "after SIGINT/SIGTERM, cut a client still sending this long after (it exits 1)",
      String(DEFAULT_PIPE_OPTIONS.drainTimeoutMs / 1000),
    ),
    json: JSON_FLAG,
    ...tcpLimitFlags(),
  },
  run: async (flags, listen, context) =>
    runPipeServer({
      ...listen,
      holdMemory: flags["hold-memory"],
      holdDisk: flags["hold-disk"] ?? await defaultHoldDisk(),
      drainTimeoutMs: flags["drain-timeout"],
      limits: tcpLimits(flags),
    }, context.log),
});

/** `pudp pipe client HOST PORT`. */
export const pipeClientCommand: Command = defineClient({
  name: "client",
  summary: "streams stdin to a pipe server; exit 0 means the server has every byte",
  description: `
Connects to the pipe server at HOST PORT and streams stdin to it, byte for
byte, until EOF, with memory bounded whatever the input's size. Then it
half-closes and waits: exit 0 once the server closes its side, which a pudp
pipe server does when it holds or has written every byte; exit 1 with one
line if the server closes or resets the connection before that. Any TCP
server works (netcat, socat), with exit 0 meaning it closed after our EOF.
--timeout S gives up (exit 1, saying the bytes sent) when the server has not
closed S seconds after EOF; the default, 0, waits as long as it takes (a
pudp pipe server may rightly keep a client waiting for its turn).
While it runs, a progress line on stderr (when that is a terminal and stdin is
not; --quiet hides it) shows the bytes sent, the rate and the time.`,
  flags: {
    quiet: QUIET_FLAG,
    timeout: seconds(
      "give up when the server has not closed this long after EOF; 0 = never",
      "0",
      true,
    ),
  },
  args: serverArgs(),
  run: (flags, [host, port], context) =>
    runPipeClient(
      {
        host,
        port,
        progress: showProgress(flags.quiet),
        verbose: context.verbose,
        timeoutMs: flags.timeout,
      },
      context.log,
    ),
});

/** `pudp pipe`. */
export const pipeGroup: Group = defineFamily(
  "pipe",
  "stream stdin to a server's stdout over TCP, exactly, one client at a time",
  "Streams stdin over TCP to a server that writes each client's bytes contiguously.",
  pipeServerCommand,
  pipeClientCommand,
);
