/**
 * The TCP stream benchmarks, each against what a user would pick instead,
 * in the same run:
 * - pipe: BYTES from a client's stdin (`head -c BYTES /dev/zero |`) to the
 *   server's stdout (/dev/null), `pudp pipe` against socat
 *   (`socat -u STDIN TCP:…` into `socat -u TCP-LISTEN:… STDOUT`), timed
 *   from the client's start until every byte is out of the server;
 * - frame: round trips per second of 100-byte messages (bench/frame_load.ts),
 *   `pudp frame server` against a minimal Deno frame server
 *   (bench/frame_echo.ts).
 *
 * @module
 */

import { sourceCommand } from "../scripts/source_command.ts";
import { BenchProcess, sleep } from "./processes.ts";

/** One timed pipe transfer. */
export interface PipeRun {
  tool: "socat" | "pudp";
  bytes: number;
  seconds: number;
  /** Bytes per second. */
  rate: number;
}

/** One frame load run. */
export interface FrameRun {
  server: "minimal" | "pudp";
  clients: number;
  roundTrips: number;
  seconds: number;
  /** Round trips per second. */
  rate: number;
}

/** Whether socat is on the PATH (the bench installs it with apt-get when it is not). */
export async function ensureSocat(log: (s: string) => void): Promise<void> {
  const has = async () => {
    try {
      return (await new Deno.Command("socat", { args: ["-V"], stdout: "null", stderr: "null" })
        .output()).success;
    } catch {
      return false;
    }
  };
  if (await has()) return;
  log("socat is missing: installing it with apt-get");
  await new Deno.Command("sh", {
    args: ["-c", "apt-get update -qq && apt-get install -y -qq socat"],
    stdout: "null",
  }).output();
  if (!await has()) throw new Error("socat is not installed and apt-get could not install it");
}

/** A port free right now on 127.0.0.1 (for socat, which cannot pick one and say which). */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

/** Runs `argv` with `head -c BYTES /dev/zero` on its stdin; resolves with its exit status. */
async function feedZeros(bytes: number, argv: string[]): Promise<number> {
  const { code } = await new Deno.Command("sh", {
    args: ["-c", 'n=$1; shift; head -c "$n" /dev/zero | "$@"', "sh", String(bytes), ...argv],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).output();
  return code;
}

/** One pipe transfer of `bytes` through `tool`. */
export async function runPipe(tool: "socat" | "pudp", bytes: number): Promise<PipeRun> {
  let server: BenchProcess;
  let client: string[];
  if (tool === "socat") {
    const port = freePort();
    server = new BenchProcess(["socat", "-u", `TCP-LISTEN:${port},reuseaddr`, "STDOUT"]);
    await sleep(300); // socat says nothing when it listens
    client = ["socat", "-u", "STDIN", `TCP:127.0.0.1:${port}`];
  } else {
    server = new BenchProcess([
      ...sourceCommand(),
      ...["pipe", "server", "--host", "127.0.0.1", "0"],
    ]);
    const port = await server.port();
    client = [...sourceCommand(), "pipe", "client", "127.0.0.1", String(port)];
  }
  try {
    const start = performance.now();
    const code = await feedZeros(bytes, client);
    if (code !== 0) throw new Error(`${tool} client exited ${code}`);
    // socat's server ends with the connection; pudp's client exits 0 only once its server
    // has written every byte, so either way the clock stops when all of it is out.
    if (tool === "socat") await server.exit(60_000);
    const seconds = (performance.now() - start) / 1000;
    return { tool, bytes, seconds, rate: bytes / seconds };
  } finally {
    server.kill("SIGINT");
    await server.exit(60_000).catch(() => server.kill("SIGKILL"));
  }
}

/** One frame load run of `clients` connections for `seconds` against `server`. */
export async function runFrame(
  server: "minimal" | "pudp",
  clients: number,
  seconds: number,
): Promise<FrameRun> {
  const deno = Deno.execPath();
  const dir = new URL(".", import.meta.url).pathname;
  const process = new BenchProcess(
    server === "minimal"
      ? [deno, "run", "--allow-net", `${dir}frame_echo.ts`]
      : [...sourceCommand(), "frame", "server", "--host", "127.0.0.1", "0"],
  );
  try {
    const port = await process.port();
    const { code, stdout } = await new Deno.Command(deno, {
      args: [
        "run",
        "--allow-net",
        `${dir}frame_load.ts`,
        String(port),
        String(clients),
        String(seconds),
      ],
      stdin: "null",
      stderr: "inherit",
    }).output();
    if (code !== 0) throw new Error(`frame load against ${server} exited ${code}`);
    const r = JSON.parse(new TextDecoder().decode(stdout));
    return {
      server,
      clients,
      roundTrips: r.roundTrips,
      seconds: r.seconds,
      rate: r.roundTrips / r.seconds,
    };
  } finally {
    process.kill("SIGTERM");
    await process.exit(30_000).catch(() => process.kill("SIGKILL"));
  }
}
