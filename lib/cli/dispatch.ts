/**
 * Runs a command line against the command tree: finds the command by its
 * words, answers `help`, `--help` and `--version`, and turns every failure
 * into one line on stderr and an exit status (0 success, 1 the exchange
 * failed, 2 usage error). A stack trace is shown only with `--verbose`.
 *
 * @module
 */

import type { Command, Group, RunContext } from "./command_tree.ts";
import { groupHelp } from "./command_tree.ts";
import { errorText, UsageError } from "../util/errors.ts";

/** Where the CLI writes: payload and help to `out`, diagnostics to `err`. Both may throw. */
export interface CliIo {
  /** Writes `text` to stdout. */
  out(text: string): void;
  /** Writes `text` to stderr. */
  err(text: string): void;
}

/** The program: its tree, its version, and what the root help adds below the commands. */
export interface CliProgram {
  /** The command tree. */
  root: Group;
  /** What `--version` prints after the program's name. */
  version: string;
  /** Text after the root's command list (global options, exit status). */
  rootTrailer: string;
}

type Node = Command | Group;

/** Follows `words` down the tree as far as they name commands. */
function walk(root: Group, words: string[]): { node: Node; path: string; used: number } {
  let node: Node = root;
  let path = root.name;
  let used = 0;
  while (node.kind === "group" && used < words.length && !words[used].startsWith("-")) {
    const word = words[used];
    const child: Node | undefined = node.children.find((c) => c.name === word);
    if (child === undefined) {
      throw new UsageError(`${path}: unknown command '${word}' (see '${path} --help')`);
    }
    node = child;
    path += " " + word;
    used++;
  }
  return { node, path, used };
}

function helpOf(program: CliProgram, node: Node, path: string): string {
  if (node.kind === "command") return node.help(path);
  return groupHelp(path, node, node === program.root ? program.rootTrailer : "");
}

/** Words before a `--`: where help and version switches count. */
function optionWords(words: string[]): string[] {
  const end = words.indexOf("--");
  return end < 0 ? words : words.slice(0, end);
}

/** Runs `args` (the words after `pudp`); returns the exit status. */
export async function runCli(program: CliProgram, args: string[], io: CliIo): Promise<number> {
  const line = (text: string) => io.err(text + "\n");
  let found: { node: Node; path: string; used: number };
  try {
    if (args[0] === "help") {
      const { node, path, used } = walk(program.root, args.slice(1));
      if (used < args.length - 1) {
        throw new UsageError(`${path}: no help for '${args.slice(1 + used).join(" ")}'`);
      }
      return print(io, line, helpOf(program, node, path));
    }
    found = walk(program.root, args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    line(e.message);
    return 2;
  }
  const { node, path } = found;
  const rest = args.slice(found.used);
  const switches = optionWords(rest);
  if (switches.includes("-V") || switches.includes("--version")) {
    return print(io, line, `pudp ${program.version}\n`);
  }
  if (switches.includes("-h") || switches.includes("--help")) {
    return print(io, line, helpOf(program, node, path));
  }
  if (node.kind === "group") {
    if (rest.length === 0) {
      io.err(helpOf(program, node, path)); // a usage error: the text goes to stderr
    } else {
      line(`${path}: unknown option '${rest[0]}' (see '${path} --help')`);
    }
    return 2;
  }
  const context: RunContext = {
    path,
    verbose: false,
    log: (text) => line(text.startsWith("pudp") ? text : `${path}: ${text}`),
  };
  try {
    return await node.run(rest, context);
  } catch (e) {
    if (e instanceof UsageError) {
      line(`${path}: ${e.message} (see '${path} --help')`);
      return 2;
    }
    if (context.verbose && e instanceof Error && e.stack) line(e.stack);
    else context.log(errorText(e));
    return 1;
  }
}

/**
 * Writes help or version text to stdout; a full stdout or a broken pipe is
 * one line and exit 1. (A stdout closed before start is /dev/null by then:
 * the runtime opens it in its place, so that write succeeds.)
 */
function print(io: CliIo, line: (text: string) => void, text: string): number {
  try {
    io.out(text);
    return 0;
  } catch (e) {
    line(`pudp: cannot write to stdout: ${errorText(e)}`);
    return 1;
  }
}
