/**
 * What the pipe family's cases send and how they judge what arrives: bytes
 * made from a seed and their position ({@link patternFill}), so a large
 * input is generated as it is sent and compared as it arrives, never held
 * ({@link StreamCompare}); the judgement of a server's output when several
 * clients sent at once ({@link contiguous}: every client's bytes whole and
 * together, in some order); the first difference of two byte strings,
 * escaped ({@link firstDifference}); and a program's resident memory read
 * from /proc ({@link residentBytes}). All pure but the last.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const a = patternBytes(1, 0, 10);
 * const cmp = new StreamCompare(1, 10);
 * cmp.add(a.subarray(0, 3));
 * cmp.add(a.subarray(3));
 * assert.equal(cmp.verdict(), undefined);
 * const enc = new TextEncoder();
 * assert.deepEqual(contiguous(enc.encode("bbbaa"), [enc.encode("aa"), enc.encode("bbb")]), {
 *   order: [1, 0],
 * });
 * assert.match(contiguous(enc.encode("baabb"), [enc.encode("aa"), enc.encode("bbb")]).error!,
 *   /^at byte 0: only 1 of client 2's 3 bytes, then the start of client 1's \(interleaved\)$/);
 * assert.equal(firstDifference(enc.encode("abc"), enc.encode("abc")), undefined);
 * ```
 *
 * @module
 */

import { mix32 } from "../util/mix32.ts";

/**
 * The first `max` bytes of `bytes`, quoted, every byte outside printable
 * ASCII (and the quote and backslash) as `\xNN`, with the total: binary
 * data shown as what it is (a replacement character's three bytes stay
 * three bytes).
 */
export function showBytes(bytes: Uint8Array, max = 16): string {
  let text = "";
  for (const b of bytes.subarray(0, max)) {
    text += b >= 0x20 && b < 0x7f && b !== 0x27 && b !== 0x5c
      ? String.fromCharCode(b)
      : "\\x" + b.toString(16).padStart(2, "0");
  }
  return `'${text}'${bytes.length > max ? "…" : ""} (${bytes.length} bytes)`;
}

/** Fills `out` with the pattern of `seed` from byte `offset` on (4 bytes per mixed word). */
export function patternFill(seed: number, offset: number, out: Uint8Array): void {
  let word = Math.floor(offset / 4);
  let value = mix32((seed * 0x9e3779b1 + word) >>> 0);
  for (let i = 0, k = offset % 4; i < out.length; i++, k++) {
    if (k === 4) {
      k = 0;
      word++;
      value = mix32((seed * 0x9e3779b1 + word) >>> 0);
    }
    out[i] = (value >>> (8 * k)) & 0xff;
  }
}

/** `n` bytes of the pattern of `seed` from `offset`. */
export function patternBytes(seed: number, offset: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  patternFill(seed, offset, out);
  return out;
}

/** Every byte value, NULs, invalid UTF-8, CR LF, a lone surrogate's encoding: binary to send. */
export function binarySample(): Uint8Array {
  const out: number[] = [];
  for (let round = 0; round < 3; round++) for (let b = 0; b < 256; b++) out.push(b);
  out.push(0, 0, 0, 0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x0d, 0x0a, 0xed, 0xa0, 0x80, 0x80, 0xbf);
  for (let b = 255; b >= 0; b--) out.push(b);
  out.push(0x00);
  return Uint8Array.from(out);
}

/**
 * Compares bytes as they arrive with the pattern of a seed, keeping none of
 * them: how many arrived and where they first differed.
 */
export class StreamCompare {
  /** Bytes compared so far. */
  length = 0;
  /** The offset of the first byte that differed, if one did. */
  mismatchAt: number | undefined;
  /** What arrived there (the first bytes of that chunk, from the mismatch). */
  mismatchBytes: Uint8Array | undefined;
  #scratch = new Uint8Array(0);

  /** Compares against the pattern of `seed`, `expected` bytes long. */
  constructor(readonly seed: number, readonly expected: number) {}

  /** Takes the next bytes. */
  add(chunk: Uint8Array): void {
    if (this.mismatchAt === undefined) {
      if (this.#scratch.length < chunk.length) this.#scratch = new Uint8Array(chunk.length);
      const want = this.#scratch.subarray(0, chunk.length);
      patternFill(this.seed, this.length, want);
      for (let i = 0; i < chunk.length; i++) {
        if (chunk[i] !== want[i] || this.length + i >= this.expected) {
          this.mismatchAt = this.length + i;
          this.mismatchBytes = chunk.slice(i, i + 32);
          break;
        }
      }
    }
    this.length += chunk.length;
  }

  /** Undefined when every byte arrived exactly; else what went wrong, one line. */
  verdict(): string | undefined {
    if (this.mismatchAt !== undefined && this.mismatchAt < this.expected) {
      return `${this.length} bytes, differing from byte ${this.mismatchAt} on: ${
        showBytes(this.mismatchBytes!, 16)
      } where ${showBytes(patternBytes(this.seed, this.mismatchAt, 16), 16)} was sent`;
    }
    if (this.length !== this.expected) {
      return `${this.length} bytes instead of ${this.expected}` +
        (this.length > this.expected ? " (the bytes sent, then more)" : " (the first ones exact)");
    }
    return undefined;
  }
}

/** Where two byte strings first differ, escaped; undefined when they are equal. */
export function firstDifference(expected: Uint8Array, observed: Uint8Array): string | undefined {
  const n = Math.min(expected.length, observed.length);
  let i = 0;
  while (i < n && expected[i] === observed[i]) i++;
  if (i === n && expected.length === observed.length) return undefined;
  const length = `${observed.length} bytes (${expected.length} sent)`;
  if (i === n) {
    return observed.length < expected.length
      ? `${length}: the first ${i} exact, then nothing`
      : `${length}: the bytes sent, then ${showBytes(observed.subarray(i), 16)}`;
  }
  return `${length}, differing from byte ${i} on: ${showBytes(observed.subarray(i), 16)} ` +
    `where ${showBytes(expected.subarray(i), 16)} was sent`;
}

/** How an output is made of several clients' bytes: their order, or where it goes wrong. */
export type ContiguousVerdict = { order: number[]; error?: undefined } | {
  order?: undefined;
  error: string;
};

/**
 * Whether `output` is every one of `streams` exactly once, each whole and
 * contiguous, in any order (an empty stream may be anywhere). The streams
 * must start differently (each begins with its own header).
 */
export function contiguous(output: Uint8Array, streams: readonly Uint8Array[]): ContiguousVerdict {
  const left = new Set(streams.map((_, i) => i).filter((i) => streams[i].length > 0));
  const order: number[] = [];
  let at = 0;
  const matchLength = (s: Uint8Array) => {
    let n = 0;
    while (n < s.length && at + n < output.length && output[at + n] === s[n]) n++;
    return n;
  };
  while (left.size > 0) {
    let best = -1;
    let bestLength = 0;
    for (const i of left) {
      const n = matchLength(streams[i]);
      if (n === streams[i].length) {
        best = i;
        bestLength = n;
        break;
      }
      if (n > bestLength) [best, bestLength] = [i, n];
    }
    if (best >= 0 && bestLength === streams[best].length) {
      order.push(best);
      left.delete(best);
      at += bestLength;
      continue;
    }
    if (at >= output.length) {
      return {
        error: `${output.length} bytes: client(s) ${
          [...left].map((i) => i + 1).join(", ")
        } missing after the bytes of ${order.length} whole client(s)`,
      };
    }
    if (best < 0) {
      return {
        error: `at byte ${at} (after ${order.length} whole client(s)): ${
          showBytes(output.subarray(at), 16)
        }, the start of no client's bytes`,
      };
    }
    const next = output.subarray(at + bestLength);
    const other = [...left].find((i) => i !== best && matchLength2(next, streams[i]));
    return {
      error: `at byte ${at}: only ${bestLength} of client ${best + 1}'s ${
        streams[best].length
      } bytes, then ${
        other !== undefined ? `the start of client ${other + 1}'s (interleaved)` : showBytes(
          next,
          16,
        )
      }`,
    };
  }
  if (at !== output.length) {
    return {
      error: `${output.length} bytes: every client's bytes, then ${
        showBytes(output.subarray(at), 16)
      }`,
    };
  }
  return { order };
}

/** Whether `bytes` starts with the first bytes (up to 8) of `stream`. */
function matchLength2(bytes: Uint8Array, stream: Uint8Array): boolean {
  const n = Math.min(8, stream.length);
  if (bytes.length < n) return false;
  for (let i = 0; i < n; i++) if (bytes[i] !== stream[i]) return false;
  return true;
}

/**
 * The resident memory of a `/proc/PID/status` text, in bytes: the larger of
 * `VmRSS` and `VmHWM` (its peak so far, which a sample cannot miss); 0 when
 * it has neither.
 */
export function vmRss(status: string): number {
  const kb = (field: string) => {
    const m = new RegExp(`^${field}:\\s+(\\d+)\\s+kB`, "m").exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  };
  return Math.max(kb("VmRSS"), kb("VmHWM"));
}

/**
 * The resident memory of `pid` and its descendants from a `ps -e -o
 * pid=,ppid=,rss=` table (RSS in KiB); undefined when `pid` is not in it.
 */
export function psTreeRss(table: string, pid: number): number | undefined {
  const rows = table.trim().split("\n").map((l) => l.trim().split(/\s+/).map(Number));
  if (!rows.some((r) => r[0] === pid)) return undefined;
  const tree = new Set([pid]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [p, parent] of rows) {
      if (!tree.has(p) && tree.has(parent)) {
        tree.add(p);
        grew = true;
      }
    }
  }
  return rows.filter((r) => tree.has(r[0])).reduce((n, r) => n + (r[2] || 0) * 1024, 0);
}

/**
 * The (peak) resident memory of process `pid` and its descendants (a
 * wrapper script's child): from /proc where this process may read it
 * (VmHWM, VmRSS), else from `ps`; undefined when neither can say.
 */
export async function residentBytes(pid: number): Promise<number | undefined> {
  const proc = await procResident(pid);
  if (proc !== undefined) return proc;
  try {
    const out = await new Deno.Command("ps", {
      args: ["-e", "-o", "pid=,ppid=,rss="],
      stdout: "piped",
      stderr: "null",
    }).output();
    return psTreeRss(new TextDecoder().decode(out.stdout), pid);
  } catch {
    return undefined;
  }
}

/** From /proc (it needs every permission under Deno); undefined where it cannot be read. */
async function procResident(pid: number): Promise<number | undefined> {
  const pids = [pid];
  let total = 0;
  let seen = false;
  for (let i = 0; i < pids.length && i < 64; i++) {
    try {
      total += vmRss(await Deno.readTextFile(`/proc/${pids[i]}/status`));
      seen = true;
    } catch {
      continue;
    }
    try {
      const children = await Deno.readTextFile(`/proc/${pids[i]}/task/${pids[i]}/children`);
      for (const c of children.trim().split(/\s+/)) if (c !== "") pids.push(Number(c));
    } catch {
      // no children file: only the process itself
    }
  }
  return seen ? total : undefined;
}
