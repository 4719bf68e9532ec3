/**
 * The shape of a subcommand, so main.ts can list, describe and dispatch them.
 *
 * @module
 */

/** One `pudp <name>` subcommand. */
export interface Command {
  /** The word after `pudp`. */
  name: string;
  /** One line for `pudp --help`. */
  summary: string;
  /** The full text of `pudp <name> --help`. */
  help: string;
  /**
   * Runs the command with the arguments after its name. Returns the exit
   * status; throws UsageError (status 2) or any other error (status 1).
   * `log` writes one diagnostic line to stderr.
   */
  run(args: string[], log: (line: string) => void): Promise<number>;
}
