/**
 * The two ways to get a `pudp` command: `deno task install` (a copy of the
 * program behind `deno install --global`; works offline, and after the
 * checkout is gone) and `deno compile` (needs Deno's denort runtime: set
 * DENORT_BIN to a denort binary of the same Deno version, or the test skips
 * and says why).
 */

import assert from "node:assert/strict";
import { ROOT_DIR, runClient, startServer } from "./helpers/cli.ts";
import denoJson from "../deno.json" with { type: "json" };

/** Runs the task's command line from deno.json with extra flags, in the repo root. */
async function denoTask(
  task: "compile",
  extra: string[],
  env: Record<string, string> = {},
) {
  const line = denoJson.tasks[task].split(" ");
  assert.equal(line[0], "deno");
  const [sub, ...taskFlags] = line.slice(1);
  // Our --output replaces the task's.
  const at = taskFlags.indexOf("--output");
  const rest = extra.includes("--output") && at >= 0 ? taskFlags.toSpliced(at, 2) : taskFlags;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [sub, ...extra, ...rest],
    cwd: ROOT_DIR,
    env,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, `deno ${sub} failed:\n${new TextDecoder().decode(out.stderr)}`);
}

/** A server and a client from `cmd` exchange lines. */
async function transferWith(cmd: string[]) {
  const version = await new Deno.Command(cmd[0], { args: [...cmd.slice(1), "--version"], cwd: "/" })
    .output();
  assert.equal(new TextDecoder().decode(version.stdout), `pudp ${denoJson.version}\n`);
  const server = await startServer(["--timeout", "10"], cmd);
  await using _ = server.process;
  const client = await runClient(server.port, "packaged\nsecond line\n", [], cmd);
  assert.equal(client.code, 0, client.stderr);
  await server.process.closeStdin();
  const out = await server.process.exit();
  assert.match(out.stdout, /\[1\] packaged\n.*\[2\] second line\n/s);
}

Deno.test("packaging: deno task install gives a pudp command that keeps working after the checkout is deleted", async () => {
  const checkout = await Deno.makeTempDir({ prefix: "pudp-checkout-" });
  const root = await Deno.makeTempDir({ prefix: "pudp-install-" });
  try {
    for (const name of ["main.ts", "lib", "scripts", "deno.json", "deno.lock"]) {
      await new Deno.Command("cp", { args: ["-r", `${ROOT_DIR}${name}`, checkout] }).output();
    }
    const install = async (path: string) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "install", "--root", root],
        cwd: checkout,
        env: { PATH: path },
        stdout: "piped",
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(out.stdout);
      assert.ok(out.success, new TextDecoder().decode(out.stderr));
      return text;
    };
    const bin = `${root}/bin`;
    const first = await install("/usr/bin:/bin");
    assert.equal(
      first,
      `installed pudp ${denoJson.version}\n` +
        `  command: ${bin}/pudp\n` +
        `  program: ${root}/lib/pudp (a copy: this checkout can move or go)\n` +
        `${bin} is not on your PATH; add it (e.g. in ~/.profile):\n` +
        `  export PATH="${bin}:$PATH"\n`,
    );
    // Again (an upgrade), with the directory on PATH this time.
    const again = await install(`/usr/bin:${bin}:/bin`);
    assert.match(again, new RegExp(`\n${bin} is on your PATH: run \`pudp --help\`\n$`));
    await Deno.remove(checkout, { recursive: true });
    await transferWith([`${bin}/pudp`]);
  } finally {
    await Deno.remove(checkout, { recursive: true }).catch(() => {});
    await Deno.remove(root, { recursive: true });
  }
});

const denort = Deno.env.get("DENORT_BIN");
if (!denort) {
  console.log(
    "compile test skipped: DENORT_BIN is not set, and deno compile cannot download its denort runtime here",
  );
}

Deno.test({
  name: "packaging: deno task compile gives a single binary that works end to end",
  ignore: !denort,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "pudp-compile-" });
    try {
      await denoTask("compile", ["--output", `${dir}/pudp`], { DENORT_BIN: denort! });
      await transferWith([`${dir}/pudp`]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
