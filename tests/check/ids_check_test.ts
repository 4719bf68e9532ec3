/**
 * `pudp check ids` end to end: against pudp's own ids server and client,
 * over UDP and TCP (every case passes), against the course model of an ids
 * server (it fails exactly the cases where it leaves the handout or pudp's
 * rules), and against a deliberately faulty peer per case
 * (tests/check/faulty_ids.py, one fault each) that makes that case fail.
 * Every process runs on 127.0.0.1 and is stopped by its pid.
 */

import assert from "node:assert/strict";
import { byId, checkCommand } from "./check_cli.ts";
import { IDS_FAMILY } from "../../lib/check/ids_family.ts";
import { beyondCourse, type Fault, noneFailed, proveFaults } from "./fault_matrix.ts";
import { ROOT_DIR, sourceCommand } from "../helpers/cli.ts";

const PUDP = sourceCommand();
const FAULTY = ["python3", `${ROOT_DIR}tests/check/faulty_ids.py`];
const COURSE = ["python3", `${ROOT_DIR}tests/interop/course_families.py`];

const check = checkCommand("ids");

const failed = (stdout: string) =>
  [...byId(stdout)].filter(([, o]) => o.status === "fail").map(([id]) => id);

const tcpFlag = (tcp: boolean) => tcp ? ["--tcp"] : [];
const server = (tcp: boolean, more: string[] = []) => [
  ...PUDP,
  "ids",
  "server",
  ...tcpFlag(tcp),
  "--host",
  "127.0.0.1",
  "--id-ttl",
  "2",
  ...more,
  "{port}",
];
const client = (tcp: boolean) => [
  ...PUDP,
  "ids",
  "client",
  ...tcpFlag(tcp),
  "--timeout",
  "1",
  "{host}",
  "{port}",
  "{id}",
];

for (const tcp of [false, true]) {
  const over = tcp ? "TCP" : "UDP";
  Deno.test({
    name:
      `check ids: pudp's own server passes every server case over ${over}, course level in under a minute`,
    permissions: "inherit",
    async fn() {
      const course = await check(["server", ...tcpFlag(tcp), "--", ...server(tcp)]);
      assert.equal(course.code, 0, course.stdout + course.stderr);
      assert.match(
        course.stdout,
        tcp
          ? /^9 cases: 8 passed, 0 failed, 1 skipped/m
          : /^9 cases: 6 passed, 0 failed, 3 skipped/m,
      );
      assert.ok(course.ms < 60_000, `${course.ms} ms`);
      const rest = beyondCourse(IDS_FAMILY.serverCases);
      const all = await check([
        "server",
        ...tcpFlag(tcp),
        "--timeout",
        "2",
        ...rest,
        "--",
        ...server(tcp),
      ]);
      assert.equal(all.code, 0, all.stdout + all.stderr);
      assert.match(all.stdout, noneFailed(rest.length));
    },
  });

  Deno.test({
    name: `check ids: pudp's own client passes every client case over ${over}`,
    permissions: "inherit",
    async fn() {
      const course = await check(["client", ...tcpFlag(tcp), "--", ...client(tcp)]);
      assert.equal(course.code, 0, course.stdout + course.stderr);
      assert.ok(course.ms < 60_000, `${course.ms} ms`);
      const rest = beyondCourse(IDS_FAMILY.clientCases);
      const all = await check([
        "client",
        ...tcpFlag(tcp),
        "--timeout",
        "1",
        ...rest,
        "--",
        ...client(tcp),
      ]);
      assert.equal(all.code, 0, all.stdout + all.stderr);
      assert.match(all.stdout, noneFailed(rest.length));
    },
  });
}

Deno.test({
  name: "check ids: the course model and pudp --course fail only where they leave the rules",
  permissions: "inherit",
  async fn() {
    // The course model answers its holder's repeat with RESET, takes ids of any length,
    // sends no ERROR and never releases an id.
    const course = await check([
      "server",
      "--json",
      "--strict",
      "--timeout",
      "2",
      "--",
      ...COURSE,
      "ids-server",
      "{port}",
    ]);
    assert.deepEqual(failed(course.stdout), [
      "server/request/repeat-holder-ok",
      "server/id/invalid",
      "server/robust/error-reply",
      "server/ttl/released",
    ]);
    // At course level without --timeout it passes every case.
    const plain = await check(["server", "--", ...COURSE, "ids-server", "{port}"]);
    assert.equal(plain.code, 0, plain.stdout);
    // pudp's own server with --course sends no ERROR.
    const quiet = await check([
      "server",
      "--json",
      "--strict",
      "--",
      ...server(false, ["--course"]),
    ]);
    assert.deepEqual(failed(quiet.stdout), ["server/robust/error-reply"]);
  },
});

/** Each case, the fault that makes it fail, and the transport it is run over. */
const FAULTS: Fault[] = [
  ["server", "wrong-port", "server/request/ok"],
  ["server", "reply-newline", "server/request/exact"],
  ["server", "no-reset", "server/request/reset"],
  ["server", "repeat-silent", "server/request/repeat-holder"],
  ["server", "repeat-reset", "server/request/repeat-holder-ok"],
  ["server", "one-id", "server/request/independent"],
  ["server", "digits-only", "server/id/visible"],
  ["server", "long-ids", "server/id/invalid"],
  ["server", "crash-garbage", "server/robust/malformed"],
  ["server", "no-error", "server/robust/error-reply"],
  ["server", "answer-replies", "server/robust/no-reply-to-replies"],
  ["server", "error-flood", "server/robust/error-rate"],
  ["server", "no-expiry", "server/ttl/released"],
  ["server", "keep-after-reset", "server/tcp/reset-closes", "tcp"],
  ["server", "hang-after-one", "server/tcp/several", "tcp"],
  ["server", "one-per-connection", "server/tcp/several-answered", "tcp"],
  ["server", "needs-newline", "server/tcp/no-newline", "tcp"],
  ["server", "quiet", "server/stdout/lines"],
  ["client", "wrong-id", "client/request/format"],
  ["client", "newline", "client/request/exact"],
  ["client", "exit1-ok", "client/reply/ok"],
  ["client", "exit0-reset", "client/reply/reset"],
  ["client", "retry-error", "client/reply/error"],
  ["client", "hang", "client/reply/silent"],
  ["client", "reset-after-repeat-ok", "client/reply/repeat-reset"],
  ["client", "no-repeat", "client/reply/lost-ok"],
  ["client", "any-address", "client/robust/foreign"],
  ["client", "garbage-ok", "client/robust/garbage"],
  ["client", "closed-exit0", "client/tcp/closed", "tcp"],
  ["client", "needs-newline", "client/tcp/no-newline", "tcp"],
];

/** The implementation's timeout: the server's --id-ttl 2, the client's --timeout 1. */
const TIMEOUT = { server: "2", client: "1" };

function faultyPeer(role: "server" | "client", fault: string, tcp: boolean): string[] {
  const where = role === "server"
    ? ["--id-ttl", TIMEOUT.server, "{port}"]
    : ["--timeout", TIMEOUT.client, "{host}", "{port}", "{id}"];
  return [...FAULTY, role, ...tcpFlag(tcp), "--fault", fault, ...where];
}

Deno.test({
  name:
    "check ids: every case has a faulty peer that fails it; the peer without a fault passes all",
  permissions: "inherit",
  async fn() {
    await proveFaults({
      family: IDS_FAMILY,
      faults: FAULTS,
      peer: faultyPeer,
      timeout: { server: Number(TIMEOUT.server), client: Number(TIMEOUT.client) },
      transports: [false, true],
    });
  },
});

Deno.test({
  name: "check ids: a failure shows the row, expected, observed and the escaped trace",
  permissions: "inherit",
  async fn() {
    const out = await check([
      "server",
      "server/robust",
      "--",
      ...faultyPeer("server", "answer-replies", false),
    ]);
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stdout, /✗ server\/robust\/no-reply-to-replies/);
    assert.match(out.stdout, /✓ server\/robust\/malformed/);
    assert.match(out.stdout, /row: "a datagram \(or TCP line\) that looks like a reply/);
    assert.match(out.stdout, /expected: no reply to a reply\n\s+observed: 'ERROR /);
    assert.match(out.stdout, /ms {2}→ :\d+ {2}'RESET \d{4}' \(10 bytes\)/);
    assert.match(out.stdout, /^2 cases: 1 passed, 1 failed, 0 skipped/m);
  },
});

Deno.test({
  name: "check ids: --list runs nothing; the client command must take {id}",
  permissions: "inherit",
  async fn() {
    const list = await check(["server", "--list", "server/tcp"]);
    assert.equal(list.code, 0);
    assert.deepEqual(
      list.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(0, 2).join(" ")),
      ["server/tcp/reset-closes course", "server/tcp/several course"],
    );
    const noId = await check(["client", "--", "python3", "x.py", "{host}", "{port}"]);
    assert.equal(noId.code, 2);
    assert.match(noId.stderr, /\{id\}/);
  },
});
