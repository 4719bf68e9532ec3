/**
 * The reports of `pudp check`, pure: an h2spec-style tree of the cases
 * grouped by section (✓ passed, ✗ failed, - skipped) with, under each
 * failure, what was expected, what was observed, the program's output and
 * the case's wire trace; `--json` (one object per case) and `--junit`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import type { CaseResult } from "./case_model.ts";
 *
 * const base = { title: "t", row: "r", level: "course" as const, ms: 1, trace: [] };
 * const results: CaseResult[] = [
 *   { ...base, id: "server/hello/created", outcome: { status: "pass" } },
 *   { ...base, id: "server/data/in-order", outcome: { status: "fail", expected: "ALIVE", observed: "nothing" } },
 * ];
 * const text = textReport("PUDP server", results, 1000);
 * assert.match(text, /  ✓ server\/hello\/created: t/);
 * assert.match(text, /expected: ALIVE/);
 * assert.match(text, /2 cases: 1 passed, 1 failed, 0 skipped/);
 * assert.equal(JSON.parse(jsonReport(results).split("\n")[1]).status, "fail");
 * assert.match(junitReport("pudp check server", results), /<failure message="expected: ALIVE/);
 * assert.equal(checkStatus(results), 1);
 * ```
 *
 * @module
 */

import { escapeText } from "../io/terminal_text.ts";
import { type CaseResult, sectionOf } from "./case_model.ts";
import { formatTrace } from "./trace.ts";

const MARK = { pass: "✓", fail: "✗", skip: "-" } as const;

function indent(text: string, by: string): string {
  return text.split("\n").map((l) => by + l).join("\n");
}

/** The tree of results under `heading`, with each failure's details and a closing count. */
export function textReport(
  heading: string,
  results: readonly CaseResult[],
  ms: number,
  magic?: number,
): string {
  const out: string[] = [heading];
  let section = "";
  for (const r of results) {
    if (sectionOf(r.id) !== section) {
      section = sectionOf(r.id);
      out.push(`  ${section}`);
    }
    const strict = r.level === "strict" ? " [strict]" : "";
    const o = r.outcome;
    out.push(`    ${MARK[o.status]} ${r.id}: ${r.title}${strict}`);
    if (o.status === "skip") out.push(`        skipped: ${o.reason}`);
    if (o.status !== "fail") continue;
    out.push(`        row: "${r.row}"`);
    out.push(indent(`expected: ${escapeText(o.expected, true)}`, "        "));
    out.push(indent(`observed: ${escapeText(o.observed, true)}`, "        "));
    if (r.trace.length > 0) {
      out.push("        trace:");
      for (const line of formatTrace(r.trace, magic)) out.push("        " + line);
    }
    if (r.program) out.push(indent(escapeText(r.program, true), "        "));
  }
  const n = (s: string) => results.filter((r) => r.outcome.status === s).length;
  out.push("");
  out.push(
    `${results.length} case${results.length === 1 ? "" : "s"}: ${n("pass")} passed, ${
      n("fail")
    } failed, ${n("skip")} skipped (${(ms / 1000).toFixed(1)} s)`,
  );
  return out.join("\n") + "\n";
}

/** One JSON object per case per line. */
export function jsonReport(results: readonly CaseResult[], magic?: number): string {
  return results.map((r) => {
    const o = r.outcome;
    return JSON.stringify({
      id: r.id,
      title: r.title,
      level: r.level,
      row: r.row,
      status: o.status,
      ms: Math.round(r.ms),
      ...(o.status === "fail"
        ? {
          expected: o.expected,
          observed: o.observed,
          trace: formatTrace(r.trace, magic),
          program: r.program,
        }
        : {}),
      ...(o.status === "skip" ? { reason: o.reason } : {}),
    });
  }).join("\n") + "\n";
}

function xml(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f]/g, "").replace(/&/g, "&amp;").replace(
    /</g,
    "&lt;",
  )
    .replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/** A JUnit XML report: one testsuite, one testcase per case. */
export function junitReport(name: string, results: readonly CaseResult[], magic?: number): string {
  const n = (s: string) => results.filter((r) => r.outcome.status === s).length;
  const seconds = results.reduce((a, r) => a + r.ms, 0) / 1000;
  const out = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<testsuites>`,
    `<testsuite name="${xml(name)}" tests="${results.length}" failures="${n("fail")}" skipped="${
      n("skip")
    }" time="${seconds.toFixed(3)}">`,
  ];
  for (const r of results) {
    const head = `<testcase classname="${xml(sectionOf(r.id))}" name="${xml(r.id)}" time="${
      (r.ms / 1000).toFixed(3)
    }">`;
    const o = r.outcome;
    if (o.status === "pass") out.push(head + `</testcase>`);
    else if (o.status === "skip") {
      out.push(head + `<skipped message="${xml(o.reason)}"/></testcase>`);
    } else {
      const body = [
        `row: ${r.row}`,
        `expected: ${o.expected}`,
        `observed: ${o.observed}`,
        ...formatTrace(r.trace, magic),
        r.program ?? "",
      ]
        .join("\n");
      out.push(
        head + `<failure message="expected: ${xml(o.expected)}">${xml(body)}</failure></testcase>`,
      );
    }
  }
  out.push(`</testsuite>`, `</testsuites>`);
  return out.join("\n") + "\n";
}

/** The list of cases (`--list`): id, level and title, one a line. */
export function listReport(
  cases: readonly { id: string; level: string; title: string; needsTimeout?: boolean }[],
): string {
  const width = Math.max(...cases.map((c) => c.id.length));
  return cases.map((c) =>
    `${c.id.padEnd(width)}  ${c.level.padEnd(6)}  ${c.title}${
      c.needsTimeout ? " (needs --timeout)" : ""
    }`
  ).join("\n") + "\n";
}

/** 0 when every case passed or was skipped, 1 when any failed. */
export function checkStatus(results: readonly CaseResult[]): number {
  return results.some((r) => r.outcome.status === "fail") ? 1 : 0;
}
