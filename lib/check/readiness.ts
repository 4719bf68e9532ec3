/**
 * When a server pudp started is ready for a case: its program (or a child
 * of it) owns a socket bound to the port (UDP) or listening on it (TCP).
 * Read from `/proc/net/udp` (`tcp`, and the `6` tables) and the socket
 * links in `/proc/PID/fd`. Deno lets a program read `/proc` only with
 * every permission, so without it the same files are read by a small
 * `sh` script (`pudp check` may run programs). Another process's socket on
 * the same number (a client's ephemeral port on a busy machine) is not the
 * server. Where there is no `/proc` (not Linux), a TCP server is ready when
 * a connection is accepted, a UDP one after a fixed wait.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const udp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
 *   "   1: 0100007F:2328 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2\n";
 * assert.deepEqual(procPortInodes(udp, 9000), ["4242"]);
 * assert.deepEqual(procPortInodes(udp, 9001), []);
 * // TCP: only a listening socket (state 0A) counts.
 * const tcp = "   1: 0100007F:2328 0100007F:D431 01 00000000:00000000 00:00000000 00000000 0 0 77 1\n" +
 *   "   2: 0100007F:2328 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 78 1\n";
 * assert.deepEqual(procPortInodes(tcp, 9000, true), ["78"]);
 * assert.deepEqual(socketInodes("socket:[78]\npipe:[5]\n/dev/null\nsocket:[9]\n"), ["78", "9"]);
 * ```
 *
 * @module
 */

import type { Spawned, Transport } from "./target.ts";

/**
 * The socket inodes a `/proc/net/udp` (or `udp6`) table lists as bound to
 * local `port`; with `listening`, a `/proc/net/tcp` table's listening
 * sockets (state 0A) only.
 */
export function procPortInodes(table: string, port: number, listening = false): string[] {
  const hex = ":" + port.toString(16).toUpperCase().padStart(4, "0") + " ";
  const inodes: string[] = [];
  for (const line of table.split("\n")) {
    const fields = line.trim().split(/\s+/);
    if (
      fields[1] !== undefined && (fields[1] + " ").endsWith(hex) && fields[9] !== undefined &&
      (!listening || fields[3] === "0A")
    ) {
      inodes.push(fields[9]);
    }
  }
  return inodes;
}

/** The inodes of the `socket:[N]` links in a list of `/proc/PID/fd` link targets. */
export function socketInodes(links: string): string[] {
  return [...links.matchAll(/^socket:\[(\d+)\]$/gm)].map((m) => m[1]);
}

/** What /proc says: the port tables' text and the socket inodes the program's tree holds. */
interface ProcView {
  tables: string;
  owned: string[];
}

/** Reads the tables and the fd links of `pid` and its descendants directly (needs every permission). */
async function readDirect(transport: Transport, pid: number): Promise<ProcView> {
  let tables = await Deno.readTextFile(`/proc/net/${transport}`);
  tables += await Deno.readTextFile(`/proc/net/${transport}6`).catch(() => "");
  const owned: string[] = [];
  const pids = [pid];
  for (let i = 0; i < pids.length && i < 64; i++) {
    try {
      for await (const e of Deno.readDir(`/proc/${pids[i]}/fd`)) {
        const link = await Deno.readLink(`/proc/${pids[i]}/fd/${e.name}`).catch(() => "");
        owned.push(...socketInodes(link));
      }
      const children = await Deno.readTextFile(`/proc/${pids[i]}/task/${pids[i]}/children`)
        .catch(() => "");
      for (const c of children.trim().split(/\s+/)) if (c !== "") pids.push(Number(c));
    } catch {
      // gone
    }
  }
  return { tables, owned };
}

/** The same, read by `sh` (the tables, a marker line, then every fd link of the process tree). */
const SNAPSHOT_SCRIPT = `t=$1
cat /proc/net/$t /proc/net/\${t}6 2>/dev/null
echo @@links
walk() {
  for f in /proc/$1/fd/*; do readlink "$f"; done 2>/dev/null
  for c in $(cat /proc/$1/task/*/children 2>/dev/null); do walk "$c"; done
}
walk "$2"`;

async function readViaShell(transport: Transport, pid: number): Promise<ProcView> {
  const out = await new Deno.Command("sh", {
    args: ["-c", SNAPSHOT_SCRIPT, "sh", transport, String(pid)],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const at = text.indexOf("@@links\n");
  if (at < 0 || !text.includes("local_address")) throw new Error("no /proc tables");
  return { tables: text.slice(0, at), owned: socketInodes(text.slice(at)) };
}

/** How /proc is read here: directly, through `sh`, or not at all (learnt on first use). */
let procMode: "direct" | "shell" | "none" | undefined;

/** What /proc says, or undefined where it cannot be read (`via` forces a way, for tests). */
async function procView(
  transport: Transport,
  pid: number,
  via?: "direct" | "shell",
): Promise<ProcView | undefined> {
  if (via === "shell") return await readViaShell(transport, pid).catch(() => undefined);
  if (procMode === undefined || procMode === "direct") {
    try {
      const view = await readDirect(transport, pid);
      procMode = "direct";
      return view;
    } catch {
      if (procMode === "direct") return undefined;
      procMode = "shell";
    }
  }
  if (procMode === "shell") {
    try {
      return await readViaShell(transport, pid);
    } catch {
      procMode = "none";
    }
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether a TCP connection to `port` on 127.0.0.1 is accepted (closed at once). */
async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port, transport: "tcp" });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

/** How long a UDP server is given to bind where /proc cannot say. */
const BLIND_WAIT_MS = 2000;

/**
 * Waits at most `ms` for the program (or a child of it) to bind UDP `port`
 * (or listen on TCP `port`). False when the program exited first or the
 * time ran out. `via` forces how /proc is read (for tests).
 */
export async function waitBound(
  program: Spawned,
  port: number,
  ms: number,
  transport: Transport = "udp",
  via?: "direct" | "shell",
): Promise<boolean> {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    if (program.code !== undefined) return false;
    const view = await procView(transport, program.child.pid, via);
    if (view === undefined) {
      if (transport === "tcp") {
        if (await accepts(port)) return program.code === undefined;
        await sleep(50);
        continue;
      }
      await program.waitExit(Math.min(BLIND_WAIT_MS, Math.max(0, end - performance.now())));
      return program.code === undefined;
    }
    const bound = procPortInodes(view.tables, port, transport === "tcp");
    if (bound.some((inode) => view.owned.includes(inode))) return program.code === undefined;
    await sleep(20);
  }
  return false;
}
