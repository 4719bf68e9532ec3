/**
 * `pudp check server` and `pudp check client`: the conformance suite's
 * commands. Each parses its target (`HOST PORT`, or `-- CMD ARG…` with
 * `{host}`/`{port}`), selects the cases (ids or prefixes, `--strict`), runs
 * them and writes the report; exit 0 when every selected case passed, 1
 * when any failed, 2 on usage. Families plug in by adding their cases and a
 * command here.
 *
 * @module
 */

import {
  type Command,
  commandHelp,
  COMMON_FLAGS,
  type FlagTable,
  type Group,
  parseCommandLine,
  type RunContext,
} from "../cli/command_tree.ts";
import { count, type FlagDef, optionalFlag, seconds, switchFlag } from "../cli/flags.ts";
import { MAGIC_FLAG } from "../pudp/commands.ts";
import { UsageError } from "../util/errors.ts";
import { type CaseOptions, type CaseResult, type CheckCase, selectCases } from "./case_model.ts";
import { type ClientTarget, PUDP_CLIENT_CASES } from "./pudp_client_cases.ts";
import { PUDP_SERVER_CASES, type ServerTarget } from "./pudp_server_cases.ts";
import { checkStatus, jsonReport, junitReport, listReport, textReport } from "./report.ts";
import { runCases, type TargetPool } from "./runner.ts";
import { checkTemplate, fillTemplate, freeUdpPort, Spawned, waitBound } from "./target.ts";

const SECONDS_PARSE = seconds("", "1").parse;

/** The flags of every `pudp check` command. */
const CHECK_FLAGS = {
  strict: switchFlag("run the strict cases too (pudp's additions to the course handout)"),
  list: switchFlag("list the selected cases and run nothing"),
  timeout: optionalFlag(
    "SECONDS",
    "the implementation's own timeout: the timer cases run only when it is given",
    SECONDS_PARSE,
  ) as FlagDef<number | undefined>,
  magic: MAGIC_FLAG,
  jobs: count("most cases run at once against started programs", "4", 1, 64),
  json: switchFlag("one JSON object per case instead of the tree"),
  junit: optionalFlag("FILE", "also write a JUnit XML report to FILE", (t) => t),
} satisfies FlagTable;

const TABLE: FlagTable = { ...CHECK_FLAGS, ...COMMON_FLAGS };

type Flags = { [K in keyof typeof CHECK_FLAGS]: (typeof CHECK_FLAGS)[K]["fallback"] };

const encoder = new TextEncoder();

function writeOut(text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += Deno.stdout.writeSync(bytes.subarray(done));
}

/** Splits argv at the first `--`: the words before, and the command after (undefined: no `--`). */
function splitAtDashes(argv: string[]): [string[], string[] | undefined] {
  const i = argv.indexOf("--");
  return i < 0 ? [argv, undefined] : [argv.slice(0, i), argv.slice(i + 1)];
}

/** Runs the selected cases and writes the report; the exit status. */
async function report<T>(
  heading: string,
  cases: readonly CheckCase<T>[],
  pool: TargetPool<T>,
  flags: Flags,
): Promise<number> {
  const options: CaseOptions = { timeoutMs: flags.timeout, magic: flags.magic };
  const start = performance.now();
  const results: CaseResult[] = await runCases(cases, pool, options);
  const ms = performance.now() - start;
  writeOut(
    flags.json ? jsonReport(results, flags.magic) : textReport(heading, results, ms, flags.magic),
  );
  if (flags.junit !== undefined) {
    await Deno.writeTextFile(flags.junit, junitReport(heading, results, flags.magic));
  }
  return checkStatus(results);
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`bad port '${text}': expected a number from 1 to 65535`);
  }
  return Number(text);
}

/** A started server: its program, on a free port, once it is bound there. */
async function startServer(template: string[]): Promise<ServerTarget> {
  for (let attempt = 0;; attempt++) {
    const port = freeUdpPort();
    const program = new Spawned(fillTemplate(template, { host: "127.0.0.1", port }));
    if (await waitBound(program, port, 15_000)) return { host: "127.0.0.1", port, program };
    await program.stop();
    if (attempt === 2) {
      throw new Error(
        `it was not listening on UDP port ${port} within 15 s\n${program.describe()}`,
      );
    }
  }
}

/** What a `pudp check` command's help says besides the flags. */
interface CheckHelp {
  /** The command's name. */
  name: string;
  /** Its one-line summary. */
  summary: string;
  /** Its description. */
  description: string;
  /** The synopsis of its target, after `[CASE…]`. */
  target: string;
}

/**
 * A `pudp check` command: its help (the CASE arguments and the target) and
 * the argument parsing both share; `run` gets the words before `--` that are
 * not flags, the command after `--` and the flags.
 */
function checkCommand(
  { name, summary, description, target }: CheckHelp,
  run: (positionals: string[], template: string[] | undefined, flags: Flags) => Promise<number>,
): Command {
  return {
    kind: "command",
    name,
    summary,
    help: (path) =>
      commandHelp(path, description, TABLE, [
        { name: "[CASE…]", parse: (t) => t },
        { name: target, parse: (t) => t },
      ]),
    async run(argv: string[], context: RunContext): Promise<number> {
      const [before, template] = splitAtDashes(argv);
      const { flags: raw, positionals } = parseCommandLine(before, TABLE);
      context.verbose = raw.verbose === true;
      return await run(positionals, template, raw as Flags);
    },
  };
}

const SERVER_HELP: CheckHelp = {
  name: "server",
  summary: "check a PUDP server: HOST PORT, or -- CMD ARG… {port}",
  target: "(HOST PORT | -- CMD ARG… {port})",
  description: `
Checks a PUDP server against the protocol's rules, like h2spec for HTTP/2: a running
one at HOST PORT (judged by what it sends), or a program pudp starts with
-- CMD ARG… {port} on a free port for each case (also judged by its stdout
and exit status; its stdin is a pipe that stays open; stopped by its pid).
CASE arguments are case ids or prefixes (server/hello). Prints a tree of the
cases (✓ passed, ✗ failed, - skipped) and, for each failure, what was
expected, what was observed and the case's wire trace. Exit 0 when every
selected case passed, 1 when any failed.`,
};

/** `pudp check server`. */
export const checkServerCommand: Command = checkCommand(
  SERVER_HELP,
  async (positionals, template, flags) => {
    let patterns = positionals;
    let fixed: ServerTarget | undefined;
    if (!flags.list && template === undefined) {
      if (positionals.length < 2) throw new UsageError("missing HOST PORT (or -- CMD ARG… {port})");
      const [host, port] = positionals.slice(-2);
      fixed = { host: host === "localhost" ? "127.0.0.1" : host, port: parsePort(port) };
      patterns = positionals.slice(0, -2);
    }
    if (template !== undefined) checkTemplate(template, false);
    const cases = selectCases(PUDP_SERVER_CASES, patterns, flags.strict);
    if (flags.list) {
      writeOut(listReport(cases));
      return 0;
    }
    const pool: TargetPool<ServerTarget> = fixed
      ? {
        parallel: 1,
        acquire: () => Promise.resolve(fixed),
        release: () => Promise.resolve(undefined),
      }
      : {
        parallel: flags.jobs,
        acquire: () => startServer(template!),
        async release(t) {
          await t.program!.stop();
          return t.program!.describe();
        },
      };
    const what = fixed ? `${fixed.host}:${fixed.port}` : template!.join(" ");
    return await report(`PUDP server: ${what}`, cases, pool, flags);
  },
);

const CLIENT_HELP: CheckHelp = {
  name: "client",
  summary: "check a PUDP client: -- CMD ARG… {host} {port}",
  target: "-- CMD ARG… {host} {port}",
  description: `
Checks a PUDP client against the protocol's rules: pudp plays the server (a normal
one, a silent one, one that never sends ALIVE or never answers GOODBYE, one
that says GOODBYE first, duplicate and foreign datagrams, another session id
or magic), starts the client with {host} and {port} replaced for each case,
feeds its stdin and judges every datagram, its exit status and output. CASE
arguments are case ids or prefixes (client/closing). Exit 0 when every
selected case passed, 1 when any failed.`,
};

/** A client target for one case: the programs it started, stopped after. */
class ClientLauncher implements ClientTarget {
  readonly programs: Spawned[] = [];
  constructor(readonly template: string[]) {}
  start(host: string, port: number): Spawned {
    const p = new Spawned(fillTemplate(this.template, { host, port }));
    this.programs.push(p);
    return p;
  }
}

/** `pudp check client`. */
export const checkClientCommand: Command = checkCommand(
  CLIENT_HELP,
  async (positionals, template, flags) => {
    const cases = selectCases(PUDP_CLIENT_CASES, positionals, flags.strict);
    if (flags.list) {
      writeOut(listReport(cases));
      return 0;
    }
    if (template === undefined) throw new UsageError("missing -- CMD ARG… {host} {port}");
    checkTemplate(template, true);
    const pool: TargetPool<ClientLauncher> = {
      parallel: flags.jobs,
      acquire: () => Promise.resolve(new ClientLauncher(template)),
      async release(t) {
        for (const p of t.programs) await p.stop();
        return t.programs.map((p) => p.describe()).join("\n") || undefined;
      },
    };
    return await report(`PUDP client: ${template.join(" ")}`, cases, pool, flags);
  },
);

/** `pudp check`: the conformance suites. */
export const checkGroup: Group = {
  kind: "group",
  name: "check",
  summary: "conformance tests for another PUDP server or client (like h2spec)",
  description: `
Runs the protocol's rules against another implementation and names each failure:
pudp check server HOST PORT, pudp check server -- CMD ARG… {port},
pudp check client -- CMD ARG… {host} {port}.`,
  children: [checkServerCommand, checkClientCommand],
};
