/**
 * Places in a PUDP client's window freed without an ALIVE, kept on the books
 * until confirmed, and the resynchronisation that confirms them, as a pure
 * object.
 *
 * How this works: presuming a DATA gone, and taking a gap in the server's
 * numbers for a lost ALIVE (`alone_ledger.ts`), both free a place in the
 * window without an ALIVE: a credit. If the presumption was wrong (the server
 * was only slow; the gap was another client's message), that DATA's ALIVE is
 * still coming and will answer a later DATA instead: the window then counts
 * one fewer message than is really in flight, for good. Such credits are
 * therefore counted as unconfirmed: when they reach one window's worth
 * ({@link UNCONFIRMED_MIN} at least), the client resynchronises: it sends
 * nothing new until every counted DATA is answered and the server has then
 * been quiet for a while ({@link RESYNC_QUIET_MIN_MS}, two RTOs at least).
 * An ALIVE that comes then, with nothing counted in flight, answers a DATA
 * wrongly presumed gone: it cancels one unconfirmed credit. After the quiet,
 * what is left was really lost, and the books are clean again. So a client is
 * never more than about one window beyond its window, however often it is
 * wrong. (Before this, three clients at full speed lost lines in most runs:
 * the first one started alone, its ledger took the others' messages for its
 * own lost ALIVEs, and 170 wrong credits later it overran the server's
 * buffer.) Resynchronisations that find nothing wrong let the next one come
 * later (the allowance doubles, up to two windows), so a path that really
 * loses ALIVEs is not slowed by them for long.
 *
 * When the quiet has lasted is the caller's business (it knows the last
 * answer and the RTO); this object keeps the books and the state.
 *
 * @module
 */

/** Fewest unconfirmed credits that start a resynchronisation (see the module comment). */
export const UNCONFIRMED_MIN = 4;
/** Shortest quiet that ends a resynchronisation, in ms (at least two RTOs). */
export const RESYNC_QUIET_MIN_MS = 20;
/** Most clean resynchronisations counted in a row (the allowance is capped anyway). */
const MAX_CLEAN_RESYNCS = 10;

/**
 * Whether sending waits for a resynchronisation, and what it has found so
 * far: ALIVEs that answered wrong credits.
 */
export type ResyncState =
  | { readonly phase: "trusting" }
  | { readonly phase: "resyncing"; wrong: number };

const TRUSTING: ResyncState = { phase: "trusting" };

/**
 * The unconfirmed credits of one client's window.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { UnconfirmedCredits } from "./unconfirmed_credits.ts";
 *
 * const books = new UnconfirmedCredits();
 * assert.equal(books.credit(3, 4, 32), false); // 3 places freed without an ALIVE: allowed
 * assert.equal(books.credit(1, 4, 32), true); // a window's worth: resynchronise
 * assert.equal(books.resyncing, true);
 * assert.equal(books.onLateAnswer(), true); // an ALIVE for a DATA presumed gone
 * books.endResync(); // the server was quiet long enough: the other 3 were really lost
 * assert.equal(books.count, 0);
 * assert.equal(books.resyncing, false);
 * ```
 */
export class UnconfirmedCredits {
  #count = 0;
  #state: ResyncState = TRUSTING;
  /** Resynchronisations in a row that found nothing wrong (each doubles the allowance). */
  #cleanResyncs = 0;

  /** Credits not yet confirmed. */
  get count(): number {
    return this.#count;
  }

  /** Whether sending waits for a resynchronisation. */
  get resyncing(): boolean {
    return this.#state.phase === "resyncing";
  }

  /** The resynchronisation state. */
  get state(): Readonly<ResyncState> {
    return this.#state;
  }

  /**
   * `n` places in the window were freed without an ALIVE; `window` is the
   * window now, `maxWindow` its most. Returns whether this starts a
   * resynchronisation.
   */
  credit(n: number, window: number, maxWindow: number): boolean {
    if (n <= 0) return false;
    this.#count += n;
    if (this.#state.phase === "resyncing" || this.#count < this.#allowance(window, maxWindow)) {
      return false;
    }
    this.#state = { phase: "resyncing", wrong: 0 };
    return true;
  }

  /**
   * An ALIVE came with nothing counted in flight: the answer to a DATA
   * presumed gone or counted answered. Returns whether it proved a credit
   * wrong (there was one to cancel).
   */
  onLateAnswer(): boolean {
    if (this.#count === 0) return false;
    this.#count--;
    if (this.#state.phase === "resyncing") this.#state.wrong++;
    return true;
  }

  /**
   * The quiet after the last answer that ends a resynchronisation, in ms,
   * for an RTO of `rtoMs`, at most `longestQuietMs`.
   */
  quietMs(rtoMs: number, longestQuietMs: number): number {
    return Math.min(longestQuietMs, Math.max(RESYNC_QUIET_MIN_MS, 2 * rtoMs));
  }

  /** The resynchronisation's quiet has passed: what is still unconfirmed was really lost. */
  endResync(): void {
    const wrong = this.#state.phase === "resyncing" ? this.#state.wrong : 0;
    this.#state = TRUSTING;
    this.#count = 0;
    this.#cleanResyncs = wrong === 0 ? Math.min(this.#cleanResyncs + 1, MAX_CLEAN_RESYNCS) : 0;
  }

  /** Unconfirmed credits allowed before a resynchronisation: a window, doubled per clean one. */
  #allowance(window: number, maxWindow: number): number {
    const allowed = Math.max(UNCONFIRMED_MIN, window);
    const most = 2 * Math.max(UNCONFIRMED_MIN, maxWindow);
    return Math.min(most, allowed * 2 ** this.#cleanResyncs);
  }
}
