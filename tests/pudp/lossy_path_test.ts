/**
 * One paced client and the server, both pure, joined by a path that loses
 * datagrams as `pudp impair` does (the same seeded fault plan), in virtual
 * time (the shared net of tests/helpers/virtual_net.ts): 0.1 ms each way.
 * Every decision of the path is a hash of the seed and the datagram's
 * number, so each run is exact and repeatable.
 */

import assert from "node:assert/strict";
import { ClientMachine } from "../../lib/pudp/client_machine.ts";
import { ServerMachine } from "../../lib/pudp/server_machine.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import {
  decide,
  type Direction,
  type FaultOptions,
  NO_FAULTS,
} from "../../lib/impair/fault_plan.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";
import { type Fate, VirtualNet } from "../helpers/virtual_net.ts";

const pure = { permissions: "none" } as const;
const SERVER: PeerAddress = { hostname: "10.0.0.1", port: 9000 };
const CLIENT: PeerAddress = { hostname: "10.0.0.2", port: 40000 };
const ONE_WAY_MS = 0.1;

/** What one run through the lossy path gave. */
export interface PathRun {
  code: number | undefined;
  message: string | undefined;
  /** Input lines printed by the server, in order, none twice. */
  printed: number;
  /** Virtual time from start to the client's close, in ms. */
  ms: number;
  lost: number;
}

/** Sends `lines` lines through a path with `faults`; `serverUp` false: no server at all. */
export function runPath(
  faults: FaultOptions,
  lines: number,
  timeoutMs = 5_000,
  serverUp = true,
): PathRun {
  const out = new ServerTextSink();
  const client = new ClientMachine(SERVER, { sessionId: 7, timeoutMs, window: 32 });
  const net = new VirtualNet();
  // Each direction numbers its own datagrams for the fault plan, as the relay does.
  const counters: Record<Direction, number> = { up: 0, down: 0 };
  const lossy = (dir: Direction) => (): Fate =>
    decide(faults, 0, dir, counters[dir]++).drop ? "drop" : "pass";
  net.path(CLIENT, SERVER, { delayMs: ONE_WAY_MS, fate: lossy("up") });
  net.path(SERVER, CLIENT, { delayMs: ONE_WAY_MS, fate: lossy("down") });
  // No server: what the client sends arrives where nothing listens.
  if (serverUp) {
    net.add({
      address: SERVER,
      machine: new ServerMachine({ timeoutMs: 60_000 }, out),
      timers: false,
    });
  }
  const c = net.add({ address: CLIENT, machine: client });
  net.input(c, (now) => {
    client.start(now);
    const payload = (i: number) => new TextEncoder().encode(`line ${i}`);
    for (let i = 1; i <= lines; i++) client.handleLine(payload(i), now);
    client.handleEof(now);
  });
  net.run({ maxSteps: 10_000_000, stop: () => client.result !== undefined });
  const text = new TextDecoder().decode(out.take());
  const got = [...text.matchAll(/\] line (\d+)$/gm)].map((m) => Number(m[1]));
  const inOrder = got.every((n, i) => i === 0 || n > got[i - 1]);
  assert.ok(inOrder, "printed in order, none twice");
  return {
    code: client.result?.code,
    message: client.result?.message,
    printed: got.length,
    ms: net.now,
    lost: lines - got.length,
  };
}

const faults = (loss: number, seed: number, direction: FaultOptions["direction"] = "both") => ({
  ...NO_FAULTS,
  loss,
  seed,
  direction,
});

Deno.test("lossy path: a clean path delivers every line", pure, () => {
  const r = runPath(faults(0, 1), 5_000);
  assert.equal(r.code, 0, r.message);
  assert.equal(r.lost, 0);
});

Deno.test("lossy path: 30% loss both ways: 10 of 10 seeds finish, exit 0", pure, () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = runPath(faults(0.3, seed), 2_000);
    assert.equal(r.code, 0, `seed ${seed}: ${r.message} after ${r.printed} lines`);
  }
});

Deno.test("lossy path: 30% ALIVE loss only: 10 of 10 seeds finish with nothing lost", pure, () => {
  for (let seed = 1; seed <= 10; seed++) {
    const r = runPath(faults(0.3, seed, "down"), 2_000);
    assert.equal(r.code, 0, `seed ${seed}: ${r.message}`);
    assert.equal(r.lost, 0, `seed ${seed}`);
  }
});

Deno.test(
  "lossy path: a dead server is reported within the timer and one probe interval",
  pure,
  () => {
    const r = runPath(faults(0, 1), 100, 2_000, false);
    assert.equal(r.code, 1);
    assert.match(r.message!, /no answer/);
    assert.ok(r.ms <= 2_000 + 500, `${r.ms} ms`);
  },
);
