/**
 * Scale-out: two `pudp server`s behind nginx's stream module as a UDP load
 * balancer, with the block shipped in `contrib/nginx/pudp-udp-balancer.conf`
 * (only its ports changed). Twenty clients, each from its own loopback
 * address (`--bind 127.0.0.N`, since the balancer hashes the client's
 * address), must each complete on exactly one server with nothing lost; then,
 * with a new round of clients mid-session, stopping one server must give its
 * clients a clear error while the other server's clients finish.
 *
 * Needs nginx and libnginx-mod-stream (`.ci/run` installs them with
 * apt-get). nginx runs in the foreground on loopback with every path in a
 * temp dir, and is stopped by its pid.
 */

import assert from "node:assert/strict";
import { ROOT_DIR, spawnCli, startServer, stopServer } from "../helpers/cli.ts";
import type { CliProcess, RunningServer } from "../helpers/cli.ts";

const BLOCK = `${ROOT_DIR}contrib/nginx/pudp-udp-balancer.conf`;
const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
const CLIENTS = 20;
const LINES = 50;

/** A UDP port free on 127.0.0.1 a moment ago. */
function freeUdpPort(): number {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/** nginx in the foreground, balancing UDP port `port` over `upstreams`. */
class Nginx implements AsyncDisposable {
  readonly #dir: string;
  readonly #child: Deno.ChildProcess;

  private constructor(dir: string, child: Deno.ChildProcess) {
    this.#dir = dir;
    this.#child = child;
  }

  static async start(port: number, upstreams: [number, number]): Promise<Nginx> {
    const dir = await Deno.makeTempDir({ prefix: "pudp-nginx-" });
    let block = await Deno.readTextFile(BLOCK);
    for (
      const [from, to] of [
        ["listen 9000 udp;", `listen 127.0.0.1:${port} udp;`],
        ["server 127.0.0.1:9001;", `server 127.0.0.1:${upstreams[0]};`],
        ["server 127.0.0.1:9002;", `server 127.0.0.1:${upstreams[1]};`],
      ]
    ) {
      assert.ok(block.includes(from), `the shipped block has "${from}"`);
      block = block.replace(from, to);
    }
    assert.match(block, /hash \$remote_addr consistent;/);
    assert.doesNotMatch(block, /^\s*proxy_responses/m);
    await Deno.writeTextFile(
      `${dir}/nginx.conf`,
      `load_module ${STREAM_MODULE};
daemon off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
${block}`,
    );
    const child = new Deno.Command("nginx", {
      args: ["-p", dir, "-c", `${dir}/nginx.conf`, "-e", `${dir}/error.log`],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const nginx = new Nginx(dir, child);
    // nginx writes its pid file after it has bound its listening sockets.
    for (let i = 0; i < 100; i++) {
      if (await Deno.stat(`${dir}/nginx.pid`).then(() => true, () => false)) return nginx;
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = await Deno.readTextFile(`${dir}/error.log`).catch(() => "");
    await nginx[Symbol.asyncDispose]();
    throw new Error(`nginx did not start within 10 s:\n${log}`);
  }

  /** Stops nginx (SIGTERM: the master stops its worker first), bounded; removes the temp dir. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise((r) => timer = setTimeout(() => r("late"), 10_000));
    if (await Promise.race([this.#child.status, late]) === "late") {
      this.#child.kill("SIGKILL");
      await this.#child.status;
    }
    clearTimeout(timer);
    await Deno.remove(this.#dir, { recursive: true });
  }
}

/** The lines client `i` sends. */
function linesOf(i: number, round: string): string[] {
  return Array.from({ length: LINES }, (_, j) => `${round} client ${i} line ${j}`);
}

/** A server's sessions: id → its DATA lines, from its stdout. */
function sessionsOf(stdout: string): Map<string, string[]> {
  const sessions = new Map<string, string[]>();
  for (const m of stdout.matchAll(/^(0x[0-9a-f]{8}) \[(\d+)\] (.*)$/gm)) {
    if (m[2] === "0") sessions.set(m[1], []);
    else if (m[3] !== "GOODBYE from client.") sessions.get(m[1])?.push(m[3]);
  }
  return sessions;
}

/** Which client each session of `stdout` carried (by the lines' text), and its lines. */
function clientsOf(stdout: string, round: string): Map<number, string[]> {
  const byClient = new Map<number, string[]>();
  for (const lines of sessionsOf(stdout).values()) {
    const m = lines[0]?.match(new RegExp(`^${round} client (\\d+) `));
    if (!m) continue;
    assert.ok(!byClient.has(Number(m[1])), `client ${m[1]} has two sessions on one server`);
    byClient.set(Number(m[1]), lines);
  }
  return byClient;
}

Deno.test("nginx: 20 clients through a UDP load balancer each complete on exactly one of two servers; stopping one fails only its own clients, clearly", async () => {
  const servers: RunningServer[] = [
    await startServer(["--verbose"]),
    await startServer(["--verbose"]),
  ];
  try {
    const port = freeUdpPort();
    await using _nginx = await Nginx.start(port, [servers[0].port, servers[1].port]);
    const bind = (i: number) => `127.0.0.${10 + i}`;
    const client = (i: number) =>
      spawnCli(["client", "--bind", bind(i), "--timeout", "2", "127.0.0.1", String(port)], "piped");

    // Round 1: every client sends its lines and ends.
    const round1 = await Promise.all(
      Array.from({ length: CLIENTS }, async (_, i) => {
        await using c = client(i);
        await c.write(linesOf(i, "first").join("\n") + "\n");
        await c.closeStdin();
        return await c.exit(30_000);
      }),
    );
    round1.forEach((r, i) => assert.equal(r.code, 0, `client ${i}: ${r.stderr}`));

    const [a, b] = servers.map((s) => clientsOf(s.process.stdout.text, "first"));
    const home = new Map<number, 0 | 1>();
    for (let i = 0; i < CLIENTS; i++) {
      const on = [a.has(i), b.has(i)];
      assert.equal(on.filter(Boolean).length, 1, `client ${i} is on exactly one server`);
      home.set(i, on[0] ? 0 : 1);
      assert.deepEqual((on[0] ? a : b).get(i), linesOf(i, "first"), `client ${i}: every line`);
    }
    assert.ok(a.size > 0 && b.size > 0, `both servers got clients (${a.size} and ${b.size})`);
    // The servers see nginx's address, never the clients' own.
    for (const s of servers) {
      await s.process.stderr.waitFor(
        (t) =>
          (t.match(/closed \(goodbye\)/g) ?? []).length ===
            clientsOf(s.process.stdout.text, "first").size,
        5_000,
        "every goodbye",
      );
      assert.doesNotMatch(s.process.stderr.text, /client 127\.0\.0\.(1\d|2\d):/);
      assert.match(s.process.stderr.text, /closed \(goodbye\), client 127\.0\.0\.1:\d+/);
    }

    // Round 2: the same clients (so the same servers) start, then server 0 stops.
    const running: CliProcess[] = Array.from({ length: CLIENTS }, (_, i) => client(i));
    try {
      const lines = Array.from({ length: CLIENTS }, (_, i) => linesOf(i, "second"));
      await Promise.all(running.map((c, i) => c.write(lines[i][0] + "\n")));
      for (
        const [s, n] of servers.map((s, k) =>
          [s, [...home.values()].filter((h) => h === k).length] as const
        )
      ) {
        await s.process.stdout.waitFor(
          (t) => clientsOf(t, "second").size === n,
          10_000,
          `the second round's first lines on one server`,
        );
      }
      servers[0].process.kill("SIGTERM");
      assert.equal((await servers[0].process.exit()).code, 0);
      await Promise.all(running.map(async (c, i) => {
        await c.write(lines[i].slice(1).join("\n") + "\n").catch(() => {});
        await c.closeStdin();
      }));
      const round2 = await Promise.all(running.map((c) => c.exit(30_000)));
      for (let i = 0; i < CLIENTS; i++) {
        if (home.get(i) === 0) {
          assert.equal(round2[i].code, 1, `client ${i} of the stopped server fails`);
          assert.equal(round2[i].stderr, "pudp client: server closed the session\n");
        } else {
          assert.equal(round2[i].code, 0, `client ${i} of the running server: ${round2[i].stderr}`);
        }
      }
      const survivor = clientsOf(servers[1].process.stdout.text, "second");
      for (const [i, h] of home) {
        if (h === 1) assert.deepEqual(survivor.get(i), lines[i], `client ${i}: every line`);
      }
    } finally {
      for (const c of running) await c[Symbol.asyncDispose]();
    }
    await stopServer(servers[1]);
  } finally {
    for (const s of servers) await s.process[Symbol.asyncDispose]();
  }
});
