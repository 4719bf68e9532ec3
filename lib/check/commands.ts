/**
 * The `pudp check` commands: `pudp check server|client` (PUDP) and `pudp
 * check ids|frame|pipe server|client`, all made from a {@link CheckFamily}
 * by one factory. Each parses its target (`HOST PORT`, or `-- CMD ARG…`
 * with `{host}`/`{port}`/`{id}`), selects the cases (ids or prefixes,
 * `--strict`), runs them and writes the report; exit 0 when every selected
 * case passed, 1 when any failed, 2 on usage.
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
import { MAGIC_FLAG, WIRE_VERSION_FLAG } from "../pudp/commands.ts";
import { PUDP_MAGIC } from "../pudp/wire.ts";
import { exitStatus, Lifecycle, SIGNAL_EXIT } from "../runtime/lifecycle.ts";
import { UsageError } from "../util/errors.ts";
import { type CaseOptions, type CaseResult, type CheckCase, selectCases } from "./case_model.ts";
import type { CheckFamily } from "./family.ts";
import { FRAME_FAMILY } from "./frame_family.ts";
import { IDS_FAMILY } from "./ids_family.ts";
import { PIPE_FAMILY } from "./pipe_family.ts";
import { PUDP_FAMILY } from "./pudp_family.ts";
import { checkStatus, jsonReport, junitReport, listReport, textReport } from "./report.ts";
import { waitBound } from "./readiness.ts";
import { runCases, type TargetPool } from "./runner.ts";
import {
  checkTemplate,
  type ClientTarget,
  fillTemplate,
  freePort,
  type ServerTarget,
  Spawned,
  type Transport,
} from "./target.ts";

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
  jobs: count("most cases run at once against started programs", "4", 1, 64),
  json: switchFlag("one JSON object per case instead of the tree"),
  junit: optionalFlag("FILE", "also write a JUnit XML report to FILE", (t) => t),
} satisfies FlagTable;

/** `--magic` and `--wire-version`, for the families that speak PUDP's header. */
const MAGIC_FLAGS = { magic: MAGIC_FLAG, "wire-version": WIRE_VERSION_FLAG } satisfies FlagTable;
/** `--tcp`, for the families that speak over UDP or TCP (ids). */
const TCP_FLAGS = {
  tcp: switchFlag("the implementation speaks over TCP (its --tcp) instead of UDP"),
} satisfies FlagTable;

type Flags =
  & { [K in keyof typeof CHECK_FLAGS]: (typeof CHECK_FLAGS)[K]["fallback"] }
  & { magic?: number; "wire-version"?: number; tcp?: boolean };

/** A family's flag table: the common ones, and `--magic` / `--tcp` where they mean something. */
function flagTable(family: CheckFamily): FlagTable {
  return {
    ...CHECK_FLAGS,
    ...(family.tcpSwitch ? TCP_FLAGS : {}),
    ...(family.magicFlag ? MAGIC_FLAGS : {}),
    ...COMMON_FLAGS,
  };
}

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

/** The programs started and not yet stopped: a signal stops them by their pids. */
const live = new Set<Spawned>();

/** Set once a signal has come: no more programs are started. */
let interrupting = false;

/** Starts `argv` as a program of this run (stopped on a signal if still running). */
function spawn(argv: string[]): Spawned {
  if (interrupting) throw new Error("interrupted");
  const program = new Spawned(argv);
  live.add(program);
  program.child.status.then(() => live.delete(program), () => live.delete(program));
  return program;
}

/**
 * Runs the selected cases and writes the report; the exit status. On
 * SIGINT/SIGTERM/SIGHUP the run ends at once: every program it started is
 * stopped by its pid, nothing is reported, exit 130/143/129.
 */
async function report<T>(
  heading: string,
  cases: readonly CheckCase<T>[],
  pool: TargetPool<T>,
  flags: Flags,
  log: (line: string) => void,
): Promise<number> {
  const magic = flags.magic ?? PUDP_MAGIC;
  const options: CaseOptions = {
    timeoutMs: flags.timeout,
    magic,
    version: flags["wire-version"],
    tcp: flags.tcp === true,
  };
  let interrupted = false;
  const runAll = async (): Promise<number> => {
    const start = performance.now();
    const results: CaseResult[] = await runCases(cases, pool, options);
    if (interrupted) return 0; // its programs were stopped under it: no report
    const ms = performance.now() - start;
    writeOut(flags.json ? jsonReport(results, magic) : textReport(heading, results, ms, magic));
    if (flags.junit !== undefined) {
      await Deno.writeTextFile(flags.junit, junitReport(heading, results, magic));
    }
    return checkStatus(results);
  };
  const end = await new Lifecycle().run({
    start(finish) {
      // The cases run on while the lifecycle waits for their end or a signal.
      runAll().then(
        (code) => finish({ code }),
        (e) => finish({ code: 1, message: e instanceof Error ? e.message : String(e) }),
      );
    },
    onSignal(signal, finish) {
      interrupted = true;
      finish({ code: SIGNAL_EXIT[signal], message: `interrupted (${signal}): no report` });
    },
    async close() {
      interrupting = true;
      for (let round = 0; live.size > 0 && round < 5; round++) {
        await Promise.all([...live].map((p) => p.stop()));
      }
    },
  });
  return exitStatus(end, log);
}

function parsePort(text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new UsageError(`bad port '${text}': expected a number from 1 to 65535`);
  }
  return Number(text);
}

/** A started server: its program, on a free port, once it is bound (listening) there. */
async function startServer(template: string[], transport: Transport): Promise<ServerTarget> {
  for (let attempt = 0;; attempt++) {
    const port = freePort(transport);
    const program = spawn(fillTemplate(template, { host: "127.0.0.1", port }));
    if (await waitBound(program, port, 15_000, transport)) {
      return { host: "127.0.0.1", port, program };
    }
    await program.stop();
    if (attempt === 2) {
      throw new Error(
        `it was not listening on ${transport.toUpperCase()} port ${port} within 15 s\n${program.describe()}`,
      );
    }
  }
}

/**
 * A `pudp check` command: its help (the CASE arguments and the target) and
 * the argument parsing both share; `run` gets the words before `--` that are
 * not flags, the command after `--` and the flags.
 */
function checkCommand(
  family: CheckFamily,
  role: "server" | "client",
  run: (
    positionals: string[],
    template: string[] | undefined,
    flags: Flags,
    log: (line: string) => void,
  ) => Promise<number>,
): Command {
  const table = flagTable(family);
  const target = role === "server"
    ? "(HOST PORT | -- CMD ARG… {port})"
    : `-- CMD ARG… {host} {port}${family.clientId ? " {id}" : ""}`;
  return {
    kind: "command",
    name: role,
    summary: role === "server"
      ? `check ${article(family.label)} server: HOST PORT, or -- CMD ARG… {port}`
      : `check ${article(family.label)} client: ${target}`,
    help: (path) =>
      commandHelp(path, role === "server" ? family.serverHelp : family.clientHelp, table, [
        { name: "[CASE…]", parse: (t) => t },
        { name: target, parse: (t) => t },
      ]),
    async run(argv: string[], context: RunContext): Promise<number> {
      const [before, template] = splitAtDashes(argv);
      const { flags: raw, positionals } = parseCommandLine(before, table);
      context.verbose = raw.verbose === true;
      return await run(positionals, template, raw as Flags, context.log);
    },
  };
}

/** "a PUDP", "an ids": the family's label with its article. */
function article(label: string): string {
  return `${/^[aeiou]/i.test(label) ? "an" : "a"} ${label}`;
}

/** The transport a run of `family` speaks (`--tcp` chooses TCP where the family has both). */
function transportOf(family: CheckFamily, flags: Flags): Transport {
  return family.tcpSwitch && flags.tcp ? "tcp" : family.transport;
}

/**
 * The targets of a started server's cases: a fresh program on a free port
 * per case (`template` with `{port}`), stopped by its pid after it; `jobs`
 * cases at once.
 */
export function serverPool(
  template: string[],
  transport: Transport,
  jobs: number,
): TargetPool<ServerTarget> {
  return {
    parallel: jobs,
    acquire: () => startServer(template, transport),
    async release(t) {
      await t.program!.stop();
      return t.program!.describe();
    },
  };
}

/**
 * The targets of a client's cases: each case starts its programs from
 * `template` (`{host}`, `{port}`, `{id}`), stopped by their pids after it.
 */
export function clientPool(template: string[], jobs: number): TargetPool<ClientTarget> {
  return {
    parallel: jobs,
    acquire: () => Promise.resolve(new ClientLauncher(template)),
    async release(t) {
      const launcher = t as ClientLauncher;
      for (const p of launcher.programs) await p.stop();
      return launcher.programs.map((p) => p.describe()).join("\n") || undefined;
    },
  };
}

/** `pudp check [FAMILY] server`. */
function serverCommand(family: CheckFamily): Command {
  return checkCommand(family, "server", async (positionals, template, flags, log) => {
    let patterns = positionals;
    let fixed: ServerTarget | undefined;
    if (!flags.list && template === undefined) {
      if (positionals.length < 2) throw new UsageError("missing HOST PORT (or -- CMD ARG… {port})");
      const [host, port] = positionals.slice(-2);
      fixed = { host: host === "localhost" ? "127.0.0.1" : host, port: parsePort(port) };
      patterns = positionals.slice(0, -2);
    }
    if (template !== undefined) checkTemplate(template, false);
    const cases = selectCases(family.serverCases, patterns, flags.strict);
    if (flags.list) {
      writeOut(listReport(cases));
      return 0;
    }
    const transport = transportOf(family, flags);
    const pool: TargetPool<ServerTarget> = fixed
      ? {
        parallel: 1,
        acquire: () => Promise.resolve(fixed),
        release: () => Promise.resolve(undefined),
      }
      : serverPool(template!, transport, flags.jobs);
    const what = fixed ? `${fixed.host}:${fixed.port}` : template!.join(" ");
    const over = family.tcpSwitch ? ` (${transport.toUpperCase()})` : "";
    return await report(`${family.label} server${over}: ${what}`, cases, pool, flags, log);
  });
}

/** A client target for one case: the programs it started, stopped after. */
class ClientLauncher implements ClientTarget {
  readonly programs: Spawned[] = [];
  constructor(readonly template: string[]) {}
  start(at: { host: string; port: number; id?: string }): Spawned {
    const p = spawn(fillTemplate(this.template, at));
    this.programs.push(p);
    return p;
  }
}

/** `pudp check [FAMILY] client`. */
function clientCommand(family: CheckFamily): Command {
  return checkCommand(family, "client", async (positionals, template, flags, log) => {
    const cases = selectCases(family.clientCases, positionals, flags.strict);
    if (flags.list) {
      writeOut(listReport(cases));
      return 0;
    }
    const needs = `-- CMD ARG… {host} {port}${family.clientId ? " {id}" : ""}`;
    if (template === undefined) throw new UsageError(`missing ${needs}`);
    checkTemplate(template, true, family.clientId === true);
    const pool = clientPool(template, flags.jobs);
    const over = family.tcpSwitch ? ` (${transportOf(family, flags).toUpperCase()})` : "";
    return await report(
      `${family.label} client${over}: ${template.join(" ")}`,
      cases,
      pool,
      flags,
      log,
    );
  });
}

/** `pudp check server` (PUDP). */
export const checkServerCommand: Command = serverCommand(PUDP_FAMILY);
/** `pudp check client` (PUDP). */
export const checkClientCommand: Command = clientCommand(PUDP_FAMILY);

/** `pudp check FAMILY server|client` for a family with its own word. */
export function familyGroup(family: CheckFamily): Group {
  return {
    kind: "group",
    name: family.command!,
    summary: `conformance tests for another ${family.label} server or client`,
    description: `
Runs the ${family.label} rules against another implementation and names each failure:
pudp check ${family.command} server HOST PORT, pudp check ${family.command} server -- CMD ARG… {port},
pudp check ${family.command} client -- CMD ARG… {host} {port}${family.clientId ? " {id}" : ""}.`,
    children: [serverCommand(family), clientCommand(family)],
  };
}

/** `pudp check`: the conformance suites. */
export const checkGroup: Group = {
  kind: "group",
  name: "check",
  summary: "conformance tests for another implementation's server or client (like h2spec)",
  description: `
Runs a protocol's rules against another implementation and names each failure:
pudp check server HOST PORT, pudp check server -- CMD ARG… {port},
pudp check client -- CMD ARG… {host} {port} (PUDP); the same under
pudp check ids, pudp check frame and pudp check pipe.`,
  children: [
    checkServerCommand,
    checkClientCommand,
    familyGroup(IDS_FAMILY),
    familyGroup(FRAME_FAMILY),
    familyGroup(PIPE_FAMILY),
  ],
};
