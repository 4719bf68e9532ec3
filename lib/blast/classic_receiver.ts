/**
 * What a classic client (`pudp blast client --classic`) receives, checked
 * and counted: pure, the time passed in.
 *
 * How this works: a {@link ClassicReceiver} is fed what arrives, a TCP
 * read or one UDP datagram at a time (`feed(bytes, now)`). For a file it
 * first expects {@link FILE_PREPARED}: over TCP as the stream's first 13
 * bytes (they may come in one read with the file's first bytes), over UDP
 * as a datagram of its own (a datagram that is exactly the notice; when
 * it is lost the bytes are counted all the same). Every other byte should
 * be `A`: the wrong ones are counted (offset of the first), bytes past what
 * was asked are counted as extra. `done` says every byte asked for arrived;
 * the driver decides the end (the server's close, or a silence) and reports
 * how in {@link ClassicFigures}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = (s: string) => new TextEncoder().encode(s);
 * const rx = new ClassicReceiver({ kind: "file", bytes: 4 }, "tcp");
 * rx.feed(text("file_prep"), 0);
 * rx.feed(text("aredAA"), 10); // the notice's end and the first bytes in one read
 * rx.feed(text("AA"), 20);
 * assert.equal(rx.done, true);
 * assert.equal(rx.notice, true);
 * const report = rx.report(true);
 * assert.equal(report.bytes, 4);
 * assert.equal(report.missing_bytes, 0);
 * assert.equal(report.seconds, 0.01);
 * ```
 *
 * @module
 */

import type { ReceiverReport } from "./receiver.ts";
import {
  classicAnswerBytes,
  type ClassicRequest,
  countWrong,
  FILE_PREPARED_BYTES,
} from "./classic_wire.ts";

/** The classic part of a client's report (`classic` in `--json`). */
export interface ClassicFigures {
  /** The request as sent (no terminator). */
  request: string;
  /** How the end was known: `server closed`, `every byte arrived`, or `inferred from N s of silence`. */
  end: string;
  /** For a file: whether `file_prepared` arrived. */
  notice?: boolean;
  /** For a file or stream: datagrams (UDP) or reads (TCP) that carried its bytes. */
  chunks?: number;
  /** For a file or stream: bytes past what was asked for. */
  extra_bytes?: number;
}

/** The checking and counting of one classic answer (file or stream). */
export class ClassicReceiver {
  /** Bytes of `A` expected. */
  readonly expected: number;
  /** Payload bytes received (the notice not counted). */
  bytes = 0;
  /** Bytes past {@link expected}. */
  extra = 0;
  /** Reads or datagrams that carried payload. */
  chunks = 0;
  /** Whether `file_prepared` arrived (always true for a stream). */
  notice: boolean;
  #noticeAt = 0;
  #noticeWrong = false;
  #firstAt: number | undefined;
  #lastAt = 0;
  #corrupt = 0;
  #firstCorrupt: number | null = null;

  /** A receiver of the answer to `request` (a file or a stream) over `transport`. */
  constructor(readonly request: ClassicRequest, readonly transport: "tcp" | "udp") {
    this.expected = classicAnswerBytes(request);
    this.notice = request.kind !== "file";
  }

  /** What arrived at `now`: a TCP read, or one UDP datagram. */
  feed(bytes: Uint8Array, now: number): void {
    if (!this.notice && this.transport === "udp") {
      if (bytes.length === FILE_PREPARED_BYTES.length && equal(bytes, FILE_PREPARED_BYTES)) {
        this.notice = true;
        return;
      }
    } else if (!this.notice && !this.#noticeWrong) {
      const n = Math.min(bytes.length, FILE_PREPARED_BYTES.length - this.#noticeAt);
      const want = FILE_PREPARED_BYTES.subarray(this.#noticeAt, this.#noticeAt + n);
      if (!equal(bytes.subarray(0, n), want)) {
        this.#noticeWrong = true; // counted as payload (wrong bytes) from here
      } else {
        this.#noticeAt += n;
        if (this.#noticeAt === FILE_PREPARED_BYTES.length) this.notice = true;
        bytes = bytes.subarray(n);
        if (bytes.length === 0) return;
      }
    }
    this.#firstAt ??= now;
    this.#lastAt = now;
    this.chunks++;
    const room = Math.max(0, this.expected - this.bytes);
    const counted = bytes.subarray(0, room);
    const wrong = countWrong(counted, this.bytes);
    if (wrong) {
      this.#corrupt += wrong.wrong;
      this.#firstCorrupt ??= wrong.first;
    }
    this.bytes += counted.length;
    this.extra += bytes.length - counted.length;
  }

  /** Whether every byte asked for arrived. */
  get done(): boolean {
    return this.notice && this.bytes >= this.expected;
  }

  /** The receiver's figures; `ended` says the end was seen (a close, or every byte). */
  report(ended: boolean): ReceiverReport {
    const seconds = this.#firstAt === undefined ? 0 : (this.#lastAt - this.#firstAt) / 1000;
    return {
      bytes: this.bytes,
      expected_bytes: this.expected,
      seconds,
      corrupt_bytes: this.#corrupt,
      first_corrupt_at: this.#firstCorrupt,
      missing_bytes: Math.max(0, this.expected - this.bytes),
      complete: ended && this.done,
    };
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
