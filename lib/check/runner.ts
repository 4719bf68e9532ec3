/**
 * Runs the selected cases of a family against a target: each case gets its
 * target from a {@link TargetPool} (a fresh program, or the one running
 * server), a trace and a bound on its time; up to `parallel` cases run at
 * once when they do not share a target. A case that throws fails with the
 * error as what was observed.
 *
 * @module
 */

import type { CaseOptions, CaseResult, CheckCase, Outcome } from "./case_model.ts";
import { fail, skip } from "./case_model.ts";
import { Trace } from "./trace.ts";

/** Where a case's target comes from and where it goes after. */
export interface TargetPool<T> {
  /** How many cases may run at once. */
  readonly parallel: number;
  /** A target for one case (throws when it cannot be had: the case fails). */
  acquire(): Promise<T>;
  /** Lets go of it (stops a program by its pid); says what the program did, if there was one. */
  release(target: T): Promise<string | undefined>;
}

/** The most a case may take beyond the implementation's timeout. */
const CASE_BOUND_MS = 30_000;

async function runOne<T>(
  c: CheckCase<T>,
  pool: TargetPool<T>,
  o: CaseOptions,
): Promise<CaseResult> {
  let trace = new Trace();
  const result = (outcome: Outcome, program?: string): CaseResult => ({
    id: c.id,
    title: c.title,
    row: c.row,
    level: c.level,
    outcome,
    ms: trace.now(),
    trace: trace.entries,
    program,
  });
  if (c.needsTimeout && o.timeoutMs === undefined) {
    return result(skip("needs --timeout (the implementation's own timeout)"));
  }
  let target: T;
  try {
    target = await pool.acquire();
  } catch (e) {
    return result(fail("the target to start", e instanceof Error ? e.message : String(e)));
  }
  trace = new Trace(); // the trace's clock starts once the target is up
  let outcome: Outcome;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const bound = CASE_BOUND_MS + (o.timeoutMs ?? 0);
    outcome = await Promise.race([
      c.run(target, trace, o),
      new Promise<Outcome>((r) =>
        timer = setTimeout(() => r(fail(`the case to end within ${bound} ms`, "it did not")), bound)
      ),
    ]);
  } catch (e) {
    outcome = fail("the case to run", `error: ${e instanceof Error ? e.message : String(e)}`);
  } finally {
    clearTimeout(timer);
  }
  const program = await pool.release(target);
  return result(outcome, outcome.status === "fail" ? program : undefined);
}

/**
 * Runs `cases` against `pool`; calls `onResult` as each ends; returns the
 * results in the cases' order.
 */
export async function runCases<T>(
  cases: readonly CheckCase<T>[],
  pool: TargetPool<T>,
  options: CaseOptions,
  onResult?: (r: CaseResult) => void,
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      results[i] = await runOne(cases[i], pool, options);
      onResult?.(results[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, pool.parallel) }, worker));
  return results;
}
