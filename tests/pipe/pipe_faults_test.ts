/**
 * The pipe server keeps its promises under faults: a temporary file or
 * stdout that cannot be written fails only the client concerned (it is
 * told: `ERR …`, exit 1) while the others' bytes stay whole and the server
 * goes on; full memory and disk budgets make held clients wait instead of
 * failing; a stop cuts a live client that never ends after
 * `--drain-timeout` and still writes everything held, even on a second
 * signal. The runner is tested with fake temporary files and a fake stdout
 * that fail on demand; the rest end to end.
 */

import assert from "node:assert/strict";
import { EventQueue } from "../../lib/events/sink.ts";
import type { PipeEvent } from "../../lib/pipe/events.ts";
import { PipeOpRunner, type TempFile } from "../../lib/pipe/op_runner.ts";
import {
  DEFAULT_PIPE_OPTIONS,
  type PipeServerOptions,
  StdoutTurns,
} from "../../lib/pipe/turn_machine.ts";
import { pattern, pipeClient, startPipe } from "../helpers/pipe.ts";

const peer = (port: number) => ({ hostname: "127.0.0.1", port });
const opts = (o: Partial<PipeServerOptions>): PipeServerOptions => ({
  ...DEFAULT_PIPE_OPTIONS,
  ...o,
});
const fill = (value: number, n: number) => new Uint8Array(n).fill(value);
const noSpace = () => new Error("No space left on device (os error 28)");

/** A temporary file in memory whose writes fail while `full()` says so. */
class FakeFile implements TempFile {
  data: number[] = [];
  at = 0;
  closed = false;
  constructor(readonly full: () => boolean) {}
  write(p: Uint8Array): Promise<number> {
    if (this.full()) return Promise.reject(noSpace());
    this.data.push(...p);
    return Promise.resolve(p.length);
  }
  seek(offset: number): Promise<number> {
    this.at = offset;
    return Promise.resolve(offset);
  }
  read(p: Uint8Array): Promise<number | null> {
    if (this.at >= this.data.length) return Promise.resolve(null);
    const n = Math.min(p.length, this.data.length - this.at);
    p.set(this.data.slice(this.at, this.at + n));
    this.at += n;
    return Promise.resolve(n);
  }
  close(): void {
    this.closed = true;
  }
}

/** A machine and its runner over a fake stdout and fake temporary files, with what they did. */
function rig(options: Partial<PipeServerOptions>, stdoutFails = (_p: Uint8Array) => false) {
  const events = new EventQueue<PipeEvent>();
  const machine = new StdoutTurns(opts(options), events);
  const stdout: number[] = [];
  const files: FakeFile[] = [];
  const told: string[] = [];
  let diskFull = false;
  const runner = new PipeOpRunner(
    machine,
    {
      write: (p) => {
        if (stdoutFails(p)) return Promise.reject(new Error("Broken pipe (os error 32)"));
        stdout.push(...p);
        return Promise.resolve(p.length);
      },
    },
    {
      close: (id) => told.push(`close ${id}`),
      refuse: (id, reason) => told.push(`refuse ${id}: ${reason}`),
    },
    () => {},
    () => {
      const f = new FakeFile(() => diskFull);
      files.push(f);
      return Promise.resolve(f);
    },
    () => 0,
  );
  const settle = async () => {
    runner.wake();
    await runner.idle();
  };
  return {
    machine,
    runner,
    stdout,
    files,
    told,
    events,
    settle,
    setDiskFull: (v: boolean) => diskFull = v,
  };
}

Deno.test("pipe runner: a temporary file that fills up (ENOSPC) fails only its client", async () => {
  const r = rig({ holdMemory: 10 });
  const m = r.machine;
  m.handleConnect(1, peer(1), 0);
  m.handleConnect(2, peer(2), 0);
  m.handleConnect(3, peer(3), 0);
  m.handleStreamBytes(1, fill(1, 5), 0);
  m.handleStreamBytes(2, fill(2, 8), 0); // held in memory
  m.handleStreamBytes(2, fill(2, 8), 0); // spilled: the file takes it
  await r.settle();
  r.setDiskFull(true);
  m.handleStreamBytes(2, fill(2, 8), 0); // spilled: the disk is full
  m.handleStreamEnd(2, 0);
  await r.settle();
  assert.deepEqual(r.told, [
    "refuse 2: temporary file: No space left on device (os error 28)",
    "close 2",
  ]);
  assert.equal(r.files[0].closed, true, "its file is dropped");
  assert.equal(m.memoryHeld, 0, "its memory is freed");
  assert.equal(m.diskHeld, 0);
  // The others go on: 3 is held in memory (room again), 1 streams, then 3.
  m.handleStreamBytes(3, fill(3, 6), 0);
  m.handleStreamEnd(3, 0);
  m.handleStreamBytes(1, fill(1, 5), 0);
  m.handleStreamEnd(1, 0);
  await r.settle();
  assert.deepEqual(r.stdout, [...fill(1, 10), ...fill(3, 6)]);
  assert.deepEqual(r.told, [
    "refuse 2: temporary file: No space left on device (os error 28)",
    "close 2",
    "close 3",
    "close 1",
  ]);
  assert.equal(m.pending, 0);
  assert.equal(m.stats.failed, 1);
  const failed = r.events.drain().filter((e) => e.event === "failed");
  assert.deepEqual(failed.map((e) => e.event === "failed" && [e.connection, e.told]), [[2, true]]);
});

Deno.test("pipe runner: stdout that fails fails only the client being written; the next goes on", async () => {
  // Writes of connection 2's bytes fail (a transient error: a full disk under stdout, say).
  const r = rig({ holdMemory: 100 }, (p) => p[0] === 2);
  const m = r.machine;
  m.handleConnect(1, peer(1), 0);
  m.handleConnect(2, peer(2), 0);
  m.handleConnect(3, peer(3), 0);
  m.handleStreamBytes(1, fill(1, 4), 0);
  m.handleStreamBytes(3, fill(3, 4), 0);
  m.handleStreamEnd(3, 0); // held, told exit 0
  m.handleStreamEnd(1, 0);
  await r.settle(); // 2 is live now, still open
  m.handleStreamBytes(2, fill(2, 4), 0);
  await r.settle();
  assert.deepEqual(r.told, [
    "close 3",
    "close 1",
    "refuse 2: cannot write to stdout: Broken pipe (os error 32)",
  ]);
  // 2 is refused but still open: read and dropped until it ends, then closed.
  m.handleStreamBytes(2, fill(2, 4), 0);
  m.handleStreamEnd(2, 0);
  await r.settle();
  assert.deepEqual(r.told.at(-1), "close 2");
  assert.deepEqual(r.stdout, [...fill(1, 4), ...fill(3, 4)]);
  assert.equal(m.pending, 0);
  assert.equal(m.memoryHeld, 0);
});

Deno.test("pipe machine: full memory and disk budgets hold waiting clients back until room frees", () => {
  const events = new EventQueue<PipeEvent>();
  const m = new StdoutTurns(opts({ holdMemory: 4, holdDisk: 4 }), events);
  m.handleConnect(1, peer(1), 0);
  m.handleConnect(2, peer(2), 0);
  m.handleStreamBytes(2, fill(2, 4), 0);
  assert.equal(m.heldBack(2), false, "memory full, disk free");
  m.handleStreamBytes(2, fill(2, 4), 0);
  assert.equal(m.heldBack(2), true, "memory and disk full: read no further");
  assert.equal(m.heldBack(1), false, "the live one is never held back");
  assert.deepEqual(events.drain().filter((e) => e.event === "waiting").length, 1);
  m.handleStreamEnd(1, 0); // 2's turn: no longer held back
  assert.equal(m.heldBack(2), false);
  const ops = [];
  for (let op = m.pollOp(); op; op = m.pollOp()) ops.push(op);
  assert.deepEqual(ops.map((o) => o.kind), ["spill", "close", "write", "replay"]);
  const replay = ops[3];
  assert.ok(replay.kind === "replay" && replay.bytes === 4);
  m.handleReplayed(replay);
  assert.equal(m.diskHeld, 0);
});

Deno.test("pipe machine: a stop cuts the clients still sending after the drain time, writes what is held", () => {
  const events = new EventQueue<PipeEvent>();
  const m = new StdoutTurns(opts({ holdMemory: 100, drainTimeoutMs: 1000 }), events);
  m.handleConnect(1, peer(1), 0);
  m.handleConnect(2, peer(2), 0);
  m.handleConnect(3, peer(3), 0);
  m.handleStreamBytes(1, fill(1, 2), 0);
  m.handleStreamBytes(2, fill(2, 3), 0);
  m.handleStreamEnd(2, 0); // held, told
  m.handleStreamBytes(3, fill(3, 5), 0); // held, still sending
  m.handleShutdown(10);
  assert.equal(m.pollTimeout(), 1010);
  m.handleTimeout(1010);
  const ops = [];
  for (let op = m.pollOp(); op; op = m.pollOp()) {
    ops.push(
      op.kind === "write" ? `write ${op.data[0]}x${op.data.length}` : `${op.kind} ${op.connection}`,
    );
    if (op.kind === "write") m.handleWritten(op);
  }
  // 1's bytes not yet written go with it (its client exits 1); 2's, held and told, are written.
  assert.deepEqual(ops, [
    "close 2",
    "refuse 3",
    "close 3",
    "refuse 1",
    "close 1",
    "write 2x3",
  ]);
  assert.equal(m.pending, 0);
  assert.equal(m.memoryHeld, 0);
});

// End to end.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

async function waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("pipe e2e: a held client whose temporary file fails exits 1 with the reason; the others lose nothing", async () => {
  // TMPDIR is a directory that does not exist: every temporary file fails.
  const tmp = await Deno.makeTempDir();
  await Deno.remove(tmp);
  await using pipe = await startPipe(["--hold-memory", "64k"], undefined, { TMPDIR: tmp });
  const live = pipeClient(pipe.port);
  await live.write("live, part 1\n");
  await waitFor(() => pipe.stderr().includes("#1 ") && pipe.stderr().includes("connected"), "1");
  // 200 KB: more than --hold-memory, so it spills, and the spill fails.
  const spilled = pipeClient(pipe.port);
  // The client may give up (ERR from the server) before it has read all of
  // its stdin: then this write meets a broken pipe, which is fine.
  await spilled.write(pattern(2, 200_000)).catch((e) => {
    if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
  });
  await spilled.closeStdin();
  const out = await spilled.exit();
  assert.equal(out.code, 1);
  assert.match(
    out.stderr,
    /^pudp pipe client: server could not keep your bytes: temporary file: .*No such file or directory/,
  );
  await spilled[Symbol.asyncDispose]();
  // A plain client that does the same sees the ERR line, then the close.
  const plain = await Deno.connect({ hostname: "127.0.0.1", port: pipe.port });
  await plain.write(pattern(3, 200_000));
  await plain.closeWrite();
  let said = "";
  const buf = new Uint8Array(4096);
  for (let n = await plain.read(buf); n !== null; n = await plain.read(buf).catch(() => null)) {
    said += decoder.decode(buf.subarray(0, n));
  }
  plain.close();
  assert.match(said, /^ERR temporary file: .*\n$/);
  // Another held client that fits in memory, and the live one, are whole.
  const held = pipeClient(pipe.port);
  const heldInput = pattern(4, 30_000);
  await held.write(heldInput);
  await held.closeStdin();
  assert.equal((await held.exit()).code, 0);
  await held[Symbol.asyncDispose]();
  await live.write("live, part 2\n");
  await live.closeStdin();
  assert.equal((await live.exit()).code, 0);
  await live[Symbol.asyncDispose]();
  // The server goes on: a new client after all that.
  const later = pipeClient(pipe.port);
  await later.write("later\n");
  await later.closeStdin();
  assert.equal((await later.exit()).code, 0);
  await later[Symbol.asyncDispose]();
  assert.equal(await pipe.stop(), 0, pipe.stderr());
  const expected = new Uint8Array([
    ...encoder.encode("live, part 1\nlive, part 2\n"),
    ...heldInput,
    ...encoder.encode("later\n"),
  ]);
  assert.deepEqual(pipe.output.bytes(), expected);
  assert.match(
    pipe.stderr(),
    /#2 \S+ failed \(temporary file: .*\) after \d+ bytes: its client was told/,
  );
  assert.match(pipe.stderr(), /2 failed/);
});

Deno.test("pipe e2e: full memory and disk budgets make a held client wait, then it completes", async () => {
  await using pipe = await startPipe(["--json", "--hold-memory", "64k", "--hold-disk", "64k"]);
  const live = pipeClient(pipe.port);
  await live.write("live, part 1\n");
  await waitFor(() => pipe.stderr().includes('"live"'), "first client live");
  const big = pipeClient(pipe.port);
  const bigInput = pattern(5, 24_000_000);
  const bigSent = big.write(bigInput).then(() => big.closeStdin());
  await waitFor(() => pipe.stderr().includes('"waiting"'), "the held client waits", 15_000);
  const small = pipeClient(pipe.port);
  const smallSent = small.write("small\n").then(() => small.closeStdin());
  await new Promise((r) => setTimeout(r, 1000));
  const status = await Promise.race([
    big.child.status.then(() => "exited"),
    new Promise((r) => setTimeout(() => r("waiting"), 10)),
  ]);
  assert.equal(status, "waiting", "the held client cannot finish while the budgets are full");
  await live.write("live, part 2\n");
  await live.closeStdin();
  assert.equal((await live.exit()).code, 0);
  await bigSent;
  await smallSent;
  const bigOut = await big.exit(60_000);
  assert.equal(bigOut.code, 0, bigOut.stderr);
  const smallOut = await small.exit(30_000);
  assert.equal(smallOut.code, 0, smallOut.stderr);
  for (const c of [live, big, small]) await c[Symbol.asyncDispose]();
  assert.equal(await pipe.stop(), 0, pipe.stderr());
  const output = pipe.output.bytes();
  const head = encoder.encode("live, part 1\nlive, part 2\n");
  assert.equal(output.length, head.length + bigInput.length + 6);
  assert.deepEqual(output.subarray(0, head.length), head);
  assert.ok(
    sameBytes(output.subarray(head.length, head.length + bigInput.length), bigInput),
    "the held client's bytes are exact",
  );
  assert.equal(decoder.decode(output.subarray(head.length + bigInput.length)), "small\n");
  const spilled = Number(pipe.stderr().match(/(\d+) through temporary files/)![1]);
  assert.ok(spilled <= 64_000 + (1 << 20) + 64_000, `the disk budget held: ${spilled}`);
});

Deno.test("pipe e2e: SIGTERM cuts a live client that never ends after --drain-timeout; held bytes are written", async () => {
  await using pipe = await startPipe(["--drain-timeout", "1"]);
  const live = pipeClient(pipe.port);
  await live.write("live, never ends\n");
  await waitFor(() => pipe.stderr().includes("connected"), "connected");
  const held = pipeClient(pipe.port);
  await held.write("held\n");
  await held.closeStdin();
  assert.equal((await held.exit()).code, 0);
  await held[Symbol.asyncDispose]();
  const t0 = Date.now();
  pipe.child.kill("SIGTERM");
  const timer = setTimeout(() => pipe.child.kill("SIGKILL"), 6_000);
  const status = await pipe.child.status;
  clearTimeout(timer);
  const ms = Date.now() - t0;
  await pipe.output.done;
  assert.equal(status.code, 0, pipe.stderr());
  assert.ok(ms >= 900 && ms < 3_500, `exited after ${ms} ms`);
  const out = await live.exit();
  assert.equal(out.code, 1);
  assert.match(out.stderr, /server could not keep your bytes: cut: still sending 1 s after/);
  await live[Symbol.asyncDispose]();
  assert.equal(decoder.decode(pipe.output.bytes()), "live, never ends\nheld\n");
});

Deno.test("pipe e2e: a second signal cuts the live client at once and still writes what is held", async () => {
  await using pipe = await startPipe(["--drain-timeout", "60"]);
  const live = pipeClient(pipe.port);
  await live.write("live\n");
  await waitFor(() => pipe.stderr().includes("connected"), "connected");
  const held = pipeClient(pipe.port);
  const heldInput = pattern(6, 300_000);
  await held.write(heldInput);
  await held.closeStdin();
  assert.equal((await held.exit()).code, 0);
  await held[Symbol.asyncDispose]();
  pipe.child.kill("SIGTERM");
  await waitFor(() => pipe.stderr().includes("stopping"), "stopping line");
  pipe.child.kill("SIGTERM");
  const timer = setTimeout(() => pipe.child.kill("SIGKILL"), 5_000);
  const status = await pipe.child.status;
  clearTimeout(timer);
  await pipe.output.done;
  assert.equal(status.code, 0, pipe.stderr());
  assert.equal((await live.exit()).code, 1);
  await live[Symbol.asyncDispose]();
  assert.deepEqual(
    pipe.output.bytes(),
    new Uint8Array([...encoder.encode("live\n"), ...heldInput]),
  );
});
