/**
 * The one deadline structure of every state machine: a table of timers on
 * a numeric clock (whatever `now` the machine is given), earliest first.
 *
 * How this works: a {@link Timer} belongs to one thing a machine keeps (a
 * session, a held datagram, "the `--timeout` timer") and is made once; `set` arms
 * or moves it, `clear` disarms it, `popDue(now)` hands back, one at a time,
 * the owners of the timers that are due, and `nextAt` is what the machine's
 * `pollTimeout()` returns. The table is a binary heap that keeps each
 * timer's position in the timer itself, so moving or clearing one costs
 * O(log n) and allocates nothing. Timers due at the same time fire in the
 * order they were set.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const table = new TimerTable<string>();
 * const a = new Timer("a"), b = new Timer("b");
 * table.set(a, 20);
 * table.set(b, 10);
 * assert.equal(table.nextAt, 10);
 * assert.equal(table.popDue(15), "b");
 * assert.equal(table.popDue(15), undefined); // "a" is not due yet
 * ```
 *
 * @module
 */

/** One timer; `owner` is what it is for. */
export class Timer<T> {
  /** When it is due (meaningful while armed). */
  at: number = Infinity;
  /** Position in the table's heap; -1 when not armed. */
  index: number = -1;
  /** Tie-break: the order in which timers were set. */
  order = 0;

  /**
   * A timer, not armed.
   *
   * @param owner what `popDue` hands back when this timer is due
   */
  constructor(readonly owner: T) {}

  /** Whether the timer is in a table and has not fired. */
  get armed(): boolean {
    return this.index >= 0;
  }
}

/** Timers ordered by due time. */
export class TimerTable<T> {
  readonly #heap: Timer<T>[] = [];
  #order = 0;

  /** Number of armed timers. */
  get size(): number {
    return this.#heap.length;
  }

  /** The earliest due time, or undefined when no timer is armed. */
  get nextAt(): number | undefined {
    return this.#heap.length > 0 ? this.#heap[0].at : undefined;
  }

  /** Arms `timer` to be due at `at`, or moves it there if it is armed already. */
  set(timer: Timer<T>, at: number): void {
    const earlier = at < timer.at;
    timer.at = at;
    timer.order = this.#order++;
    if (timer.index < 0) {
      timer.index = this.#heap.length;
      this.#heap.push(timer);
      this.#up(timer.index);
    } else if (earlier) {
      this.#up(timer.index);
    } else {
      this.#down(timer.index);
    }
  }

  /** Disarms `timer` (nothing happens if it is not armed). */
  clear(timer: Timer<T>): void {
    const i = timer.index;
    if (i < 0) return;
    const heap = this.#heap;
    const last = heap.pop()!;
    timer.index = -1;
    timer.at = Infinity;
    if (last === timer) return;
    heap[i] = last;
    last.index = i;
    this.#up(i);
    this.#down(last.index);
  }

  /** Disarms and returns the owner of the earliest timer due at or before `now`, or undefined. */
  popDue(now: number): T | undefined {
    const top = this.#heap[0];
    if (top === undefined || top.at > now) return undefined;
    this.clear(top);
    return top.owner;
  }

  #less(a: Timer<T>, b: Timer<T>): boolean {
    return a.at < b.at || (a.at === b.at && a.order < b.order);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const t = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(t, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = t;
    t.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const t = heap[i];
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.#less(heap[r], heap[l]) ? r : l;
      if (!this.#less(heap[c], t)) break;
      heap[i] = heap[c];
      heap[i].index = i;
      i = c;
    }
    heap[i] = t;
    t.index = i;
  }
}
