/**
 * `pudp check` end to end: against pudp's own server and client (every
 * case passes), against the course models where they follow the handout,
 * and against a deliberately faulty peer per case (tests/check/
 * faulty_peers.py, one fault each) that makes exactly that case fail.
 * Every process runs on 127.0.0.1 and is stopped by its pid.
 */

import assert from "node:assert/strict";
import { byId, checkCommand } from "./check_cli.ts";
import { PUDP_FAMILY } from "../../lib/check/pudp_family.ts";
import { beyondCourse, type Fault, proveFaults } from "./fault_matrix.ts";
import { ROOT_DIR, sourceCommand, spawnCli } from "../helpers/cli.ts";
import { startServer, stopServer } from "../helpers/cli.ts";

const PUDP = sourceCommand();
const FAULTY = ["python3", `${ROOT_DIR}tests/check/faulty_peers.py`];
const COURSE = ["python3", `${ROOT_DIR}tests/interop/course_peers.py`];

const check = checkCommand();

const SERVER = [...PUDP, "server", "--host", "127.0.0.1", "--timeout", "2", "{port}"];
const CLIENT = [...PUDP, "client", "--quiet", "--timeout", "1", "{host}", "{port}"];

Deno.test({
  name: "check: pudp's own server passes every server case, course level in under a minute",
  permissions: "inherit",
  async fn() {
    const course = await check(["server", "--", ...SERVER]);
    assert.equal(course.code, 0, course.stdout + course.stderr);
    assert.match(course.stdout, /^15 cases: 14 passed, 0 failed, 1 skipped/m);
    assert.ok(course.ms < 60_000, `${course.ms} ms`);
    const rest = beyondCourse(PUDP_FAMILY.serverCases);
    const all = await check(["server", "--timeout", "2", ...rest, "--", ...SERVER]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^${rest.length} cases: ${rest.length} passed`, "m"));
  },
});

Deno.test({
  name: "check: pudp's own client passes every client case, course level in under a minute",
  permissions: "inherit",
  async fn() {
    const course = await check(["client", "--", ...CLIENT]);
    assert.equal(course.code, 0, course.stdout + course.stderr);
    assert.match(course.stdout, /^16 cases: 12 passed, 0 failed, 4 skipped/m);
    assert.ok(course.ms < 60_000, `${course.ms} ms`);
    const rest = beyondCourse(PUDP_FAMILY.clientCases);
    const all = await check(["client", "--timeout", "1", ...rest, "--", ...CLIENT]);
    assert.equal(all.code, 0, all.stdout + all.stderr);
    assert.match(all.stdout, new RegExp(`^${rest.length} cases: ${rest.length} passed`, "m"));
  },
});

Deno.test({
  name: "check: a running server at HOST PORT is judged on the wire (stdout cases skipped)",
  permissions: "inherit",
  async fn() {
    const server = await startServer(["--timeout", "2"]);
    const out = await check([
      "server",
      "--strict",
      "--timeout",
      "2",
      "127.0.0.1",
      String(server.port),
    ]);
    await stopServer(server);
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.match(out.stdout, /^20 cases: 17 passed, 0 failed, 3 skipped/m);
    assert.match(out.stdout, /- server\/stdin\/eof/);
  },
});

Deno.test({
  name: "check: the course models pass the cases where they follow the handout",
  permissions: "inherit",
  async fn() {
    // The course server prints payloads with end='' and ignores old messages.
    const server = await check([
      "server",
      "--json",
      "--timeout",
      "2",
      "--",
      ...COURSE,
      "server",
      "--timeout",
      "2",
      "{port}",
    ]);
    const s = byId(server.stdout);
    const serverFails = [...s].filter(([, o]) => o.status === "fail").map(([id]) => id);
    assert.deepEqual(serverFails, ["server/data/newline", "server/duplicate/old-closes"]);
    // The course client sends before the HELLO reply, has no ALIVE timer, blocks on stdin
    // (a server's GOODBYE is seen at the next line) and takes a GOODBYE from any address.
    const client = await check([
      "client",
      "--json",
      "--strict",
      "--timeout",
      "1",
      "--",
      ...COURSE,
      "client",
      "--timeout",
      "1",
      "{host}",
      "{port}",
    ]);
    const c = byId(client.stdout);
    const clientFails = [...c].filter(([, o]) => o.status === "fail").map(([id]) => id);
    assert.deepEqual(clientFails, [
      "client/hello/waits",
      "client/hello/no-answer",
      "client/closing/server-goodbye",
      "client/closing/timer-exit-zero",
      "client/robust/other-address",
      "client/timeout/no-alive",
    ]);
    assert.equal(c.size, 19);
  },
});

/** Each case and the fault that makes it fail. */
const FAULTS: Fault[] = [
  ["server", "no-hello-reply", "server/hello/created"],
  ["server", "repeat-hello-closes", "server/hello/repeat"],
  ["server", "no-duplicate-hello", "server/hello/repeat-answered"],
  ["server", "data-creates", "server/hello/unknown-session"],
  ["server", "hello-any-seq", "server/hello/nonzero-seq"],
  ["server", "no-alive", "server/data/in-order"],
  ["server", "no-newline", "server/data/newline"],
  ["server", "seq-constant", "server/data/server-seq"],
  ["server", "no-lost-lines", "server/gap/lost-lines"],
  ["server", "gap-closes", "server/gap/continues"],
  ["server", "alive-duplicate", "server/duplicate/ignored"],
  ["server", "old-ignored", "server/duplicate/old-closes"],
  ["server", "no-goodbye-reply", "server/goodbye/reply"],
  ["server", "keep-session", "server/goodbye/closed"],
  ["server", "no-time-wait", "server/goodbye/repeat"],
  ["server", "any-address", "server/session/other-address"],
  ["server", "any-magic", "server/wire/foreign"],
  ["server", "inside-hello-ignored", "server/wire/inside-hello"],
  ["server", "no-timeout", "server/timeout/goodbye"],
  ["server", "eof-silent", "server/stdin/eof"],
  ["client", "hello-seq1", "client/hello/first"],
  ["client", "no-wait", "client/hello/waits"],
  ["client", "hang", "client/hello/no-answer"],
  ["client", "no-goodbye-on-giveup", "client/hello/no-answer-goodbye"],
  ["client", "join-lines", "client/data/one-per-line"],
  ["client", "seq-skip", "client/data/sequence"],
  ["client", "new-session", "client/data/same-session"],
  ["client", "no-goodbye", "client/closing/goodbye"],
  ["client", "exit1", "client/closing/exit-zero"],
  ["client", "ignore-goodbye", "client/closing/server-goodbye"],
  ["client", "hang-closing", "client/closing/timer"],
  ["client", "exit1-unconfirmed", "client/closing/timer-exit-zero"],
  ["client", "exit0-always", "client/closing/unconfirmed"],
  ["client", "any-session", "client/robust/wrong-session"],
  ["client", "any-magic", "client/robust/wrong-magic"],
  ["client", "any-address", "client/robust/other-address"],
  ["client", "crash-short", "client/robust/short"],
  ["client", "strict-alive-count", "client/robust/duplicates"],
  ["client", "ignore-alive-timer", "client/timeout/no-alive"],
];

/** The implementation's timeout: 2 s for the servers, 1 s for the clients. */
const TIMEOUT = { server: "2", client: "1" };

function faultyPeer(role: "server" | "client", fault: string): string[] {
  const where = role === "server" ? ["{port}"] : ["{host}", "{port}"];
  return [...FAULTY, role, "--timeout", TIMEOUT[role], "--fault", fault, ...where];
}

Deno.test({
  name: "check: every case has a faulty peer that fails it; the peer without a fault passes all",
  permissions: "inherit",
  async fn() {
    await proveFaults({
      family: PUDP_FAMILY,
      faults: FAULTS,
      peer: faultyPeer,
      timeout: { server: Number(TIMEOUT.server), client: Number(TIMEOUT.client) },
    });
  },
});

Deno.test({
  name: "check: a failure shows the row, expected, observed, the trace and the program's output",
  permissions: "inherit",
  async fn() {
    const junit = await Deno.makeTempFile({ suffix: ".xml" });
    try {
      const out = await check([
        "server",
        "--junit",
        junit,
        "server/duplicate",
        "--",
        ...faultyPeer("server", "alive-duplicate"),
      ]);
      assert.equal(out.code, 1, out.stdout);
      assert.match(out.stdout, /✗ server\/duplicate\/ignored/);
      assert.match(out.stdout, /✓ server\/duplicate\/old-closes/);
      assert.match(out.stdout, /row: "any, seq == expected − 1/);
      assert.match(out.stdout, /expected: no reply to the repeat\n\s+observed: ALIVE seq=2/);
      assert.match(
        out.stdout,
        /ms {2}→ :\d+ {2}DATA seq=1 session=0x[0-9a-f]{8} 'a\\x0a' \(2 bytes\)/,
      );
      assert.match(out.stdout, /stdout:\n(.*\n)*?\s+0x[0-9a-f]{8} \[1\] Duplicate packet!/);
      assert.match(out.stdout, /^2 cases: 1 passed, 1 failed, 0 skipped/m);
      const xml = await Deno.readTextFile(junit);
      assert.match(xml, /<testsuite name="PUDP server: [^"]*" tests="2" failures="1" skipped="0"/);
      assert.match(
        xml,
        /<testcase classname="server\/duplicate" name="server\/duplicate\/ignored"/,
      );
    } finally {
      await Deno.remove(junit);
    }
  },
});

Deno.test({
  name: "check: --list runs nothing; usage errors exit 2",
  permissions: "inherit",
  async fn() {
    const list = await check(["server", "--list", "server/goodbye"]);
    assert.equal(list.code, 0);
    assert.deepEqual(
      list.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(0, 2).join(" ")),
      [
        "server/goodbye/reply course",
        "server/goodbye/closed course",
      ],
    );
    for (
      const [args, why] of [
        [["server"], /missing HOST PORT/],
        [["server", "--", "python3", "x.py"], /\{port\}/],
        [["client", "--", "python3", "x.py", "{port}"], /\{host\}/],
        [["client"], /missing -- CMD/],
        [["server", "--list", "server/nope"], /no case matches 'server\/nope'/],
        [["server", "--timeout", "x", "--list"], /bad --timeout/],
      ] as const
    ) {
      const out = await check([...args]);
      assert.equal(out.code, 2, `${args.join(" ")}: ${out.stderr}`);
      assert.match(out.stderr, why);
    }
  },
});

Deno.test({
  name: "check: --magic and --wire-version speak another PUDP variant to a server that does",
  permissions: "inherit",
  async fn() {
    const variant = ["--magic", "0xE86D", "--wire-version", "2"];
    const server = [...PUDP, "server", "--host", "127.0.0.1", ...variant, "{port}"];
    const same = await check([
      "server",
      ...variant,
      "server/hello",
      "server/data",
      "--",
      ...server,
    ]);
    assert.equal(same.code, 0, same.stdout + same.stderr);
    assert.match(same.stdout, /cases: \d+ passed, 0 failed/);
    // Speaking version 1 to it: its answers never come.
    const other = await check([
      "server",
      "--magic",
      "0xE86D",
      "server/hello/created",
      "--",
      ...server,
    ]);
    assert.equal(other.code, 1, other.stdout);
    assert.match(other.stdout, /✗ server\/hello\/created/);
  },
});

Deno.test({
  name: "check: a signal ends the run at once and stops every program it started, by its pid",
  permissions: "inherit",
  async fn() {
    const marker = `check-signal-${crypto.randomUUID()}`;
    const server = [...FAULTY, "server", "--fault", "none", "--timeout", "30", "{port}", marker];
    await using p = spawnCli(["check", "server", "--timeout", "30", "--", ...server]);
    // The programs it started: its children whose command line has the marker (its own has it too).
    const running = async (parent?: number) => {
      const args = parent === undefined ? ["-f", marker] : ["-P", String(parent), "-f", marker];
      const out = await new Deno.Command("pgrep", { args, stdout: "piped" }).output();
      return new TextDecoder().decode(out.stdout).trim().split("\n").filter((l) => l !== "");
    };
    const end = performance.now() + 20_000;
    while ((await running(p.child.pid)).length === 0 && performance.now() < end) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok((await running(p.child.pid)).length > 0, "no program started");
    p.kill("SIGTERM");
    const out = await p.exit(20_000);
    assert.equal(out.code, 143, out.stderr);
    assert.match(out.stderr, /interrupted \(SIGTERM\): no report/);
    assert.doesNotMatch(out.stdout, /cases:/);
    assert.deepEqual(await running(), []);
  },
});
