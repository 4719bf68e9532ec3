/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// Test helper: writes `count` numbered records into a ring, then closes it.
import { RingState, RingWriter } from "../../lib/stdin/line_ring.ts";

self.onmessage = (e: MessageEvent<{ buffer: SharedArrayBuffer; count: number }>) => {
  const w = new RingWriter(e.data.buffer);
  for (let i = 0; i < e.data.count; i++) {
    const n = i % 41;
    w.write(Uint8Array.from({ length: n }, (_, k) => (k * 31 + i) & 0xff), i % 2 === 0);
    if (i % 7 === 0) w.publish();
  }
  w.close(RingState.ENDED);
};
