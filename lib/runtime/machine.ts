/**
 * What a driver needs of a pure protocol machine, in one place: a machine
 * with deadlines ({@link TimedMachine}) and a machine that serves TCP
 * connections ({@link StreamMachine}). Both are pure: time comes in as a
 * number, and nothing here does I/O.
 *
 * @module
 */

import type { PeerAddress } from "./transmit.ts";

/** A machine with deadlines: its next one, and a way to say it came. */
export interface TimedMachine {
  /** The time asked for by `pollTimeout` has come (early calls are harmless). */
  handleTimeout(now: number): void;
  /** When the machine next needs `handleTimeout`, in ms on its clock; undefined for never. */
  pollTimeout(): number | undefined;
}

/** The inputs of a machine that serves TCP connections (time passed in). */
export interface StreamMachine {
  /** A connection was accepted. */
  handleConnect(connection: number, peer: PeerAddress, now: number): void;
  /** Bytes arrived on a connection (a view: copy what you keep). */
  handleStreamBytes(connection: number, bytes: Uint8Array, now: number): void;
  /** The peer half-closed or closed (EOF). */
  handleStreamEnd(connection: number, now: number): void;
  /** The connection is gone without an orderly end (`peer reset`, `error: …`). */
  handleStreamGone(connection: number, why: string): void;
}
