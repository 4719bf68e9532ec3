/** `deno task demo` — the README's first command — transfers the sample file. */

import assert from "node:assert/strict";
import { ROOT_DIR } from "./helpers/cli.ts";

Deno.test("demo: the sample file arrives and both processes exit 0", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--allow-read", "--allow-run", "scripts/demo.ts"],
    cwd: ROOT_DIR,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  const sample = (await Deno.readTextFile(`${ROOT_DIR}scripts/sample.txt`)).trimEnd().split("\n");
  for (const [i, line] of sample.entries()) {
    assert.match(text, new RegExp(`^0x[0-9a-f]{8} \\[${i + 1}\\] ${RegExp.escape(line)}$`, "m"));
  }
  assert.match(text, /1 sessions, 9 messages, 0 lost/);
});
