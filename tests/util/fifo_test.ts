import assert from "node:assert/strict";
import { Fifo } from "../../lib/util/fifo.ts";

Deno.test("fifo: items come out in order; empty gives undefined", { permissions: "none" }, () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  for (let round = 0; round < 3; round++) {
    for (let i = 0; i < 5; i++) q.push(i);
    assert.equal(q.size, 5);
    assert.equal(q.peek(), 0);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [
      0,
      1,
      2,
      3,
      4,
      undefined,
    ]);
    assert.equal(q.size, 0);
  }
  q.push(7);
  q.clear();
  assert.equal(q.peek(), undefined);
});

Deno.test("fifo: a queue that never empties stays small", { permissions: "none" }, () => {
  const q = new Fifo<number>();
  q.push(0);
  let next = 0;
  for (let i = 1; i <= 100_000; i++) {
    q.push(i);
    assert.equal(q.shift(), next++);
    assert.ok(q.footprint <= 2 * 1024 + 2, `footprint ${q.footprint} after ${i} items`);
  }
  assert.equal(q.size, 1);
  assert.equal(q.peek(), 100_000);
});
