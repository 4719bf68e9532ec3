/**
 * How many `ERROR` replies the ids server may send, as a pure machine.
 *
 * How this works: every address has a token bucket of {@link ERROR_BURST}
 * tokens, refilled at {@link ERROR_RATE} a second; an ERROR to that address
 * spends one, and without one the ERROR is not sent. A second bucket, shared
 * by all addresses ({@link ERROR_TOTAL_BURST}, {@link ERROR_TOTAL_RATE} a
 * second), bounds the total, so a flood from forged source addresses cannot
 * turn the server into a reflector either. The table of addresses holds at
 * most {@link ERROR_ADDRESSES}; a new address past the cap makes the server
 * forget the address used least recently (a forgotten address starts again
 * with a full bucket: the shared bucket still bounds the total).
 *
 * Time comes in as `now`, in ms on any monotonic clock.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const limiter = new ErrorLimiter();
 * let sent = 0;
 * for (let i = 0; i < 1000; i++) if (limiter.allow("10.0.0.1:5000", i)) sent++;
 * assert.equal(sent, 9); // a burst of 5, then one each 200 ms
 * ```
 *
 * @module
 */

/** ERRORs one address may get at once. */
export const ERROR_BURST = 5;
/** ERRORs one address may get per second, once its burst is spent. */
export const ERROR_RATE = 5;
/** ERRORs all addresses together may get at once. */
export const ERROR_TOTAL_BURST = 100;
/** ERRORs all addresses together may get per second. */
export const ERROR_TOTAL_RATE = 100;
/** Most addresses the limiter remembers. */
export const ERROR_ADDRESSES = 4096;

/** Settings of an {@link ErrorLimiter}; every field defaults to the constants above. */
export interface ErrorLimits {
  /** Tokens per address. */
  burst: number;
  /** Tokens per address per second. */
  rate: number;
  /** Tokens shared by all addresses. */
  totalBurst: number;
  /** Shared tokens per second. */
  totalRate: number;
  /** Most addresses remembered. */
  addresses: number;
}

/** A token bucket: `tokens` as of time `at`. */
class Bucket {
  constructor(public tokens: number, public at: number) {}

  /** Refills the bucket up to `now`. */
  refill(now: number, burst: number, perSecond: number): void {
    const elapsed = Math.max(0, now - this.at);
    this.tokens = Math.min(burst, this.tokens + elapsed * perSecond / 1000);
    this.at = Math.max(this.at, now);
  }
}

/** Per-address and total token buckets for ERROR replies, with a bounded table of addresses. */
export class ErrorLimiter {
  /** The limits in effect, defaults filled in. */
  readonly limits: ErrorLimits;
  /** Addresses in order of last use, least recent first (a Map keeps insertion order). */
  readonly #buckets = new Map<string, Bucket>();
  readonly #total: Bucket;

  /** A limiter with every bucket full. */
  constructor(limits: Partial<ErrorLimits> = {}) {
    this.limits = {
      burst: ERROR_BURST,
      rate: ERROR_RATE,
      totalBurst: ERROR_TOTAL_BURST,
      totalRate: ERROR_TOTAL_RATE,
      addresses: ERROR_ADDRESSES,
      ...limits,
    };
    this.#total = new Bucket(this.limits.totalBurst, -Infinity);
  }

  /** Addresses remembered now (at most `limits.addresses`). */
  get size(): number {
    return this.#buckets.size;
  }

  /** Whether an ERROR may go to `address` (`host:port`) at `now`; if so, it is counted. */
  allow(address: string, now: number): boolean {
    const { burst, rate, totalBurst, totalRate, addresses } = this.limits;
    let bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      bucket = new Bucket(burst, now);
      while (this.#buckets.size >= addresses) {
        this.#buckets.delete(this.#buckets.keys().next().value!);
      }
    } else {
      bucket.refill(now, burst, rate);
      this.#buckets.delete(address); // moved to the end: used most recently
    }
    this.#buckets.set(address, bucket);
    this.#total.refill(now, totalBurst, totalRate);
    if (bucket.tokens < 1 || this.#total.tokens < 1) return false;
    bucket.tokens--;
    this.#total.tokens--;
    return true;
  }
}
