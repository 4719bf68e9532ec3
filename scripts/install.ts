/**
 * `deno task install [--root DIR]`: installs the `pudp` command from a copy of
 * the program, so that it keeps working when this checkout moves or is
 * deleted (a plain `deno install --global main.ts` would point into it).
 *
 * The program (main.ts, lib/, deno.json, deno.lock) is copied to
 * `DIR/lib/pudp`, then `deno install --global --root DIR` makes the command
 * `DIR/bin/pudp` run that copy. DIR is `--root`, else `$DENO_INSTALL_ROOT`,
 * else `~/.deno` (Deno's own default). Works offline: pudp needs nothing
 * from a registry at run time. Says where it went and whether `DIR/bin` is
 * on PATH.
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { PERMISSIONS } from "./source_command.ts";

const SOURCE = new URL("../", import.meta.url).pathname;
/** What the program is: everything `main.ts` loads, and its configuration. */
const PROGRAM = ["main.ts", "lib", "deno.json", "deno.lock"];
function fail(message: string): never {
  console.error(`install: ${message}`);
  Deno.exit(1);
}

let root: string;
try {
  const { values } = parseArgs({ options: { root: { type: "string" } }, strict: true });
  const home = Deno.env.get("HOME");
  root = values.root ?? Deno.env.get("DENO_INSTALL_ROOT") ??
    (home ? join(home, ".deno") : fail("HOME is not set; give --root DIR"));
} catch (e) {
  console.error(
    `install: ${e instanceof Error ? e.message : e} (usage: deno task install [--root DIR])`,
  );
  Deno.exit(2);
}
root = root.startsWith("/") ? root : join(Deno.cwd(), root);
const program = join(root, "lib", "pudp");
const bin = join(root, "bin");

/** Copies a file or a directory tree. */
async function copy(from: string, to: string): Promise<void> {
  const info = await Deno.stat(from);
  if (!info.isDirectory) return await Deno.copyFile(from, to);
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    await copy(join(from, entry.name), join(to, entry.name));
  }
}

// A fresh copy next to the old one, then swapped in, so a failed copy never
// leaves a half-installed program behind.
const staging = `${program}.new-${Deno.pid}`;
try {
  await Deno.mkdir(staging, { recursive: true });
  for (const name of PROGRAM) await copy(join(SOURCE, name), join(staging, name));
  await Deno.remove(program, { recursive: true }).catch((e) => {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  });
  await Deno.rename(staging, program);
} catch (e) {
  await Deno.remove(staging, { recursive: true }).catch(() => {});
  fail(`cannot copy the program to ${program}: ${e instanceof Error ? e.message : e}`);
}

const install = await new Deno.Command(Deno.execPath(), {
  args: [
    "install",
    "--global",
    "--force",
    "--quiet",
    "--root",
    root,
    ...PERMISSIONS,
    "--config",
    join(program, "deno.json"),
    "--name",
    "pudp",
    join(program, "main.ts"),
  ],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!install.success) fail("deno install failed (see above)");

const version = JSON.parse(await Deno.readTextFile(join(program, "deno.json"))).version;
const onPath = (Deno.env.get("PATH") ?? "").split(":").some((dir) =>
  dir.replace(/\/+$/, "") === bin
);
console.log(`installed pudp ${version}`);
console.log(`  command: ${join(bin, "pudp")}`);
console.log(`  program: ${program} (a copy: this checkout can move or go)`);
console.log(
  onPath
    ? `${bin} is on your PATH: run \`pudp --help\``
    : `${bin} is not on your PATH; add it (e.g. in ~/.profile):\n  export PATH="${bin}:$PATH"`,
);
