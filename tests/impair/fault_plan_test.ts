import assert from "node:assert/strict";
import { decide, type FaultOptions, NO_FAULTS, unitDraw } from "../../lib/impair/fault_plan.ts";

const pure = { permissions: "none" } as const;

const faults = (o: Partial<FaultOptions>): FaultOptions => ({ ...NO_FAULTS, ...o });

Deno.test("fault plan: the same seed gives the same decisions, another seed others", pure, () => {
  const a = faults({ loss: 0.3, dup: 0.3, reorder: 0.3, jitterMs: 5, seed: 7 });
  const same = Array.from({ length: 200 }, (_, n) => decide(a, 0, "up", n));
  assert.deepEqual(same, Array.from({ length: 200 }, (_, n) => decide(a, 0, "up", n)));
  const other = Array.from({ length: 200 }, (_, n) => decide({ ...a, seed: 8 }, 0, "up", n));
  assert.notDeepEqual(same, other);
});

Deno.test("fault plan: decisions do not depend on other flows or the other direction", pure, () => {
  const o = faults({ loss: 0.5, seed: 3 });
  const up = Array.from({ length: 100 }, (_, n) => decide(o, 2, "up", n).drop);
  // Interleaving other decisions changes nothing: each is a function of its own inputs.
  for (let n = 0; n < 100; n++) decide(o, 1, "down", n);
  assert.deepEqual(up, Array.from({ length: 100 }, (_, n) => decide(o, 2, "up", n).drop));
  assert.notDeepEqual(up, Array.from({ length: 100 }, (_, n) => decide(o, 2, "down", n).drop));
});

Deno.test("fault plan: rates come out as asked", pure, () => {
  const o = faults({ loss: 0.1, dup: 0.2, reorder: 0.05, seed: 11 });
  const N = 100_000;
  let drop = 0, dup = 0, reorder = 0;
  for (let n = 0; n < N; n++) {
    const d = decide(o, 0, "up", n);
    if (d.drop) drop++;
    if (d.duplicate) dup++;
    if (d.reorder) reorder++;
  }
  assert.ok(Math.abs(drop / N - 0.1) < 0.01, `loss ${drop / N}`);
  // Duplication and reordering apply to what is not dropped.
  assert.ok(Math.abs(dup / N - 0.9 * 0.2) < 0.01, `dup ${dup / N}`);
  assert.ok(Math.abs(reorder / N - 0.9 * 0.05) < 0.01, `reorder ${reorder / N}`);
});

Deno.test("fault plan: --direction limits the faults; delay and jitter stay in range", pure, () => {
  const o = faults({ loss: 1, direction: "down", seed: 1 });
  for (let n = 0; n < 50; n++) {
    assert.equal(decide(o, 0, "up", n).drop, false);
    assert.equal(decide(o, 0, "down", n).drop, true);
  }
  const j = faults({ delayMs: 10, jitterMs: 4 });
  for (let n = 0; n < 1000; n++) {
    const d = decide(j, 0, "up", n).delayMs;
    assert.ok(d >= 6 && d <= 14, `delay ${d}`);
  }
  const clamped = faults({ delayMs: 1, jitterMs: 10 });
  for (let n = 0; n < 1000; n++) assert.ok(decide(clamped, 0, "up", n).delayMs >= 0);
});

Deno.test("fault plan: draws are uniform in [0, 1)", pure, () => {
  const buckets = new Array(10).fill(0);
  for (let n = 0; n < 50_000; n++) {
    const u = unitDraw(5, 0, true, n, 1);
    assert.ok(u >= 0 && u < 1);
    buckets[Math.floor(u * 10)]++;
  }
  for (const b of buckets) assert.ok(Math.abs(b - 5000) < 400, `bucket ${b}`);
});
