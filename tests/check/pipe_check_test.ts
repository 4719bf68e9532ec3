/**
 * `pudp check pipe` end to end: against pudp's own pipe server and client
 * (every case passes), against the course model of a pipe server (it fails
 * exactly the cases where it leaves the protocol), and against a
 * deliberately faulty peer per case (tests/check/faulty_pipe.py, one fault
 * each) that makes exactly that case fail. Every process runs on 127.0.0.1
 * and is stopped by its pid.
 */

import assert from "node:assert/strict";
import { byId, checkCommand } from "./check_cli.ts";
import { PIPE_FAMILY } from "../../lib/check/pipe_family.ts";
import { beyondCourse, type Fault, proveFaults } from "./fault_matrix.ts";
import { ROOT_DIR, sourceCommand, startListening } from "../helpers/cli.ts";

const PUDP = sourceCommand();
const FAULTY = ["python3", `${ROOT_DIR}tests/check/faulty_pipe.py`];
const COURSE = ["python3", `${ROOT_DIR}tests/interop/course_families.py`];

const check = checkCommand("pipe");

/** The ids of the failed cases of a `--json` run. */
function failed(stdout: string): string[] {
  return [...byId(stdout)].filter(([, o]) => o.status === "fail").map(([id]) => id);
}

const SERVER = [...PUDP, "pipe", "server", "--host", "127.0.0.1", "{port}"];
const CLIENT = [...PUDP, "pipe", "client", "--quiet", "{host}", "{port}"];
const CLIENT_TIMEOUT = [...PUDP, "pipe", "client", "--quiet", "--timeout", "1", "{host}", "{port}"];

Deno.test({
  name: "check pipe: pudp's own server passes every server case, course level in under a minute",
  permissions: "inherit",
  async fn() {
    const course = await check(["server", "--", ...SERVER]);
    assert.equal(course.code, 0, course.stdout + course.stderr);
    assert.match(course.stdout, /^8 cases: 8 passed, 0 failed, 0 skipped/m);
    assert.ok(course.ms < 60_000, `${course.ms} ms`);
    const rest = beyondCourse(PIPE_FAMILY.serverCases);
    const all = await check(["server", ...rest, "--", ...SERVER]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^${rest.length} cases: ${rest.length} passed`, "m"));
  },
});

Deno.test({
  name: "check pipe: pudp's own client passes every client case, course level in under a minute",
  permissions: "inherit",
  async fn() {
    const course = await check(["client", "--", ...CLIENT]);
    assert.equal(course.code, 0, course.stdout + course.stderr);
    assert.match(course.stdout, /^7 cases: 7 passed, 0 failed, 0 skipped/m);
    assert.ok(course.ms < 60_000, `${course.ms} ms`);
    // The strict cases and the timer case, with the client's own --timeout 1.
    const rest = beyondCourse(PIPE_FAMILY.clientCases);
    const all = await check(["client", "--timeout", "1", ...rest, "--", ...CLIENT_TIMEOUT]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^${rest.length} cases: ${rest.length} passed`, "m"));
  },
});

Deno.test({
  name: "check pipe: a running server at HOST PORT is judged on the wire (stdout cases skipped)",
  permissions: "inherit",
  async fn() {
    const server = await startListening(["pipe", "server", "--host", "127.0.0.1", "0"]);
    try {
      const out = await check(["server", "--strict", "127.0.0.1", String(server.port)]);
      assert.equal(out.code, 0, out.stdout + out.stderr);
      assert.match(out.stdout, /^12 cases: 3 passed, 0 failed, 9 skipped/m);
      assert.match(out.stdout, /✓ server\/concurrency\/backlog/);
      assert.match(out.stdout, /- server\/data\/exact-binary/);
    } finally {
      server.process.kill("SIGKILL");
      await server.process.exit(10_000).catch(() => {});
    }
  },
});

Deno.test({
  name: "check pipe: the course model of a pipe server fails only where it leaves the protocol",
  permissions: "inherit",
  async fn() {
    // It writes each client's bytes as they come (clients sending at once interleave) and
    // never closes a connection; SIGTERM ends it at once.
    const model = [...COURSE, "pipe-server", "{port}"];
    const course = await check(["server", "--json", "--", ...model]);
    assert.deepEqual(failed(course.stdout), ["server/concurrency/contiguous"]);
    const strict = await check(["server", "--json", "--strict", "--", ...model]);
    assert.deepEqual(failed(strict.stdout), [
      "server/concurrency/contiguous",
      "server/concurrency/connect-order",
      "server/close/after-eof",
      "server/close/held",
      "server/exit/signal",
    ]);
  },
});

/** Each case and the fault that makes it fail. */
const FAULTS: Fault[] = [
  ["server", "crlf", "server/data/exact-text"],
  ["server", "text-mode", "server/data/exact-binary"],
  ["server", "drop-1-byte-reads", "server/data/partial-sends"],
  ["server", "truncate-large", "server/data/large"],
  ["server", "interleave", "server/concurrency/contiguous"],
  ["server", "backlog-1", "server/concurrency/backlog"],
  ["server", "lifo-order", "server/concurrency/connect-order"],
  ["server", "no-close", "server/close/after-eof"],
  ["server", "close-on-turn", "server/close/held"],
  ["server", "crash-on-abrupt", "server/close/abrupt-client"],
  ["server", "empty-newline", "server/robust/empty-client"],
  ["server", "die-on-term", "server/exit/signal"],
  ["client", "text-mode", "client/data/exact"],
  ["client", "first-read-only", "client/data/slow-stdin"],
  ["client", "no-connect-empty", "client/data/empty"],
  ["client", "truncate", "client/data/large"],
  ["client", "slurp", "client/memory/bounded"],
  ["client", "exit-at-eof", "client/eof/half-close"],
  ["client", "ignore-errors", "client/close/early"],
  ["client", "ignore-server-fin", "client/close/fin-first"],
  ["client", "no-eof", "client/close/never"],
  ["client", "give-up-exit0", "client/close/never-no-exit-zero"],
  ["client", "ignore-timeout", "client/timeout/never-close"],
];

function faultyPeer(role: "server" | "client", fault: string): string[] {
  return role === "server"
    ? [...FAULTY, "server", "--fault", fault, "{port}"]
    : [...FAULTY, "client", "--timeout", "1", "--fault", fault, "{host}", "{port}"];
}

Deno.test({
  name:
    "check pipe: every case has a faulty peer that fails it; the peer without a fault passes all",
  permissions: "inherit",
  async fn() {
    await proveFaults({
      family: PIPE_FAMILY,
      faults: FAULTS,
      peer: faultyPeer,
      timeout: { server: 1, client: 1 },
      parallel: 4,
    });
  },
});

Deno.test({
  name: "check pipe: a failure shows the rule, expected, observed and the trace; --list, usage",
  permissions: "inherit",
  async fn() {
    const out = await check([
      "server",
      "server/data/exact-binary",
      "--",
      ...faultyPeer("server", "text-mode"),
    ]);
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stdout, /✗ server\/data\/exact-binary/);
    assert.match(out.stdout, /row: "the server writes each client's bytes to its stdout exactly"/);
    assert.match(out.stdout, /expected: stdout: exactly the 1041 bytes sent/);
    assert.match(
      out.stdout,
      /observed: \d+ bytes \(1041 sent\), differing from byte 128 on: '\\xef\\xbf\\xbd/,
    );
    assert.match(out.stdout, /ms {2}→ :\d+ {2}300 bytes '\\x00\\x01\\x02/);
    const list = await check(["client", "--list", "client/close"]);
    assert.equal(list.code, 0);
    assert.deepEqual(
      list.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(0, 2).join(" ")),
      ["client/close/early course", "client/close/never course"],
    );
    const usage = await check(["client", "--", "python3", "x.py", "{port}"]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /\{host\}/);
  },
});
