/**
 * The proof every family of `pudp check` owes: each case fails against a
 * peer with the one fault that breaks its rule, and the same peer without a
 * fault passes every case. The cases run in this process (the checker's
 * library, the same runner and targets as `pudp check`); only the peers are
 * started, by their pids, so the proof costs the peers' time, not one
 * `pudp check` start per fault.
 */

import assert from "node:assert/strict";
import type { CaseOptions, CaseResult } from "../../lib/check/case_model.ts";
import { selectCases } from "../../lib/check/case_model.ts";
import { clientPool, serverPool } from "../../lib/check/commands.ts";
import type { CheckFamily } from "../../lib/check/family.ts";
import { runCases } from "../../lib/check/runner.ts";
import { PUDP_MAGIC } from "../../lib/pudp/wire.ts";

/** A case and the fault that makes it fail (`tcp`: run over TCP, for ids). */
export type Fault = [role: "server" | "client", fault: string, id: string, tcp?: "tcp"];

/** How to prove a family's faults. */
export interface FaultMatrix {
  /** The family. */
  family: CheckFamily;
  /** Every case of the family, each with its fault. */
  faults: Fault[];
  /** The peer's command template with `fault` (`none`: the correct peer). */
  peer: (role: "server" | "client", fault: string, tcp: boolean) => string[];
  /** The implementation's own timeout in seconds, per role (the timer cases run). */
  timeout: { server: number; client: number };
  /** The transports the clean peer is run over (`[false, true]`: UDP and TCP, for ids). */
  transports?: boolean[];
  /** Faults proven at once (most cases mostly wait: for a reply, a timer, a peer's exit). */
  parallel?: number;
}

function options(m: FaultMatrix, role: "server" | "client", tcp: boolean): CaseOptions {
  return { timeoutMs: m.timeout[role] * 1000, magic: PUDP_MAGIC, tcp };
}

async function run(
  m: FaultMatrix,
  role: "server" | "client",
  patterns: string[],
  fault: string,
  tcp: boolean,
  jobs: number,
): Promise<CaseResult[]> {
  const template = m.peer(role, fault, tcp);
  const o = options(m, role, tcp);
  if (role === "server") {
    const cases = selectCases(m.family.serverCases, patterns, true);
    const transport = m.family.tcpSwitch && tcp ? "tcp" : m.family.transport;
    return await runCases(cases, serverPool(template, transport, jobs), o);
  }
  const cases = selectCases(m.family.clientCases, patterns, true);
  return await runCases(cases, clientPool(template, jobs), o);
}

function show(r: CaseResult): string {
  const o = r.outcome;
  return `${r.id}: ${o.status}${o.status === "fail" ? ` (${o.expected} / ${o.observed})` : ""}`;
}

/** Asserts that every case has a fault, the clean peer passes all, and each fault fails its case. */
export async function proveFaults(m: FaultMatrix): Promise<void> {
  for (const role of ["server", "client"] as const) {
    const cases = role === "server" ? m.family.serverCases : m.family.clientCases;
    assert.deepEqual(
      cases.map((c) => c.id).toSorted(),
      m.faults.filter(([r]) => r === role).map(([, , id]) => id).toSorted(),
      `every ${role} case has a fault`,
    );
    for (const tcp of m.transports ?? [false]) {
      const clean = await run(m, role, [], "none", tcp, 4);
      const bad = clean.filter((r) => r.outcome.status === "fail");
      assert.deepEqual(bad.map(show), [], `the peer without a fault (${role}, tcp ${tcp})`);
    }
  }
  // Every run ends (none is abandoned by a failing assertion); the misses are listed at the end.
  const misses: string[] = [];
  const queue = [...m.faults];
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const [role, fault, id, transport] = job;
      const [result] = await run(m, role, [id], fault, transport === "tcp", 1);
      if (result?.outcome.status !== "fail") {
        misses.push(`${id} against --fault ${fault}: ${result ? show(result) : "not run"}`);
      }
    }
  };
  await Promise.all(Array.from({ length: m.parallel ?? 8 }, worker));
  assert.deepEqual(misses, []);
}

/**
 * The ids of the cases a course-level run leaves out (the strict ones and
 * the timer ones): with the course run, every case once.
 */
export function beyondCourse(
  cases: readonly { id: string; level: string; needsTimeout?: boolean }[],
): string[] {
  return cases.filter((c) => c.level === "strict" || c.needsTimeout).map((c) => c.id);
}

/** The closing line of a report of `n` cases, none failed. */
export function noneFailed(n: number): RegExp {
  return new RegExp(`^${n} cases?: \\d+ passed, 0 failed, \\d+ skipped`, "m");
}
