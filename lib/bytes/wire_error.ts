/**
 * The one error type of every codec: bytes that are not a valid message of
 * the protocol (or a message that cannot be encoded). Decoders throw it and
 * nothing else, so a driver can tell bad input from a bug.
 *
 * @module
 */

/** Bytes that are not a valid message, or a message that cannot be encoded. */
export class WireError extends Error {
  /** The error's name, as stack traces show it. */
  override name = "WireError";
}
