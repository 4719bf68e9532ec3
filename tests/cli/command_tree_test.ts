/**
 * The command tree without processes: parsing, help made from the
 * declarations, dispatch through groups, and the exit status of each outcome.
 */

import assert from "node:assert/strict";
import { defineCommand, type Group } from "../../lib/cli/command_tree.ts";
import { type CliProgram, runCli } from "../../lib/cli/dispatch.ts";
import { count, optionalFlag, portArg, seconds, switchFlag } from "../../lib/cli/flags.ts";

const pure = { permissions: "none" } as const;

const seen: unknown[] = [];
const leaf = defineCommand({
  name: "server",
  summary: "a test server",
  description: "Runs nothing.",
  flags: {
    timeout: seconds("how long", "30"),
    "max-n": count("most of them", "7", 1, 10),
    tag: optionalFlag("TEXT", "a label", (v) => v),
    quiet: switchFlag("say less"),
  },
  args: [portArg("PORT", true)],
  run(flags, [port], context) {
    seen.push({ ...flags, port, verbose: context.verbose });
    if (flags.tag === "fail") throw new Error("it failed\nsecond line");
    return Promise.resolve(0);
  },
});
const root: Group = {
  kind: "group",
  name: "pudp",
  summary: "",
  description: "The root.",
  children: [{
    kind: "group",
    name: "fam",
    summary: "a family",
    description: "F.",
    children: [leaf],
  }],
};
const program: CliProgram = { root, version: "9.9.9", rootTrailer: "TRAILER\n" };

async function cli(...args: string[]) {
  let out = "";
  let err = "";
  const code = await runCli(program, args, { out: (t) => out += t, err: (t) => err += t });
  return { code, out, err };
}

Deno.test(
  "command tree: flags are parsed by their validators, defaults filled in",
  pure,
  async () => {
    seen.length = 0;
    assert.equal((await cli("fam", "server", "0")).code, 0);
    assert.equal(
      (await cli("fam", "server", "--timeout=1.5", "--max-n", "3", "--quiet", "9")).code,
      0,
    );
    assert.equal((await cli("fam", "server", "--tag", "-x", "--verbose", "--", "-0")).code, 2);
    assert.deepEqual(seen, [
      {
        timeout: 30_000,
        "max-n": 7,
        tag: undefined,
        quiet: false,
        verbose: false,
        help: false,
        port: 0,
      },
      {
        timeout: 1500,
        "max-n": 3,
        tag: undefined,
        quiet: true,
        verbose: false,
        help: false,
        port: 9,
      },
    ]);
  },
);

Deno.test(
  "command tree: every usage error names the flag in pudp's words, exit 2",
  pure,
  async () => {
    const cases: [string[], string][] = [
      [
        ["fam", "server", "--timeout", "-1", "0"],
        "bad --timeout '-1': expected a positive number of seconds",
      ],
      [["fam", "server", "-1"], "bad port '-1': expected a number from 0 to 65535"],
      [
        ["fam", "server", "--max-n", "11", "0"],
        "bad --max-n '11': expected a whole number from 1 to 10",
      ],
      [["fam", "server", "--nope", "0"], "unknown option '--nope'"],
      [["fam", "server", "-q", "0"], "unknown option '-q'"],
      [["fam", "server", "--quiet=yes", "0"], "--quiet takes no value"],
      [["fam", "server", "--timeout"], "--timeout needs a value (SECONDS)"],
      [["fam", "server"], "missing PORT"],
      [["fam", "server", "1", "2"], "unexpected argument '2'"],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      assert.equal(r.code, 2, args.join(" "));
      assert.equal(r.err, `pudp fam server: ${message} (see 'pudp fam server --help')\n`);
      assert.equal(r.out, "");
    }
    assert.deepEqual(await cli("fam", "nope"), {
      code: 2,
      out: "",
      err: "pudp fam: unknown command 'nope' (see 'pudp fam --help')\n",
    });
  },
);

Deno.test(
  "command tree: help comes from the declaration, the same by --help and help",
  pure,
  async () => {
    const help = await cli("fam", "server", "--help");
    assert.equal(help.code, 0);
    assert.equal(
      help.out,
      `Usage: pudp fam server [options] PORT

Runs nothing.

Options:
  --timeout SECONDS  how long (default 30)
  --max-n N          most of them (default 7)
  --tag TEXT         a label
  --quiet            say less
  --verbose          more diagnostics on stderr (stack traces included)
  -h, --help         show this help
`,
    );
    assert.deepEqual(await cli("help", "fam", "server"), help);
    assert.deepEqual(await cli("fam", "server", "-1", "-h"), help, "help wins over a bad argument");
    const root = await cli("help");
    assert.match(
      root.out,
      /^Usage: pudp <command>.*\n\nThe root\.\n\nCommands:\n {2}fam {2}a family\nTRAILER\n$/s,
    );
    const bare = await cli("fam");
    assert.equal(bare.code, 2);
    assert.match(bare.err, /^Usage: pudp fam <command>/);
    assert.equal((await cli("fam", "server", "--version")).out, "pudp 9.9.9\n");
  },
);

Deno.test(
  "command tree: a failure is one line (exit 1); --verbose adds the stack",
  pure,
  async () => {
    const plain = await cli("fam", "server", "--tag", "fail", "0");
    assert.deepEqual(plain, { code: 1, out: "", err: "pudp fam server: it failed\n" });
    const verbose = await cli("fam", "server", "--verbose", "--tag", "fail", "0");
    assert.equal(verbose.code, 1);
    assert.match(verbose.err, /^Error: it failed\nsecond line\n\s+at /);
  },
);

Deno.test(
  "command tree: help to a stdout that throws is one line on stderr, exit 1",
  pure,
  async () => {
    let err = "";
    const code = await runCli(program, ["--help"], {
      out: () => {
        throw new Error("No space left on device (os error 28)");
      },
      err: (t) => err += t,
    });
    assert.equal(code, 1);
    assert.equal(err, "pudp: cannot write to stdout: No space left on device (os error 28)\n");
  },
);
