/**
 * The receive buffer: three-way decode, compaction, the limit.
 */

import assert from "node:assert/strict";
import { WireError } from "../../lib/bytes/wire_error.ts";
import { NEED_MORE, ReceiveBuffer, type StreamDecoder } from "../../lib/bytes/receive_buffer.ts";

const pure = { permissions: "none" } as const;

/** A toy codec: a length byte, then that many bytes; 0xff is not a message. */
const lengthByte: StreamDecoder<number[]> = (bytes) => {
  if (bytes.length === 0) return NEED_MORE;
  if (bytes[0] === 0xff) throw new WireError("0xff");
  if (bytes.length < 1 + bytes[0]) return NEED_MORE;
  return { value: [...bytes.subarray(1, 1 + bytes[0])], size: 1 + bytes[0] };
};

Deno.test("receive buffer: a value, need more, or the codec's error", pure, () => {
  const rx = new ReceiveBuffer(64, 4);
  rx.push(new Uint8Array([3, 1, 2]));
  assert.equal(rx.decode(lengthByte), NEED_MORE);
  assert.equal(rx.length, 3, "need more consumes nothing");
  rx.push(new Uint8Array([3, 0, 0xff]));
  assert.deepEqual(rx.decode(lengthByte), [1, 2, 3]);
  assert.deepEqual(rx.decode(lengthByte), []);
  assert.throws(() => rx.decode(lengthByte), WireError);
  assert.deepEqual([...rx.takeAll()], [0xff]);
  assert.equal(rx.length, 0);
});

Deno.test("receive buffer: holds at most its limit, and reuses its room", pure, () => {
  const rx = new ReceiveBuffer(8, 4);
  for (let i = 0; i < 100; i++) { // a message at a time: compaction keeps it within the limit
    rx.push(new Uint8Array([5, i, i, i, i, i]));
    assert.deepEqual(rx.decode(lengthByte), [i, i, i, i, i]);
  }
  rx.push(new Uint8Array(8));
  assert.throws(() => rx.push(new Uint8Array(1)), WireError);
});
