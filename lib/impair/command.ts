/**
 * The `pudp impair` subcommand: flags, help, defaults.
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
import { UsageError } from "../cli/errors.ts";
import type { DirectionChoice } from "./fault_plan.ts";
import { runRelay } from "./relay.ts";

const IMPAIR_FLAGS: Record<string, FlagSpec> = {
  host: { type: "string" },
  loss: { type: "string" },
  dup: { type: "string" },
  reorder: { type: "string" },
  delay: { type: "string" },
  jitter: { type: "string" },
  direction: { type: "string" },
  seed: { type: "string" },
  log: { type: "string" },
  magic: { type: "string" },
  "max-flows": { type: "string" },
  idle: { type: "string" },
};

/** A probability: a number from 0 to 1, or a percentage such as `5%`. */
export function parseProbability(flag: string, text: string): number {
  const percent = text.endsWith("%");
  const body = percent ? text.slice(0, -1) : text;
  const value = /^\d+(\.\d+)?$|^\.\d+$/.test(body) ? Number(body) / (percent ? 100 : 1) : NaN;
  if (!(value >= 0 && value <= 1)) {
    throw new UsageError(
      `bad --${flag} '${text}': expected a probability from 0 to 1 (or 0% to 100%)`,
    );
  }
  return value;
}

/** A duration in ms, 0 or more. */
export function parseMs(flag: string, text: string): number {
  const value = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!(value >= 0 && value <= 600_000)) {
    throw new UsageError(`bad --${flag} '${text}': expected milliseconds from 0 to 600000`);
  }
  return value;
}

function parseDirection(text: string): DirectionChoice {
  if (text === "up" || text === "down" || text === "both") return text;
  throw new UsageError(`bad --direction '${text}': expected up, down or both`);
}

/** `pudp impair LISTEN_PORT HOST PORT`. */
export const impairCommand: Command = {
  name: "impair",
  summary: "UDP relay that injects seeded loss, duplication, reordering and delay",
  help: `Usage: pudp impair [options] LISTEN_PORT HOST PORT

Relays UDP datagrams from clients on LISTEN_PORT to HOST PORT and the replies
back, one upstream socket per client, and injects faults. Decisions are a hash
of the seed, the client's flow number (in order of first datagram), the
direction and the datagram's number in it: the same seed gives the same
decisions. LISTEN_PORT 0 picks a free port ("listening on HOST:PORT ... (seed
N)" on stderr). Runs until SIGINT/SIGTERM, then prints a summary to stderr.

Options:
  --loss P            drop a datagram with probability P (0..1 or 0%..100%; default 0)
  --dup P             send a datagram twice, back to back (default 0)
  --reorder P         hold a datagram back until the next one of its client and
                      direction has gone, at most 100 ms (default 0)
  --delay MS          delay every datagram (default 0)
  --jitter MS         add a uniform -MS..+MS to the delay; datagrams may overtake (default 0)
  --direction D       up (client to server), down, or both (default both)
  --seed N            seed of the decisions (default: random, printed)
  --log FILE          one JSON line per decision: t (ms), dir, client, n, size, action
                      (pass drop duplicate reorder release refuse), delay_ms, and the
                      PUDP command/seq/session when the datagram decodes
  --host HOST         address to listen on (default 0.0.0.0; use :: for IPv6)
  --magic NUMBER      PUDP magic for the log (default 0xC356)
  --max-flows N       most clients at once; more are refused (default 1024)
  --idle SECONDS      forget a client after this long without a datagram (default 60)
  --verbose           more diagnostics on stderr
  -h, --help          show this help
`,
  run(args, log) {
    const parsed = parseCommand(args, IMPAIR_FLAGS);
    const [listenPort, host, port] = expectPositionals(parsed.positionals, [
      "LISTEN_PORT",
      "HOST",
      "PORT",
    ]);
    const seedText = stringFlag(parsed, "seed", "");
    const seed = seedText === ""
      ? crypto.getRandomValues(new Uint32Array(1))[0]
      : parseCount("seed", seedText, 0, 0xffff_ffff);
    return runRelay({
      host: stringFlag(parsed, "host", "0.0.0.0"),
      listenPort: parsePort(listenPort, true),
      targetHost: host,
      targetPort: parsePort(port, false),
      loss: parseProbability("loss", stringFlag(parsed, "loss", "0")),
      dup: parseProbability("dup", stringFlag(parsed, "dup", "0")),
      reorder: parseProbability("reorder", stringFlag(parsed, "reorder", "0")),
      delayMs: parseMs("delay", stringFlag(parsed, "delay", "0")),
      jitterMs: parseMs("jitter", stringFlag(parsed, "jitter", "0")),
      direction: parseDirection(stringFlag(parsed, "direction", "both")),
      seed,
      logPath: typeof parsed.flags.log === "string" ? parsed.flags.log : undefined,
      magic: parseMagic(stringFlag(parsed, "magic", "0xC356")),
      maxFlows: parseCount("max-flows", stringFlag(parsed, "max-flows", "1024"), 1, 100_000),
      idleMs: parseSeconds("idle", stringFlag(parsed, "idle", "60")),
      verbose: parsed.flags.verbose === true,
    }, log);
  },
};
