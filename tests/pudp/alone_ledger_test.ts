import assert from "node:assert/strict";
import { AloneLedger } from "../../lib/pudp/alone_ledger.ts";

const pure = { permissions: "none" } as const;

Deno.test(
  "alone ledger: alone, a gap in the server's numbers is exactly the ALIVEs lost",
  pure,
  () => {
    const l = new AloneLedger();
    l.onAlive(100, 10); // the first: nothing known lost
    assert.equal(l.takeLost(), 0);
    l.onAlive(101, 10);
    assert.equal(l.takeLost(), 0);
    l.onAlive(104, 10); // 102 and 103 lost on the way
    assert.equal(l.takeLost(), 2);
    assert.equal(l.takeLost(), 0, "handed out once");
    l.onAlive(103, 10); // reordered: a late one of those two
    assert.equal(l.takeLost(), 0);
    assert.equal(l.alone, true);
  },
);

Deno.test(
  "alone ledger: a count beyond the DATA sent proves another client; it stops for good",
  pure,
  () => {
    const l = new AloneLedger();
    l.onAlive(1, 4);
    l.onAlive(3, 4); // one other message, taken for a lost ALIVE (it cannot be told apart)
    assert.equal(l.takeLost(), 1);
    l.onAlive(9, 4); // the server answered 9 of our 4: someone else is there
    assert.equal(l.alone, false);
    assert.equal(l.takeLost(), 0);
    l.onAlive(10, 100);
    assert.equal(l.takeLost(), 0, "never again, even when the count would fit");
  },
);

Deno.test("alone ledger: settle takes what is known lost off the books", pure, () => {
  const l = new AloneLedger();
  l.onAlive(1, 10);
  l.onAlive(5, 10); // three lost, their DATA presumed gone elsewhere
  l.settle();
  assert.equal(l.takeLost(), 0);
  l.onAlive(7, 10);
  assert.equal(l.takeLost(), 1);
});

Deno.test("alone ledger: the server's numbers wrap around 2^32", pure, () => {
  const l = new AloneLedger();
  l.onAlive(2 ** 32 - 1, 10);
  l.onAlive(1, 10); // 0 lost on the way
  assert.equal(l.takeLost(), 1);
  assert.equal(l.alone, true);
});

Deno.test("alone ledger: stop() ends it for good: nothing more is taken for lost", pure, () => {
  const l = new AloneLedger();
  l.onAlive(10, 5);
  l.onAlive(12, 5); // a gap of one: alone, that is one lost ALIVE
  assert.equal(l.takeLost(), 1);
  l.stop(); // an ALIVE came for a DATA already credited: the gap was another client's
  assert.equal(l.alone, false);
  l.onAlive(15, 9);
  assert.equal(l.takeLost(), 0);
});
