/**
 * The timer table against a plain model (a list searched for its minimum),
 * under random sets, moves, clears and pops.
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { Timer, TimerTable } from "../../lib/runtime/timer_table.ts";

const pure = { permissions: "none" } as const;

Deno.test(
  "timer table: due timers come out earliest first, ties in the order they were set",
  pure,
  () => {
    const table = new TimerTable<string>();
    const [a, b, c] = ["a", "b", "c"].map((n) => new Timer(n));
    table.set(a, 20);
    table.set(b, 10);
    table.set(c, 10);
    assert.equal(table.nextAt, 10);
    assert.equal(table.popDue(9), undefined);
    assert.equal(table.popDue(15), "b");
    assert.equal(table.popDue(15), "c");
    assert.equal(table.popDue(15), undefined);
    table.set(a, 5); // moved earlier
    assert.equal(table.nextAt, 5);
    table.clear(a);
    assert.equal(a.armed, false);
    assert.equal(table.nextAt, undefined);
    table.clear(a); // harmless
    assert.equal(table.size, 0);
  },
);

type Op = { kind: "set"; timer: number; at: number } | { kind: "clear"; timer: number } | {
  kind: "pop";
  now: number;
};

Deno.test("timer table: matches a model under any sequence of operations", pure, () => {
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant("set" as const), timer: fc.nat(15), at: fc.nat(50) }),
    fc.record({ kind: fc.constant("clear" as const), timer: fc.nat(15) }),
    fc.record({ kind: fc.constant("pop" as const), now: fc.nat(50) }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
    const table = new TimerTable<number>();
    const timers = Array.from({ length: 16 }, (_, i) => new Timer(i));
    const model = new Map<number, { at: number; order: number }>();
    let order = 0;
    for (const o of ops) {
      if (o.kind === "set") {
        table.set(timers[o.timer], o.at);
        model.set(o.timer, { at: o.at, order: order++ });
      } else if (o.kind === "clear") {
        table.clear(timers[o.timer]);
        model.delete(o.timer);
      } else {
        let best: number | undefined;
        for (const [id, e] of model) {
          const b = best === undefined ? undefined : model.get(best)!;
          if (
            e.at <= o.now &&
            (b === undefined || e.at < b.at || (e.at === b.at && e.order < b.order))
          ) {
            best = id;
          }
        }
        assert.equal(table.popDue(o.now), best);
        if (best !== undefined) model.delete(best);
      }
      const min = Math.min(...[...model.values()].map((e) => e.at));
      assert.equal(table.nextAt, model.size === 0 ? undefined : min);
      assert.equal(table.size, model.size);
      for (const [i, t] of timers.entries()) assert.equal(t.armed, model.has(i));
    }
  }));
});
