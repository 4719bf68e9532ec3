/**
 * pudp: small client/server data-transfer protocols over UDP and TCP.
 *
 * Argument parsing and dispatch. This is the only place that calls
 * `Deno.exit`: the client's stdin worker may be blocked in a read that cannot
 * be interrupted, so the process ends explicitly once a command is done.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import type { Command } from "./lib/cli/command.ts";
import { errorText, UsageError } from "./lib/cli/errors.ts";
import { impairCommand } from "./lib/impair/command.ts";
import { clientCommand, serverCommand } from "./lib/pudp/commands.ts";

/** Every subcommand, in the order `pudp --help` lists them. */
const COMMANDS: Command[] = [serverCommand, clientCommand, impairCommand];

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `pudp ${VERSION}: small client/server data-transfer protocols over UDP and TCP

Usage: pudp <command> [options] [arguments]

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join("\n")}

Options:
  -h, --help     show this help (also: pudp <command> --help)
  -V, --version  print the version

Exit status: 0 success, 1 the exchange failed, 2 usage error.
`;
}

const encoder = new TextEncoder();

function writeOut(text: string): void {
  Deno.stdout.writeSync(encoder.encode(text));
}

function stderrLine(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/** Runs the CLI with `args`; returns the exit status. */
export async function main(args: string[]): Promise<number> {
  const [name, ...rest] = args;
  if (name === undefined) {
    Deno.stderr.writeSync(encoder.encode(usage())); // a usage error: the text goes to stderr
    return 2;
  }
  if (name === "-h" || name === "--help") {
    writeOut(usage());
    return 0;
  }
  if (name === "-V" || name === "--version") {
    writeOut(`pudp ${VERSION}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    stderrLine(`pudp: unknown command '${name}' (see 'pudp --help')`);
    return 2;
  }
  if (rest.includes("-h") || rest.includes("--help")) {
    writeOut(command.help);
    return 0;
  }
  const verbose = rest.includes("--verbose");
  const log = (line: string) =>
    stderrLine(line.startsWith("pudp") ? line : `pudp ${name}: ${line}`);
  try {
    return await command.run(rest, log);
  } catch (e) {
    if (e instanceof UsageError) {
      stderrLine(`pudp ${name}: ${e.message} (see 'pudp ${name} --help')`);
      return 2;
    }
    if (verbose && e instanceof Error && e.stack) stderrLine(e.stack);
    else log(errorText(e));
    return 1;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
