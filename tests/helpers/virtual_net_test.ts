/**
 * The shared virtual network: delay per direction, seeded loss, the order of
 * events at one instant, receive buffers and busy senders, and the bounds
 * that end every run.
 */

import assert from "node:assert/strict";
import { unitDraw } from "../../lib/impair/fault_plan.ts";
import type { PeerAddress, Transmit } from "../../lib/runtime/transmit.ts";
import {
  type Datagram,
  type Fate,
  type NetEvent,
  type NetMachine,
  seededLoss,
  VirtualNet,
} from "./virtual_net.ts";

const pure = { permissions: "none" } as const;
const A: PeerAddress = { hostname: "10.0.0.1", port: 1000 };
const B: PeerAddress = { hostname: "10.0.0.2", port: 2000 };
const C: PeerAddress = { hostname: "10.0.0.3", port: 3000 };
const enc = new TextEncoder();
const dec = new TextDecoder();

/** A machine that records what it got and sends what it is told to, with timers on demand. */
class Probe implements NetMachine {
  readonly got: { text: string; from: number; at: number }[] = [];
  readonly outbox: Transmit[] = [];
  timers: number[] = [];
  /** Answers every datagram with `re:` + its text. */
  echo = false;
  constructor(readonly name: string, readonly log: string[] = []) {}
  send(to: PeerAddress, text: string): void {
    this.outbox.push({ to, data: enc.encode(text) });
  }
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void {
    const text = dec.decode(data);
    this.got.push({ text, from: from.port, at: now });
    this.log.push(`${this.name} got ${text} at ${now}`);
    if (this.echo && !text.startsWith("re:")) this.send(from, `re:${text}`);
  }
  handleTimeout(now: number): void {
    this.log.push(`${this.name} timer at ${now}`);
    this.timers = this.timers.filter((t) => t > now);
  }
  pollTransmit(): Transmit | undefined {
    return this.outbox.shift();
  }
  pollTimeout(): number | undefined {
    return this.timers.length > 0 ? Math.min(...this.timers) : undefined;
  }
}

Deno.test("virtual net: each direction has its own delay", pure, () => {
  const net = new VirtualNet({ delayMs: 1 });
  net.path(A, B, { delayMs: 5 });
  const a = net.add({ address: A, machine: new Probe("a") });
  const b = net.add({ address: B, machine: new Probe("b") });
  b.machine.echo = true;
  net.at(10, a, () => a.machine.send(B, "ping"));
  assert.equal(net.run(), "idle");
  assert.deepEqual(b.machine.got, [{ text: "ping", from: 1000, at: 15 }], "A→B: 5 ms");
  assert.deepEqual(
    a.machine.got,
    [{ text: "re:ping", from: 2000, at: 16 }],
    "B→A: the default 1 ms",
  );
  assert.equal(net.now, 16);
  assert.equal(net.stats.sent, 2);
  assert.equal(net.stats.delivered, 2);
});

Deno.test("virtual net: seeded loss drops by the seed's draws, the same every run", pure, () => {
  const lostWith = (seed: number) => {
    const net = new VirtualNet({ delayMs: 0.1, fate: seededLoss(0.3, seed, { flow: 7, draw: 3 }) });
    const a = net.add({ address: A, machine: new Probe("a") });
    const b = net.add({ address: B, machine: new Probe("b") });
    net.input(a, () => {
      for (let i = 0; i < 1000; i++) a.machine.send(B, `${i}`);
    });
    net.run();
    const got = new Set(b.machine.got.map((g) => Number(g.text)));
    return [...Array(1000).keys()].filter((i) => !got.has(i));
  };
  const lost = lostWith(42);
  assert.deepEqual(lostWith(42), lost, "the same seed loses the same datagrams");
  assert.notDeepEqual(lostWith(43), lost, "another seed loses others");
  assert.ok(lost.length > 250 && lost.length < 350, `${lost.length} of 1000 lost at 30%`);
  // Exactly the n-th draw of unitDraw decides the n-th datagram.
  const expected = [...Array(1000).keys()].filter((n) => unitDraw(42, 7, true, n, 3) < 0.3);
  assert.deepEqual(lost, expected);
});

Deno.test("virtual net: one seeded loss for both directions numbers them together", pure, () => {
  const fate = seededLoss(0.5, 9, { flow: 2, draw: 4, up: (d) => d.to.port === B.port });
  const ups = [...Array(200).keys()].map((n) => n % 3 !== 0);
  const fates = ups.map((up) =>
    fate({ from: up ? A : B, to: up ? B : A, data: new Uint8Array(), sentAt: 0 })
  );
  const expected = ups.map((up, n) => unitDraw(9, 2, up, n, 4) < 0.5 ? "drop" : "pass");
  assert.deepEqual(fates, expected);
});

Deno.test(
  "virtual net: at one instant, actions, timers, arrivals in send order, services",
  pure,
  () => {
    const log: string[] = [];
    const net = new VirtualNet({ delayMs: 2 });
    const a = net.add({ address: A, machine: new Probe("a", log) });
    const b = net.add({ address: B, machine: new Probe("b", log), serviceMs: 1 });
    const c = net.add({ address: C, machine: new Probe("c", log) });
    // At 0: A sends two to C and one to B, then C one to A. All arrive at 2.
    net.input(a, () => {
      a.machine.send(C, "a1");
      a.machine.send(B, "a2");
      a.machine.send(C, "a3");
    });
    net.input(c, () => c.machine.send(A, "c1"));
    // Also at 2: C's timer, an action of B's, A's timer and action (scheduled last, run first).
    net.input(c, () => (c.machine.timers = [2]));
    net.input(a, () => (a.machine.timers = [2]));
    net.at(2, b, () => log.push("b action at 2"));
    net.at(2, a, () => log.push("a action at 2"));
    assert.equal(net.run(), "idle");
    assert.deepEqual(log, [
      "a action at 2", // endpoints in the order they were added; for one, its actions first
      "a timer at 2",
      "b action at 2",
      "c timer at 2",
      "c got a1 at 2", // then arrivals, in the order they were sent
      "c got a3 at 2",
      "a got c1 at 2",
      "b got a2 at 2", // B's receive buffer is served last
    ]);
  },
);

Deno.test(
  "virtual net: a full receive buffer overflows; one datagram per service time",
  pure,
  () => {
    const events: NetEvent["kind"][] = [];
    const net = new VirtualNet({ delayMs: 1, onEvent: (e) => events.push(e.kind) });
    const a = net.add({ address: A, machine: new Probe("a") });
    const b = net.add({ address: B, machine: new Probe("b"), bufferDatagrams: 4, serviceMs: 10 });
    net.input(a, () => {
      for (let i = 0; i < 10; i++) a.machine.send(B, `${i}`);
    });
    net.at(35, a, () => a.machine.send(B, "late")); // the buffer has room again by then
    net.run();
    assert.equal(b.overflow, 6);
    assert.equal(b.peakBuffered, 4);
    assert.deepEqual(
      b.machine.got.map((g) => `${g.text}@${g.at}`),
      ["0@1", "1@11", "2@21", "3@31", "late@41"],
    );
    assert.equal(events.filter((k) => k === "overflow").length, 6);
    assert.equal(net.stats.overflow, 6);
  },
);

Deno.test(
  "virtual net: a busy sender spaces its datagrams, its timer waits till it is free",
  pure,
  () => {
    const drains: [number, number][] = [];
    const net = new VirtualNet({ delayMs: 0 });
    const a = net.add({
      address: A,
      machine: new Probe("a"),
      sendGapMs: 2,
      drained: (now, freeAt) => drains.push([now, freeAt]),
    });
    const b = net.add({ address: B, machine: new Probe("b") });
    net.input(a, () => {
      for (let i = 0; i < 4; i++) a.machine.send(B, `${i}`);
      a.machine.timers = [1];
    });
    net.run();
    assert.deepEqual(b.machine.got.map((g) => g.at), [0, 2, 4, 6]);
    assert.deepEqual(drains[0], [0, 8], "free once the last has gone");
    assert.ok(a.machine.log.includes("a timer at 8"), a.machine.log.join("; "));
  },
);

Deno.test("virtual net: wantsWake wakes an endpoint when it is free again", pure, () => {
  const net = new VirtualNet();
  let reads = 0;
  const a = net.add({
    address: A,
    machine: new Probe("a"),
    sendGapMs: 5,
    afterInput: () => {
      if (reads < 3) a.machine.send(B, `read ${++reads}`);
    },
    wantsWake: () => reads < 3,
  });
  const b = net.add({ address: B, machine: new Probe("b") });
  net.input(a, () => {});
  net.run();
  assert.deepEqual(b.machine.got.map((g) => `${g.text}@${g.at}`), [
    "read 1@0",
    "read 2@5",
    "read 3@10",
  ]);
});

Deno.test("virtual net: dup, hold and drop fates, per direction", pure, () => {
  const fates: Fate[] = ["pass", "hold", "pass", "dup", "drop", "pass"];
  const net = new VirtualNet({ delayMs: 1 });
  net.path(A, B, { fate: (_d: Datagram) => fates.shift() ?? "pass" });
  const a = net.add({ address: A, machine: new Probe("a") });
  const b = net.add({ address: B, machine: new Probe("b") });
  net.input(a, () => {
    for (let i = 0; i < 6; i++) a.machine.send(B, `${i}`);
  });
  net.run();
  assert.deepEqual(b.machine.got.map((g) => g.text), ["0", "2", "1", "3", "3", "5"]);
  assert.equal(net.stats.lost, 1);
});

Deno.test("virtual net: datagrams to nobody or to a closed endpoint are dropped", pure, () => {
  let closed = false;
  const net = new VirtualNet({ delayMs: 1 });
  const a = net.add({ address: A, machine: new Probe("a") });
  const b = net.add({ address: B, machine: new Probe("b"), closed: () => closed });
  net.input(a, () => {
    a.machine.send(C, "nobody");
    a.machine.send(B, "first");
  });
  net.run();
  closed = true;
  net.input(a, () => a.machine.send(B, "after close"));
  net.run();
  assert.deepEqual(b.machine.got.map((g) => g.text), ["first"]);
  assert.equal(net.stats.unroutable, 1);
  assert.equal(net.stats.closed, 1);
  assert.throws(() => net.add({ address: A, machine: new Probe("again") }), /taken/);
});

Deno.test(
  "virtual net: every run ends: at the time limit, the step limit, stop, or idle",
  pure,
  () => {
    // A machine whose timer always fires again 1 ms later: it would run forever.
    const forever = (): NetMachine => {
      let next = 0;
      return {
        handleDatagram: () => {},
        handleTimeout: (now) => (next = now + 1),
        pollTransmit: () => undefined,
        pollTimeout: () => next,
      };
    };
    const net = new VirtualNet();
    const e = net.add({ address: A, machine: forever() });
    net.input(e, () => {});
    assert.equal(net.run({ untilMs: 100.5 }), "time");
    assert.equal(net.now, 100, "nothing later than the limit ran");
    assert.equal(net.run({ untilMs: 200, maxSteps: 10 }), "steps");
    assert.equal(net.now, 110);
    assert.equal(net.run({ stop: () => net.now >= 150 }), "stopped");
    assert.equal(net.now, 150);
    assert.equal(net.steps, 151, "a step is one event run");
    const idle = new VirtualNet();
    idle.add({ address: B, machine: new Probe("b") });
    assert.equal(idle.run(), "idle");
  },
);
