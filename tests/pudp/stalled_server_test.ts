/**
 * Paced clients against a server that stalls, all pure, in virtual time: the
 * real ClientSession and ServerSessions machines, a server socket buffer that
 * holds 256 datagrams and drops the rest, and a server that now and then
 * stops reading it for a while (as `pudp server` does while its stdout is a
 * pipe read slowly). Stalls start and last as a hash of the seed and the
 * datagram count says, so each run is exact. The path loses nothing: any
 * datagram dropped is one the clients sent into a full buffer, a line lost.
 */

import assert from "node:assert/strict";
import { ClientSession } from "../../lib/pudp/client_session.ts";
import { ServerSessions } from "../../lib/pudp/server_session.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import { unitDraw } from "../../lib/impair/fault_plan.ts";
import type { PeerAddress } from "../../lib/net/transmit.ts";

const pure = { permissions: "none" } as const;
const BUFFER_DATAGRAMS = 256;
const SERVICE_MS = 0.005;
const ONE_WAY_MS = 0.05;
const SERVER: PeerAddress = { hostname: "10.0.0.1", port: 9000 };

/** How the server stalls: on average once per `every` datagrams, for up to `longestMs`. */
export interface StallPlan {
  seed: number;
  every: number;
  longestMs: number;
}

/** What one run gave. */
export interface StallRun {
  /** Datagrams that found the server's buffer full. */
  dropped: number;
  printed: number;
  /** Clients that ended with exit code 0. */
  finished: number;
  stalls: number;
  ms: number;
  /** All clients' DATA presumed gone (none were: the path loses nothing). */
  presumedLost: number;
  expiries: number;
}

/** `clients` clients send `lines` lines each to a server stalling as `plan` says. */
export function runStalled(clients: number, lines: number, plan: StallPlan): StallRun {
  const output = new ServerTextSink();
  const server = new ServerSessions({ timeoutMs: 60_000 }, output);
  const peers = Array.from({ length: clients }, (_, i) => ({
    address: { hostname: "10.0.1." + i, port: 20_000 + i },
    session: new ClientSession(SERVER, { sessionId: i + 1, timeoutMs: 5_000 }),
  }));
  const byPort = new Map(peers.map((p) => [p.address.port, p]));
  // Datagrams on the path, sorted by arrival; the server's socket buffer.
  const flight: { at: number; peer: number; up: boolean; data: Uint8Array }[] = [];
  const buffer: { data: Uint8Array; from: PeerAddress }[] = [];
  let head = 0;
  let dropped = 0;
  let stalls = 0;
  let served = 0;
  let serverFreeAt = 0;
  const put = (peer: number, up: boolean, data: Uint8Array, now: number) => {
    const at = now + ONE_WAY_MS;
    let i = flight.length;
    while (i > 0 && flight[i - 1].at > at) i--;
    flight.splice(i, 0, { at, peer, up, data });
  };
  const drain = (i: number, now: number) => {
    const s = peers[i].session;
    for (let t = s.pollTransmit(); t; t = s.pollTransmit()) put(i, true, t.data, now);
  };
  let now = 0;
  const payload = (c: number, n: number) => new TextEncoder().encode(`c${c} line ${n}`);
  peers.forEach((p, i) => {
    p.session.start(now);
    for (let n = 1; n <= lines; n++) p.session.handleLine(payload(i, n), now);
    p.session.handleEof(now);
    drain(i, now);
  });
  for (let step = 0; step < 20_000_000; step++) {
    if (peers.every((p) => p.session.result !== undefined)) break;
    let due = Infinity;
    let who = -1;
    peers.forEach((p, i) => {
      const at = p.session.pollTimeout();
      if (at !== undefined && at < due) [due, who] = [at, i];
    });
    const arrival = flight.length > 0 ? flight[0].at : Infinity;
    const service = head < buffer.length ? Math.max(serverFreeAt, now) : Infinity;
    const next = Math.min(due, arrival, service);
    if (next === Infinity) break;
    now = next;
    if (next === arrival) {
      const d = flight.shift()!;
      if (!d.up) {
        peers[d.peer].session.handleDatagram(d.data, SERVER, now);
        drain(d.peer, now);
      } else if (buffer.length - head >= BUFFER_DATAGRAMS) {
        dropped++;
      } else {
        buffer.push({ data: d.data, from: peers[d.peer].address });
      }
    } else if (next === service) {
      const d = buffer[head++];
      server.handleDatagram(d.data, d.from, now);
      for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
        put(peers.indexOf(byPort.get(t.to.port)!), false, t.data, now);
      }
      serverFreeAt = now + SERVICE_MS;
      served++;
      if (unitDraw(plan.seed, 0, true, served, 1) < 1 / plan.every) {
        stalls++;
        serverFreeAt += plan.longestMs * unitDraw(plan.seed, 0, true, served, 2);
      }
      if (head > 4096) {
        buffer.splice(0, head);
        head = 0;
      }
    } else {
      peers[who].session.handleTimeout(now);
      drain(who, now);
    }
  }
  const text = new TextDecoder().decode(output.take());
  return {
    dropped,
    printed: [...text.matchAll(/\] c\d+ line \d+$/gm)].length,
    finished: peers.filter((p) => p.session.result?.code === 0).length,
    stalls,
    ms: now,
    presumedLost: peers.reduce((n, p) => n + p.session.pacing.stats.presumedLost, 0),
    expiries: peers.reduce((n, p) => n + p.session.pacing.stats.expiries, 0),
  };
}

for (const plan of [{ every: 50, longestMs: 20 }, { every: 200, longestMs: 60 }]) {
  Deno.test(
    `stalled server: three clients never overrun a server that stalls up to ${plan.longestMs} ms every ~${plan.every} datagrams`,
    pure,
    () => {
      for (let seed = 1; seed <= 6; seed++) {
        const r = runStalled(3, 5_000, { seed, ...plan });
        assert.ok(r.stalls > 20, `seed ${seed}: the server must stall, or the test proves nothing`);
        assert.equal(r.dropped, 0, `seed ${seed}: ${r.dropped} dropped in ${r.stalls} stalls`);
        assert.equal(r.printed, 3 * 5_000, `seed ${seed}`);
        assert.equal(r.finished, 3, `seed ${seed}`);
      }
    },
  );
}
