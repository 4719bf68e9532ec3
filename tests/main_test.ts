/**
 * The CLI surface: help, version, usage errors (exit 2, one line, no stack trace).
 */

import assert from "node:assert/strict";
import { sourceCommand, spawnCli } from "./helpers/cli.ts";
import denoJson from "../deno.json" with { type: "json" };

async function run(...args: string[]) {
  await using p = spawnCli(args);
  return await p.exit();
}

Deno.test("cli: --help lists the commands; --version prints the version", async () => {
  const help = await run("--help");
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: pudp <command>/);
  assert.match(help.stdout, /\n {2}server /);
  assert.match(help.stdout, /\n {2}client /);
  const version = await run("--version");
  assert.equal(version.code, 0);
  assert.equal(version.stdout, `pudp ${denoJson.version}\n`);
});

Deno.test("cli: pudp <cmd> --help and pudp help <cmd> work for every command", async () => {
  for (const cmd of [["server"], ["client"], ["impair"], ["ids", "server"], ["ids", "client"]]) {
    const out = await run(...cmd, "--help");
    assert.equal(out.code, 0);
    assert.match(out.stdout, new RegExp(`^Usage: pudp ${cmd.join(" ")} `));
    assert.equal(out.stderr, "");
    const viaHelp = await run("help", ...cmd);
    assert.equal(viaHelp.code, 0);
    assert.equal(viaHelp.stdout, out.stdout);
  }
  const groupHelp = await run("help", "ids");
  assert.equal(groupHelp.code, 0);
  assert.match(groupHelp.stdout, /^Usage: pudp ids <command>/);
});

Deno.test("cli: help written to a full stdout is one line on stderr, exit 1", async () => {
  for (const args of [["--help"], ["help", "server"], ["--version"]]) {
    const out = await new Deno.Command("sh", {
      args: ["-c", `exec "$@" > /dev/full`, "sh", ...sourceCommand(), ...args],
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 1, stderr);
    assert.match(stderr, /^pudp: cannot write to stdout: No space left on device/);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
  }
});

Deno.test(
  "cli: help to a stdout closed by the shell (>&-) goes to /dev/null: exit 0, as the README says",
  async () => {
    const out = await new Deno.Command("sh", {
      args: ["-c", `exec "$@" >&-`, "sh", ...sourceCommand(), "--help"],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(out.stderr.length, 0);
  },
);

Deno.test("cli: usage errors print one line to stderr and exit 2", async () => {
  const cases: Array<[string[], RegExp]> = [
    [[], /Usage: pudp/],
    [["bogus"], /^pudp: unknown command 'bogus'/],
    [["server"], /^pudp server: missing PORT/],
    [["server", "65536"], /^pudp server: bad port '65536'/],
    [["server", "-1"], /^pudp server: bad port '-1'/],
    [["server", "--timeout", "-1", "0"], /^pudp server: bad --timeout '-1': expected a positive/],
    [["server", "abc"], /^pudp server: bad port 'abc'/],
    [["server", "--timeout", "0", "0"], /^pudp server: bad --timeout '0'/],
    [["server", "--max-gap", "x", "0"], /^pudp server: bad --max-gap 'x'/],
    [["server", "--magic", "0x10000", "0"], /^pudp server: bad --magic '0x10000'/],
    [["server", "--bogus", "0"], /^pudp server: unknown option '--bogus'/],
    [["server", "--no-stdin=1", "0"], /^pudp server: --no-stdin takes no value/],
    [["ids"], /Usage: pudp ids <command>/],
    [["ids", "bogus"], /^pudp ids: unknown command 'bogus'/],
    [["ids", "server", "--id-ttl", "-5", "0"], /^pudp ids server: bad --id-ttl '-5'/],
    [["ids", "client", "localhost", "1", "a b"], /^pudp ids client: bad id 'a b'/],
    [["ids", "client", "localhost", "1", "x".repeat(65)], /^pudp ids client: bad id 'x+'/],
    [["help", "server", "extra"], /^pudp server: no help for 'extra'/],
    [["server", "1", "2"], /^pudp server: unexpected argument '2'/],
    [["client", "localhost"], /^pudp client: missing PORT/],
    [["client", "localhost", "0"], /^pudp client: bad port '0': expected a number from 1 to 65535/],
    [
      ["client", "--window", "-3", "localhost", "1"],
      /^pudp client: bad --window '-3': expected a whole number from 0 to 1000000 \(see/,
    ],
    [["client", "--timeout"], /^pudp client: --timeout needs a value \(SECONDS\)/],
    [["impair", "0", "localhost"], /^pudp impair: missing PORT/],
    [["impair", "--loss", "1.5", "0", "localhost", "1"], /^pudp impair: bad --loss '1.5'/],
    [["impair", "--dup", "150%", "0", "localhost", "1"], /^pudp impair: bad --dup '150%'/],
    [
      ["impair", "--delay", "-1", "0", "localhost", "1"],
      /^pudp impair: bad --delay '-1': expected milliseconds/,
    ],
    [["impair", "--jitter", "x", "0", "localhost", "1"], /^pudp impair: bad --jitter 'x'/],
    [
      ["impair", "--direction", "sideways", "0", "localhost", "1"],
      /^pudp impair: bad --direction 'sideways'/,
    ],
    [["impair", "--seed", "-", "0", "localhost", "1"], /^pudp impair: bad --seed '-'/],
    [["impair", "0", "localhost", "0"], /^pudp impair: bad port '0'/],
  ];
  for (const [args, pattern] of cases) {
    const out = await run(...args);
    assert.equal(out.code, 2, `${args.join(" ")}: exit ${out.code}`);
    if (args.length === 0 || (args.length === 1 && args[0] === "ids")) { // a bare group: its usage text, on stderr
      assert.match(out.stderr, pattern);
      assert.equal(out.stdout, "");
      continue;
    }
    assert.match(out.stderr, pattern, args.join(" "));
    assert.equal(
      out.stderr.trim().split("\n").length,
      1,
      `one line for ${args.join(" ")}: ${out.stderr}`,
    );
    assert.doesNotMatch(out.stderr, /\bat .*:\d+:\d+/, "no stack trace");
  }
});

Deno.test("cli: impair cannot open its log file: exit 1, one line", async () => {
  const out = await run("impair", "--log", "/nonexistent/dir/log.jsonl", "0", "127.0.0.1", "9");
  assert.equal(out.code, 1);
  assert.match(out.stderr, /^pudp impair: cannot open log file \/nonexistent\/dir\/log.jsonl: /);
  assert.equal(out.stderr.trim().split("\n").length, 1);
});

Deno.test("cli: an unresolvable host is an exchange failure: exit 1, one line", async () => {
  const out = await run("client", "no-such-host.invalid", "9");
  assert.equal(out.code, 1);
  assert.match(out.stderr, /^pudp client: cannot resolve no-such-host\.invalid/);
  assert.equal(out.stderr.trim().split("\n").length, 1);
});

Deno.test("cli: a port in use is an exchange failure: exit 1, one line", async () => {
  const taken = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    const out = await run("server", "--no-stdin", "--host", "127.0.0.1", String(port));
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(`^pudp server: cannot listen on 127\\.0\\.0\\.1:${port}: `),
    );
    assert.equal(out.stderr.trim().split("\n").length, 1);
  } finally {
    taken.close();
  }
});
