import assert from "node:assert/strict";
import { OutputPump } from "../../lib/io/output_pump.ts";
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
