/**
 * The two ways a command fails, and how an error becomes one line.
 *
 * main.ts turns {@link UsageError} into exit status 2 and
 * {@link ExchangeError} (and any other error) into exit status 1, printing
 * one line to stderr — a stack trace only with --verbose.
 *
 * @module
 */

/** Bad flag, bad port, missing argument: exit status 2. */
export class UsageError extends Error {
  /** The error's name, as stack traces show it. */
  override name = "UsageError";
}

/** The exchange failed (peer silent or gone, refused, I/O error): exit status 1. */
export class ExchangeError extends Error {
  /** The error's name, as stack traces show it. */
  override name = "ExchangeError";
}

/** The message of an error, on one line. */
export function errorText(e: unknown): string {
  const text = e instanceof Error ? e.message : String(e);
  return text.split("\n")[0];
}
