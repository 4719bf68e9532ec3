import assert from "node:assert/strict";
import {
  EXPIRIES_BEFORE_RESET,
  INITIAL_WINDOW,
  MAX_QUIET_MS,
  MIN_QUIET_MS,
  PacingWindow,
  SHARED_BUDGET,
} from "../../lib/pudp/pacing.ts";

const pure = { permissions: "none" } as const;

let serverSeq = 0;
/** An ALIVE from a server with no other clients: its numbers go up by one. */
function alive(w: PacingWindow, now: number): void {
  w.onServerSeq(serverSeq++);
  w.onAlive(now);
}

/** A window that has seen enough ALIVEs (round trip 0) to be open to `maxWindow`, nothing in flight. */
function grown(maxWindow: number, maxBytes: number): PacingWindow {
  const w = new PacingWindow(maxWindow, maxBytes);
  w.sampleRtt(0);
  for (let i = 0; i < 100 * maxWindow && w.window < maxWindow; i++) {
    w.onSend(1, 0);
    alive(w, 0);
  }
  assert.equal(w.window, maxWindow);
  assert.equal(w.inFlight, 0);
  return w;
}

/** Sends while allowed (at most `limit`), returns how many went. */
function fill(w: PacingWindow, now: number, size = 10, limit = 1000): number {
  let n = 0;
  while (n < limit && w.canSend(size, now)) {
    w.onSend(size, now);
    n++;
  }
  return n;
}

Deno.test("pacing window: 0 means unpaced", pure, () => {
  const w = new PacingWindow(0, 100);
  assert.equal(fill(w, 0), 1000);
  assert.equal(w.pollTimeout(), undefined);
});

Deno.test("pacing window: starts small and grows per ALIVE up to the limit", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(1);
  assert.equal(fill(w, 0), INITIAL_WINDOW);
  let now = 0;
  for (let round = 0; round < 40; round++) {
    now += 1;
    const n = w.inFlight;
    for (let i = 0; i < n; i++) alive(w, now);
    fill(w, now);
  }
  assert.equal(w.window, 32);
  assert.equal(w.inFlight, 32);
});

Deno.test("pacing window: one message is always allowed; bytes bound the rest", pure, () => {
  const w = grown(32, 1000);
  assert.equal(w.canSend(5000, 0), true, "nothing in flight");
  w.onSend(5000, 0);
  assert.equal(w.canSend(1, 0), false);
  alive(w, 1);
  assert.equal(fill(w, 1, 400), 2);
});

Deno.test(
  "pacing window: each silent expiry reclaims the oldest entry; the third resets to one",
  pure,
  () => {
    const w = grown(32, 1 << 20); // quiet = MIN_QUIET_MS
    const first = fill(w, 100);
    assert.equal(w.pollTimeout(), 100 + MIN_QUIET_MS);
    w.onQuiet(105);
    assert.equal(w.stats.reclaimed, 1);
    assert.equal(fill(w, 105), 1, "one more message");
    assert.equal(w.pollTimeout(), 105 + 2 * MIN_QUIET_MS, "doubled");
    w.onQuiet(115);
    assert.equal(fill(w, 115), 1, "another");
    assert.equal(w.inFlight, first, "only one entry reclaimed per expiry");
    w.onQuiet(135);
    assert.equal(w.stats.resets, 1);
    assert.equal(w.inFlight, 0, "third silent expiry: outstanding taken as gone");
    assert.equal(fill(w, 135), 1, "window of one");
    for (let i = 0; i < 30; i++) w.onQuiet(200);
    assert.equal(w.quietMs, MAX_QUIET_MS, "bounded");
    alive(w, 300);
    assert.equal(w.quietMs, MIN_QUIET_MS, "an ALIVE resets the backoff");
  },
);

Deno.test(
  "pacing window: late ALIVEs after a stall cannot open the window beyond its size",
  pure,
  () => {
    // The server stalls with a full window in its buffer, then answers it all.
    const w = grown(8, 1 << 20);
    let now = 0;
    fill(w, now);
    assert.equal(w.inFlight, 8);
    now += MIN_QUIET_MS;
    w.onQuiet(now); // one expiry: a probe
    fill(w, now);
    let peak = w.inFlight;
    // The server wakes: 9 ALIVEs arrive; after each the client sends what it may.
    for (let i = 0; i < 9; i++) {
      alive(w, ++now);
      fill(w, now);
      peak = Math.max(peak, w.inFlight);
    }
    assert.ok(peak <= 9, `at most window + probe outstanding, saw ${peak}`);
  },
);

Deno.test("pacing window: age alone releases nothing; a slow server keeps its credit", pure, () => {
  const w = new PacingWindow(2, 1 << 20);
  w.sampleRtt(1);
  w.onSend(1, 0);
  w.onSend(1, 0);
  // A server starved of CPU answers after 5 s: without expiries nothing more may go.
  assert.equal(w.canSend(1, 5_000), false);
  assert.equal(w.inFlight, 2);
  // Only the quiet-period expiries release messages, and only after the reset.
  for (let i = 0; i < EXPIRIES_BEFORE_RESET; i++) w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.stats.resets, 1);
  assert.equal(w.inFlight, 0);
});

Deno.test("pacing window: the quiet period follows the measured round trip", pure, () => {
  const w = new PacingWindow(4, 1 << 20);
  w.sampleRtt(40);
  assert.ok(w.quietMs >= 40, `quiet ${w.quietMs}`);
  w.onSend(1, 0);
  assert.equal(w.pollTimeout(), w.quietMs);
});

/** Feeds `count` replies with server sequence gaps of `gap`, answering one DATA each. */
function replies(w: PacingWindow, count: number, gap: number, start = 0): number {
  let seq = start;
  for (let i = 0; i < count; i++) {
    seq = (seq + gap) >>> 0;
    w.onServerSeq(seq);
    if (w.inFlight > 0) w.onAlive(i);
    fill(w, i);
  }
  return seq;
}

Deno.test("pacing window: alone (gap 1) the share does not limit the window", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(0);
  fill(w, 0);
  replies(w, 1000, 1);
  assert.equal(w.window, 32);
  assert.equal(w.stats.share, 1);
});

Deno.test(
  "pacing window: sharing the server bounds the window to SHARED_BUDGET / gap",
  pure,
  () => {
    for (const gap of [2, 16, 64, 200, 1000]) {
      const w = new PacingWindow(32, 1 << 20);
      w.sampleRtt(0);
      fill(w, 0);
      replies(w, 1000, gap);
      const expected = Math.max(1, Math.min(32, Math.floor(SHARED_BUDGET / gap)));
      assert.equal(w.window, expected, `gap ${gap}`);
      assert.ok(w.inFlight <= expected, `gap ${gap}: ${w.inFlight} in flight`);
    }
  },
);

Deno.test("pacing window: the byte budget is shared the same way", pure, () => {
  const w = new PacingWindow(32, 64_000);
  w.sampleRtt(0);
  fill(w, 0, 1000);
  let seq = 0;
  for (let i = 0; i < 200; i++) {
    seq += 8;
    w.onServerSeq(seq);
    if (w.inFlight > 0) w.onAlive(i);
    fill(w, i, 1000);
  }
  assert.ok(w.inFlight * 1000 <= 64_000 / 8 + 1000, `${w.inFlight} kB in flight`);
});

Deno.test("pacing window: repeated, reordered and wrapping server numbers", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.onServerSeq(0xffff_fffe);
  w.onServerSeq(0xffff_ffff); // gap 1
  w.onServerSeq(0); // wraps: gap 1
  w.onServerSeq(0); // repeat: no sample
  w.onServerSeq(0xffff_fff0); // older: no sample
  assert.equal(w.stats.share, 1);
});

Deno.test("pacing window: a share below one message spaces the sends out", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(10);
  let seq = 0;
  let now = 0;
  for (let i = 0; i < 20; i++) {
    w.onSend(1, now);
    now += 10;
    seq += 2 * SHARED_BUDGET; // twice as many clients as the budget
    w.onServerSeq(seq);
    w.onAlive(now);
  }
  assert.equal(w.window, 1);
  assert.equal(w.stats.share, 2 * SHARED_BUDGET);
  const sentAt = now;
  w.onSend(1, sentAt);
  w.onServerSeq(seq += 2 * SHARED_BUDGET);
  w.onAlive(sentAt + 10);
  // Half a message of share: one message per two round trips (srtt 10 ms).
  assert.equal(w.canSend(1, sentAt + 10), false);
  assert.equal(w.pollTimeout(), sentAt + 20);
  assert.equal(w.canSend(1, sentAt + 20), true);
});

Deno.test("pacing window: no probe beyond the share; only the reset releases one", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(0);
  let seq = 0;
  for (let i = 0; i < 5; i++) {
    w.onSend(1, 0);
    w.onServerSeq(seq += 200); // 200 clients: less than one message of share
    w.onAlive(0);
  }
  const now = 10_000; // long after any spacing
  w.onSend(1, now);
  assert.equal(w.canSend(1, now), false);
  w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.canSend(1, now), false, "a probe would not fit the share");
  w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.canSend(1, now), false);
  w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.stats.resets, 1);
  assert.equal(w.inFlight, 0);
});

Deno.test("pacing window: no probe before the share is known", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(0);
  w.onSend(1, 0);
  w.onServerSeq(1);
  w.onAlive(1); // one ALIVE: no gap seen yet
  w.onSend(1, 1);
  w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.stats.recoveries, 1);
  assert.equal(w.canSend(1, 1), false);
});

Deno.test(
  "pacing window: one gap beyond the whole budget cuts a grown window at once",
  pure,
  () => {
    const w = grown(32, 1 << 20);
    assert.equal(fill(w, 0), 32);
    // 200 clients arrive: the next ALIVE comes 200 server messages after the last.
    serverSeq += 200;
    alive(w, 1);
    assert.ok(w.stats.share < 10, "the average alone still lags");
    assert.equal(w.window, 1);
    assert.equal(fill(w, 1), 0, "31 still in flight: nothing more may go");
    // Gaps within the budget (two clients of 32) do not cut.
    const v = grown(32, 1 << 20);
    fill(v, 0);
    serverSeq += SHARED_BUDGET - 1;
    alive(v, 1);
    assert.ok(v.window >= 16, `window ${v.window}`);
  },
);

Deno.test(
  "pacing window: Karn's rule: entries outstanding at an expiry give no round-trip sample",
  pure,
  () => {
    const w = grown(4, 1 << 20);
    w.sampleRtt(1);
    const before = w.stats.srttMs!;
    assert.equal(fill(w, 0), 4);
    w.onQuiet(1000); // one ALIVE was lost; the window sat full for a second
    fill(w, 1000);
    // ALIVEs for the 3 entries still outstanding: no sample, so no round trip of a second.
    for (let i = 0; i < 3; i++) alive(w, 1000.5);
    assert.equal(w.stats.srttMs, before);
    // The entry sent after the expiry is sampled again.
    alive(w, 1000.5);
    assert.notEqual(w.stats.srttMs, before);
    assert.ok(w.stats.srttMs! < 2);
  },
);

Deno.test("pacing window: in a crowd an expiry grants a probe and keeps every entry", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(1);
  for (let i = 0; i < 8; i++) {
    w.onSend(1, 0);
    serverSeq += 4; // four clients share the server
    alive(w, 0);
  }
  const sent = fill(w, 100);
  assert.ok(sent >= 1);
  w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.stats.reclaimed, 0, "nothing taken as answered");
  assert.equal(w.inFlight, sent);
  assert.equal(fill(w, 200), 1, "one probe");
  assert.equal(w.inFlight, sent + 1);
});
