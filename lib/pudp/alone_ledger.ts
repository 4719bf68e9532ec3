/**
 * Lost ALIVEs, counted exactly from the server's sequence numbers while this
 * client is the server's only client, and proof that it is not.
 *
 * The server numbers every message it sends, to anyone, from one counter.
 * While this client is alone, the number of an ALIVE therefore says how
 * many of this client's DATA the server has answered: the number of the
 * first ALIVE plus the numbers since. Fewer ALIVEs received than that is
 * ALIVEs lost on the way, their DATA answered all the same. Another
 * client's message can look like a lost ALIVE, but it also makes the count
 * run ahead of what this client has sent: the first count beyond the DATA
 * sent proves another client is there, and the ledger stops for good. So
 * another client can be taken for lost ALIVEs at most about one window's
 * worth, once (measured, before this ledger: taking every small gap for
 * lost ALIVEs while the average gap was low let three clients at full speed
 * overrun the server's buffer).
 *
 * @module
 */

/**
 * Counts lost ALIVEs while the server's numbers show no other client.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { AloneLedger } from "./alone_ledger.ts";
 *
 * const ledger = new AloneLedger();
 * ledger.onAlive(100, 5); // the first ALIVE, 5 DATA sent
 * ledger.onAlive(103, 5); // 101 and 102 never came: two ALIVEs lost
 * assert.equal(ledger.takeLost(), 2);
 * ledger.onAlive(107, 5); // 7 answered of 5 sent: another client is there
 * assert.equal(ledger.alone, false);
 * ```
 */
export class AloneLedger {
  /** The server's number just before its first ALIVE to this client. */
  #base: number | undefined;
  /** The most DATA the server has answered, by its numbers. */
  #answered = 0;
  #received = 0;
  /** Lost ALIVEs already handed out by {@link takeLost} or settled. */
  #accounted = 0;
  #alone = true;

  /** False once the server's numbers have shown another client. */
  get alone(): boolean {
    return this.#alone;
  }

  /** An ALIVE with the server's number `seq` arrived; `sent` DATA had gone by then. */
  onAlive(seq: number, sent: number): void {
    this.#received++;
    if (!this.#alone) return;
    this.#base ??= (seq - 1) >>> 0;
    const answered = (seq - this.#base) >>> 0;
    if (answered >= 2 ** 31) return; // older than the first: reordered
    if (answered > sent) {
      this.#alone = false;
      return;
    }
    this.#answered = Math.max(this.#answered, answered);
  }

  /** ALIVEs lost since the last call (always 0 once not alone). */
  takeLost(): number {
    if (!this.#alone) return 0;
    const lost = Math.max(0, this.#answered - this.#received - this.#accounted);
    this.#accounted += lost;
    return lost;
  }

  /**
   * An ALIVE came that a credit had already taken care of: the numbers were
   * another client's, not lost ALIVEs. The ledger stops for good.
   */
  stop(): void {
    this.#alone = false;
  }

  /** Whatever was lost so far is taken care of otherwise (the DATA were presumed gone). */
  settle(): void {
    this.#accounted = Math.max(this.#accounted, this.#answered - this.#received);
  }
}
