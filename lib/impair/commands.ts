/**
 * The `pudp impair` command: its flags, help and defaults.
 *
 * @module
 */

import { type Command, defineCommand } from "../cli/command_tree.ts";
import { serverArgs } from "../cli/roles.ts";
import {
  choice,
  count,
  LISTEN_HOST,
  milliseconds,
  optionalFlag,
  parseWhole,
  portArg,
  probability,
  seconds,
  text,
  UDP_IO_FLAG,
} from "../cli/flags.ts";
import { MAGIC_FLAG, WIRE_VERSION_FLAG } from "../pudp/commands.ts";
import { runRelay } from "./relay.ts";

/** `pudp impair LISTEN_PORT HOST PORT`. */
export const impairCommand: Command = defineCommand({
  name: "impair",
  summary: "UDP relay that injects seeded loss, duplication, reordering and delay",
  description: `
Relays UDP datagrams from clients on LISTEN_PORT to HOST PORT and the replies
back, one upstream socket per client, and injects faults. Decisions are a hash
of the seed, the client's flow number (in order of first datagram), the
direction and the datagram's number in it: the same seed gives the same
decisions. LISTEN_PORT 0 picks a free port ("listening on HOST:PORT ... (seed
N)" on stderr). Runs until SIGINT/SIGTERM, then prints a summary to stderr.`,
  flags: {
    loss: probability("drop a datagram with probability P (0..1 or 0%..100%)", "0"),
    dup: probability("send a datagram twice, back to back", "0"),
    reorder: probability(
      "hold a datagram back until the next one of its client and direction has gone, " +
        "at most 100 ms",
      "0",
    ),
    delay: milliseconds("delay every datagram", "0"),
    jitter: milliseconds("add a uniform -MS..+MS to the delay; datagrams may overtake", "0"),
    direction: choice("which way faults apply: client to server, back, or both", "both", [
      "up",
      "down",
      "both",
    ]),
    seed: optionalFlag(
      "N",
      "seed of the decisions (default: random, printed)",
      (value, name) => parseWhole(name, value, 0, 0xffff_ffff),
    ),
    log: optionalFlag(
      "FILE",
      "one JSON line per decision: event (passed dropped duplicated reordered released " +
        "refused), time, peer, direction, datagram, bytes, delay_ms, overtaken_by, and pudp " +
        "(command/seq/session) or blast (type/seq/run) when the datagram decodes; see docs/events.md",
      (value, name) => text("FILE", "", "-").parse(value, name),
    ),
    host: LISTEN_HOST,
    magic: MAGIC_FLAG,
    "wire-version": WIRE_VERSION_FLAG,
    "max-flows": count("most clients at once; more are refused", "1024", 1, 100_000),
    idle: seconds("forget a client after this long without a datagram", "60"),
    "udp-io": UDP_IO_FLAG,
  },
  args: [portArg("LISTEN_PORT", true), ...serverArgs()],
  run(flags, [listenPort, targetHost, targetPort], context) {
    return runRelay({
      host: flags.host,
      listenPort,
      targetHost,
      targetPort,
      loss: flags.loss,
      dup: flags.dup,
      reorder: flags.reorder,
      delayMs: flags.delay,
      jitterMs: flags.jitter,
      direction: flags.direction,
      seed: flags.seed ?? crypto.getRandomValues(new Uint32Array(1))[0],
      logPath: flags.log,
      magic: flags.magic,
      version: flags["wire-version"],
      maxFlows: flags["max-flows"],
      idleMs: flags.idle,
      verbose: context.verbose,
      udpIo: flags["udp-io"],
    }, context.log);
  },
});
