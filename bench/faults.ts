/**
 * The fault benchmark: `pudp client` → `pudp impair` → `pudp server` (stdout
 * to a file), with the relay dropping a share of the datagrams both ways, and
 * the same transfer through the same relay without faults in the same round.
 *
 * PUDP does not retransmit, so a line whose DATA the relay dropped is rightly
 * never printed. The relay logs each of its decisions (`--log`), and every
 * input line the server did not print is accounted for: its DATA was dropped
 * by the relay (every copy of it), or it was lost beyond the relay (never
 * sent, or sent on and not printed), which must not happen.
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import { BenchProcess } from "./processes.ts";
import { inputLines, settle } from "./transfer.ts";

/** Where the input lines went (one client, or a crowd added up). */
export interface LineAccount {
  /** Input lines the server did not print in their place. */
  missing: number;
  /** Input lines whose DATA the relay dropped (client to server, every copy of it): rightly missing. */
  dataDropped: number;
  /** Missing lines whose DATA the relay did not drop (missing − dataDropped): must be 0. */
  lostBeyondRelay: number;
  /** Of those, lines whose DATA the relay never passed on (the client did not send it, or the relay still held it when stopped). */
  neverForwarded?: number;
  /** Of those, lines whose DATA the relay passed on to the server, which did not print it. */
  forwardedNotPrinted?: number;
}

/** One transfer through the relay. */
export interface FaultRun extends LineAccount {
  /** The relay's --loss (both directions); 0 for the run without faults. */
  loss: number;
  seed: number;
  /** The client's exit code (0: it finished; 1: it gave up on the server). */
  code: number;
  /** The client's last stderr line when it did not exit 0. */
  clientError?: string;
  /** Wall seconds of the client process, from start to exit. */
  seconds: number;
  /** Input lines per second (lines / seconds). */
  rate: number;
  /** The relay's and the server's summary lines (stderr at exit). */
  impair: string;
  server: string;
}

/**
 * Streams `input` (`lines` lines made by `writeInput(input, lines)`) with
 * `pudp client` through `pudp impair --loss LOSS --seed SEED --log` into
 * `pudp server` (stdout to `outPath`; the relay's log next to it, removed
 * once counted).
 */
export async function runFault(
  loss: number,
  seed: number,
  input: string,
  lines: number,
  outPath: string,
): Promise<FaultRun> {
  const logPath = `${outPath}.relay.jsonl`;
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
      ...["--log", logPath, "--seed", String(seed), "0", "127.0.0.1", String(serverPort)],
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
    // One client: its sessions' fates together (it opens one).
    const fates = mergeFates((await readRelayLog(logPath)).values(), lines + 1);
    const printed = await printedLines(outPath, lines);
    const run: FaultRun = {
      loss,
      seed,
      code,
      seconds,
      rate: lines / seconds,
      ...accountLines(printed, fates),
      impair: lastLine(relay.stderr, "pudp impair:"),
      server: lastLine(server.stderr, "pudp server:"),
    };
    if (code !== 0) run.clientError = client.stderr.trim().split("\n").at(-1) ?? "";
    return run;
  } finally {
    client?.kill("SIGKILL");
    relay?.kill("SIGKILL");
    server.kill("SIGKILL");
    await Deno.remove(logPath).catch(() => {});
  }
}

/** The relay passed the DATA on (pass, duplicate, or release after a hold). */
export const FORWARDED = 1;
/** The relay dropped a copy of the DATA. */
export const DROPPED = 2;

/**
 * The fate of each client-to-server DATA in a `pudp impair --log` file, per
 * PUDP session ("0x…" as logged): `fates.get(session)[seq]` has the
 * {@link FORWARDED} bit when the relay passed a copy on, and the
 * {@link DROPPED} bit when it dropped one. A DATA the relay dropped is lost
 * only when no copy was passed on (exactly DROPPED). Streamed: the log of a
 * large run is big, and only one byte per sequence number is kept.
 */
export async function readRelayLog(path: string): Promise<Map<string, Uint8Array>> {
  const fates = new Map<string, Uint8Array>();
  for await (const line of fileLines(path)) {
    if (!line.includes('"command":"DATA"') || !line.includes('"direction":"up"')) continue;
    const r = JSON.parse(line) as {
      direction: string;
      event: string;
      pudp?: { command: string; seq: number; session: string };
    };
    if (r.direction !== "up" || r.pudp?.command !== "DATA") continue;
    const bit = r.event === "dropped"
      ? DROPPED
      : r.event === "passed" || r.event === "duplicated" || r.event === "released"
      ? FORWARDED
      : 0; // reordered: held, a release follows when it goes; refused: never a DATA
    if (bit === 0) continue;
    const { session, seq } = r.pudp;
    let f = fates.get(session);
    if (!f || seq >= f.length) {
      let size = f?.length ?? 1024;
      while (size <= seq) size *= 2;
      const grown = new Uint8Array(size);
      if (f) grown.set(f);
      fates.set(session, f = grown);
    }
    f[seq] |= bit;
  }
  return fates;
}

/** The fates of several sessions as one (sequence numbers 0 to `length` − 1). */
export function mergeFates(fates: Iterable<Uint8Array>, length: number): Uint8Array {
  const merged = new Uint8Array(length);
  for (const f of fates) {
    for (let seq = 0; seq < Math.min(length, f.length); seq++) merged[seq] |= f[seq];
  }
  return merged;
}

/**
 * Accounts for `printed.length` input lines: `printed[k]` is 1 when the
 * server printed line k; `fates[k + 1]` is what the relay did with its DATA
 * (line k travels as DATA k + 1), undefined without a relay.
 */
export function accountLines(printed: Uint8Array, fates: Uint8Array | undefined): LineAccount {
  let missing = 0;
  let dataDropped = 0;
  let neverForwarded = 0;
  let forwardedNotPrinted = 0;
  for (let k = 0; k < printed.length; k++) {
    const fate = fates?.[k + 1] ?? 0;
    if (fate === DROPPED) dataDropped++;
    if (printed[k]) continue;
    missing++;
    if (fate === DROPPED) continue;
    if (fate & FORWARDED) forwardedNotPrinted++;
    else neverForwarded++;
  }
  const lostBeyondRelay = neverForwarded + forwardedNotPrinted;
  return fates === undefined
    ? { missing, dataDropped: 0, lostBeyondRelay }
    : { missing, dataDropped, lostBeyondRelay, neverForwarded, forwardedNotPrinted };
}

/** Several accounts added up. */
export function sumAccounts(accounts: LineAccount[]): LineAccount {
  const sum = (f: (a: LineAccount) => number | undefined) =>
    accounts.reduce((n, a) => n + (f(a) ?? 0), 0);
  const total: LineAccount = {
    missing: sum((a) => a.missing),
    dataDropped: sum((a) => a.dataDropped),
    lostBeyondRelay: sum((a) => a.lostBeyondRelay),
  };
  if (accounts.some((a) => a.neverForwarded !== undefined)) {
    total.neverForwarded = sum((a) => a.neverForwarded);
    total.forwardedNotPrinted = sum((a) => a.forwardedNotPrinted);
  }
  return total;
}

/**
 * Which of the `lines` input lines (`inputLines(lines)`) the server printed
 * in its text output: line k counts when a DATA k + 1 carries it exactly.
 */
async function printedLines(outPath: string, lines: number): Promise<Uint8Array> {
  const expected = inputLines(lines);
  const printed = new Uint8Array(lines);
  for await (const line of fileLines(outPath)) {
    const m = line.match(/^0x[0-9a-f]{8} \[(\d+)\] (.*)$/);
    if (!m) continue;
    const k = Number(m[1]) - 1;
    if (k >= 0 && k < lines && expected[k] === m[2]) printed[k] = 1;
  }
  return printed;
}

/** The lines of a text file, without their newlines, read as a stream. */
export async function* fileLines(path: string): AsyncGenerator<string> {
  const file = await Deno.open(path);
  let rest = "";
  for await (const chunk of file.readable.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + chunk).split("\n");
    rest = parts.pop()!;
    yield* parts;
  }
  if (rest) yield rest;
}

/** The last line of `text` that starts with `prefix`, without it ("" if none). */
export function lastLine(text: string, prefix: string): string {
  const found = text.split("\n").filter((l) => l.startsWith(prefix)).at(-1);
  return found === undefined ? "" : found.slice(prefix.length).trim();
}
