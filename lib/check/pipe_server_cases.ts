/**
 * The pipe family's server cases: pudp plays one or many clients (TCP
 * connections that send bytes and half-close) and judges what the server
 * does on the wire (when it closes) and, when pudp started it, its stdout
 * byte for byte (the data: every client's bytes exact and contiguous) and
 * how it exits. A large transfer is generated as it is sent and compared as
 * it arrives, so the checker's memory stays bounded.
 *
 * @module
 */

import { type CheckCase, fail, type Outcome, pass, skip, type TraceSink } from "./case_model.ts";
import {
  binarySample,
  contiguous,
  firstDifference,
  patternBytes,
  patternFill,
  StreamCompare,
} from "./pipe_output.ts";
import { pause, StreamProbe } from "./stream_probe.ts";
import type { ServerTarget, Spawned } from "./target.ts";

/** How long a connection may take (a program that has just started). */
const CONNECT_MS = 5000;
/** How long the server may take to close after a client's EOF. */
const CLOSE_MS = 2000;
/** How long bytes may take to show on stdout once sent. */
const OUTPUT_MS = 8000;
/** How long the checker waits for more bytes than expected before judging stdout. */
const SETTLE_MS = 300;
/** The large transfer. */
const LARGE_BYTES = 64 << 20;

const enc = new TextEncoder();

/** The server's program, or the reason its case is skipped. */
function needsProgram(t: ServerTarget): Spawned | Outcome {
  return t.program ?? skip("needs the started server's stdout (-- CMD … {port})");
}

/**
 * The program, its stdout judged as bytes only: binary data is no text to
 * show in a failure's report (its bytes are judged and described instead).
 */
function binaryOutput(p: Spawned): Spawned {
  p.stdout.keepText = false;
  p.stdout.text = "(binary data: judged byte for byte above, not shown as text)\n";
  return p;
}

/** Connects one client. */
function connect(t: ServerTarget, trace: TraceSink): Promise<StreamProbe> {
  return StreamProbe.connect(trace, t.host, t.port, undefined, CONNECT_MS);
}

/** Waits (bounded) until stdout has `n` bytes, then a little more for any extra; how many it has. */
async function output(p: Spawned, n: number, ms = OUTPUT_MS): Promise<number> {
  await p.stdout.waitFor(() => p.stdout.byteLength >= n, ms);
  await p.stdout.waitFor(() => p.stdout.byteLength > n, SETTLE_MS);
  return p.stdout.byteLength;
}

/** Sends `bytes` in pieces of the given sizes (the last repeated), `gapMs` apart. */
async function sendPieces(
  probe: StreamProbe,
  bytes: Uint8Array,
  sizes: readonly number[],
  gapMs: number,
): Promise<boolean> {
  for (let at = 0, i = 0; at < bytes.length; i++) {
    const n = sizes[Math.min(i, sizes.length - 1)];
    if (!await probe.write(bytes.subarray(at, at + n))) return false;
    at += n;
    if (gapMs > 0 && at < bytes.length) await pause(gapMs);
  }
  return true;
}

/** A client's bytes: its own header line, then `n` pattern bytes of its own. */
export function clientStream(index: number, of: number, n: number): Uint8Array {
  const head = enc.encode(`[client ${index + 1} of ${of}]\n`);
  const out = new Uint8Array(head.length + n);
  out.set(head);
  out.set(patternBytes(1000 + index, 0, n), head.length);
  return out;
}

/** Sends one client's bytes, half-closes; the output must be exactly them. */
async function exactCase(
  t: ServerTarget,
  trace: TraceSink,
  bytes: Uint8Array,
  sizes: readonly number[],
  gapMs: number,
  binary = true,
): Promise<Outcome> {
  const p = needsProgram(t);
  if (!("argv" in p)) return p;
  if (binary) binaryOutput(p);
  const c = await connect(t, trace);
  try {
    if (!await sendPieces(c, bytes, sizes, gapMs)) {
      return fail(`the ${bytes.length} bytes to be taken`, "a write failed");
    }
    await c.closeWrite();
    await output(p, bytes.length);
    const diff = firstDifference(bytes, p.stdout.bytes());
    return diff === undefined
      ? pass()
      : fail(`stdout: exactly the ${bytes.length} bytes sent`, diff);
  } finally {
    c.close();
  }
}

const dataExactText: CheckCase<ServerTarget> = {
  id: "server/data/exact-text",
  title: "one client's text lands on stdout exactly: CR LF, UTF-8, no final newline",
  row: "the server writes each client's bytes to its stdout exactly",
  level: "course",
  run: (t, trace) =>
    exactCase(
      t,
      trace,
      enc.encode("first line\nsecond line, ünïcödé ✓\r\n\ttabbed, then no newline at the end"),
      [1 << 20],
      0,
      false,
    ),
};

const dataExactBinary: CheckCase<ServerTarget> = {
  id: "server/data/exact-binary",
  title: "binary bytes land exactly: every byte value, NULs, invalid UTF-8",
  row: "the server writes each client's bytes to its stdout exactly",
  level: "course",
  run: (t, trace) => exactCase(t, trace, binarySample(), [300, 100, 1 << 20], 20),
};

const dataPartial: CheckCase<ServerTarget> = {
  id: "server/data/partial-sends",
  title: "bytes sent one at a time and in odd sizes, with pauses, land exactly",
  row: "the server writes each client's bytes exactly, however the client's sends are cut",
  level: "course",
  async run(t, trace) {
    const bytes = new Uint8Array(24 + 2 + 3 + 5 + 7 + 11 + 1021 + 4093 + 65537 + 3);
    bytes.set(enc.encode("one byte at a time here:"));
    patternFill(7, 0, bytes.subarray(24));
    return await exactCase(
      t,
      trace,
      bytes,
      [...Array(24).fill(1), 2, 3, 5, 7, 11, 1021, 4093, 65537, 3],
      25,
    );
  },
};

const dataLarge: CheckCase<ServerTarget> = {
  id: "server/data/large",
  title: "64 MiB from one client land exactly (compared as they arrive)",
  row: "the server writes each client's bytes to its stdout exactly, whatever their size",
  level: "course",
  async run(t, trace) {
    const p = needsProgram(t);
    if (!("argv" in p)) return p;
    const compare = new StreamCompare(42, LARGE_BYTES);
    p.stdout.keepText = false;
    p.stdout.keepBytes = 0;
    const before = p.stdout.byteLength;
    p.stdout.onBytes = (chunk) => compare.add(chunk);
    const c = await connect(t, trace);
    try {
      const buffer = new Uint8Array(1 << 20);
      for (let at = 0; at < LARGE_BYTES; at += buffer.length) {
        patternFill(42, at, buffer);
        if (!await c.write(buffer)) {
          return fail(`the ${LARGE_BYTES} bytes to be taken`, `a write failed after ${at} bytes`);
        }
      }
      await c.closeWrite();
      await p.stdout.waitFor(() => compare.length >= LARGE_BYTES, 30_000);
      await p.stdout.waitFor(() => compare.length > LARGE_BYTES, SETTLE_MS);
      if (before > 0) return fail("nothing on stdout before the client", `${before} bytes`);
      const verdict = compare.verdict();
      return verdict === undefined
        ? pass()
        : fail(`stdout: exactly the ${LARGE_BYTES} bytes sent`, verdict);
    } finally {
      p.stdout.onBytes = undefined;
      c.close();
    }
  },
};

/** Judges stdout against the clients' streams: each whole and contiguous (in `order`, if given). */
async function judgeClients(
  p: Spawned,
  streams: readonly Uint8Array[],
  order?: readonly number[],
): Promise<Outcome> {
  const total = streams.reduce((n, s) => n + s.length, 0);
  await output(p, total);
  const verdict = contiguous(p.stdout.bytes(), streams);
  if (verdict.error !== undefined) {
    return fail(
      `stdout: the ${streams.length} clients' bytes (${total} in all), each exact and contiguous`,
      verdict.error,
    );
  }
  if (order !== undefined && verdict.order.join() !== order.join()) {
    const names = (o: readonly number[]) => o.map((i) => `client ${i + 1}`).join(", ");
    return fail(
      `the clients written in the order they connected: ${names(order)}`,
      names(verdict.order),
    );
  }
  return pass();
}

const concurrencyContiguous: CheckCase<ServerTarget> = {
  id: "server/concurrency/contiguous",
  title: "12 clients sending at once, in small pieces: each one's bytes whole and together",
  row: "two clients' data never interleave: one streams live, the others are held until their turn",
  level: "course",
  async run(t, trace) {
    const p = needsProgram(t);
    if (!("argv" in p)) return p;
    binaryOutput(p);
    const n = 12;
    const streams = Array.from({ length: n }, (_, i) => clientStream(i, n, 24_000));
    const clients = await Promise.all(streams.map(() => connect(t, trace)));
    try {
      const sent = await Promise.all(clients.map(async (c, i) => {
        await pause(i * 7);
        const ok = await sendPieces(c, streams[i], [4000], 40);
        await c.closeWrite();
        return ok;
      }));
      if (sent.includes(false)) return fail("every client's bytes taken", "a write failed");
      return await judgeClients(p, streams);
    } finally {
      for (const c of clients) c.close();
    }
  },
};

const concurrencyBacklog: CheckCase<ServerTarget> = {
  id: "server/concurrency/backlog",
  title: "12 connections at once are all established at once, and all written",
  row: "the server accepts many clients at once (a queue of at least 10)",
  level: "course",
  async run(t, trace) {
    if (t.program) binaryOutput(t.program);
    const n = 12;
    const started = performance.now();
    const results = await Promise.allSettled(
      Array.from({ length: n }, () => StreamProbe.connect(trace, t.host, t.port, undefined, 2000)),
    );
    const clients = results.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
    try {
      if (clients.length < n) {
        return fail(
          `${n} connections established within 2 s`,
          `${clients.length} in ${Math.round(performance.now() - started)} ms`,
        );
      }
      const streams = Array.from({ length: n }, (_, i) => clientStream(i, n, 100));
      await Promise.all(clients.map(async (c, i) => {
        await c.write(streams[i]);
        await c.closeWrite();
      }));
      const p = t.program;
      return p ? await judgeClients(p, streams) : pass();
    } finally {
      for (const c of clients) c.close();
    }
  },
};

const concurrencyOrder: CheckCase<ServerTarget> = {
  id: "server/concurrency/connect-order",
  title: "clients held while one streams are written in the order they connected",
  row: "the others wait their turn in the order they connected",
  level: "strict",
  async run(t, trace) {
    const p = needsProgram(t);
    if (!("argv" in p)) return p;
    binaryOutput(p);
    const streams = [0, 1, 2].map((i) => clientStream(i, 3, 5000));
    const a = await connect(t, trace);
    const others: StreamProbe[] = [];
    try {
      await a.write(streams[0].subarray(0, 100));
      await p.stdout.waitFor(() => p.stdout.byteLength >= 100, OUTPUT_MS);
      for (const i of [1, 2]) {
        const c = await connect(t, trace);
        others.push(c);
        await c.write(streams[i]);
        await c.closeWrite();
        await pause(300);
      }
      await a.write(streams[0].subarray(100));
      await a.closeWrite();
      return await judgeClients(p, streams, [0, 1, 2]);
    } finally {
      a.close();
      for (const c of others) c.close();
    }
  },
};

const closeAfterEof: CheckCase<ServerTarget> = {
  id: "server/close/after-eof",
  title: "the server closes its side once it has a client's bytes (after the client's EOF)",
  row: "the server closes its side when it holds or has written every byte of that client",
  level: "strict",
  async run(t, trace) {
    const bytes = enc.encode("one client's bytes\n");
    const c = await connect(t, trace);
    try {
      await c.write(bytes);
      await c.closeWrite();
      const end = await c.waitEnd(CLOSE_MS);
      if (end !== "fin") {
        return fail(
          `FIN within ${CLOSE_MS} ms of the client's EOF`,
          end === "reset" ? "a reset" : "the connection still open",
        );
      }
      if (c.receivedLength > 0) {
        return fail("nothing sent to the client", `${c.receivedLength} bytes`);
      }
      const p = t.program;
      if (p) {
        await output(p, bytes.length, 1000);
        const diff = firstDifference(bytes, p.stdout.bytes());
        if (diff !== undefined) return fail("stdout: the bytes, by the time of the close", diff);
      }
      return pass();
    } finally {
      c.close();
    }
  },
};

const closeHeld: CheckCase<ServerTarget> = {
  id: "server/close/held",
  title: "a client that finishes while another streams is closed at once (its bytes held)",
  row: "the server closes a connection as soon as every byte of it is written or held",
  level: "strict",
  async run(t, trace) {
    if (t.program) binaryOutput(t.program);
    const streams = [0, 1].map((i) => clientStream(i, 2, 10_000));
    const a = await connect(t, trace);
    let b: StreamProbe | undefined;
    try {
      await a.write(streams[0].subarray(0, 100));
      await pause(200);
      b = await connect(t, trace);
      await b.write(streams[1]);
      await b.closeWrite();
      const end = await b.waitEnd(CLOSE_MS);
      if (end !== "fin") {
        return fail(
          `FIN to the second client within ${CLOSE_MS} ms of its EOF, the first still streaming`,
          end === "reset" ? "a reset" : "its connection still open",
        );
      }
      await a.write(streams[0].subarray(100));
      await a.closeWrite();
      const p = t.program;
      return p ? await judgeClients(p, streams) : pass();
    } finally {
      a.close();
      b?.close();
    }
  },
};

const closeAbrupt: CheckCase<ServerTarget> = {
  id: "server/close/abrupt-client",
  title: "a client that closes mid-stream (no half-close) costs the others nothing",
  row:
    "a client going away ends only its own connection: the others lose nothing, the server goes on",
  level: "course",
  async run(t, trace) {
    const p = needsProgram(t);
    if (!("argv" in p)) return p;
    binaryOutput(p);
    const streams = [0, 1, 2].map((i) => clientStream(i, 3, 20_000));
    const probes: StreamProbe[] = [];
    try {
      const a = await connect(t, trace);
      probes.push(a);
      await a.write(streams[0]);
      a.close(); // gone at once: no half-close, nothing read
      await pause(200);
      const b = await connect(t, trace);
      probes.push(b);
      await sendPieces(b, streams[1], [4000], 20);
      await b.closeWrite();
      await pause(500);
      if (p.code !== undefined) return fail("the server still running", `exit ${p.code}`);
      const c = await connect(t, trace);
      probes.push(c);
      await c.write(streams[2]);
      await c.closeWrite();
      return await judgeClients(p, streams);
    } finally {
      for (const x of probes) x.close();
    }
  },
};

const robustEmpty: CheckCase<ServerTarget> = {
  id: "server/robust/empty-client",
  title: "a client that connects, sends nothing for 1 s and leaves adds nothing, blocks no one",
  row: "the server writes each client's bytes exactly (none for a client that sent none)",
  level: "course",
  async run(t, trace) {
    const p = needsProgram(t);
    if (!("argv" in p)) return p;
    binaryOutput(p);
    const streams = [0, 1].map((i) => clientStream(i, 2, 3000));
    const idle = await connect(t, trace);
    const probes = [idle];
    try {
      await pause(100);
      for (const s of streams) {
        const c = await connect(t, trace);
        probes.push(c);
        await c.write(s);
        await c.closeWrite();
      }
      await pause(1000);
      await idle.closeWrite();
      idle.close();
      return await judgeClients(p, streams);
    } finally {
      for (const x of probes) x.close();
    }
  },
};

const exitSignal: CheckCase<ServerTarget> = {
  id: "server/exit/signal",
  title: "on SIGTERM the server finishes the live client, writes what it holds, exits 0",
  row: "on SIGINT/SIGTERM it lets the open connections finish, writes everything it holds, exits 0",
  level: "strict",
  async run(t, trace) {
    const p = needsProgram(t);
    if (!("argv" in p)) return p;
    binaryOutput(p);
    const streams = [0, 1].map((i) => clientStream(i, 2, 8000));
    const a = await connect(t, trace);
    let b: StreamProbe | undefined;
    try {
      await a.write(streams[0].subarray(0, 100));
      await p.stdout.waitFor(() => p.stdout.byteLength >= 100, OUTPUT_MS);
      b = await connect(t, trace);
      await b.write(streams[1]);
      await b.closeWrite();
      await pause(300);
      trace.add("sent", t.port, new Uint8Array(0), undefined, "SIGTERM to the server");
      try {
        p.child.kill("SIGTERM");
      } catch {
        return fail("the server running", "it had exited");
      }
      await pause(300);
      await a.write(streams[0].subarray(100));
      await a.closeWrite();
      const code = await p.waitExit(10_000);
      if (code !== 0) {
        return fail(
          "exit 0 within 10 s of SIGTERM, once the live client finished",
          code === undefined ? "still running" : `exit ${code}`,
        );
      }
      return await judgeClients(p, streams, [0, 1]);
    } finally {
      a.close();
      b?.close();
    }
  },
};

/** Every pipe server case, in report order. */
export const PIPE_SERVER_CASES: readonly CheckCase<ServerTarget>[] = [
  dataExactText,
  dataExactBinary,
  dataPartial,
  dataLarge,
  concurrencyContiguous,
  concurrencyBacklog,
  concurrencyOrder,
  closeAfterEof,
  closeHeld,
  closeAbrupt,
  robustEmpty,
  exitSignal,
];
