/**
 * The case model of `pudp check`: a case is data (a stable id, a title, the
 * rule it checks, a level) plus the function that runs it against a
 * target. Families (PUDP now; ids, frame and pipe later) each give a list of
 * {@link CheckCase}s for their role; the runner, targets and reporters are
 * shared. Selecting the cases to run is pure ({@link selectCases}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const mk = (id: string, level: Level): CheckCase<null> => ({
 *   id, title: id, row: "", level, run: () => Promise.resolve(pass()),
 * });
 * const all = [mk("server/hello/created", "course"), mk("server/hello/repeat", "strict"),
 *   mk("server/data/in-order", "course")];
 * assert.deepEqual(selectCases(all, [], false).map((c) => c.id),
 *   ["server/hello/created", "server/data/in-order"]);
 * assert.deepEqual(selectCases(all, ["server/hello"], true).map((c) => c.id),
 *   ["server/hello/created", "server/hello/repeat"]);
 * assert.deepEqual(selectCases(all, ["server/hello/repeat"], false).map((c) => c.id),
 *   ["server/hello/repeat"]); // named by its full id: run even when strict
 * assert.throws(() => selectCases(all, ["server/nope"], false), /no case matches/);
 * assert.equal(sectionOf("server/hello/created"), "server/hello");
 * ```
 *
 * @module
 */

import { UsageError } from "../util/errors.ts";
import type { TraceEntry } from "./trace.ts";

/** `course`: what the course handout requires (the default); `strict`: pudp's stricter rules. */
export type Level = "course" | "strict";

/** How a case ended. */
export type Outcome =
  | { status: "pass" }
  | { status: "fail"; expected: string; observed: string }
  | { status: "skip"; reason: string };

/** A passed case. */
export function pass(): Outcome {
  return { status: "pass" };
}

/** A failed case: what the row expects and what was seen. */
export function fail(expected: string, observed: string): Outcome {
  return { status: "fail", expected, observed };
}

/** A skipped case and why. */
export function skip(reason: string): Outcome {
  return { status: "skip", reason };
}

/** What every case is given besides its target. */
export interface CaseOptions {
  /** The implementation's own timeout in ms (`--timeout`), for the timer cases. */
  timeoutMs?: number;
  /** The magic number to speak (`--magic`). */
  magic: number;
  /** The PUDP version byte to speak (`--wire-version`; undefined: the standard 1). */
  version?: number;
  /** Over TCP instead of UDP (`--tcp`: the ids family). */
  tcp?: boolean;
}

/** One conformance case. `T` is the target it runs against. */
export interface CheckCase<T> {
  /** Stable id, `role/section/name` (`server/hello/created`). */
  readonly id: string;
  /** What it checks, one line. */
  readonly title: string;
  /** The rule it checks, in the rule's words (as pudp's behaviour page states it). */
  readonly row: string;
  /** `course` or `strict`. */
  readonly level: Level;
  /** Runs only when the implementation's `--timeout` is given. */
  readonly needsTimeout?: boolean;
  /** Runs the case; records its datagrams in `trace`. */
  run(target: T, trace: TraceSink, options: CaseOptions): Promise<Outcome>;
}

/** Where a case records its datagrams. */
export interface TraceSink {
  /** Records a datagram or segment; `text` describes it (else it is decoded as PUDP). */
  add(dir: TraceEntry["dir"], port: number, bytes: Uint8Array, note?: string, text?: string): void;
  /** Milliseconds since the case began. */
  now(): number;
}

/** The result of one case. */
export interface CaseResult {
  /** The case's id. */
  id: string;
  /** Its title. */
  title: string;
  /** The rule. */
  row: string;
  /** Its level. */
  level: Level;
  /** How it ended. */
  outcome: Outcome;
  /** How long it ran, ms. */
  ms: number;
  /** Its datagrams. */
  trace: TraceEntry[];
  /** What the spawned program wrote (stdout, stderr, exit status), when there was one. */
  program?: string;
}

/** `server/hello/created` → `server/hello`. */
export function sectionOf(id: string): string {
  return id.slice(0, id.lastIndexOf("/"));
}

/**
 * The cases to run: with no patterns, every course case (and strict ones
 * with `strict`); a pattern is a full id (run whatever its level) or a
 * prefix ending at a `/` boundary (its cases at the chosen level). A
 * pattern matching nothing is a usage error.
 */
export function selectCases<C extends { id: string; level: Level }>(
  all: readonly C[],
  patterns: readonly string[],
  strict: boolean,
): C[] {
  const levelOk = (c: C) => strict || c.level === "course";
  if (patterns.length === 0) return bySection(all.filter(levelOk));
  const chosen = new Set<C>();
  for (const p of patterns) {
    const prefix = p.endsWith("/") ? p : p + "/";
    const hits = all.filter((c) => c.id === p || (c.id.startsWith(prefix) && levelOk(c)));
    const any = all.some((c) => c.id === p || c.id.startsWith(prefix));
    if (!any) throw new UsageError(`no case matches '${p}' (pudp check … --list shows them)`);
    for (const c of hits) chosen.add(c);
  }
  return bySection(all.filter((c) => chosen.has(c)));
}

/** The cases grouped by section, sections in order of first appearance, cases in order within. */
function bySection<C extends { id: string }>(cases: C[]): C[] {
  const order = new Map<string, number>();
  for (const c of cases) if (!order.has(sectionOf(c.id))) order.set(sectionOf(c.id), order.size);
  return cases.map((c, i) => ({ c, i })).sort((a, b) =>
    order.get(sectionOf(a.c.id))! - order.get(sectionOf(b.c.id))! || a.i - b.i
  ).map(({ c }) => c);
}
