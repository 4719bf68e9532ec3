/**
 * The `pudp blast` group: `pudp blast server PORT` and `pudp blast client HOST PORT`.
 *
 * @module
 */

import type { Command, Group } from "../cli/command_tree.ts";
import { defineClient, defineFamily, defineServer, serverArgs } from "../cli/roles.ts";
import { UsageError } from "../util/errors.ts";
import {
  byteSize,
  count,
  JSON_FLAG,
  LISTEN_HOST,
  milliseconds,
  optionalFlag,
  parseByteSize,
  QUIET_FLAG,
  seconds,
  switchFlag,
  tcpLimitFlags,
  tcpLimits,
  UDP_IO_FLAG,
  valueFlag,
} from "../cli/flags.ts";
import { runBase, runBlastClient } from "./client.ts";
import { runClassicServer } from "./classic_server.ts";
import { previewBytes } from "./classic_wire.ts";
import { classicFromFlags } from "./classic_client.ts";
import { runBlastTcpServer } from "./tcp_server.ts";
import { runBlastUdpServer } from "./udp_server.ts";
import { DEFAULT_MAX_RUNS } from "./udp_server_machine.ts";
import {
  DEFAULT_SIZE,
  MAX_DATAGRAM,
  MAX_REQUEST_LINE,
  MAX_TIME_MS,
  type Request,
  SEGMENT_HEADER,
} from "./wire.ts";

/** The default limit on one transfer, in bytes (the course program's). */
export const DEFAULT_MAX_BYTES = 123_456_789;

const UDP_FLAG = switchFlag("UDP instead of TCP");

/** `pudp blast server PORT`. */
export const blastServerCommand: Command = defineServer({
  name: "server",
  summary: "answers echoes, sends and receives checked transfers",
  description: `
Serves blast clients on PORT over TCP (default) or UDP (--udp), many at once:
echoes text, sends the pattern bytes or segments a client asks for, and
receives and checks what a client uploads (then sends back what it measured).
A request over --max-bytes is refused with the reason, which the client
prints: a transfer's bytes, a segment stream's count x size (headers
included) and an echo's text all count. Prints a line per request, refusal,
echo and finished transfer on stdout (--json: one object per event) and runs
until SIGINT/SIGTERM. Over
TCP at most --max-connections are open at once (more are closed at once), and
a connection that sends nothing for --idle-timeout while the server waits for
its request line or its upload is closed. Over UDP a transfer starts only
once the client has echoed a token (proving it receives at its address;
before that an address gets at most 3x the bytes it sent), a download stops
when its client stops acknowledging for 1 s, an address has one transfer at
a time, and at most --max-runs go at once.`,
  flags: {
    host: LISTEN_HOST,
    udp: UDP_FLAG,
    "max-bytes": byteSize(
      "refuse any request that moves more bytes than this (streams: count x size)",
      String(DEFAULT_MAX_BYTES),
      0,
    ),
    "max-runs": count(
      "UDP: most transfers going at once (one per client address); more are refused",
      String(DEFAULT_MAX_RUNS),
      1,
      1_000_000,
    ),
    json: JSON_FLAG,
    classic: switchFlag(
      "speak the 2015 program's protocol (bare text, one request per connection or datagram)",
    ),
    "udp-io": UDP_IO_FLAG,

    ...tcpLimitFlags(),
  },
  run(flags, listen, context) {
    const config = {
      ...listen,
      udp: flags.udp,
      maxBytes: flags["max-bytes"],
      limits: tcpLimits(flags),
      maxRuns: flags["max-runs"],
      udpIo: flags["udp-io"],
    };
    if (flags.classic) return runClassicServer(config, context.log);
    return flags.udp
      ? runBlastUdpServer(config, context.log)
      : runBlastTcpServer(config, context.log);
  },
});

/** A rate in bit/s: a number with k/M/G (powers of 1000). */
const RATE_FLAG = valueFlag(
  "BITS",
  "UDP and stream send rate in bit/s, suffixes k/M/G (0: as fast as possible)",
  "0",
  (text, name) => {
    const value = parseByteSize(text);
    if (value === undefined) {
      throw new UsageError(
        `bad --${name} '${text}': expected bits per second such as 100M or 1.5G`,
      );
    }
    return value;
  },
);

/** `pudp blast client HOST PORT`. */
export const blastClientCommand: Command = defineClient({
  name: "client",
  summary: "measures an echo's round trip or a transfer's rate, loss and order",
  description: `
One run against the blast server at HOST PORT, over TCP (default) or UDP
(--udp), with one of:
  --echo TEXT        the text comes back; prints the round trip (--count N
                     round trips, --interval MS apart)
  --bytes N          the server sends N bytes of a known pattern, checked as
                     they arrive (--upload: this client sends them)
  --count N          the server sends N segments, one every --interval MS,
                     each with a sequence number and its send time
  --time SECONDS     a transfer that runs this long (like iperf3 -t), ended
                     early, and failed, by the server's --max-bytes
As iperf3 users expect, --report-every S prints a line per interval
(--json: intervals; on --upload they count what this client sent), and
--parallel N runs N streams at once, each with its own connection or
socket, and reports each one and their sum (exit 0 only if all succeed).
Prints the report on stdout: bytes, seconds, MB/s and Mbit/s as the receiver
measured them, and for segments the counts received, lost, duplicated and
reordered and the one-way delay. --json prints it as one object. While it
runs, a progress line shows on stderr when that is a terminal (--quiet
hides it). Exits 1 with one line when the server refuses, resets or goes
silent for --timeout, or a byte is wrong or (TCP) missing.`,
  flags: {
    udp: UDP_FLAG,
    echo: optionalFlag("TEXT", "ask for an echo of TEXT", (text) => {
      if (text.includes("\n") || text.length > MAX_REQUEST_LINE - 5) {
        throw new UsageError(
          `bad --echo: expected one line of at most ${MAX_REQUEST_LINE - 5} characters`,
        );
      }
      return text;
    }),
    bytes: optionalFlag("N", "transfer N bytes (suffixes k/M/G, KiB/MiB/GiB)", (text, name) => {
      const value = parseByteSize(text);
      if (value === undefined) {
        throw new UsageError(
          `bad --${name} '${text}': expected a number of bytes such as 1000, 64k, 4G or 16MiB`,
        );
      }
      return value;
    }),
    count: optionalFlag("N", "segments to stream (with --echo: round trips)", (text, name) => {
      const value = parseByteSize(text);
      if (value === undefined || value < 1 || value > 0xffff_fffe) {
        throw new UsageError(
          `bad --${name} '${text}': expected a whole number from 1 to 4294967294`,
        );
      }
      return value;
    }),
    interval: milliseconds("ms between segments (or between echo round trips)", "0"),
    upload: switchFlag("send to the server instead of receiving"),
    rate: RATE_FLAG,
    size: byteSize(
      `bytes of each datagram or stream segment, its ${SEGMENT_HEADER}-byte header included`,
      String(DEFAULT_SIZE),
      SEGMENT_HEADER + 1,
      MAX_DATAGRAM,
    ),
    timeout: seconds("UDP: give up after this long without an answer, data or report", "5"),
    json: switchFlag("print the report as one JSON object (like iperf3 -J) instead of text"),
    quiet: QUIET_FLAG,
    classic: switchFlag(
      "speak the 2015 program's protocol: --echo, --bytes or --count/--interval/--size",
    ),
    time: optionalFlag(
      "SECONDS",
      "transfer for this long instead of a count of bytes (like iperf3 -t), within --max-bytes",
      (text, name) => secondsIn(text, name, 0.001, MAX_TIME_MS / 1000),
    ),
    "report-every": optionalFlag(
      "SECONDS",
      "print a line per interval of this many seconds (like iperf3 -i); --json: intervals",
      (text, name) => secondsIn(text, name, 0.1, 86_400),
    ),
    parallel: count(
      "streams at once, each on its own connection or socket (like iperf3 -P)",
      "1",
      1,
      128,
    ),
    "udp-io": UDP_IO_FLAG,
  },
  args: serverArgs(),
  run(flags, [host, port], context) {
    if (flags.classic) return classicFromFlags(flags, host, port, context);
    const modes = [
      flags.echo !== undefined,
      flags.bytes !== undefined,
      flags.count !== undefined && flags.echo === undefined,
      flags.time !== undefined,
    ]
      .filter((m) => m).length;
    if (modes !== 1) {
      throw new UsageError("give one of --echo TEXT, --bytes N, --count N and --time SECONDS");
    }
    let request: Request;
    if (flags.echo !== undefined) {
      if (flags.upload) throw new UsageError("--upload goes with --bytes or --count, not --echo");
      request = { kind: "echo", text: flags.echo };
    } else {
      request = {
        kind: "transfer",
        direction: flags.upload ? "put" : "get",
        bytes: flags.bytes,
        count: flags.bytes === undefined ? flags.count : undefined,
        intervalMs: flags.interval,
        size: flags.size,
        rate: flags.rate,
      };
      if (flags.time !== undefined) request.timeMs = flags.time;
    }
    if (request.kind === "echo" && (flags.parallel > 1 || flags["report-every"] !== undefined)) {
      throw new UsageError("--parallel and --report-every go with a transfer, not --echo");
    }
    return runBlastClient({
      ...runBase(flags, host, port),
      udpLog: context.verbose ? context.log : undefined,
      parallel: flags.parallel,
      reportEveryMs: flags["report-every"],
      request,
      progress: !flags.quiet && Deno.stderr.isTerminal(),
      foreign: context.verbose
        ? (bytes) => context.log(`answer that is not blast: '${previewBytes(bytes)}'`)
        : undefined,
    });
  },
});

/** `--time` and `--report-every`: seconds from `min` to `max`, in whole ms. */
function secondsIn(text: string, name: string, min: number, max: number): number {
  const value = /^(\d+(\.\d*)?|\.\d+)$/.test(text) ? Number(text) : NaN;
  if (!(value >= min) || value > max) {
    throw new UsageError(`bad --${name} '${text}': expected seconds from ${min} to ${max}`);
  }
  return Math.round(value * 1000);
}

/** `pudp blast`. */
export const blastGroup: Group = defineFamily(
  "blast",
  "echo, checked transfers and segment streams over TCP or UDP, with rates",
  "Measures round trips, transfer rates, loss, duplication and reordering over TCP or UDP.",
  blastServerCommand,
  blastClientCommand,
);
