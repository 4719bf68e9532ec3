/**
 * Several paced clients sharing one server, in virtual time (the simulator
 * in tests/helpers/crowd_sim.ts: the real client and server machines, a
 * 256-datagram server buffer that drops the rest, a server that stalls now
 * and then, clients started one after another as processes are). Whatever
 * the seed: nothing overflows the buffer, every line is printed, every client
 * exits 0, and the clients share the server fairly.
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { SHARED_BUDGET } from "../../lib/pudp/congestion_window.ts";
import { DEFAULT_CLIENT_OPTIONS } from "../../lib/pudp/client_machine.ts";
import { type CrowdPlan, type CrowdRun, runCrowd } from "../helpers/crowd_sim.ts";

const pure = { permissions: "none" } as const;
const WINDOW = DEFAULT_CLIENT_OPTIONS.window;

/** The invariants every crowd run keeps. */
function assertLossless(plan: CrowdPlan, r: CrowdRun): void {
  const label = `seed ${plan.seed}`;
  assert.equal(r.overflow, 0, `${label}: ${r.overflow} datagrams overflowed the buffer`);
  assert.deepEqual(r.printed, plan.lines, `${label}: lines printed`);
  assert.deepEqual(r.codes, plan.lines.map(() => 0), `${label}: exit codes`);
  // Wrong credits are found and undone: no client ever has more than about
  // two windows of DATA queued at the server (its window, a window of
  // unconfirmed credits, a probe).
  for (const [i, queued] of r.peakQueued.entries()) {
    assert.ok(queued <= 2 * WINDOW + 2, `${label}: client ${i} had ${queued} DATA queued`);
  }
}

Deno.test(
  "crowd model: three clients started one after another never overflow the server, any seed",
  pure,
  () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 31 - 1 }),
        fc.integer({ min: 0, max: 80 }),
        fc.integer({ min: 200, max: 3_000 }),
        (seed, startGapMs, stallEvery) => {
          const plan: CrowdPlan = {
            seed,
            lines: [8_000, 8_000, 8_000],
            startMs: [0, startGapMs, 2 * startGapMs],
            serviceMs: 0.025,
            clientSendMs: 0.015,
            stallEvery,
            stallLongestMs: 30,
          };
          assertLossless(plan, runCrowd(plan));
        },
      ),
      { numRuns: 8 },
    );
  },
);

Deno.test(
  "crowd model: the first client's ledger is not fooled into overrunning the server",
  pure,
  () => {
    // Client 0 starts alone and grows; the others' messages then fill gaps in
    // the server's numbers, which looked like client 0's own lost ALIVEs.
    // Before resynchronisation this took 30–80 wrong credits per run and the
    // server's buffer peaked above 100 (it overflowed in real runs).
    for (let seed = 1; seed <= 4; seed++) {
      const plan: CrowdPlan = {
        seed,
        lines: [30_000, 30_000, 30_000],
        startMs: [0, 40, 90],
        serviceMs: 0.025,
        clientSendMs: 0.015,
      };
      const r = runCrowd(plan);
      assertLossless(plan, r);
      assert.ok(r.peakBuffer <= 2 * SHARED_BUDGET, `seed ${seed}: buffer peak ${r.peakBuffer}`);
    }
  },
);

Deno.test("crowd model: clients started together share the server fairly", pure, () => {
  for (let seed = 1; seed <= 4; seed++) {
    const plan: CrowdPlan = {
      seed,
      lines: [20_000, 20_000, 20_000],
      serviceMs: 0.025,
      clientSendMs: 0.015,
      stallEvery: 1_000,
      stallLongestMs: 20,
    };
    const r = runCrowd(plan);
    assertLossless(plan, r);
    const spans = r.sendSpanMs;
    const ratio = Math.max(...spans) / Math.min(...spans);
    assert.ok(ratio <= 1.5, `seed ${seed}: send spans ${spans.map(Math.round)} (×${ratio})`);
  }
});

Deno.test(
  "crowd model: a client that grew first gives way to later ones (no starvation)",
  pure,
  () => {
    for (let seed = 1; seed <= 4; seed++) {
      // Client 0 has the server to itself for 300 ms, then two more arrive.
      const plan: CrowdPlan = {
        seed,
        lines: [40_000, 20_000, 20_000],
        startMs: [0, 300, 300],
        serviceMs: 0.025,
        clientSendMs: 0.015,
      };
      const r = runCrowd(plan);
      assertLossless(plan, r);
      // Before sharing was fair, the first client kept most of the server:
      // it finished first, and the two late ones 1.4× apart (1,400 and 1,900 ms).
      const [a, b, c] = r.sendSpanMs;
      const spans = r.sendSpanMs.map(Math.round);
      assert.ok(Math.max(b, c) <= 1.1 * Math.min(b, c), `seed ${seed}: spans ${spans}`);
      assert.ok(a > Math.max(b, c), `seed ${seed}: the first client gave way: spans ${spans}`);
      assert.ok(r.peakBuffer <= 2 * SHARED_BUDGET, `seed ${seed}: buffer peak ${r.peakBuffer}`);
    }
  },
);

Deno.test(
  "crowd model: 50 clients through 1% loss all finish, the slowest within 2× the median",
  pure,
  () => {
    const plan: CrowdPlan = {
      seed: 5,
      lines: new Array(50).fill(1_000),
      serviceMs: 0.02,
      clientSendMs: 0.015,
      pathLoss: 0.01,
    };
    const r = runCrowd(plan);
    assert.equal(r.overflow, 0);
    assert.deepEqual(r.codes, plan.lines.map(() => 0));
    const spans = [...r.sendSpanMs].sort((x, y) => x - y);
    const median = spans[25];
    assert.ok(spans[49] <= 2 * median, `spans ${spans[0]}…${median}…${spans[49]} ms`);
  },
);

Deno.test("crowd model: the model does overflow when clients are unpaced", pure, () => {
  const r = runCrowd({ seed: 1, lines: [3_000, 3_000, 3_000], window: 0, serviceMs: 0.025 });
  assert.ok(r.overflow > 0, "the simulated buffer must overflow, or the tests prove nothing");
});
