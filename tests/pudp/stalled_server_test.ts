/**
 * Paced clients against a server that stalls, all pure, in virtual time (the
 * crowd simulator: the real ClientMachine and ServerMachine machines, a
 * server socket buffer that holds 256 datagrams and drops the rest, and a
 * server that now and then stops reading it for a while, as `pudp server`
 * does while its stdout is a pipe read slowly). The path loses nothing: any
 * datagram dropped is one the clients sent into a full buffer, a line lost.
 */

import assert from "node:assert/strict";
import { runCrowd } from "../helpers/crowd_sim.ts";

const pure = { permissions: "none" } as const;

for (const plan of [{ every: 50, longestMs: 20 }, { every: 200, longestMs: 60 }]) {
  Deno.test(
    `stalled server: three clients never overrun a server that stalls up to ${plan.longestMs} ms every ~${plan.every} datagrams`,
    pure,
    () => {
      for (let seed = 1; seed <= 6; seed++) {
        const r = runCrowd({
          seed,
          lines: [5_000, 5_000, 5_000],
          serviceMs: 0.005,
          oneWayMs: 0.05,
          stallEvery: plan.every,
          stallLongestMs: plan.longestMs,
        });
        assert.ok(r.stalls > 20, `seed ${seed}: the server must stall, or the test proves nothing`);
        assert.equal(r.overflow, 0, `seed ${seed}: ${r.overflow} dropped in ${r.stalls} stalls`);
        assert.deepEqual(r.printed, [5_000, 5_000, 5_000], `seed ${seed}`);
        assert.deepEqual(r.codes, [0, 0, 0], `seed ${seed}`);
      }
    },
  );
}
