/**
 * Running `pudp check` from the tests: the command itself (bounded in
 * time, stopped by its pid), and the results of a `--json` run by case id.
 */

import { spawnCli } from "../helpers/cli.ts";

/** A `pudp check [family] …` runner: its exit code and output, within `timeoutMs`. */
export function checkCommand(
  family?: string,
): (
  args: string[],
  timeoutMs?: number,
) => Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  return async (args, timeoutMs = 120_000) => {
    await using p = spawnCli(["check", ...(family ? [family] : []), ...args]);
    return await p.exit(timeoutMs);
  };
}

/** The JSON lines of a `--json` run, by case id. */
export function byId(stdout: string): Map<string, { status: string; level: string }> {
  const out = new Map();
  for (const line of stdout.trim().split("\n")) {
    const o = JSON.parse(line);
    out.set(o.id, o);
  }
  return out;
}
