/**
 * Argument parsing shared by every subcommand: `node:util` parseArgs with
 * strict checking, and validators that turn bad values into
 * {@link UsageError} (exit status 2) with a message naming the flag.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { UsageError } from "./errors.ts";

/** A flag of a subcommand, as node:util parseArgs describes it. */
export interface FlagSpec {
  type: "string" | "boolean";
  short?: string;
}

/** What every subcommand accepts besides its own flags. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  help: { type: "boolean", short: "h" },
  verbose: { type: "boolean" },
};

/** Parsed flags and positionals of one subcommand. */
export interface ParsedArgs {
  flags: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/**
 * Parses `args` against `flags` (plus --help and --verbose). Unknown flags and
 * missing values become a UsageError.
 */
export function parseCommand(args: string[], flags: Record<string, FlagSpec>): ParsedArgs {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...COMMON_FLAGS, ...flags },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as ParsedArgs["flags"], positionals };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    // node's messages can span lines and give advice about positionals; keep the first sentence.
    const first = message.split("\n")[0].replace(/\. To specify a positional.*$/, "").replace(
      /\.$/,
      "",
    );
    throw new UsageError(first);
  }
}

/** Checks the number of positionals against their names; returns them. */
export function expectPositionals(positionals: string[], names: string[]): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).join(" ")}`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument '${positionals[names.length]}'`);
  }
  return positionals;
}

/** A port: 1–65535, or 0 where `allowZero` (servers: pick one). */
export function parsePort(text: string, allowZero: boolean): number {
  const min = allowZero ? 0 : 1;
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > 65535) {
    throw new UsageError(`bad port '${text}': expected a number from ${min} to 65535`);
  }
  return Number(text);
}

/** A duration in seconds (fractions allowed), returned in ms. */
export function parseSeconds(flag: string, text: string, allowZero = false): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new UsageError(
      `bad --${flag} '${text}': expected a ${allowZero ? "" : "positive "}number of seconds`,
    );
  }
  if (value > 2_000_000) throw new UsageError(`bad --${flag} '${text}': at most 2000000 seconds`);
  return value * 1000;
}

/** A whole number within [min, max]. */
export function parseCount(
  flag: string,
  text: string,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`bad --${flag} '${text}': expected a whole number from ${min} to ${max}`);
  }
  return Number(text);
}

/** A 16-bit magic number, hex (0xC356) or decimal. */
export function parseMagic(text: string): number {
  const value = /^0x[0-9a-f]{1,4}$/i.test(text)
    ? parseInt(text, 16)
    : /^\d+$/.test(text)
    ? Number(text)
    : NaN;
  if (!(value >= 0 && value <= 0xffff)) {
    throw new UsageError(`bad --magic '${text}': expected a 16-bit number such as 0xC356`);
  }
  return value;
}

/** The string value of a flag, or `fallback`. */
export function stringFlag(parsed: ParsedArgs, name: string, fallback: string): string {
  const v = parsed.flags[name];
  return typeof v === "string" ? v : fallback;
}
