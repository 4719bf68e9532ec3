/**
 * Many paced clients against one server, all pure: the real ClientSession and
 * ServerSessions machines, joined by a simulated server socket buffer that
 * holds 256 datagrams (what a default Linux buffer holds of small ones) and
 * drops the rest. The server takes one datagram per 10 µs; clients answer at
 * once. Nothing may be dropped, and every line must be printed.
 */

import assert from "node:assert/strict";
import { ClientSession } from "../../lib/pudp/client_session.ts";
import { ServerSessions } from "../../lib/pudp/server_session.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import type { PeerAddress, Transmit } from "../../lib/net/transmit.ts";

const pure = { permissions: "none" } as const;
const BUFFER_DATAGRAMS = 256;
const SERVICE_MS = 0.01;
const SERVER: PeerAddress = { hostname: "10.0.0.1", port: 9000 };

interface Result {
  dropped: number;
  printed: number;
  peakQueue: number;
}

function simulate(clients: number, linesEach: number, window: number): Result {
  const output = new ServerTextSink();
  const server = new ServerSessions({ timeoutMs: 60_000 }, output);
  const queue: { data: Uint8Array; from: PeerAddress }[] = [];
  let head = 0;
  let dropped = 0;
  let peakQueue = 0;
  const peers = Array.from({ length: clients }, (_, i) => ({
    address: { hostname: "10.0.1." + (i % 250), port: 20_000 + i },
    session: new ClientSession(SERVER, { sessionId: i + 1, timeoutMs: 5_000, window }),
  }));
  const byPort = new Map(peers.map((p) => [p.address.port, p]));
  const enqueue = (p: (typeof peers)[number]) => {
    for (let t = p.session.pollTransmit(); t; t = p.session.pollTransmit()) {
      if (queue.length - head >= BUFFER_DATAGRAMS) dropped++;
      else queue.push({ data: t.data, from: p.address });
      peakQueue = Math.max(peakQueue, queue.length - head);
    }
  };
  let now = 0;
  for (const p of peers) {
    p.session.start(now);
    enqueue(p);
  }
  const line = new TextEncoder().encode("x".repeat(60));
  let fed = false;
  for (let step = 0; step < 2_000_000; step++) {
    now += SERVICE_MS;
    if (!fed && head === queue.length) {
      // Every session is open: all clients get their input at the same moment.
      fed = true;
      for (const p of peers) {
        for (let i = 0; i < linesEach; i++) p.session.handleLine(line, now);
        p.session.handleEof(now);
        enqueue(p);
      }
    }
    if (head < queue.length) {
      const d = queue[head++];
      server.handleDatagram(d.data, d.from, now);
      for (let t: Transmit | undefined; (t = server.pollTransmit());) {
        const p = byPort.get(t.to.port)!;
        p.session.handleDatagram(t.data, SERVER, now);
        enqueue(p);
      }
    } else if (fed) {
      // Idle: let timers run (quiet periods, closing).
      let next = Infinity;
      for (const p of peers) next = Math.min(next, p.session.pollTimeout() ?? Infinity);
      if (next === Infinity) break;
      now = Math.max(now, next);
      for (const p of peers) {
        const at = p.session.pollTimeout();
        if (at !== undefined && at <= now) {
          p.session.handleTimeout(now);
          enqueue(p);
        }
      }
    }
    if (peers.every((p) => p.session.result)) break;
  }
  const printed = new TextDecoder().decode(output.take()).split("\n")
    .filter((l) => l.endsWith("x".repeat(60))).length;
  return { dropped, printed, peakQueue };
}

Deno.test("fan-in: 200 paced clients never overflow a 256-datagram buffer", pure, () => {
  const r = simulate(200, 50, 32);
  assert.equal(r.dropped, 0, `peak queue ${r.peakQueue}`);
  assert.equal(r.printed, 200 * 50);
});

Deno.test("fan-in: 20 paced clients with larger windows", pure, () => {
  const r = simulate(20, 500, 64);
  assert.equal(r.dropped, 0, `peak queue ${r.peakQueue}`);
  assert.equal(r.printed, 20 * 500);
});

Deno.test("fan-in: the model does lose data when clients are unpaced", pure, () => {
  const r = simulate(20, 500, 0);
  assert.ok(r.dropped > 0, "the simulated buffer must overflow, or the test proves nothing");
});
