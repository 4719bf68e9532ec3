import assert from "node:assert/strict";
import {
  INITIAL_WINDOW,
  SHARE_STEEPNESS,
  SHARED_BUDGET,
} from "../../lib/pudp/congestion_window.ts";
import { PacingWindow } from "../../lib/pudp/pacing_window.ts";
import { MAX_RTO_MS, MIN_RTO_MS } from "../../lib/pudp/rtt_estimator.ts";
import { RESYNC_QUIET_MIN_MS } from "../../lib/pudp/unconfirmed_credits.ts";

const pure = { permissions: "none" } as const;

let serverSeq = 0;
/** An ALIVE from a server with no other clients: its numbers go up by one. */
function alive(w: PacingWindow, now: number): void {
  w.onAlive(serverSeq++, now);
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

Deno.test("pacing window: the RTO follows the measured round trip", pure, () => {
  const w = new PacingWindow(4, 1 << 20);
  w.onSend(1, 0);
  w.onAlive(0, 40); // round trip 40 ms: RTO = 40 + 4 × 20
  assert.equal(w.rtoMs, 120);
  w.onSend(1, 50);
  assert.equal(w.pollTimeout(), 50 + 120, "counted from the send that found nothing outstanding");
  w.onSend(1, 60);
  w.onAlive(1, 90);
  assert.equal(w.pollTimeout(), 90 + w.rtoMs, "then from the last ALIVE");
});

/** Feeds `count` replies with server sequence gaps of `gap`, answering one DATA each. */
function replies(w: PacingWindow, count: number, gap: number, start = 0): number {
  let seq = start;
  for (let i = 0; i < count; i++) {
    seq = (seq + gap) >>> 0;
    w.onAlive(seq, i);
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

/** The window a client settles at when every reply comes `gap` server messages after the last. */
function settled(gap: number): number {
  // w = maxWindow × (budget / (gap × w))^k, solved for w (w in flight, gap fixed).
  return (32 * SHARED_BUDGET ** SHARE_STEEPNESS / gap ** SHARE_STEEPNESS) **
    (1 / (SHARE_STEEPNESS + 1));
}

Deno.test(
  "pacing window: sharing the server steers the window to the shared target for gap × window",
  pure,
  () => {
    for (const gap of [2, 16, 64]) {
      const w = new PacingWindow(32, 1 << 20);
      w.sampleRtt(0);
      fill(w, 0);
      replies(w, 3000, gap);
      const expected = Math.min(32, settled(gap));
      assert.ok(Math.abs(w.window - expected) <= 1, `gap ${gap}: ${w.window} vs ${expected}`);
      assert.ok(w.inFlight <= w.window, `gap ${gap}: ${w.inFlight} in flight`);
    }
  },
);

Deno.test(
  "pacing window: two clients on one server end with the same window, whichever grew first",
  pure,
  () => {
    // One FIFO server queue in virtual time: the server answers one message
    // per tick, in arrival order; each client sends while its window allows.
    const a = grown(32, 1 << 20);
    const b = new PacingWindow(32, 1 << 20);
    b.sampleRtt(0);
    const queue: PacingWindow[] = [];
    let seq = serverSeq + 1_000;
    for (let tick = 0; tick < 20_000; tick++) {
      for (const w of [a, b]) while (w.canSend(10, tick)) (w.onSend(10, tick), queue.push(w));
      const next = queue.shift();
      if (next) next.onAlive(seq++, tick + 1);
    }
    assert.ok(Math.abs(a.window - b.window) <= 2, `windows ${a.window} and ${b.window}`);
    assert.ok(a.window + b.window <= 2 * SHARED_BUDGET, `total ${a.window + b.window}`);
    assert.ok(b.window >= 8, `the late client has a fair part: ${b.window}`);
  },
);

Deno.test("pacing window: the byte budget is shared the same way", pure, () => {
  const w = new PacingWindow(32, 64_000);
  w.sampleRtt(0);
  fill(w, 0, 1000);
  let seq = 0;
  for (let i = 0; i < 200; i++) {
    seq += 8;
    w.onAlive(seq, i);
    fill(w, i, 1000);
  }
  assert.ok(w.inFlight * 1000 <= 64_000 / 8 + 1000, `${w.inFlight} kB in flight`);
});

Deno.test("pacing window: repeated, reordered and wrapping server numbers", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.onAlive(0xffff_fffe, 0);
  w.onAlive(0xffff_ffff, 0); // gap 1
  w.onAlive(0, 0); // wraps: gap 1
  w.onAlive(0, 0); // repeat: no sample
  w.onAlive(0xffff_fff0, 0); // older: no sample
  assert.equal(w.stats.share, 1);
});

Deno.test("pacing window: a window below one message spaces the sends out", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(10);
  let seq = 0;
  let now = 0;
  for (let i = 0; i < 200; i++) {
    w.onSend(1, now);
    now += 10;
    seq += 1000; // a crowd: 1,000 server messages between two of ours
    w.onAlive(seq, now);
  }
  assert.equal(w.window, 1);
  const sentAt = now;
  w.onSend(1, sentAt);
  w.onAlive(seq += 1000, sentAt + 10);
  // Less than one message per round trip (srtt 10 ms): the next waits longer.
  assert.equal(w.canSend(1, sentAt + 10), false);
  const at = w.pollTimeout()!;
  assert.ok(at > sentAt + 10, `next send at ${at}`);
  assert.equal(w.canSend(1, at), true);
});

Deno.test(
  "pacing window: a crowd arriving shrinks a grown window within a few round trips",
  pure,
  () => {
    const w = grown(32, 1 << 20);
    assert.equal(fill(w, 0), 32);
    // 200 clients arrive: each ALIVE now comes 200 server messages after the last.
    let alives = 0;
    for (let now = 1; w.window > 2 && alives < 1_000; now++) {
      serverSeq += 200;
      alive(w, now);
      alives++;
      fill(w, now);
    }
    assert.ok(alives <= 150, `${alives} ALIVEs before the window was down to 2`);
    assert.ok(w.inFlight <= 2 + 1);
  },
);

Deno.test(
  "pacing window: an expiry freezes the window and lets one probe go; after the answer and a quiet as long as the wait for it, the rest is presumed gone",
  pure,
  () => {
    const w = grown(32, 1 << 20); // srtt 0: RTO = MIN_RTO_MS
    assert.equal(fill(w, 100), 32);
    assert.equal(w.pollTimeout(), 100 + MIN_RTO_MS);
    w.handleTimeout(100 + MIN_RTO_MS - 1);
    assert.equal(w.stats.expiries, 0, "not before the RTO");
    let now = 100 + MIN_RTO_MS;
    w.handleTimeout(now);
    assert.equal(w.stats.expiries, 1);
    assert.equal(w.inFlight, 32, "nothing presumed yet: the server may only be slow");
    assert.equal(fill(w, now), 1, "one probe");
    // No answer (stalled server or dead path): another probe, twice as late.
    assert.equal(w.pollTimeout(), now + 2 * MIN_RTO_MS);
    now += 2 * MIN_RTO_MS;
    w.handleTimeout(now);
    assert.equal(fill(w, now), 1, "the second probe");
    // One answer, 1 ms after the second probe: its own (everything before it lost).
    now += 1;
    alive(w, now);
    const aliveAt = now;
    assert.equal(w.inFlight, 33);
    assert.equal(fill(w, now), 0, "the window stays frozen");
    assert.equal(w.pollTimeout(), now + MIN_RTO_MS, "quiet for an RTO at least");
    w.handleTimeout(now + MIN_RTO_MS - 1);
    assert.equal(w.stats.presumedLost, 0);
    now += MIN_RTO_MS;
    w.handleTimeout(now);
    assert.equal(w.stats.presumedLost, 33, "no more answers: the rest is gone");
    assert.equal(w.inFlight, 0);
    // 33 unconfirmed credits, a window's worth: a quiet first, for late answers.
    assert.equal(w.resyncing, true);
    assert.equal(fill(w, now), 0);
    now = w.pollTimeout()!;
    assert.equal(now, aliveAt + RESYNC_QUIET_MIN_MS, "quiet since the last answer");
    assert.ok(fill(w, now) >= 1, "the window is open again");
    // Silence: each expiry lets one probe go, waiting twice as long, up to MAX_RTO_MS.
    let last = now;
    let wait = MIN_RTO_MS;
    for (let i = 0; i < 12; i++) {
      const at = w.pollTimeout()!;
      w.handleTimeout(at);
      assert.equal(w.stats.expiries, i + 3);
      assert.ok(at - last <= Math.max(2 * wait, MIN_RTO_MS) && at - last <= MAX_RTO_MS);
      wait = at - last;
      last = at;
      assert.equal(fill(w, at), 1, "one probe per expiry");
    }
    alive(w, last + 1);
    assert.equal(w.rtoMs, MIN_RTO_MS, "an ALIVE ends the backoff");
  },
);

Deno.test(
  "pacing window: more answers than probes in recovery prove a backlog: nothing is presumed",
  pure,
  () => {
    const w = grown(8, 1 << 20);
    assert.equal(fill(w, 0), 8);
    w.handleTimeout(w.pollTimeout()!);
    assert.equal(fill(w, MIN_RTO_MS), 1, "the probe");
    // The stalled server answers three of the eight, then stalls again, long.
    for (let i = 0; i < 3; i++) alive(w, 50);
    const quietEnd = w.pollTimeout()!;
    assert.equal(quietEnd, 90, "quiet as long as the wait since the probe (40 ms)");
    w.handleTimeout(quietEnd);
    assert.equal(w.stats.presumedLost, 0, "three answers for one probe: a backlog");
    assert.equal(w.inFlight, 6, "the rest stays counted: it may still be in the server's buffer");
    assert.ok(fill(w, quietEnd) <= 2, "so at most the window goes");
  },
);

Deno.test(
  "pacing window: a slow server's answers open nothing until recovery ends; answers beyond what is outstanding are late",
  pure,
  () => {
    const w = grown(4, 1 << 20);
    w.sampleRtt(1);
    const before = w.stats.srttMs!;
    assert.equal(fill(w, 0), 4);
    w.handleTimeout(w.pollTimeout()!);
    const probeAt = w.pollTimeout()! - 2 * w.rtoMs; // any time in recovery
    assert.equal(fill(w, Math.max(probeAt, MIN_RTO_MS)), 1, "the probe");
    // The server wakes after a second: the 4 and the probe, then 2 more (DATA
    // presumed gone in an earlier recovery that were only slow too).
    for (let i = 0; i < 5; i++) alive(w, 1000.5);
    assert.equal(w.stats.srttMs, before, "no round-trip sample in recovery (Karn)");
    assert.equal(w.inFlight, 0);
    assert.equal(fill(w, 1000.5), 0, "recovery lasts one RTO past the last answer");
    alive(w, 1001);
    alive(w, 1001);
    assert.equal(w.stats.lateAlives, 2, "answers with nothing outstanding open nothing");
    assert.equal(fill(w, 1001), 0);
    const end = w.pollTimeout()!;
    assert.equal(end, 1001 + w.rtoMs);
    assert.ok(fill(w, end) >= 1, "then the window opens");
    assert.equal(w.stats.presumedLost, 0);
  },
);

Deno.test("pacing window: the RTO never exceeds the client's longest wait", pure, () => {
  const w = new PacingWindow(4, 1 << 20, 250);
  assert.equal(w.rtoMs, 250, "before the first ALIVE too");
  w.onSend(1, 0);
  for (let i = 0; i < 10; i++) w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.rtoMs, 250);
});

Deno.test(
  "pacing window: a server that stalls with the window in its buffer is never sent more than the window and one probe",
  pure,
  () => {
    const w = grown(8, 1 << 20);
    let now = 0;
    let sent = fill(w, now);
    let answered = 0;
    // The server stalls with the window in its buffer: an expiry, a probe.
    now += MIN_RTO_MS;
    w.handleTimeout(now);
    sent += fill(w, now);
    let peak = sent - answered;
    // The server wakes and answers everything, in order, one per ms.
    for (let i = 0; i < 100; i++) {
      alive(w, ++now);
      answered++;
      sent += fill(w, now);
      peak = Math.max(peak, sent - answered);
    }
    assert.equal(w.stats.presumedLost, 0);
    assert.ok(peak <= 9, `at most the window and the probe outstanding, saw ${peak}`);
  },
);

Deno.test(
  "pacing window: alone, a gap in the server's numbers answers the DATA of the lost ALIVEs",
  pure,
  () => {
    const w = grown(8, 1 << 20);
    assert.equal(fill(w, 0), 8);
    serverSeq += 2; // two ALIVEs lost on the way
    alive(w, 1);
    assert.equal(w.inFlight, 5);
    assert.equal(w.stats.alivesLost, 2);
    // In a crowd the same gap is other clients' messages: one DATA answered.
    const c = new PacingWindow(32, 1 << 20);
    c.sampleRtt(0);
    let seq = 0;
    for (let i = 0; i < 10; i++) {
      c.onSend(1, 0);
      c.onAlive(seq += 3, 0);
    }
    assert.equal(fill(c, 0, 1, 5), 5);
    c.onAlive(seq += 3, 1);
    assert.equal(c.inFlight, 4);
    assert.equal(c.stats.alivesLost, 0);
  },
);

Deno.test("pacing window: in a crowd the first expiry halves the window", pure, () => {
  const w = new PacingWindow(32, 1 << 20);
  w.sampleRtt(0);
  let seq = 0;
  for (let i = 0; i < 40; i++) {
    fill(w, 0);
    w.onAlive(seq += 2, 0); // two clients
  }
  const before = w.window;
  assert.ok(before >= 8, `window ${before}`);
  fill(w, 0);
  w.handleTimeout(w.pollTimeout()!);
  assert.equal(w.window, Math.floor(before / 2));
});

Deno.test(
  "pacing window: the gap across an expiry is not taken as sharing",
  pure,
  () => {
    const w = grown(8, 1 << 20);
    fill(w, 0);
    const share = w.stats.share;
    w.handleTimeout(w.pollTimeout()!);
    fill(w, 20);
    serverSeq += 500; // the server went on with others while we waited
    alive(w, 21);
    assert.equal(w.stats.share, share);
    assert.equal(w.window, 8);
  },
);

Deno.test(
  "pacing window: other clients' messages between bursts of ours are taken for lost ALIVEs at most one window's worth",
  pure,
  () => {
    // Three clients at full speed: the server answers 8 of ours in a row, then
    // one message of another client's (average gap 1.1, about alone by the share).
    const w = grown(8, 1 << 20);
    let answered = 0;
    let sent = 0;
    for (let round = 0; round < 200; round++) {
      sent += fill(w, round);
      for (let i = 0; i < 8 && answered < sent; i++) {
        if (i === 0) serverSeq += 2;
        alive(w, round + 0.5);
        answered++;
      }
    }
    assert.ok(w.stats.alivesLost <= 8, `${w.stats.alivesLost} taken for lost ALIVEs`);
    assert.ok(sent - answered <= 8 + w.stats.alivesLost, `${sent - answered} unanswered`);
  },
);
