/**
 * The pipe family's client cases: pudp plays the server (the scripted
 * machine of pipe_scripted_server.ts on a port of 127.0.0.1: a normal one,
 * one that reads nothing for a while, one that never closes, one that
 * closes or half-closes before the end), starts the client pointed at it,
 * feeds its stdin (text, binary, in slow pieces, or tens of MiB generated as
 * they go) and judges the bytes that arrive (compared as they come, never
 * held), the client's half-close, its resident memory and its exit status.
 *
 * @module
 */

import { type CheckCase, fail, type Outcome, pass, skip, type TraceSink } from "./case_model.ts";
import {
  binarySample,
  firstDifference,
  patternBytes,
  patternFill,
  residentBytes,
  StreamCompare,
} from "./pipe_output.ts";
import { NORMAL_PIPE, type PipePlan, PipeServerPeer } from "./pipe_scripted_server.ts";
import { pause } from "./stream_probe.ts";
import type { ClientTarget, Spawned } from "./target.ts";

/** How long a started client may take to connect (a program that has just started). */
const START_MS = 15_000;
/** How long the client's bytes (and its EOF) may take to arrive once its stdin has them. */
const ARRIVE_MS = 8000;
/** How long the client may take to exit once it knows how it ended. */
const EXIT_MS = 5000;
/** How long a client is watched for an exit 0 while its server never closes (after its EOF). */
const NEVER_CLOSED_MS = 6000;
/** How long a piece of a paced stdin may take to reach the server before the next is written. */
const PIECE_MS = 3000;

const enc = new TextEncoder();

/** One run: the server pudp plays and the client started against it. */
class Run {
  readonly peer: PipeServerPeer;
  readonly client: Spawned;

  constructor(t: ClientTarget, readonly trace: TraceSink, plan: PipePlan) {
    this.peer = new PipeServerPeer(trace, plan);
    this.client = t.start({ host: "127.0.0.1", port: this.peer.port });
  }

  /** Writes `bytes` to the client's stdin in pieces of `size`, `gapMs` apart; false when it stopped taking them. */
  async feed(bytes: Uint8Array, size = 1 << 20, gapMs = 0, paced = false): Promise<boolean> {
    for (let at = 0; at < bytes.length; at += size) {
      if (!await this.client.writeBytes(bytes.subarray(at, at + size))) return false;
      // Paced: the next piece only once this one is at the server (bounded), so that
      // however late the client starts, its reads cannot find two pieces waiting.
      const sent = Math.min(bytes.length, at + size);
      if (paced && !await this.peer.waitFor((m) => m.bytes >= sent, PIECE_MS)) paced = false;
      if (gapMs > 0) await pause(gapMs);
    }
    return true;
  }

  /** Waits for the client's connection and its EOF; a failure, or undefined. */
  async arrived(ms = ARRIVE_MS): Promise<Outcome | undefined> {
    if (!await this.peer.waitFor((m) => m.connectedAt !== undefined, START_MS)) {
      return fail(`a connection within ${START_MS} ms`, this.exited() ?? "none");
    }
    const m = this.peer.machine;
    if (!await this.peer.waitFor((m) => m.eofAt !== undefined || m.resetAt !== undefined, ms)) {
      return fail(
        `the client's EOF (FIN) within ${ms} ms of the end of its stdin`,
        `${m.bytes} bytes, the connection still open`,
      );
    }
    if (m.resetAt !== undefined) {
      return fail("the bytes, then the client's EOF (FIN)", `a reset after ${m.bytes} bytes`);
    }
    return undefined;
  }

  /** How the client ended, if it has. */
  exited(): string | undefined {
    return this.client.code === undefined ? undefined : `the client exited ${this.client.code}`;
  }

  /** Waits for exit 0; a failure, or undefined. */
  async exitZero(ms = EXIT_MS): Promise<Outcome | undefined> {
    const code = await this.client.waitExit(ms);
    return code === 0 ? undefined : fail(
      `exit 0 within ${ms} ms of the server's close after its EOF`,
      code === undefined ? "still running" : `exit ${code}`,
    );
  }

  async close(): Promise<void> {
    await this.peer.close();
  }
}

/** Feeds `input` (in `sizes` pieces, `gapMs` apart), closes stdin; the bytes must arrive exactly and the client exit 0. */
async function exactCase(
  t: ClientTarget,
  trace: TraceSink,
  input: Uint8Array,
  size: number,
  gapMs: number,
  paced = false,
): Promise<Outcome> {
  const run = new Run(t, trace, NORMAL_PIPE);
  try {
    await run.feed(input, size, gapMs, paced);
    await run.client.closeStdin();
    const bad = await run.arrived();
    if (bad) return bad;
    const diff = firstDifference(input, run.peer.prefix);
    if (diff !== undefined) return fail(`exactly the ${input.length} bytes of stdin`, diff);
    return await run.exitZero() ?? pass();
  } finally {
    await run.close();
  }
}

const dataExact: CheckCase<ClientTarget> = {
  id: "client/data/exact",
  title: "stdin's bytes arrive exactly: text, every byte value, NULs, invalid UTF-8; exit 0",
  row: "the client sends stdin exactly as it is, byte for byte until EOF",
  level: "course",
  run(t, trace) {
    const text = enc.encode("a line\r\nünïcödé ✓\n");
    const input = new Uint8Array(text.length + binarySample().length);
    input.set(text);
    input.set(binarySample(), text.length);
    return exactCase(t, trace, input, 1 << 20, 0);
  },
};

const dataSlow: CheckCase<ClientTarget> = {
  id: "client/data/slow-stdin",
  title: "stdin arriving in pieces, each once the last is at the server, arrives whole",
  row: "the client reads stdin until EOF, in chunks, whatever size its reads return",
  level: "course",
  run(t, trace) {
    const input = new Uint8Array(6000);
    input.set(enc.encode("one\n"));
    patternFill(5, 0, input.subarray(4));
    return exactCase(t, trace, input, 1500, 200, true);
  },
};

const dataEmpty: CheckCase<ClientTarget> = {
  id: "client/data/empty",
  title: "empty stdin: the client connects, sends nothing, ends its side, exits 0",
  row: "the client sends stdin until EOF (none at all for an empty stdin)",
  level: "course",
  run: (t, trace) => exactCase(t, trace, new Uint8Array(0), 1, 0),
};

/** The large input. */
const LARGE_BYTES = 48 << 20;

/**
 * Feeds `total` pattern bytes of `seed` in 1 MiB pieces (counted in
 * `progress.fed` as the client takes them); how many the client took.
 */
async function feedPattern(
  run: Run,
  seed: number,
  total: number,
  stop: () => boolean,
  progress = { fed: 0 },
): Promise<number> {
  const buffer = new Uint8Array(1 << 20);
  while (progress.fed < total && !stop()) {
    const piece = buffer.subarray(0, Math.min(buffer.length, total - progress.fed));
    patternFill(seed, progress.fed, piece);
    if (!await run.client.writeBytes(piece)) break;
    progress.fed += piece.length;
  }
  return progress.fed;
}

const dataLarge: CheckCase<ClientTarget> = {
  id: "client/data/large",
  title: "48 MiB through the client arrive exactly (compared as they arrive); exit 0",
  row: "the client handles arbitrarily large input, sent exactly, in chunks",
  level: "course",
  async run(t, trace) {
    const run = new Run(t, trace, NORMAL_PIPE);
    const compare = new StreamCompare(77, LARGE_BYTES);
    run.peer.keep = 0;
    run.peer.onBytes = (chunk) => compare.add(chunk);
    try {
      const fed = await feedPattern(run, 77, LARGE_BYTES, () => false);
      await run.client.closeStdin();
      if (fed < LARGE_BYTES) {
        return fail(`stdin to take ${LARGE_BYTES} bytes`, `${fed}; ${run.exited() ?? "running"}`);
      }
      const bad = await run.arrived(30_000);
      if (bad) return bad;
      const verdict = compare.verdict();
      if (verdict !== undefined) return fail(`exactly the ${LARGE_BYTES} bytes of stdin`, verdict);
      return await run.exitZero() ?? pass();
    } finally {
      await run.close();
    }
  },
};

/** The memory case's input, and the bound on the client's resident memory. */
const MEMORY_INPUT = 192 << 20;
const MEMORY_BOUND = 150 << 20;
const MEMORY_PAUSE_MS = 3000;

const memoryBounded: CheckCase<ClientTarget> = {
  id: "client/memory/bounded",
  title: "192 MiB through a server that reads nothing for 3 s: the client stays under 150 MiB",
  row: "the client reads and sends in chunks, never the whole input into memory first",
  level: "course",
  async run(t, trace) {
    const run = new Run(t, trace, { ...NORMAL_PIPE, pauseMs: MEMORY_PAUSE_MS });
    const compare = new StreamCompare(91, MEMORY_INPUT);
    run.peer.keep = 0;
    run.peer.onBytes = (chunk) => compare.add(chunk);
    let peak: number | undefined;
    let sampling = true;
    const sampler = (async () => {
      while (sampling && run.client.code === undefined) {
        const now = await residentBytes(run.client.child.pid);
        if (now !== undefined) peak = Math.max(peak ?? 0, now);
        await pause(50);
      }
    })();
    const progress = { fed: 0 };
    let feeding = true;
    let takenWhilePaused: number | undefined;
    try {
      const feeder = feedPattern(run, 91, MEMORY_INPUT, () => !feeding, progress);
      run.peer.waitFor((m) => m.connectedAt !== undefined, 60_000).then(async (connected) => {
        if (!connected) return;
        await pause(MEMORY_PAUSE_MS - 300);
        takenWhilePaused = progress.fed;
      });
      await Promise.race([feeder, pause(60_000)]);
      await run.client.closeStdin();
      const bad = await run.arrived(30_000);
      sampling = false;
      await sampler;
      if (peak === undefined) {
        return skip("cannot read the client's memory (neither /proc nor ps)");
      }
      if (peak > MEMORY_BOUND) {
        const mib = (n: number) => `${(n / 2 ** 20).toFixed(0)} MiB`;
        return fail(
          `resident memory under ${mib(MEMORY_BOUND)}`,
          `${mib(peak)} (stdin had taken ${
            takenWhilePaused === undefined
              ? `${mib(progress.fed)} before the client connected`
              : `${mib(takenWhilePaused)} while the server read nothing`
          })`,
        );
      }
      if (bad) return bad;
      const verdict = compare.verdict();
      if (verdict !== undefined) return fail(`exactly the ${MEMORY_INPUT} bytes of stdin`, verdict);
      return await run.exitZero() ?? pass();
    } finally {
      feeding = false;
      sampling = false;
      await run.close();
    }
  },
};

const eofHalfClose: CheckCase<ClientTarget> = {
  id: "client/eof/half-close",
  title: "after EOF the client half-closes and waits for the server's close, then exits 0",
  row: "the client half-closes and exits 0 once the server closes its side",
  level: "strict",
  async run(t, trace, o) {
    // The close comes well within the client's own --timeout, when it has one.
    const delay = Math.min(1200, (o.timeoutMs ?? Infinity) / 2);
    const run = new Run(t, trace, { ...NORMAL_PIPE, closeDelayMs: delay });
    try {
      await run.feed(enc.encode("wait for my receipt\n"));
      await run.client.closeStdin();
      const bad = await run.arrived();
      if (bad) return bad;
      const code = await run.client.waitExit(delay * 0.6);
      if (code !== undefined) {
        return fail(
          `the client still waiting for the server's close ${
            Math.round(delay * 0.6)
          } ms after its FIN`,
          `exit ${code}`,
        );
      }
      if (run.peer.machine.resetAt !== undefined) {
        return fail("a half-close (FIN), reading on", "a reset");
      }
      return await run.exitZero(EXIT_MS + delay) ?? pass();
    } finally {
      await run.close();
    }
  },
};

const closeEarly: CheckCase<ClientTarget> = {
  id: "client/close/early",
  title: "a server that closes before reading everything: the client exits non-zero",
  row: "the server closing or resetting before taking every byte is a failure (exit 1)",
  level: "course",
  async run(t, trace) {
    const run = new Run(t, trace, { ...NORMAL_PIPE, closeAfter: 64 << 10 });
    let feeding = true;
    try {
      const feeder = feedPattern(run, 3, 16 << 20, () => !feeding);
      if (!await run.peer.waitFor((m) => m.connectedAt !== undefined, START_MS)) {
        return fail(`a connection within ${START_MS} ms`, run.exited() ?? "none");
      }
      await run.peer.waitFor((m) => m.closedAt !== undefined, ARRIVE_MS);
      const code = await run.client.waitExit(10_000);
      feeding = false;
      await Promise.race([feeder, pause(1000)]);
      if (code === undefined) {
        return fail("an exit within 10 s of the server's close", "still running");
      }
      return code !== 0
        ? pass()
        : fail("a non-zero exit (the server did not take every byte)", "exit 0");
    } finally {
      feeding = false;
      await run.close();
    }
  },
};

const closeFinFirst: CheckCase<ClientTarget> = {
  id: "client/close/fin-first",
  title: "a server that half-closes before the client's EOF (reading on): exit 1, not 0",
  row:
    "exit 0 only once the server closes after the client's EOF; the server closing first is exit 1",
  level: "strict",
  async run(t, trace) {
    const run = new Run(t, trace, { ...NORMAL_PIPE, finAfter: 1 });
    try {
      await run.feed(enc.encode("first part\n"));
      if (!await run.peer.waitFor((m) => m.finAt !== undefined, START_MS)) {
        return fail("the first bytes", `${run.peer.machine.bytes} bytes; ${run.exited() ?? ""}`);
      }
      await pause(1000);
      await run.feed(enc.encode("second part\n"));
      await run.client.closeStdin();
      const code = await run.client.waitExit(EXIT_MS);
      if (code === undefined) return fail("exit 1", "still running");
      return code === 1
        ? pass()
        : fail("exit 1 (the server closed before the end)", `exit ${code}`);
    } finally {
      await run.close();
    }
  },
};

const neverData: CheckCase<ClientTarget> = {
  id: "client/close/never",
  title: "a server that never closes still gets every byte and the client's EOF",
  row: "the client streams stdin byte for byte until EOF, then ends its side",
  level: "course",
  async run(t, trace) {
    const run = new Run(t, trace, { ...NORMAL_PIPE, afterEof: "never" });
    try {
      const input = patternBytes(8, 0, 100_000);
      await run.feed(input);
      await run.client.closeStdin();
      const bad = await run.arrived();
      if (bad) return bad;
      const diff = firstDifference(input, run.peer.prefix);
      return diff === undefined ? pass() : fail("exactly the bytes of stdin", diff);
    } finally {
      await run.close();
    }
  },
};

const neverNoZero: CheckCase<ClientTarget> = {
  id: "client/close/never-no-exit-zero",
  title: "a server that never closes: the client does not exit 0 (it waits, or exits 1)",
  row: "exit 0 means the server closed after the client's EOF (it has every byte)",
  level: "strict",
  async run(t, trace) {
    const run = new Run(t, trace, { ...NORMAL_PIPE, afterEof: "never" });
    try {
      await run.feed(enc.encode("is anybody keeping this?\n"));
      await run.client.closeStdin();
      const bad = await run.arrived();
      if (bad) return bad;
      const code = await run.client.waitExit(NEVER_CLOSED_MS);
      return code === 0 ? fail("no exit 0 while the server has not closed", "exit 0") : pass();
    } finally {
      await run.close();
    }
  },
};

const timeoutNever: CheckCase<ClientTarget> = {
  id: "client/timeout/never-close",
  title: "with its --timeout, a client whose server never closes gives up: exit 1",
  row: "--timeout S gives up (exit 1) when the server has not closed S seconds after EOF",
  level: "strict",
  needsTimeout: true,
  async run(t, trace, o) {
    const run = new Run(t, trace, { ...NORMAL_PIPE, afterEof: "never" });
    try {
      await run.feed(enc.encode("bytes for a server that never closes\n"));
      await run.client.closeStdin();
      const bad = await run.arrived();
      if (bad) return bad;
      const eof = run.peer.machine.eofAt!;
      const limit = o.timeoutMs! + 3000;
      const code = await run.client.waitExit(limit);
      const after = trace.now() - eof;
      if (code === undefined) return fail(`exit 1 within ${limit} ms of its EOF`, "still running");
      if (code !== 1) return fail("exit 1", `exit ${code} after ${Math.round(after)} ms`);
      if (after < o.timeoutMs! * 0.8) {
        return fail(`exit 1 after --timeout (${o.timeoutMs} ms)`, `after ${Math.round(after)} ms`);
      }
      return pass();
    } finally {
      await run.close();
    }
  },
};

/** Every pipe client case, in report order. */
export const PIPE_CLIENT_CASES: readonly CheckCase<ClientTarget>[] = [
  dataExact,
  dataSlow,
  dataEmpty,
  dataLarge,
  memoryBounded,
  eofHalfClose,
  closeEarly,
  closeFinFirst,
  neverData,
  neverNoZero,
  timeoutNever,
];
