/**
 * The `pudp frame` group: `pudp frame server PORT` and `pudp frame client HOST PORT`.
 *
 * @module
 */

import type { Command, Group } from "../cli/command_tree.ts";
import { defineClient, defineFamily, defineServer, serverArgs } from "../cli/roles.ts";
import {
  byteSize,
  JSON_FLAG,
  LISTEN_HOST,
  switchFlag,
  tcpLimitFlags,
  tcpLimits,
} from "../cli/flags.ts";
import { runFrameClient } from "./client.ts";
import { DEFAULT_FRAME_OPTIONS, DROPPED_CHARACTERS } from "./echo_machine.ts";
import { runFrameServer } from "./server.ts";
import { MAX_LENGTH } from "./wire.ts";

/** The largest `--buffer`: one read's worth. */
const MAX_BUFFER = 16 * 1024 * 1024;

const BUFFER_FLAG = byteSize(
  "read at most this many bytes at a time",
  String(DEFAULT_FRAME_OPTIONS.readSize),
  1,
  MAX_BUFFER,
);
const MAX_MESSAGE_FLAG = byteSize(
  "the largest message payload, in bytes",
  "16MiB",
  0,
  MAX_LENGTH,
);

const MAX_BUFFERED_FLAG = byteSize(
  "the most bytes held for unfinished messages, all connections together",
  "256MiB",
  1024,
);

/** `pudp frame server PORT`. */
export const frameServerCommand: Command = defineServer({
  name: "server",
  summary:
    `answers each length-prefixed message with its text minus ${DROPPED_CHARACTERS} characters`,
  description: `
Accepts TCP connections on PORT, many at once. A message is a 4-byte unsigned
big-endian length, then that many bytes of UTF-8; each one is answered with
one message: its text without the first ${DROPPED_CHARACTERS} characters (code points; a
shorter text gets an empty answer). Reads take at most --buffer bytes;
messages of any size up to --max-message are reassembled however the bytes
are split. A longer announced length, or a payload that is not UTF-8, ends
that connection alone, with the reason logged. The bytes held for unfinished
messages, all connections together, stay within --max-buffered: past it the
server stops reading from the connections with big unfinished messages until
one completes or closes (small messages keep a quarter of it; the oldest
unfinished message may always go on, so nothing deadlocks). Prints a line per connection
opened and closed on stdout (--json: every event, messages included) and
runs until SIGINT/SIGTERM. At most --max-connections are open at once (more
are closed at once); a connection that sends nothing for --idle-timeout while
the server waits for it is closed.`,
  flags: {
    host: LISTEN_HOST,
    buffer: BUFFER_FLAG,
    "max-message": MAX_MESSAGE_FLAG,
    "max-buffered": MAX_BUFFERED_FLAG,
    json: JSON_FLAG,
    ...tcpLimitFlags(),
  },
  run: (flags, listen, context) =>
    runFrameServer({
      ...listen,
      readSize: flags.buffer,
      maxMessage: flags["max-message"],
      maxBuffered: flags["max-buffered"],
      limits: tcpLimits(flags),
    }, context.log),
});

/** `pudp frame client HOST PORT`. */
export const frameClientCommand: Command = defineClient({
  name: "client",
  summary: "sends each stdin line as a message and prints each answer",
  description: `
Connects to the frame server at HOST PORT, sends each line of stdin (without
its line ending) as one message and prints each answer on its own line on
stdout, in order. Exits 0 once stdin has ended and every message has its
answer; 1 with one line on stderr when the server closes or resets the
connection first, or a line is longer than --max-message. Messages are sent
ahead of their answers (pipelined); --lockstep sends the next one only after
the answer to the last, for servers that assume one message per read.
--verbose says the first bytes of an answer that is not a frame message.`,
  flags: {
    buffer: BUFFER_FLAG,
    "max-message": MAX_MESSAGE_FLAG,
    lockstep: switchFlag("send the next message only after the answer to the last"),
  },
  args: serverArgs(),
  run: (flags, [host, port], context) =>
    runFrameClient({
      host,
      port,
      bufferSize: flags.buffer,
      maxMessage: flags["max-message"],
      lockstep: flags.lockstep,
      verbose: context.verbose,
    }, context.log),
});

/** `pudp frame`. */
export const frameGroup: Group = defineFamily(
  "frame",
  "length-prefixed messages over TCP, answered minus 10 characters",
  "Length-prefixed messages over TCP: a 4-byte length, then UTF-8 text.",
  frameServerCommand,
  frameClientCommand,
);
