/**
 * The two roles of a family's commands, declared once: a server on PORT
 * ({@link defineServer}: the port argument, and the {@link ListenConfig}
 * every server is given) and a client of HOST PORT ({@link defineClient}:
 * its run ends in a {@link ClientEnd}, logged and turned into the exit
 * status).
 *
 * @module
 */

import type { ListenConfig } from "../net/service.ts";
import { type ClientEnd, exitStatus } from "../runtime/lifecycle.ts";
import {
  type ArgValues,
  type Command,
  type CommandSpec,
  defineCommand,
  type FlagTable,
  type FlagValues,
  type Group,
  type RunContext,
} from "./command_tree.ts";
import { type ArgDef, type FlagDef, hostArg, portArg } from "./flags.ts";

/** The flags every server declares (where it likes in its help): `--host` and `--json`. */
export type ServerFlagTable = FlagTable & { host: FlagDef<string>; json: FlagDef<boolean> };

/** A server command's declaration: its one argument is PORT, and it runs on a {@link ListenConfig}. */
export interface ServerSpec<F extends ServerFlagTable>
  extends Omit<CommandSpec<F, readonly [ArgDef<number>]>, "args" | "run"> {
  /** Runs the server on `listen` (`--host`, PORT, `--json`, `--verbose`); returns the exit status. */
  run(flags: FlagValues<F>, listen: ListenConfig, context: RunContext): Promise<number>;
}

/** Declares `… server PORT` (0 picks a free port). */
export function defineServer<F extends ServerFlagTable>(spec: ServerSpec<F>): Command {
  return defineCommand({
    ...spec,
    args: [portArg("PORT", true)],
    run: (flags, [port], context) =>
      spec.run(flags, {
        host: flags.host as string,
        port,
        json: flags.json as boolean,
        verbose: context.verbose,
      }, context),
  });
}

/** The arguments of a client: HOST and PORT of the server. */
export function serverArgs(): readonly [ArgDef<string>, ArgDef<number>] {
  return [hostArg(), portArg("PORT", false)];
}

/** A client command's declaration: its run ends in a {@link ClientEnd}. */
export interface ClientSpec<F extends FlagTable, A extends readonly ArgDef<unknown>[]>
  extends Omit<CommandSpec<F, A>, "run"> {
  /** Runs the client; says how the run ended. */
  run(flags: FlagValues<F>, args: ArgValues<A>, context: RunContext): Promise<ClientEnd>;
}

/** Declares a client: the end's line (if any) goes to stderr, its code is the exit status. */
export function defineClient<F extends FlagTable, const A extends readonly ArgDef<unknown>[]>(
  spec: ClientSpec<F, A>,
): Command {
  return defineCommand({
    ...spec,
    run: async (flags, args, context) =>
      exitStatus(await spec.run(flags, args, context), context.log),
  });
}

/** Whether a streaming client shows its progress line: stderr a terminal, stdin not, no `--quiet`. */
export function showProgress(quiet: boolean): boolean {
  return !quiet && Deno.stderr.isTerminal() && !Deno.stdin.isTerminal();
}

/**
 * Declares a family's group (`pudp ids`, `pudp frame`…): its server and its
 * client under one name.
 * @param name the group's name on the command line
 * @param summary one line for `pudp --help`
 * @param description the first paragraph of `pudp NAME --help`
 * @param server the family's `server` command
 * @param client the family's `client` command
 */
export function defineFamily(
  name: string,
  summary: string,
  description: string,
  server: Command,
  client: Command,
): Group {
  return { kind: "group", name, summary, description, children: [server, client] };
}
