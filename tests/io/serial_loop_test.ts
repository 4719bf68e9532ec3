import assert from "node:assert/strict";
import { SerialLoop } from "../../lib/io/serial_loop.ts";

const pure = { permissions: "none" } as const;

Deno.test("serial loop: an item added just as the loop finishes is not lost", pure, async () => {
  // The race behind a lost GOODBYE: the loop sees an empty queue, and in the
  // same microtask turn someone adds work and wakes it.
  const queue: number[] = [];
  const done: number[] = [];
  const loop = new SerialLoop(() => queue.shift(), async (n) => {
    await Promise.resolve();
    done.push(n);
  });
  for (let depth = 0; depth < 40; depth++) {
    queue.push(depth);
    loop.wake();
    // Wake again from microtask depth `depth`: some depth lands in the gap
    // between the loop's last check and the end of its promise.
    let p = Promise.resolve();
    for (let i = 0; i < depth; i++) p = p.then(() => {});
    await p.then(() => {
      queue.push(1000 + depth);
      loop.wake();
    });
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(queue.length, 0, `item woken at microtask depth ${depth} was left behind`);
  }
  assert.equal(done.length, 80, "every item was processed");
  assert.equal(loop.active, false);
});

Deno.test("serial loop: one process call at a time, in order", pure, async () => {
  const queue = [1, 2, 3, 4, 5];
  const seen: number[] = [];
  let running = 0;
  const loop = new SerialLoop(() => queue.shift(), async (n) => {
    assert.equal(++running, 1);
    await new Promise((r) => setTimeout(r, 1));
    running--;
    seen.push(n);
  });
  loop.wake();
  loop.wake();
  await loop.idle();
  assert.deepEqual(seen, [1, 2, 3, 4, 5]);
});

Deno.test("serial loop: an idle wake with no work finishes at once", pure, async () => {
  const loop = new SerialLoop<number>(() => undefined, () => Promise.resolve());
  loop.wake();
  assert.equal(loop.active, false);
  await loop.idle();
});
