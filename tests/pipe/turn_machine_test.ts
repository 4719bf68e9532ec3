/**
 * The pipe server's turn-taking, pure: one connection live on stdout, the
 * others held in memory up to the bound and spilled beyond it, every
 * connection closed as soon as its bytes are written or held, and a
 * property test that whatever the interleaving, the operations write each
 * connection's bytes whole and contiguous.
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { EventQueue } from "../../lib/events/sink.ts";
import type { PipeEvent } from "../../lib/pipe/events.ts";
import {
  DEFAULT_PIPE_OPTIONS,
  type PipeOp,
  type PipeServerOptions,
  StdoutTurns,
} from "../../lib/pipe/turn_machine.ts";

const pure = { permissions: "none" } as const;
const peer = (port: number) => ({ hostname: "127.0.0.1", port });
const bytes = (...values: number[]) => new Uint8Array(values);
const opts = (o: Partial<PipeServerOptions>): PipeServerOptions => ({
  ...DEFAULT_PIPE_OPTIONS,
  ...o,
});

/** Carries out the machine's operations like the driver: stdout and spill files as arrays. */
function runOps(machine: StdoutTurns) {
  const stdout: number[] = [];
  const files = new Map<number, number[]>();
  const closed: number[] = [];
  const ops: PipeOp["kind"][] = [];
  const step = () => {
    for (let op = machine.pollOp(); op; op = machine.pollOp()) {
      ops.push(op.kind);
      if (op.kind === "write") {
        stdout.push(...op.data);
        machine.handleWritten(op);
      } else if (op.kind === "spill") {
        files.set(op.connection, [...(files.get(op.connection) ?? []), ...op.data]);
      } else if (op.kind === "replay") {
        stdout.push(...files.get(op.connection)!);
        files.delete(op.connection);
      } else closed.push(op.connection);
    }
  };
  return { stdout, files, closed, ops, step };
}

Deno.test(
  "pipe machine: the first connection is live; the next wait, in memory then in a file",
  pure,
  () => {
    const events = new EventQueue<PipeEvent>();
    const m = new StdoutTurns(opts({ holdMemory: 4 }), events);
    const io = runOps(m);
    m.handleConnect(1, peer(1), 0);
    m.handleConnect(2, peer(2), 0);
    m.handleConnect(3, peer(3), 0);
    m.handleStreamBytes(1, bytes(1, 1), 0);
    m.handleStreamBytes(2, bytes(2, 2, 2), 0); // held: 3 of 4
    m.handleStreamBytes(3, bytes(3, 3), 0); // 5 > 4: spilled
    m.handleStreamBytes(2, bytes(2), 0); // held: 4 of 4
    m.handleStreamBytes(2, bytes(2), 0); // over: 2 spills from here on
    io.step();
    assert.deepEqual(io.stdout, [1, 1]);
    assert.deepEqual(io.ops, ["write", "spill", "spill"]);
    assert.equal(m.memoryHeld, 4);
    m.handleStreamEnd(2, 0); // held, ended: closed at once (its bytes are held)
    io.step();
    assert.deepEqual(io.closed, [2]);
    m.handleStreamBytes(1, bytes(1), 0);
    m.handleStreamEnd(1, 0);
    io.step();
    // 1 is done; 2 (ended) goes: memory, then its file; then 3 goes live.
    assert.deepEqual(io.stdout, [1, 1, 1, 2, 2, 2, 2, 2, 3, 3]);
    assert.deepEqual(io.closed, [2, 1]);
    assert.equal(m.memoryHeld, 0);
    m.handleStreamBytes(3, bytes(3), 0);
    m.handleStreamEnd(3, 0);
    io.step();
    assert.deepEqual(io.stdout, [1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3]);
    assert.deepEqual(io.closed, [2, 1, 3]);
    assert.equal(m.pending, 0);
    assert.deepEqual(m.stats, { connections: 3, bytes: 11, spilled: 3, peakMemory: 4, failed: 0 });
    const got = events.drain().map((e) =>
      e.event === "closed"
        ? `${e.event} ${e.connection} ${e.bytes}/${e.memory}/${e.disk} ${e.reason}`
        : `${e.event} ${e.connection}`
    );
    assert.deepEqual(got, [
      "connected 1",
      "live 1",
      "connected 2",
      "connected 3",
      "closed 2 5/4/1 peer closed",
      "closed 1 3/0/0 peer closed",
      "live 2",
      "live 3",
      "closed 3 3/0/2 peer closed",
    ]);
  },
);

Deno.test(
  "pipe machine: held memory counts until written; a reset keeps what was sent",
  pure,
  () => {
    const m = new StdoutTurns(opts({ holdMemory: 100 }), new EventQueue());
    m.handleConnect(1, peer(1), 0);
    m.handleConnect(2, peer(2), 0);
    m.handleStreamBytes(2, new Uint8Array(60), 0);
    m.handleStreamGone(2, "peer reset");
    m.handleStreamEnd(1, 0);
    assert.equal(m.memoryHeld, 60, "moved to the output, not yet written");
    const ops = [];
    for (let op = m.pollOp(); op; op = m.pollOp()) ops.push(op);
    assert.deepEqual(ops.map((o) => o.kind), ["close", "close", "write"]);
    const write = ops[2] as PipeOp & { kind: "write" };
    assert.equal(write.data.length, 60);
    m.handleWritten(write);
    assert.equal(m.memoryHeld, 0);
  },
);

Deno.test(
  "pipe machine: property: any interleaving writes each connection whole and contiguous",
  pure,
  () => {
    const step = fc.oneof(
      fc.record({
        kind: fc.constant("bytes" as const),
        conn: fc.nat(5),
        n: fc.integer({ min: 1, max: 9 }),
      }),
      fc.record({ kind: fc.constant("end" as const), conn: fc.nat(5) }),
      fc.record({ kind: fc.constant("drain" as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 60 }), fc.nat(20), (steps, holdMemory) => {
        const m = new StdoutTurns(opts({ holdMemory }), new EventQueue());
        const io = runOps(m);
        const sent = new Map<number, number[]>();
        const open = new Set<number>();
        let nextByte = 0;
        for (const s of steps) {
          if (s.kind === "drain") {
            io.step();
            continue;
          }
          const id = s.conn + 1;
          if (!sent.has(id)) {
            sent.set(id, []);
            open.add(id);
            m.handleConnect(id, peer(id), 0);
          }
          if (!open.has(id)) continue;
          if (s.kind === "end") {
            open.delete(id);
            m.handleStreamEnd(id, 0);
          } else {
            const data = Array.from({ length: s.n }, () => (id << 5) | (nextByte++ % 32));
            sent.get(id)!.push(...data);
            m.handleStreamBytes(id, new Uint8Array(data), 0);
          }
        }
        for (const id of open) m.handleStreamEnd(id, 0);
        io.step();
        // Every connection was closed, and stdout is the connections' bytes one after another.
        assert.deepEqual([...io.closed].sort(), [...sent.keys()].sort());
        const order = [...sent.keys()];
        assert.deepEqual(io.stdout, order.flatMap((id) => sent.get(id)!));
        assert.equal(m.memoryHeld, 0);
        assert.equal(m.pending, 0);
      }),
    );
  },
);
