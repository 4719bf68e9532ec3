/**
 * Many paced clients against one server, all pure (the crowd simulator: the
 * real ClientMachine and ServerMachine machines, joined by a simulated
 * server socket buffer that holds 256 datagrams, what a default Linux buffer
 * holds of small ones, and drops the rest). All clients start at the same
 * moment. Nothing may be dropped, and every line must be printed.
 */

import assert from "node:assert/strict";
import { runCrowd } from "../helpers/crowd_sim.ts";

const pure = { permissions: "none" } as const;

Deno.test("fan-in: 200 paced clients never overflow a 256-datagram buffer", pure, () => {
  const lines = new Array(200).fill(50);
  const r = runCrowd({ seed: 1, lines, window: 32, serviceMs: 0.01 });
  assert.equal(r.overflow, 0, `peak buffer ${r.peakBuffer}`);
  assert.deepEqual(r.printed, lines);
});

Deno.test("fan-in: 20 paced clients with larger windows", pure, () => {
  const lines = new Array(20).fill(500);
  const r = runCrowd({ seed: 2, lines, window: 64, serviceMs: 0.01 });
  assert.equal(r.overflow, 0, `peak buffer ${r.peakBuffer}`);
  assert.deepEqual(r.printed, lines);
});

Deno.test("fan-in: the model does lose data when clients are unpaced", pure, () => {
  const r = runCrowd({ seed: 3, lines: new Array(20).fill(500), window: 0, serviceMs: 0.01 });
  assert.ok(r.overflow > 0, "the simulated buffer must overflow, or the test proves nothing");
});
