/**
 * The seeded fault decisions of `pudp impair`, as pure functions.
 *
 * How this works: every decision is a hash of (seed, flow, direction,
 * datagram number, which fault), not the next number of one shared random
 * stream. So the n-th datagram of a flow meets the same fate under the same
 * seed however the datagrams of other flows and the other direction happen
 * to interleave: a run can be repeated, and a test can know in advance
 * which datagrams a seed drops.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const options = { ...NO_FAULTS, loss: 0.3, seed: 42 };
 * // The same seed, flow, direction and position always give the same decision:
 * const first = decide(options, 0, "up", 0);
 * assert.deepEqual(decide(options, 0, "up", 0), first);
 * ```
 *
 * @module
 */

import { mix32 } from "../util/mix32.ts";

/** Which way a datagram travels: client → server ("up") or back ("down"). */
export type Direction = "up" | "down";

/** What `--direction` selects. */
export type DirectionChoice = Direction | "both";

/** The faults to inject (all probabilities in [0, 1]). */
export interface FaultOptions {
  /** Probability that a datagram is dropped. */
  loss: number;
  /** Probability that a datagram is sent twice. */
  dup: number;
  /** Probability that a datagram is held back until the next one has passed. */
  reorder: number;
  /** Delay added to every datagram, in ms. */
  delayMs: number;
  /** Up to this much more delay, drawn per datagram, in ms. */
  jitterMs: number;
  /** Which directions the faults apply to. */
  direction: DirectionChoice;
  /** The seed every decision is a hash of. */
  seed: number;
}

/** No faults at all. */
export const NO_FAULTS: FaultOptions = {
  loss: 0,
  dup: 0,
  reorder: 0,
  delayMs: 0,
  jitterMs: 0,
  direction: "both",
  seed: 1,
};

/** The fate of one datagram. */
export interface FaultDecision {
  /** Not forwarded. */
  drop: boolean;
  /** Forwarded twice, back to back. */
  duplicate: boolean;
  /** Held back until the next datagram of its flow and direction has gone. */
  reorder: boolean;
  /** Added delay in ms (delay ± jitter, never below 0). */
  delayMs: number;
}

/** Which draw of a datagram's hash decides what. */
const Draw = { Loss: 1, Dup: 2, Reorder: 3, Jitter: 4 } as const;

/** A uniform number in [0, 1) fixed by its arguments. */
export function unitDraw(seed: number, flow: number, up: boolean, n: number, draw: number): number {
  let h = mix32((seed ^ 0x9e3779b9) >>> 0);
  h = mix32((h ^ flow) >>> 0);
  h = mix32((h ^ (up ? 0x5555 : 0xaaaa)) >>> 0);
  h = mix32((h ^ n) >>> 0);
  h = mix32((h ^ Math.imul(draw, 0x27d4eb2d)) >>> 0);
  return h / 2 ** 32;
}

/** Whether faults apply to `direction` under `choice`. */
export function appliesTo(choice: DirectionChoice, direction: Direction): boolean {
  return choice === "both" || choice === direction;
}

/**
 * The fate of the `n`-th datagram (from 0) of flow `flow` (flows numbered
 * from 0 in order of their first datagram) travelling `direction`.
 */
export function decide(
  options: FaultOptions,
  flow: number,
  direction: Direction,
  n: number,
): FaultDecision {
  if (!appliesTo(options.direction, direction)) {
    return { drop: false, duplicate: false, reorder: false, delayMs: 0 };
  }
  const up = direction === "up";
  const draw = (d: number) => unitDraw(options.seed, flow, up, n, d);
  const drop = options.loss > 0 && draw(Draw.Loss) < options.loss;
  const duplicate = !drop && options.dup > 0 && draw(Draw.Dup) < options.dup;
  const reorder = !drop && options.reorder > 0 && draw(Draw.Reorder) < options.reorder;
  const jitter = options.jitterMs > 0 ? (2 * draw(Draw.Jitter) - 1) * options.jitterMs : 0;
  return { drop, duplicate, reorder, delayMs: drop ? 0 : Math.max(0, options.delayMs + jitter) };
}
