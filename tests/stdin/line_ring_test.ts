import assert from "node:assert/strict";
import { createRingBuffer, RingReader, RingState, RingWriter } from "../../lib/stdin/line_ring.ts";

const pure = { permissions: "none" } as const;

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
}

Deno.test("ring: records come out in order with their flags, across the wrap", pure, () => {
  const buffer = createRingBuffer(64);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  const sent: Array<[Uint8Array, boolean]> = [];
  const got: Array<[Uint8Array, boolean]> = [];
  for (let i = 0; i < 200; i++) {
    const rec: [Uint8Array, boolean] = [bytes(i % 23, i), i % 3 !== 0];
    w.write(...rec);
    sent.push(rec);
    w.publish();
    for (let x = r.next(); x; x = r.next()) got.push([x.bytes, x.endOfLine]);
    r.release();
  }
  assert.deepEqual(got, sent);
});

Deno.test("ring: nothing is visible before publish; close marks the end", pure, async () => {
  const buffer = createRingBuffer(64);
  const w = new RingWriter(buffer);
  const r = new RingReader(buffer);
  w.write(bytes(3, 1), true);
  assert.equal(r.next(), undefined);
  assert.equal(r.finished, false);
  w.close(RingState.ENDED);
  await r.ready(); // resolves at once: a record and the end are there
  assert.deepEqual(r.next()?.bytes, bytes(3, 1));
  assert.equal(r.finished, true);
});

Deno.test("ring: a worker producer blocks when full and every record arrives in order", async () => {
  // 64-byte ring, 2,000 records of up to 40 bytes: the producer must wait for
  // the consumer hundreds of times; the consumer waits with waitAsync.
  const buffer = createRingBuffer(64);
  const r = new RingReader(buffer);
  const worker = new Worker(new URL("./ring_producer_worker.ts", import.meta.url).href, {
    type: "module",
  });
  worker.postMessage({ buffer, count: 2000 });
  try {
    let i = 0;
    const deadline = Date.now() + 20_000;
    while (!r.finished) {
      assert.ok(Date.now() < deadline, "bounded in time");
      await r.ready();
      for (let rec = r.next(); rec; rec = r.next()) {
        assert.deepEqual(rec.bytes, bytes(i % 41, i), `record ${i}`);
        assert.equal(rec.endOfLine, i % 2 === 0);
        i++;
      }
      r.release();
    }
    assert.equal(i, 2000);
    assert.equal(r.state, RingState.ENDED);
  } finally {
    worker.terminate();
  }
});

Deno.test("ring: too-large records and bad capacities are refused", pure, () => {
  assert.throws(() => createRingBuffer(100), RangeError);
  const w = new RingWriter(createRingBuffer(64));
  assert.throws(() => w.write(new Uint8Array(60), true), RangeError);
});

Deno.test(
  "ring: take() returns the same records as next(), short and long, across the wrap",
  pure,
  () => {
    const buffer = createRingBuffer(1024);
    const w = new RingWriter(buffer);
    const r = new RingReader(buffer);
    const got: Array<[Uint8Array, boolean]> = [];
    const sent: Array<[Uint8Array, boolean]> = [];
    for (let i = 0; i < 3000; i++) {
      // Mostly short records (copied byte by byte), some longer than 128 bytes.
      const rec: [Uint8Array, boolean] = [
        bytes(i % 7 === 0 ? 130 + (i % 300) : i % 70, i),
        i % 5 !== 0,
      ];
      w.write(...rec);
      sent.push(rec);
      w.publish();
      for (let x = r.take(); x; x = r.take()) got.push([x, r.endOfLine]);
      if (i % 3 === 0) r.release();
      else r.releaseSome();
      if (i % 11 === 0) r.release();
    }
    // Records taken earlier keep their bytes after the ring and the slabs move on.
    assert.deepEqual(got, sent);
  },
);

Deno.test(
  "ring: releaseSome() returns space only once a quarter of the ring was taken",
  pure,
  () => {
    const buffer = createRingBuffer(256);
    const w = new RingWriter(buffer);
    const r = new RingReader(buffer);
    const control = new Int32Array(buffer, 0, 4);
    for (let i = 0; i < 8; i++) w.write(bytes(5, i), true); // 8 records of 10 bytes
    w.publish();
    for (let i = 0; i < 6; i++) r.take();
    r.releaseSome();
    assert.equal(Atomics.load(control, 1), 0, "60 bytes, less than 256 / 4: kept");
    r.take();
    r.releaseSome();
    assert.equal(Atomics.load(control, 1), 70, "70 bytes: released");
    r.take();
    r.release();
    assert.equal(Atomics.load(control, 1), 80, "release() returns everything taken");
  },
);
