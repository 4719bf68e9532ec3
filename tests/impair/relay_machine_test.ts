import assert from "node:assert/strict";
import { decide, type FaultOptions, NO_FAULTS } from "../../lib/impair/fault_plan.ts";
import {
  relayLogLine,
  type RelayLogRecord,
  RelayMachine,
  type RelayOptions,
  type RelayTransmit,
  REORDER_HOLD_MS,
} from "../../lib/impair/relay_machine.ts";
import { Command, encode } from "../../lib/pudp/wire.ts";

const pure = { permissions: "none" } as const;

const CLIENT = { hostname: "127.0.0.1", port: 5000 };

function relay(o: Partial<FaultOptions & RelayOptions> = {}): RelayMachine {
  return new RelayMachine({ ...NO_FAULTS, magic: 0xc356, maxFlows: 16, idleMs: 60_000, ...o }, 0);
}

function data(seq: number): Uint8Array {
  return encode({ command: Command.DATA, seq, sessionId: 0xabc, payload: new Uint8Array([seq]) });
}

function drain(r: RelayMachine): { sent: RelayTransmit[]; log: RelayLogRecord[] } {
  const sent: RelayTransmit[] = [];
  const log: RelayLogRecord[] = [];
  for (let t = r.pollTransmit(); t; t = r.pollTransmit()) sent.push(t);
  for (let l = r.pollLog(); l; l = r.pollLog()) log.push(l);
  return { sent, log };
}

Deno.test("relay: without faults every datagram passes, in order, and is logged", pure, () => {
  const r = relay();
  for (let s = 1; s <= 5; s++) r.handleDatagram("up", data(s), CLIENT, s);
  r.handleDatagram("down", new Uint8Array([1, 2]), CLIENT, 6);
  const { sent, log } = drain(r);
  assert.deepEqual(sent.map((t) => t.data[12] ?? -1), [1, 2, 3, 4, 5, -1]);
  assert.deepEqual(sent.map((t) => t.direction), ["up", "up", "up", "up", "up", "down"]);
  assert.equal(sent[5].client, CLIENT);
  assert.deepEqual(log[0], {
    event: "passed",
    peer: CLIENT,
    direction: "up",
    datagram: 0,
    bytes: 13,
    pudp: { command: "DATA", seq: 1, session: "0x00000abc" },
  });
  assert.equal(log[5].pudp, undefined, "not PUDP: no header in the log");
  // The --log line: event, time, peer like every --json line (docs/events.md).
  const time = new Date("2026-01-02T03:04:05.678Z");
  assert.equal(
    relayLogLine(log[0], time),
    '{"event":"passed","time":"2026-01-02T03:04:05.678Z","peer":"127.0.0.1:5000",' +
      '"direction":"up","datagram":0,"bytes":13,' +
      '"pudp":{"command":"DATA","seq":1,"session":"0x00000abc"}}\n',
  );
  assert.equal(r.stats.flows, 1);
});

Deno.test("relay: drops and duplicates follow the plan exactly", pure, () => {
  const o = { loss: 0.2, dup: 0.2, seed: 42 };
  const r = relay(o);
  const N = 500;
  for (let s = 0; s < N; s++) r.handleDatagram("up", data(s), CLIENT, s);
  const { sent, log } = drain(r);
  const expected: number[] = [];
  for (let n = 0; n < N; n++) {
    const d = decide({ ...NO_FAULTS, ...o }, 0, "up", n);
    if (!d.drop) expected.push(n);
    if (d.duplicate) expected.push(n);
  }
  const seqOf = (b: Uint8Array) => (b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7]) >>> 0;
  assert.deepEqual(sent.map((t) => seqOf(t.data)), expected);
  assert.equal(log.filter((l) => l.event === "dropped").length, r.stats.up.dropped);
  assert.equal(log.filter((l) => l.event === "duplicated").length, r.stats.up.duplicated);
  assert.ok(r.stats.up.dropped > 50 && r.stats.up.duplicated > 50);
});

Deno.test(
  "relay: a reordered datagram goes right after the next one, or after the hold",
  pure,
  () => {
    const r = relay({ reorder: 1, direction: "up" });
    r.handleDatagram("up", data(1), CLIENT, 0); // held
    r.handleDatagram("up", data(2), CLIENT, 1); // reorder draw ignored: one is held; 1 goes after it
    let out = drain(r);
    assert.deepEqual(out.sent.map((t) => t.data[12]), [2, 1]);
    assert.deepEqual(out.log.map((l) => [l.datagram, l.event, l.overtakenBy]), [
      [0, "reordered", undefined],
      [1, "passed", undefined],
      [0, "released", 1],
    ]);
    r.handleDatagram("up", data(3), CLIENT, 10); // held, nothing follows
    assert.equal(r.pollTransmit(), undefined);
    assert.equal(r.pollTimeout(), 10 + REORDER_HOLD_MS);
    r.handleTimeout(10 + REORDER_HOLD_MS);
    out = drain(r);
    assert.deepEqual(out.sent.map((t) => t.data[12]), [3]);
    assert.deepEqual(out.log.map((l) => [l.event, l.overtakenBy]), [["reordered", undefined], [
      "released",
      null,
    ]]);
  },
);

Deno.test(
  "relay: delay holds datagrams on the timer; constant delay keeps their order",
  pure,
  () => {
    const r = relay({ delayMs: 20 });
    for (let s = 1; s <= 3; s++) r.handleDatagram("up", data(s), CLIENT, s);
    assert.equal(r.pollTransmit(), undefined);
    assert.equal(r.pollTimeout(), 21);
    r.handleTimeout(21);
    assert.deepEqual(drain(r).sent.map((t) => t.data[12]), [1]);
    r.handleTimeout(100);
    assert.deepEqual(drain(r).sent.map((t) => t.data[12]), [2, 3]);
    assert.equal(r.stats.up.delayed, 3);
  },
);

Deno.test("relay: flows are per client, refused beyond --max-flows, closed when idle", pure, () => {
  const r = relay({ maxFlows: 2, idleMs: 1000 });
  const other = { hostname: "127.0.0.1", port: 5001 };
  r.handleDatagram("up", data(1), CLIENT, 0);
  r.handleDatagram("up", data(1), other, 0);
  r.handleDatagram("up", data(1), { hostname: "127.0.0.1", port: 5002 }, 0);
  assert.equal(r.stats.refused, 1);
  const { sent, log } = drain(r);
  assert.deepEqual(sent.map((t) => t.flow), ["127.0.0.1:5000", "127.0.0.1:5001"]);
  assert.equal(log[2].event, "refused");
  assert.equal(log[2].datagram, undefined, "a refused datagram has no flow, so no number");
  r.handleDatagram("up", data(2), other, 500);
  drain(r);
  assert.equal(r.pollTimeout(), 1000);
  r.handleTimeout(1000);
  assert.equal(r.pollClosedFlow(), "127.0.0.1:5000");
  assert.equal(r.pollClosedFlow(), undefined);
  r.handleDatagram("down", data(9), CLIENT, 1001);
  assert.equal(r.pollTransmit(), undefined, "a reply for a closed flow is dropped");
  assert.equal(r.openFlows, 1);
  r.shutdown();
  assert.equal(r.pollClosedFlow(), "127.0.0.1:5001");
});
