/**
 * `pudp check frame` end to end: against pudp's own frame server and client
 * (every case passes), against the course model of a server (it fails
 * exactly the cases where it takes one read as one message, or has no
 * limit), and against a deliberately faulty peer per case
 * (tests/check/faulty_frame.py, one fault each) that makes exactly that
 * case fail. Every process runs on 127.0.0.1 and is stopped by its pid.
 */

import assert from "node:assert/strict";
import { byId, checkCommand } from "./check_cli.ts";
import { FRAME_FAMILY } from "../../lib/check/frame_family.ts";
import { beyondCourse, type Fault, proveFaults } from "./fault_matrix.ts";
import { ROOT_DIR, sourceCommand, startListening } from "../helpers/cli.ts";

const PUDP = sourceCommand();
const FAULTY = ["python3", `${ROOT_DIR}tests/check/faulty_frame.py`];
const COURSE = ["python3", `${ROOT_DIR}tests/interop/course_families.py`];

const check = checkCommand("frame");

const SERVER = [...PUDP, "frame", "server", "--host", "127.0.0.1", "{port}"];
const CLIENT = [...PUDP, "frame", "client", "{host}", "{port}"];

Deno.test({
  name: "check frame: pudp's own server passes every server case, course level in under a minute",
  permissions: "inherit",
  async fn() {
    const course = await check(["server", "--", ...SERVER]);
    assert.equal(course.code, 0, course.stdout + course.stderr);
    assert.match(course.stdout, /^10 cases: 10 passed, 0 failed, 0 skipped/m);
    assert.ok(course.ms < 60_000, `${course.ms} ms`);
    const rest = beyondCourse(FRAME_FAMILY.serverCases);
    const all = await check(["server", ...rest, "--", ...SERVER]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^${rest.length} cases: ${rest.length} passed`, "m"));
  },
});

Deno.test({
  name: "check frame: pudp's own client passes every client case, --lockstep every course case",
  permissions: "inherit",
  async fn() {
    const course = await check(["client", "--", ...CLIENT]);
    assert.equal(course.code, 0, course.stdout + course.stderr);
    assert.match(course.stdout, /^10 cases: 10 passed, 0 failed, 0 skipped/m);
    assert.ok(course.ms < 60_000, `${course.ms} ms`);
    const rest = beyondCourse(FRAME_FAMILY.clientCases);
    const all = await check(["client", ...rest, "--", ...CLIENT]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^${rest.length} cases: ${rest.length} passed`, "m"));
    // One round trip per line is the handout's own way: every course case passes; the
    // strict pipelining case names it.
    const lockstep = [...PUDP, "frame", "client", "--lockstep", "{host}", "{port}"];
    const l = await check(["client", "--json", "--strict", "--", ...lockstep]);
    const fails = [...byId(l.stdout)].filter(([, o]) => o.status === "fail").map(([id]) => id);
    assert.deepEqual(fails, ["client/send/pipelined"]);
  },
});

Deno.test({
  name: "check frame: a running server at HOST PORT is judged on the wire",
  permissions: "inherit",
  async fn() {
    const server = await startListening(["frame", "server", "--host", "127.0.0.1", "0"]);
    try {
      const out = await check(["server", "--strict", "127.0.0.1", String(server.port)]);
      assert.equal(out.code, 0, out.stdout + out.stderr);
      assert.match(out.stdout, /^16 cases: 16 passed, 0 failed, 0 skipped/m);
    } finally {
      server.process.kill("SIGTERM");
      await server.process.exit();
    }
  },
});

Deno.test({
  name: "check frame: the course model of a server passes the cases where it follows the handout",
  permissions: "inherit",
  async fn() {
    // It takes each recv(1024) as one message and drops the rest of the read, has no
    // length limit, answers bytes that are not UTF-8, and dies on a reset.
    const out = await check([
      "server",
      "--json",
      "--strict",
      "--",
      ...COURSE,
      "frame-server",
      "{port}",
    ]);
    const s = byId(out.stdout);
    const fails = [...s].filter(([, o]) => o.status === "fail").map(([id]) => id);
    assert.deepEqual(fails, [
      "server/split/one-byte",
      "server/split/header",
      "server/split/coalesced",
      "server/size/long",
      "server/size/megabytes",
      "server/size/over-limit",
      "server/concurrency/many",
      "server/concurrency/slow-peer",
      "server/close/reset",
      "server/robust/bad-text",
    ]);
    assert.equal(s.size, 16);
  },
});

/** Each case and the fault that makes it fail. */
const FAULTS: Fault[] = [
  ["server", "no-strip", "server/answer/basic"],
  ["server", "short-closes", "server/answer/short"],
  ["server", "short-silent", "server/answer/short-empty"],
  ["server", "strip-bytes", "server/answer/characters"],
  ["server", "payload-once", "server/split/one-byte"],
  ["server", "header-once", "server/split/header"],
  ["server", "one-read", "server/split/coalesced"],
  ["server", "max-1k", "server/size/long"],
  ["server", "max-64k", "server/size/megabytes"],
  ["server", "no-limit", "server/size/over-limit"],
  ["server", "sequential", "server/concurrency/many"],
  ["server", "global-lock", "server/concurrency/slow-peer"],
  ["server", "one-client", "server/close/next-client"],
  ["server", "no-close-on-eof", "server/close/half-close"],
  ["server", "crash-on-reset", "server/close/reset"],
  ["server", "replace-bad-text", "server/robust/bad-text"],
  ["client", "little-endian", "client/send/framing"],
  ["client", "keep-newline", "client/send/exact"],
  ["client", "lockstep", "client/send/pipelined"],
  ["client", "prefix", "client/receive/printed"],
  ["client", "one-read", "client/receive/split"],
  ["client", "drop-rest", "client/receive/coalesced"],
  ["client", "length-chars", "client/receive/characters"],
  ["client", "truncate-4k", "client/receive/long"],
  ["client", "exit1", "client/eof/exit-zero"],
  ["client", "exit-at-eof", "client/eof/waits-answers"],
  ["client", "hang-on-close", "client/close/server-closes"],
  ["client", "crash-on-reset", "client/close/reset"],
  ["client", "exit2-close", "client/close/exit-one"],
];

function faultyPeer(role: "server" | "client", fault: string): string[] {
  const where = role === "server" ? ["{port}"] : ["{host}", "{port}"];
  return [...FAULTY, role, "--fault", fault, ...where];
}

Deno.test({
  name: "check frame: every case has a faulty peer that fails it; the peer without a fault passes",
  permissions: "inherit",
  async fn() {
    await proveFaults({
      family: FRAME_FAMILY,
      faults: FAULTS,
      peer: faultyPeer,
      timeout: { server: 1, client: 1 },
    });
  },
});

Deno.test({
  name: "check frame: a failure shows the row, expected, observed and the decoded segments",
  permissions: "inherit",
  async fn() {
    const out = await check([
      "server",
      "server/split",
      "--",
      ...faultyPeer("server", "header-once"),
    ]);
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stdout, /✗ server\/split\/header/);
    assert.match(out.stdout, /✓ server\/split\/coalesced/);
    assert.match(out.stdout, /row: "It reads at most --buffer bytes at a time/);
    assert.match(
      out.stdout,
      /expected: the answer: 'header in two parts' \(19 bytes\).*\n\s+observed: no answer; the server closed/,
    );
    assert.match(out.stdout, /ms {2}→ :\d+ {2}partial: 2 of 4 header bytes/);
    assert.match(out.stdout, /ms {2}→ :\d+ {2}message 29 bytes, 5 here: '01234'/);
    // A header read in one recv() also breaks a message written a byte at a time.
    assert.match(out.stdout, /✗ server\/split\/one-byte/);
    assert.match(out.stdout, /^3 cases: 1 passed, 2 failed, 0 skipped/m);
  },
});
