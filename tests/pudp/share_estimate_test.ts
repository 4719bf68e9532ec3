import assert from "node:assert/strict";
import { MAX_GAP, ShareEstimate } from "../../lib/pudp/share_estimate.ts";

const pure = { permissions: "none" } as const;

Deno.test("share estimate: 1 until a gap is seen; then the average gap", pure, () => {
  const s = new ShareEstimate();
  assert.equal(s.value, 1);
  s.onReply(100, 8);
  assert.equal(s.value, 1);
  assert.equal(s.samples, 0);
  s.onReply(110, 8);
  assert.equal(s.value, 10);
  s.onReply(130, 8);
  assert.equal(s.value, 15);
  assert.equal(s.samples, 2);
});

Deno.test("share estimate: bursts average out over the span", pure, () => {
  // Replies come 4 at a time (gap 1) with 36 other messages between bursts:
  // 40 server messages per 4 replies, a share of 10.
  const s = new ShareEstimate();
  let seq = 0;
  for (let burst = 0; burst < 20; burst++) {
    seq += 37;
    s.onReply(seq, 8);
    for (let i = 0; i < 3; i++) s.onReply(++seq, 8);
  }
  assert.equal(s.value, 10);
});

Deno.test("share estimate: only the last span counts", pure, () => {
  const s = new ShareEstimate();
  let seq = 0;
  for (let i = 0; i < 100; i++) s.onReply(seq += 50, 4);
  for (let i = 0; i < 4; i++) s.onReply(seq += 2, 4);
  assert.equal(s.value, 2);
});

Deno.test("share estimate: an idle pause counts at most MAX_GAP", pure, () => {
  const s = new ShareEstimate();
  s.onReply(0, 4);
  s.onReply(1_000_000, 1);
  assert.equal(s.value, MAX_GAP);
});

Deno.test(
  "share estimate: repeats count as 1, older numbers are ignored, numbers wrap",
  pure,
  () => {
    const s = new ShareEstimate();
    s.onReply(0xffff_fffe, 4);
    s.onReply(0xffff_ffff, 4); // +1
    s.onReply(1, 4); // wraps: +2
    s.onReply(1, 4); // repeat: +1
    s.onReply(0xffff_fff0, 4); // older: ignored
    assert.equal(s.samples, 3);
    assert.equal(s.value, 4 / 3);
  },
);
