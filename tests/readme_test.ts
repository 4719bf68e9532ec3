/**
 * The README is the user's manual: every flag a command's `--help` lists is
 * in a table row of that command's section, and every link in the README
 * and `docs/` stays inside the repository and points at something that
 * exists (a file, or a heading of the page).
 */

import assert from "node:assert/strict";
import type { Command, Group } from "../lib/cli/command_tree.ts";
import { ROOT } from "../main.ts";
import { ROOT_DIR } from "./helpers/cli.ts";

const README = await Deno.readTextFile(`${ROOT_DIR}README.md`);

/** Every command with its path (`ids server`). */
function commands(group: Group, prefix: string[] = []): { path: string[]; command: Command }[] {
  return group.children.flatMap((c) =>
    c.kind === "command"
      ? [{ path: [...prefix, c.name], command: c }]
      : commands(c, [...prefix, c.name])
  );
}

/** The README's section whose `###` heading names `pudp <path>`: up to the next heading. */
function sectionOf(path: string[]): string {
  const lines = README.split("\n");
  const start = lines.findIndex((l) =>
    l.startsWith("### ") && l.includes(`\`pudp ${path.join(" ")} `)
  );
  assert.ok(start >= 0, `a ### section for pudp ${path.join(" ")}`);
  const end = lines.findIndex((l, i) => i > start && /^#{2,3} /.test(l));
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** GitHub's anchor of a heading. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

Deno.test({
  name: "readme: every flag of every command's --help is in a table row of its section",
  permissions: { read: true },
  fn() {
    const general = README.slice(README.indexOf("## Commands"), README.indexOf("### `pudp server"));
    assert.match(general, /\| `-h, --help` \|/);
    for (const { path, command } of commands(ROOT)) {
      const help = command.help(`pudp ${path.join(" ")}`);
      const flags = [...help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]);
      assert.ok(flags.length > 1, `flags of ${path.join(" ")}: ${help}`);
      const section = sectionOf(path);
      const rows = section.split("\n").filter((l) => l.startsWith("|"));
      for (const flag of flags) {
        if (flag === "--help") continue;
        assert.ok(
          rows.some((r) => r.includes(`\`${flag}`)),
          `pudp ${path.join(" ")} ${flag} is in a table of its README section`,
        );
      }
    }
  },
});

Deno.test({
  name: "readme: links stay in the repository and point at files and headings that exist",
  permissions: { read: true },
  async fn() {
    const pages = ["README.md"];
    for await (const e of Deno.readDir(`${ROOT_DIR}docs`)) pages.push(`docs/${e.name}`);
    for (const page of pages) {
      const text = await Deno.readTextFile(`${ROOT_DIR}${page}`);
      const dir = page.includes("/") ? page.slice(0, page.lastIndexOf("/") + 1) : "";
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        assert.doesNotMatch(target, /^[a-z]+:/i, `${page}: ${target} leaves the repository`);
        const [file, hash] = target.split("#");
        const path = file === "" ? page : new URL(file, `file:///${dir}`).pathname.slice(1);
        assert.ok(!path.startsWith("..") && !path.startsWith("/"), `${page}: ${target}`);
        const body = await Deno.readTextFile(`${ROOT_DIR}${path}`).catch(() => undefined);
        assert.ok(body !== undefined, `${page}: ${target} exists`);
        if (hash) {
          const anchors = [...body.matchAll(/^#+ (.*)$/gm)].map((m) => anchor(m[1]));
          assert.ok(anchors.includes(hash), `${page}: #${hash} is a heading of ${path}`);
        }
      }
    }
  },
});
