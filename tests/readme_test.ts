/**
 * The README is the entry point and `docs/` the manual: the README stays
 * small, lists every command with a link to its page, and keeps the general
 * options table; every flag a command's `--help` lists is in a table row of
 * that command's section of its page; and every link in the README and
 * `docs/` (subfolders too) stays inside the repository and points at
 * something that exists (a file, or a heading of the page).
 */

import assert from "node:assert/strict";
import type { Command, Group } from "../lib/cli/command_tree.ts";
import { PROGRAM, ROOT } from "../main.ts";
import { ROOT_DIR } from "./helpers/cli.ts";

const README = await Deno.readTextFile(`${ROOT_DIR}README.md`);

/** The most bytes README.md may have: the manual is in `docs/`. */
const README_MAX_BYTES = 25_000;

/** Each command's page, by its path (`ids server`); a family shares one page, a section each. */
const PAGES: Record<string, string> = {
  "server": "docs/server.md",
  "client": "docs/client.md",
  "impair": "docs/impair.md",
  "ids server": "docs/ids.md",
  "ids client": "docs/ids.md",
  "frame server": "docs/frame.md",
  "frame client": "docs/frame.md",
  "pipe server": "docs/pipe.md",
  "pipe client": "docs/pipe.md",
  "blast server": "docs/blast.md",
  "blast client": "docs/blast.md",
  "check server": "docs/check.md",
  "check client": "docs/check.md",
  "check ids server": "docs/check-ids.md",
  "check ids client": "docs/check-ids.md",
  "check frame server": "docs/check-frame.md",
  "check frame client": "docs/check-frame.md",
  "check pipe server": "docs/check-pipe.md",
  "check pipe client": "docs/check-pipe.md",
};

/** Every command with its path (`ids server`). */
function commands(group: Group, prefix: string[] = []): { path: string[]; command: Command }[] {
  return group.children.flatMap((c) =>
    c.kind === "command"
      ? [{ path: [...prefix, c.name], command: c }]
      : commands(c, [...prefix, c.name])
  );
}

/** The lines of a Markdown text, with those inside fenced code blocks blanked. */
function outsideCode(text: string): string[] {
  let fenced = false;
  return text.split("\n").map((line) => {
    if (line.startsWith("```")) {
      fenced = !fenced;
      return "";
    }
    return fenced ? "" : line;
  });
}

/** The level of a heading line (`## x` is 2), or 0. */
function level(line: string): number {
  return /^(#{1,6}) /.exec(line)?.[1].length ?? 0;
}

/**
 * The section of `text` under the first heading that `matches`: up to the next heading of the same
 * or a higher level (a page's `#` title is the whole page).
 */
function section(text: string, matches: (heading: string) => boolean, what: string): string {
  const lines = text.split("\n");
  const plain = outsideCode(text);
  const start = plain.findIndex((l) => level(l) > 0 && matches(l));
  assert.ok(start >= 0, `a heading for ${what}`);
  const end = plain.findIndex((l, i) =>
    i > start && level(l) > 0 && level(l) <= level(plain[start])
  );
  return lines.slice(start, end < 0 ? undefined : end).join("\n");
}

/** The options an `Options:` list of a help text names, as a table writes them (`-h, --help`). */
function helpFlags(help: string): string[] {
  return [...help.matchAll(/^ {2}((?:-\w, )?--[a-z-]+)/gm)].map((m) => m[1]);
}

/** The table rows of a section (outside code blocks). */
function rows(text: string): string[] {
  return outsideCode(text).filter((l) => l.startsWith("|"));
}

/** GitHub's anchor of a heading. */
function anchor(heading: string): string {
  return heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replace(/ /g, "-");
}

/** Every Markdown file under `docs/`, subfolders included, as `docs/…` paths. */
async function docsPages(dir = "docs"): Promise<string[]> {
  const pages: string[] = [];
  for await (const e of Deno.readDir(`${ROOT_DIR}${dir}`)) {
    if (e.isDirectory) pages.push(...await docsPages(`${dir}/${e.name}`));
    else if (e.name.endsWith(".md")) pages.push(`${dir}/${e.name}`);
  }
  return pages.sort();
}

Deno.test({
  name: `readme: README.md is at most ${README_MAX_BYTES} bytes`,
  permissions: { read: true },
  async fn() {
    const { size } = await Deno.stat(`${ROOT_DIR}README.md`);
    assert.ok(size <= README_MAX_BYTES, `README.md is ${size} bytes, over ${README_MAX_BYTES}`);
  },
});

Deno.test({
  name:
    "readme: the general options (-h, --help, --verbose, -V, --version) are in its Commands table",
  permissions: { read: true },
  fn() {
    const general = rows(section(README, (h) => h === "## Commands", "## Commands in README.md"));
    const flags = [...helpFlags(PROGRAM.rootTrailer), "--verbose"];
    assert.ok(flags.includes("-h, --help") && flags.includes("-V, --version"), flags.join(" "));
    for (const flag of flags) {
      assert.ok(general.some((r) => r.includes(`| \`${flag}`)), `README.md: a row for ${flag}`);
    }
  },
});

Deno.test({
  name: "readme: its Commands table has a row per command, linking to the command's page",
  permissions: { read: true },
  fn() {
    const index = rows(section(README, (h) => h === "## Commands", "## Commands in README.md"));
    for (const { path } of commands(ROOT)) {
      const page = PAGES[path.join(" ")];
      assert.ok(page, `pudp ${path.join(" ")} has a page in PAGES`);
      const row = index.filter((r) => r.startsWith(`| [\`pudp ${path.join(" ")} `));
      assert.equal(row.length, 1, `README.md: one row for pudp ${path.join(" ")}`);
      assert.ok(row[0].includes(`](${page}`), `README.md: pudp ${path.join(" ")} links to ${page}`);
    }
  },
});

Deno.test({
  name: "readme: every flag of every command's --help is in a table row of its page's section",
  permissions: { read: true },
  async fn() {
    for (const { path, command } of commands(ROOT)) {
      const name = `pudp ${path.join(" ")}`;
      const page = PAGES[path.join(" ")];
      assert.ok(page, `${name} has a page in PAGES`);
      const text = await Deno.readTextFile(`${ROOT_DIR}${page}`);
      assert.ok(text.includes("[Back to the README](../README.md"), `${page}: a link back`);
      const help = command.help(name);
      const usage = /^Usage: (.*)$/m.exec(help)?.[1];
      assert.ok(usage, `usage of ${name}: ${help}`);
      const own = section(text, (h) => h.includes(`\`${name} `), `${name} in ${page}`);
      assert.ok(own.includes(`Usage: \`${usage}\``), `${page}: ${name}'s usage line: ${usage}`);
      const flags = helpFlags(help);
      assert.ok(flags.length > 1, `flags of ${name}: ${help}`);
      const table = rows(own);
      for (const flag of flags) {
        assert.ok(
          table.some((r) => r.startsWith(`| \`${flag}`)),
          `${name} ${flag} is in a table row of its section of ${page}`,
        );
      }
    }
  },
});

Deno.test({
  name: "readme: links stay in the repository and point at files and headings that exist",
  permissions: { read: true },
  async fn() {
    const pages = ["README.md", ...await docsPages()];
    assert.ok(pages.length > 10, pages.join(" "));
    for (const page of pages) {
      const text = outsideCode(await Deno.readTextFile(`${ROOT_DIR}${page}`)).join("\n");
      const dir = page.includes("/") ? page.slice(0, page.lastIndexOf("/") + 1) : "";
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        assert.doesNotMatch(target, /^[a-z]+:/i, `${page}: ${target} leaves the repository`);
        const [file, hash] = target.split("#");
        const resolved = new URL(file, `file:///repo/${dir}`).pathname;
        assert.ok(resolved.startsWith("/repo/"), `${page}: ${target} leaves the repository`);
        const path = file === "" ? page : decodeURIComponent(resolved.slice("/repo/".length));
        const body = await Deno.readTextFile(`${ROOT_DIR}${path}`).catch(() => undefined);
        assert.ok(body !== undefined, `${page}: ${target} exists`);
        if (hash) {
          const anchors = outsideCode(body).filter((l) => level(l) > 0).map((l) =>
            anchor(l.replace(/^#+ /, ""))
          );
          assert.ok(anchors.includes(hash), `${page}: #${hash} is a heading of ${path}`);
        }
      }
    }
  },
});
