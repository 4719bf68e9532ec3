/**
 * The frame protocol of the course: length-prefixed messages over TCP.
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              payload length (unsigned, big-endian)            |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 payload: that many bytes of UTF-8 ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * A stream carries messages back to back, split however TCP likes; the
 * decoder ({@link frameDecoder}) answers a message, `NEED_MORE`, or a
 * {@link WireError} when the announced length is over the limit — before any
 * of the payload has to be held.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(
 *   encodeMessage(new TextEncoder().encode("hi")),
 *   Uint8Array.of(0, 0, 0, 2, 0x68, 0x69),
 * );
 * ```
 *
 * @module
 */

import { WireError } from "../bytes/wire_error.ts";
import { NEED_MORE, type StreamDecoder } from "../bytes/receive_buffer.ts";

export { WireError };

/** Bytes of the length prefix. */
export const HEADER_SIZE = 4;
/** The largest length the prefix can announce. */
export const MAX_LENGTH = 0xffff_ffff;

/** One message on the wire: the 4-byte length, then `payload` (copied). */
export function encodeMessage(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_LENGTH) {
    throw new WireError(`message of ${payload.length} bytes exceeds ${MAX_LENGTH}`);
  }
  const out = new Uint8Array(HEADER_SIZE + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, HEADER_SIZE);
  return out;
}

/** The length a message's prefix announces (`bytes` holds at least the 4 header bytes). */
export function announcedLength(bytes: Uint8Array): number {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

/**
 * A stream decoder of messages whose payload is at most `maxMessage` bytes.
 * The value is a view of the payload inside the given bytes (copy what you
 * keep). A longer announced length throws WireError as soon as the 4 header
 * bytes are here.
 */
export function frameDecoder(maxMessage: number): StreamDecoder<Uint8Array> {
  return (bytes) => {
    if (bytes.length < HEADER_SIZE) return NEED_MORE;
    const length = announcedLength(bytes);
    if (length > maxMessage) {
      throw new WireError(`message of ${length} bytes exceeds the limit of ${maxMessage}`);
    }
    if (bytes.length < HEADER_SIZE + length) return NEED_MORE;
    return { value: bytes.subarray(HEADER_SIZE, HEADER_SIZE + length), size: HEADER_SIZE + length };
  };
}
