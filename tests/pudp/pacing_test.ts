import assert from "node:assert/strict";
import {
  INITIAL_WINDOW,
  MAX_ENTRY_AGE_MS,
  MAX_QUIET_MS,
  MIN_QUIET_MS,
  PacingWindow,
} from "../../lib/pudp/pacing.ts";

const pure = { permissions: "none" } as const;

/** Sends while allowed (at most `limit`), returns how many went. */
function fill(w: PacingWindow, now: number, size = 10, limit = 1000): number {
  let n = 0;
  while (n < limit && w.canSend(size)) {
    w.onSend(size, now);
    n++;
  }
  return n;
}

Deno.test("pacing window: 0 means unpaced", pure, () => {
  const w = new PacingWindow(0, 100);
  assert.equal(fill(w, 0), 1000);
  assert.equal(w.recoverAt(), undefined);
});

Deno.test("pacing window: starts small and grows per ALIVE up to the limit", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(1);
  assert.equal(fill(w, 0), INITIAL_WINDOW);
  let now = 0;
  for (let round = 0; round < 20; round++) {
    now += 1;
    const n = w.inFlight;
    for (let i = 0; i < n; i++) w.onAlive(now);
    fill(w, now);
  }
  assert.equal(w.window, 32);
  assert.equal(w.inFlight, 32);
});

Deno.test("pacing window: one message is always allowed; bytes bound the rest", pure, () => {
  const w = new PacingWindow(32, 1000);
  assert.equal(w.canSend(5000), true, "nothing in flight");
  w.onSend(5000, 0);
  assert.equal(w.canSend(1), false);
  w.onAlive(1);
  assert.equal(fill(w, 1, 400), 2);
});

Deno.test(
  "pacing window: each silent expiry grants one probe; the third resets to one",
  pure,
  () => {
    const w = new PacingWindow(32, 1 << 20);
    w.sampleRtt(0); // quiet = MIN_QUIET_MS
    const first = fill(w, 100);
    assert.equal(w.recoverAt(), 100 + MIN_QUIET_MS);
    w.onQuiet(105);
    assert.equal(fill(w, 105), 1, "one probe");
    assert.equal(w.recoverAt(), 105 + 2 * MIN_QUIET_MS, "doubled");
    w.onQuiet(115);
    assert.equal(fill(w, 115), 1, "another probe");
    assert.equal(w.inFlight, first + 2, "nothing forgotten yet");
    w.onQuiet(135);
    assert.equal(w.stats.resets, 1);
    assert.equal(w.inFlight, 0, "third silent expiry: outstanding taken as gone");
    assert.equal(fill(w, 135), 1, "window of one");
    for (let i = 0; i < 30; i++) w.onQuiet(200);
    assert.equal(w.quietMs, MAX_QUIET_MS, "bounded");
    w.onAlive(300);
    assert.equal(w.quietMs, MIN_QUIET_MS, "an ALIVE resets the backoff");
  },
);

Deno.test(
  "pacing window: late ALIVEs after a stall cannot open the window beyond its size",
  pure,
  () => {
    // The server stalls with a full window in its buffer, then answers it all.
    const w = new PacingWindow(8, 1 << 20);
    w.sampleRtt(0);
    let now = 0;
    for (let r = 0; r < 10; r++) {
      fill(w, now);
      const n = w.inFlight;
      for (let i = 0; i < n; i++) w.onAlive(now);
    }
    fill(w, now);
    assert.equal(w.inFlight, 8);
    now += MIN_QUIET_MS;
    w.onQuiet(now); // one expiry: a probe
    fill(w, now);
    let peak = w.inFlight;
    // The server wakes: 9 ALIVEs arrive; after each the client sends what it may.
    for (let i = 0; i < 9; i++) {
      w.onAlive(++now);
      fill(w, now);
      peak = Math.max(peak, w.inFlight);
    }
    assert.ok(peak <= 9, `at most window + probe outstanding, saw ${peak}`);
  },
);

Deno.test("pacing window: entries older than MAX_ENTRY_AGE_MS are forgotten", pure, () => {
  const w = new PacingWindow(2, 1 << 20);
  w.onSend(1, 0);
  w.onSend(1, 0);
  assert.equal(w.canSend(1, 10), false);
  assert.equal(w.canSend(1, MAX_ENTRY_AGE_MS + 1), true);
  assert.equal(w.inFlight, 0);
});

Deno.test("pacing window: the quiet period follows the measured round trip", pure, () => {
  const w = new PacingWindow(4, 1 << 20);
  w.sampleRtt(40);
  assert.ok(w.quietMs >= 40, `quiet ${w.quietMs}`);
  w.onSend(1, 0);
  assert.equal(w.recoverAt(), w.quietMs);
});
