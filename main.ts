/**
 * pudp: small client/server data-transfer protocols over UDP and TCP.
 *
 * Builds the command tree and runs it. This is the only place that calls
 * `Deno.exit`: the client's stdin worker may be blocked in a read that cannot
 * be interrupted, so the process ends explicitly once a command is done.
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import type { Group } from "./lib/cli/command_tree.ts";
import { type CliProgram, runCli } from "./lib/cli/dispatch.ts";
import { escapeText } from "./lib/io/terminal_text.ts";
import { blastGroup } from "./lib/blast/commands.ts";
import { frameGroup } from "./lib/frame/commands.ts";
import { idsGroup } from "./lib/ids/commands.ts";
import { pipeGroup } from "./lib/pipe/commands.ts";
import { impairCommand } from "./lib/impair/commands.ts";
import { clientCommand, serverCommand } from "./lib/pudp/commands.ts";
import { checkGroup } from "./lib/check/commands.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Every command, in the order `pudp --help` lists them. */
export const ROOT: Group = {
  kind: "group",
  name: "pudp",
  summary: "",
  description: `pudp ${VERSION}: PUDP, a session protocol over UDP, with a fault-injecting relay,
a connection-id registry over UDP or TCP, length-prefixed messages over TCP,
a stdin-to-stdout streamer over TCP that never mixes two clients, and a
transfer-rate tool that counts loss, duplication and reordering`,
  children: [
    serverCommand,
    clientCommand,
    impairCommand,
    idsGroup,
    frameGroup,
    pipeGroup,
    blastGroup,
    checkGroup,
  ],
};

/** The whole CLI. */
export const PROGRAM: CliProgram = {
  root: ROOT,
  version: VERSION,
  rootTrailer: `
Options:
  -h, --help     show this help (also: pudp <command> --help, pudp help <command>)
  -V, --version  print the version

Exit status: 0 success, 1 the exchange failed, 2 usage error,
130/143 a client stopped by SIGINT/SIGTERM (129: a pudp client by SIGHUP).
`,
};

const encoder = new TextEncoder();

/** Writes all of `text` to a synchronous Deno writer. */
function writeAll(w: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = encoder.encode(text);
  for (let done = 0; done < bytes.length;) done += w.writeSync(bytes.subarray(done));
}

/** Runs the CLI with `args`; returns the exit status. */
export function main(args: string[]): Promise<number> {
  const stderrTerminal = Deno.stderr.isTerminal();
  return runCli(PROGRAM, args, {
    out: (text) => writeAll(Deno.stdout, text),
    err: (text) => {
      try {
        // Diagnostics may quote a peer (`server refused: …`, `unexpected reply '…'`): on a
        // terminal, what could drive it is escaped; the line breaks are ours.
        writeAll(Deno.stderr, stderrTerminal ? escapeText(text, true) : text);
      } catch {
        // Nowhere left to say it.
      }
    },
  });
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
