import assert from "node:assert/strict";
import { OutputPump, WRITE_SLICE } from "../../lib/io/output_pump.ts";
import { ByteBuffer } from "../../lib/bytes/byte_buffer.ts";

const pure = { permissions: "none" } as const;
const enc = new TextEncoder();

/** A writer that records each write, takes at most `max` bytes per call, and can be slow. */
function recorder(max = Infinity, delayMs = 0) {
  const writes: string[] = [];
  return {
    writes,
    async write(p: Uint8Array): Promise<number> {
      if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
      const n = Math.min(p.length, max);
      writes.push(new TextDecoder().decode(p.subarray(0, n)));
      return n;
    },
  };
}

Deno.test("pump: an idle kick does not wedge the pump; later output is written", pure, async () => {
  const buf = new ByteBuffer();
  const w = recorder();
  const pump = new OutputPump(w, () => buf.take());
  pump.kick(); // nothing to write
  await new Promise((r) => setTimeout(r, 5));
  buf.append(enc.encode("later\n"));
  pump.kick();
  await new Promise((r) => setTimeout(r, 5)); // no flush(): kick alone must write
  assert.deepEqual(w.writes, ["later\n"]);
});

Deno.test("pump: output produced during a write goes out in one batch after it", pure, async () => {
  const buf = new ByteBuffer();
  const w = recorder(Infinity, 5);
  const pump = new OutputPump(w, () => buf.take());
  buf.append(enc.encode("1\n"));
  pump.kick();
  for (const line of ["2\n", "3\n", "4\n"]) {
    buf.append(enc.encode(line));
    pump.kick();
  }
  await pump.flush();
  assert.deepEqual(w.writes, ["1\n", "2\n3\n4\n"]);
});

Deno.test("pump: short writes are completed", pure, async () => {
  const buf = new ByteBuffer();
  const w = recorder(3);
  const pump = new OutputPump(w, () => buf.take());
  buf.append(enc.encode("abcdefgh"));
  await pump.flush();
  assert.equal(w.writes.join(""), "abcdefgh");
});

Deno.test("pump: a write error stops the pump and is reported", pure, async () => {
  const pump = new OutputPump(
    { write: () => Promise.reject(new Error("Broken pipe")) },
    () => enc.encode("x"),
  );
  await pump.flush();
  assert.match(String(pump.error), /Broken pipe/);
});

function coalescingPump(intervalMs: number, batchBytes: number) {
  const buf = new ByteBuffer();
  const w = recorder();
  const clock = () => performance.now();
  const pump = new OutputPump(w, () => buf.take(), {
    intervalMs,
    batchBytes,
    pending: () => buf.length,
    clock,
  });
  const add = (s: string) => {
    buf.append(enc.encode(s));
    pump.kick();
  };
  return { w, pump, add };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

Deno.test("pump coalescing: the first line after a pause is written at once", pure, async () => {
  const { w, pump, add } = coalescingPump(50, 1 << 20);
  add("first\n");
  await tick();
  assert.deepEqual(w.writes, ["first\n"]);
  pump.close();
});

Deno.test("pump coalescing: lines within the interval go out together, on time", pure, async () => {
  const { w, pump, add } = coalescingPump(30, 1 << 20);
  add("a\n");
  await tick();
  add("b\n");
  add("c\n");
  await tick();
  assert.deepEqual(w.writes, ["a\n"], "b and c wait for the interval");
  await new Promise((r) => setTimeout(r, 60));
  assert.deepEqual(w.writes, ["a\n", "b\nc\n"], "and are written without another kick");
  pump.close();
});

Deno.test("pump coalescing: a full batch and flush() do not wait", pure, async () => {
  const { w, pump, add } = coalescingPump(10_000, 4);
  add("a\n");
  await tick();
  add("bcdef\n"); // at least batchBytes
  await tick();
  assert.deepEqual(w.writes, ["a\n", "bcdef\n"]);
  add("g\n");
  await pump.flush();
  assert.deepEqual(w.writes, ["a\n", "bcdef\n", "g\n"]);
  pump.close();
});

Deno.test(
  "pump coalescing: a batch that fills while the interval runs goes at once",
  pure,
  async () => {
    const { w, pump, add } = coalescingPump(10_000, 8);
    add("a\n");
    await tick();
    add("b\n"); // waits: the alarm is set for the end of the interval
    await tick();
    assert.deepEqual(w.writes, ["a\n"]);
    add("cdefgh\n"); // now at least batchBytes wait: no waiting for the alarm
    await tick();
    assert.deepEqual(w.writes, ["a\n", "b\ncdefgh\n"]);
    pump.close();
  },
);

Deno.test(
  "pump: drainTo resolves at the low-water mark while the rest is still being written",
  pure,
  async () => {
    // A reader that takes one slice whenever the test lets it.
    const gates: Array<() => void> = [];
    let written = 0;
    const writer = {
      async write(p: Uint8Array): Promise<number> {
        await new Promise<void>((r) => gates.push(r));
        written += p.length;
        return p.length;
      },
    };
    const buf = new ByteBuffer();
    const pump = new OutputPump(writer, () => buf.take(), {
      intervalMs: 2,
      batchBytes: 64 * 1024,
      pending: () => buf.length,
      clock: () => 0,
    });
    buf.append(new Uint8Array(10 * WRITE_SLICE));
    pump.kick();
    assert.equal(pump.waiting, 10 * WRITE_SLICE);
    let resumed = false;
    const drained = pump.drainTo(7 * WRITE_SLICE).then(() => resumed = true);
    const letOne = async () => {
      while (gates.length === 0) await new Promise((r) => setTimeout(r, 0));
      gates.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    };
    await letOne();
    await letOne();
    assert.equal(resumed, false, "8 slices still wait");
    assert.equal(pump.waiting, 8 * WRITE_SLICE);
    await letOne();
    await drained;
    assert.equal(resumed, true, "resumed at 7 slices, not after all 10");
    assert.equal(written, 3 * WRITE_SLICE, "each write is one slice");
    for (let i = 0; i < 7; i++) await letOne();
    await pump.flush();
    assert.equal(written, 10 * WRITE_SLICE);
    assert.equal(pump.waiting, 0);
    pump.close();
  },
);
