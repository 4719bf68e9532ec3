/**
 * The fault benchmark: `pudp client` → `pudp impair` → `pudp server` (stdout
 * to a file), with the relay dropping a share of the datagrams both ways, and
 * the same transfer through the same relay without faults in the same round.
 * Lost lines are counted from the server's output against the input.
 *
 * @module
 */

import { sourceCommand } from "../lib/cli/source_command.ts";
import { BenchProcess } from "./processes.ts";
import { countDelivered, settle } from "./transfer.ts";

/** One transfer through the relay. */
export interface FaultRun {
  /** The relay's --loss (both directions); 0 for the run without faults. */
  loss: number;
  seed: number;
  /** The client's exit code (0: it finished; 1: it gave up on the server). */
  code: number;
  /** Wall seconds of the client process, from start to exit. */
  seconds: number;
  /** Input lines per second (lines / seconds). */
  rate: number;
  /** Input lines the server did not print in their place. */
  lost: number;
  /** The relay's and the server's summary lines (stderr at exit). */
  impair: string;
  server: string;
}

/**
 * Streams `input` (`lines` lines) with `pudp client` through `pudp impair
 * --loss LOSS --seed SEED` into `pudp server` (stdout to `outPath`).
 */
export async function runFault(
  loss: number,
  seed: number,
  input: string,
  lines: number,
  outPath: string,
): Promise<FaultRun> {
  await settle();
  const server = new BenchProcess(
    [...sourceCommand(), "server", "--host", "127.0.0.1", "--no-stdin", "0"],
    { stdoutPath: outPath },
  );
  let relay: BenchProcess | undefined;
  let client: BenchProcess | undefined;
  try {
    const serverPort = await server.port();
    relay = new BenchProcess([
      ...sourceCommand(),
      "impair",
      ...["--host", "127.0.0.1", "--loss", String(loss), "--direction", "both"],
      ...["--seed", String(seed), "0", "127.0.0.1", String(serverPort)],
    ]);
    const port = await relay.port();
    client = new BenchProcess(
      [...sourceCommand(), "client", "127.0.0.1", String(port)],
      { stdinPath: input },
    );
    const { code, seconds } = await client.exit(600_000);
    relay.kill("SIGTERM");
    await relay.exit(30_000);
    server.kill("SIGTERM");
    await server.exit(30_000);
    const lost = lines - (await countDelivered(outPath, [lines]));
    return {
      loss,
      seed,
      code,
      seconds,
      rate: lines / seconds,
      lost,
      impair: lastLine(relay.stderr, "pudp impair:"),
      server: lastLine(server.stderr, "pudp server:"),
    };
  } finally {
    client?.kill("SIGKILL");
    relay?.kill("SIGKILL");
    server.kill("SIGKILL");
  }
}

/** The last line of `text` that starts with `prefix`, without it ("" if none). */
export function lastLine(text: string, prefix: string): string {
  const found = text.split("\n").filter((l) => l.startsWith(prefix)).at(-1);
  return found === undefined ? "" : found.slice(prefix.length).trim();
}
