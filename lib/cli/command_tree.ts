/**
 * The command tree: `pudp <group> <command>` next to flat commands, each
 * declared once with its flags ({@link FlagDef}) and arguments
 * ({@link ArgDef}); parsing and the `--help` text are both made from that
 * declaration.
 *
 * Parsing uses node's `parseArgs`, after a first pass that gives pudp's own
 * wording to what node phrases badly: a value that starts with `-` is taken
 * as the flag's value (`--timeout -1` → `bad --timeout '-1': …`, not "argument
 * is ambiguous"), and a negative number where an argument goes is that
 * argument (`pudp server -1` → `bad port '-1'`).
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "../util/errors.ts";
import { type ArgDef, type FlagDef, switchFlag } from "./flags.ts";

/** Flags by name (without the dashes). */
export type FlagTable = Record<string, FlagDef<unknown>>;

/** The parsed values of a flag table. */
export type FlagValues<F extends FlagTable> = { [K in keyof F]: F[K]["fallback"] };

/** The parsed values of a list of arguments. */
export type ArgValues<A extends readonly ArgDef<unknown>[]> = {
  [I in keyof A]: A[I] extends ArgDef<infer T> ? T : never;
};

/** What a running command gets from the tree besides its arguments. */
export interface RunContext {
  /** Writes one diagnostic line to stderr, prefixed with the command's path. */
  log(line: string): void;
  /** `--verbose` was given. */
  verbose: boolean;
  /** The command's words, `pudp ids server`. */
  path: string;
}

/** A command's declaration. */
export interface CommandSpec<F extends FlagTable, A extends readonly ArgDef<unknown>[]> {
  /** The word that names it. */
  name: string;
  /** One line for its group's help. */
  summary: string;
  /** The paragraph of its help, after the usage line. */
  description: string;
  /** Its own flags (`--help` and `--verbose` are added to every command). */
  flags: F;
  /** Its positional arguments, in order. */
  args: A;
  /** Runs it; returns the exit status. Throws UsageError (2) or any other error (1). */
  run(flags: FlagValues<F>, args: ArgValues<A>, context: RunContext): Promise<number>;
}

/** A runnable leaf of the tree. */
export interface Command {
  /** Tells a command from a group. */
  readonly kind: "command";
  /** The word that names it on the command line. */
  readonly name: string;
  /** One line for its parent's help. */
  readonly summary: string;
  /** The `--help` text, given the command's path. */
  help(path: string): string;
  /**
   * Parses `argv` (the words after the command's name) and runs it. Sets
   * `context.verbose` as soon as the flags are parsed.
   */
  run(argv: string[], context: RunContext): Promise<number>;
}

/** A group of commands (`pudp ids`), or the root. */
export interface Group {
  /** Tells a group from a command. */
  readonly kind: "group";
  /** The word that names it on the command line (the program's name for the root). */
  readonly name: string;
  /** One line for its parent's help. */
  readonly summary: string;
  /** What a group's help says above its command list. */
  readonly description: string;
  /** Its commands and groups, in help order. */
  readonly children: readonly (Command | Group)[];
}

/** Flags every command accepts. */
export const COMMON_FLAGS = {
  verbose: switchFlag("more diagnostics on stderr (stack traces included)"),
  help: switchFlag("show this help", "h"),
};

/** Makes a tree node from a declaration; the flag and argument types flow into `run`. */
export function defineCommand<F extends FlagTable, const A extends readonly ArgDef<unknown>[]>(
  spec: CommandSpec<F, A>,
): Command {
  const table: FlagTable = { ...spec.flags, ...COMMON_FLAGS };
  return {
    kind: "command",
    name: spec.name,
    summary: spec.summary,
    help: (path) => commandHelp(path, spec.description, table, spec.args),
    run(argv, context) {
      const { flags, positionals } = parseCommandLine(argv, table);
      if (positionals.length < spec.args.length) {
        throw new UsageError(
          `missing ${spec.args.slice(positionals.length).map((a) => a.name).join(" ")}`,
        );
      }
      if (positionals.length > spec.args.length) {
        throw new UsageError(`unexpected argument '${positionals[spec.args.length]}'`);
      }
      context.verbose = flags.verbose === true;
      const args = spec.args.map((a, i) => a.parse(positionals[i])) as ArgValues<A>;
      return spec.run(flags as FlagValues<F>, args, context);
    },
  };
}

/** Flag values (defaults filled in) and the raw positional words. */
export interface ParsedCommandLine {
  /** Each flag's value by its long name, defaults filled in. */
  flags: Record<string, unknown>;
  /** The words that are not flags, in order. */
  positionals: string[];
}

/**
 * Splits `argv` into flags and positionals against `table`, validating every
 * flag value. Throws UsageError with a message naming the flag.
 */
export function parseCommandLine(argv: string[], table: FlagTable): ParsedCommandLine {
  const byShort = new Map<string, string>();
  for (const [name, def] of Object.entries(table)) if (def.short) byShort.set(def.short, name);
  const optionWords: string[] = [];
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i];
    if (word === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (word === "-" || /^-\d|^-\.\d/.test(word) || !word.startsWith("-")) {
      positionals.push(word); // a negative number is an argument, judged by its validator
      continue;
    }
    if (word.startsWith("--")) {
      const eq = word.indexOf("=");
      const name = word.slice(2, eq < 0 ? undefined : eq);
      const def = table[name];
      if (def === undefined) throw new UsageError(`unknown option '--${name}'`);
      if (def.kind === "switch") {
        if (eq >= 0) throw new UsageError(`--${name} takes no value`);
        optionWords.push(word);
      } else if (eq >= 0) {
        optionWords.push(word);
      } else {
        if (i + 1 >= argv.length) {
          throw new UsageError(`--${name} needs a value (${def.metavar ?? "VALUE"})`);
        }
        optionWords.push(`--${name}=${argv[++i]}`);
      }
      continue;
    }
    for (const letter of word.slice(1)) { // -h, or several switches at once (-hV)
      const name = byShort.get(letter);
      if (name === undefined || table[name].kind !== "switch") {
        throw new UsageError(`unknown option '-${letter}'`);
      }
      optionWords.push(`--${name}`);
    }
  }
  const options: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, def] of Object.entries(table)) {
    options[name] = { type: def.kind === "value" ? "string" : "boolean" };
  }
  const { values } = parseArgs({ args: optionWords, options, strict: true });
  const flags: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(table)) {
    const given = (values as Record<string, string | boolean | undefined>)[name];
    flags[name] = given === undefined
      ? def.fallback
      : def.kind === "switch"
      ? true
      : def.parse(given as string, name);
  }
  return { flags, positionals };
}

const HELP_WIDTH = 100;

/** Aligns `[left, text]` rows in two columns, wrapping the text at {@link HELP_WIDTH}. */
function table2(rows: [string, string][]): string {
  const column = Math.min(24, Math.max(...rows.map(([l]) => l.length)) + 2);
  const out: string[] = [];
  for (const [left, text] of rows) {
    const lines: string[] = [];
    let line = "";
    for (const word of text.split(" ")) {
      if (line !== "" && column + 2 + line.length + 1 + word.length > HELP_WIDTH) {
        lines.push(line);
        line = word;
      } else {
        line = line === "" ? word : `${line} ${word}`;
      }
    }
    lines.push(line);
    const pad = " ".repeat(column + 2);
    const first = left.length + 2 > column
      ? [`  ${left}`, pad + lines[0]]
      : [`  ${left.padEnd(column)}${lines[0]}`];
    out.push(...first, ...lines.slice(1).map((l) => pad + l));
  }
  return out.join("\n");
}

/** A command's help: usage line, description and the flags' table (for commands declared by hand). */
export function commandHelp(
  path: string,
  description: string,
  flags: FlagTable,
  args: readonly ArgDef<unknown>[],
): string {
  const rows: [string, string][] = Object.entries(flags).map(([name, def]) => {
    const left = (def.short ? `-${def.short}, ` : "") + `--${name}` +
      (def.kind === "value" ? ` ${def.metavar ?? "VALUE"}` : "");
    const text = def.defaultText === undefined
      ? def.help
      : `${def.help} (default ${def.defaultText})`;
    return [left, text];
  });
  const usage = [`Usage: ${path} [options]`, ...args.map((a) => a.name)].join(" ");
  return `${usage}\n\n${description.trim()}\n\nOptions:\n${table2(rows)}\n`;
}

/** The help of a group: its description and its commands. */
export function groupHelp(path: string, group: Group, extra = ""): string {
  const rows: [string, string][] = group.children.map((c) => [c.name, c.summary]);
  return `Usage: ${path} <command> [options] [arguments]\n\n${group.description.trim()}\n\n` +
    `Commands:\n${table2(rows)}\n${extra}`;
}
