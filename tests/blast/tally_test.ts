import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { SegmentTally } from "../../lib/blast/tally.ts";

const pure = { permissions: "none" } as const;

Deno.test("blast tally: a fixed arrival order counts as the definitions say", pure, () => {
  const t = new SegmentTally(6);
  // 0, 2, 1 (reordered), 2 (duplicate), 4, then END of 6: 3 and 5 lost.
  for (const [seq, sent, arrived] of [[0, 0, 1], [2, 2, 3.5], [1, 1, 4], [2, 2, 5], [4, 4, 5]]) {
    t.record(seq, sent, arrived);
  }
  t.recordEnd(6);
  assert.deepEqual(t.counts, { sent: 6, received: 4, lost: 2, duplicated: 1, reordered: 1 });
  const d = t.delay!;
  assert.equal(d.min, 1);
  assert.equal(d.max, 3);
  assert.equal(d.spread, 2);
  assert.equal(d.avg, (1 + 1.5 + 3 + 1) / 4);
  assert.ok(!t.complete);
});

Deno.test(
  "blast tally: a segment that comes after the END that overtook it is reordered",
  pure,
  () => {
    const t = new SegmentTally(2);
    t.record(0, 0, 0);
    t.recordEnd(2);
    assert.deepEqual(t.counts.lost, 1);
    t.record(1, 0, 0);
    assert.deepEqual(t.counts, { sent: 2, received: 2, lost: 0, duplicated: 0, reordered: 1 });
    assert.ok(t.complete);
  },
);

Deno.test("blast tally: without an END, lost is the gaps below the highest seen", pure, () => {
  const t = new SegmentTally(10);
  t.record(3, 0, 0);
  t.record(7, 0, 0);
  assert.deepEqual(t.counts, {
    sent: undefined,
    received: 2,
    lost: 6,
    duplicated: 0,
    reordered: 0,
  });
});

/** The definitions, written the slow and obvious way. */
function model(arrivals: number[], total: number) {
  const seen = new Set<number>();
  let duplicated = 0;
  let reordered = 0;
  for (const [i, seq] of arrivals.entries()) {
    if (seen.has(seq)) duplicated++;
    else if (arrivals.slice(0, i).some((earlier) => earlier > seq)) reordered++;
    seen.add(seq);
  }
  return { sent: total, received: seen.size, lost: total - seen.size, duplicated, reordered };
}

Deno.test("blast tally: any arrivals (drops, copies, any order) match the model", pure, () => {
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 300 }),
    fc.array(fc.nat({ max: 299 }), { maxLength: 400 }),
    (total, raw) => {
      const arrivals = raw.filter((s) => s < total);
      const t = new SegmentTally(total);
      for (const seq of arrivals) t.record(seq, 0, 0);
      t.recordEnd(total);
      assert.deepEqual(t.counts, model(arrivals, total));
    },
  ));
});

Deno.test(
  "blast tally: scattered sequence numbers near 2^32 are counted out of range, never stored",
  pure,
  () => {
    const t = new SegmentTally(1000);
    let state = 12345;
    for (let i = 0; i < 20_000; i++) {
      state = (state * 1103515245 + 12345) >>> 0;
      t.record(0xffff_ffff - (state % 0x1000_0000), 0, 0); // 2^32 − 2^28 and up
    }
    t.record(0xffff_ffff, 0, 0);
    t.record(1000, 0, 0); // the first past the declared count
    for (const seq of [0, 999, 5]) t.record(seq, 0, 0);
    t.recordEnd(1000);
    // The bitmap is a bit per declared segment (125 bytes), not 512 MiB.
    assert.ok(t.footprint <= 125, `footprint ${t.footprint}`);
    assert.deepEqual(t.counts, {
      sent: 1000,
      received: 3,
      lost: 997,
      duplicated: 0,
      reordered: 1,
      out_of_range: 20_002,
    });
    assert.ok(!t.has(0xffff_ffff) && t.has(999));
  },
);

Deno.test(
  "blast tally: the bitmap grows with the seqs seen, up to the declared count",
  pure,
  () => {
    const big = new SegmentTally(0xffff_fffe);
    assert.ok(big.footprint <= 1024, "nothing allocated for a declared count up front");
    big.record(100_000, 0, 0);
    assert.ok(big.footprint > 100_000 / 8 && big.footprint <= 32_768, `${big.footprint}`);
    const none = new SegmentTally(0);
    none.record(0, 0, 0);
    assert.equal(none.footprint, 0);
    assert.equal(none.counts.out_of_range, 1);
    assert.equal(none.counts.received, 0);
  },
);
