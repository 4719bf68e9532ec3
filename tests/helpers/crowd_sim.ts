/**
 * A crowd of real {@link ClientSession}s and one real {@link ServerSessions}
 * on a simulated loopback, in virtual time: the test support for pacing.
 *
 * How this works: every datagram is an event on one time line. Upward it
 * reaches the server's socket buffer, which holds `bufferDatagrams` and drops
 * the rest (that is the only loss: the path itself loses nothing unless
 * `pathLoss` says so); the server takes one datagram per service time, and
 * now and then stops reading for a while (a stall: its stdout blocked, the
 * CPU taken by another process). Each client is CPU-bound too: it sends at
 * most one DATA per `clientSendMs` and wakes for its timers. Clients may
 * start at different times, as processes started one after another do.
 * Every draw comes from {@link unitDraw} of the seed, so a run is exact and
 * a failing seed is a reproduction.
 *
 * @module
 */

import { ClientSession } from "../../lib/pudp/client_session.ts";
import { ServerSessions } from "../../lib/pudp/server_session.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import { unitDraw } from "../../lib/impair/fault_plan.ts";
import type { PacingStats } from "../../lib/pudp/pacing_window.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";

/** The simulated server's address. */
export const SIM_SERVER: PeerAddress = { hostname: "10.0.0.1", port: 9000 };

/** One simulated crowd. */
export interface CrowdPlan {
  /** Seed of every draw. */
  seed: number;
  /** Lines each client sends (one entry per client). */
  lines: number[];
  /** When each client starts, in ms (default: all at 0). */
  startMs?: number[];
  /** Datagrams the server's socket buffer holds (default 256). */
  bufferDatagrams?: number;
  /** Server time per datagram, in ms (default 0.01); each draw is 0.5–1.5× this. */
  serviceMs?: number;
  /** A stall on average once per this many datagrams served (default: never). */
  stallEvery?: number;
  /** A stall lasts up to this long, in ms. */
  stallLongestMs?: number;
  /** Fastest a client sends DATA, in ms per DATA (default 0.01). */
  clientSendMs?: number;
  /** One-way delay, in ms (default 0.02). */
  oneWayMs?: number;
  /** Chance that the path drops a datagram, each direction (default 0). */
  pathLoss?: number;
  /** Client `--window` (default: the client's default). */
  window?: number;
  /** Client `--timeout` in ms (default 5,000). */
  timeoutMs?: number;
  /** Stop the simulation at this virtual time, in ms (default 600,000). */
  untilMs?: number;
}

/** What a simulated crowd did. */
export interface CrowdRun {
  /** Datagrams that found the server's buffer full. */
  overflow: number;
  /** Lines the server printed, per client. */
  printed: number[];
  /** Exit codes (undefined: still running at the end). */
  codes: (number | undefined)[];
  /** When each client's last DATA went, in ms after its start. */
  sendSpanMs: number[];
  /** Virtual time at the end, in ms. */
  ms: number;
  /** Longest time any client went without sending while it had lines, in ms, after its first DATA. */
  longestPauseMs: number[];
  /** Most datagrams the server's buffer held at once. */
  peakBuffer: number;
  /** Per client, most of its DATA on the way to the server or in its buffer at once. */
  peakQueued: number[];
  /** Stalls the server made. */
  stalls: number;
  /** Each client's pacing counters at the end. */
  pacing: PacingStats[];
}

interface Flight {
  at: number;
  peer: number;
  up: boolean;
  data: Uint8Array;
}

/** Runs one crowd to the end (every client closed) or to `untilMs`. */
export function runCrowd(plan: CrowdPlan): CrowdRun {
  const n = plan.lines.length;
  const bufferDatagrams = plan.bufferDatagrams ?? 256;
  const serviceMs = plan.serviceMs ?? 0.01;
  const clientSendMs = plan.clientSendMs ?? 0.01;
  const oneWayMs = plan.oneWayMs ?? 0.02;
  const pathLoss = plan.pathLoss ?? 0;
  const untilMs = plan.untilMs ?? 600_000;
  const output = new ServerTextSink();
  const server = new ServerSessions({ timeoutMs: 60_000 }, output);
  const encoder = new TextEncoder();
  const peers = plan.lines.map((lines, i) => ({
    address: { hostname: `10.0.1.${i % 250}`, port: 20_000 + i },
    session: new ClientSession(SIM_SERVER, {
      sessionId: i + 1,
      timeoutMs: plan.timeoutMs ?? 5_000,
      ...(plan.window !== undefined ? { window: plan.window } : {}),
    }),
    startAt: plan.startMs?.[i] ?? 0,
    started: false,
    lines,
    fed: 0,
    /** The CPU is busy until then: no send before. */
    busyUntil: 0,
    /** DATA sent by the last drain. */
    dataCounted: 0,
    firstDataAt: -1,
    lastDataAt: 0,
    longestPause: 0,
  }));
  const byPort = new Map(peers.map((p, i) => [p.address.port, i]));
  const flight: Flight[] = [];
  const buffer: { data: Uint8Array; from: PeerAddress }[] = [];
  let head = 0;
  let overflow = 0;
  let peakBuffer = 0;
  let stalls = 0;
  let served = 0;
  let lossDraws = 0;
  let serverFreeAt = 0;
  let now = 0;

  const queued = new Array<number>(n).fill(0);
  const peakQueued = new Array<number>(n).fill(0);
  const isData = (data: Uint8Array) => data.length >= 12 && data[3] === 1;
  const put = (peer: number, up: boolean, data: Uint8Array, at: number) => {
    if (pathLoss > 0 && unitDraw(plan.seed, 7, up, lossDraws++, 3) < pathLoss) return;
    if (up && isData(data)) peakQueued[peer] = Math.max(peakQueued[peer], ++queued[peer]);
    const arrive = at + oneWayMs;
    let i = flight.length;
    while (i > 0 && flight[i - 1].at > arrive) i--;
    flight.splice(i, 0, { at: arrive, peer, up, data });
  };
  /** Moves a client's datagrams to the path; DATA leave one per clientSendMs. */
  const drain = (i: number) => {
    const p = peers[i];
    let at = Math.max(now, p.busyUntil);
    for (let t = p.session.pollTransmit(); t; t = p.session.pollTransmit()) {
      put(i, true, t.data, at);
      at += clientSendMs;
    }
    p.busyUntil = Math.max(p.busyUntil, at);
    if (p.session.stats.dataSent > p.dataCounted) {
      p.dataCounted = p.session.stats.dataSent;
      if (p.firstDataAt < 0) p.firstDataAt = now;
      else p.longestPause = Math.max(p.longestPause, now - p.lastDataAt);
      p.lastDataAt = at;
    }
  };
  /** Hands a client the lines it will read (as much as it wants, as stdin would). */
  const feed = (i: number) => {
    const p = peers[i];
    while (p.fed < p.lines && p.session.wantsLines) {
      p.session.handleLine(encoder.encode(`c${i} line ${++p.fed}`), now);
    }
    if (p.fed === p.lines) p.session.handleEof(now);
  };

  for (let step = 0; step < 50_000_000; step++) {
    if (peers.every((p) => p.session.result !== undefined)) break;
    // The next thing to happen: a start, a timer, an arrival, a service.
    let next = Infinity;
    let kind = "";
    let who = -1;
    peers.forEach((p, i) => {
      if (!p.started && p.startAt < next) [next, kind, who] = [p.startAt, "start", i];
      if (!p.started || p.session.result !== undefined) return;
      const at = p.session.pollTimeout();
      if (at !== undefined && Math.max(at, p.busyUntil) < next) {
        [next, kind, who] = [Math.max(at, p.busyUntil), "timer", i];
      }
      if (p.session.wantsLines && p.fed < p.lines && p.busyUntil < next && p.busyUntil > now) {
        [next, kind, who] = [p.busyUntil, "feed", i];
      }
    });
    if (flight.length > 0 && flight[0].at < next) [next, kind] = [flight[0].at, "arrive"];
    const service = head < buffer.length ? Math.max(serverFreeAt, now) : Infinity;
    if (service < next) [next, kind] = [service, "serve"];
    if (next === Infinity || next > untilMs) break;
    now = Math.max(now, next);
    if (kind === "start") {
      const p = peers[who];
      p.started = true;
      p.session.start(now);
      feed(who);
      drain(who);
    } else if (kind === "timer") {
      peers[who].session.handleTimeout(now);
      feed(who);
      drain(who);
    } else if (kind === "feed") {
      feed(who);
      drain(who);
    } else if (kind === "arrive") {
      const d = flight.shift()!;
      if (!d.up) {
        const p = peers[d.peer];
        if (p.session.result === undefined) {
          p.session.handleDatagram(d.data, SIM_SERVER, now);
          feed(d.peer);
          drain(d.peer);
        }
      } else if (buffer.length - head >= bufferDatagrams) {
        overflow++;
        if (isData(d.data)) queued[d.peer]--;
      } else {
        buffer.push({ data: d.data, from: peers[d.peer].address });
        peakBuffer = Math.max(peakBuffer, buffer.length - head);
      }
    } else {
      const d = buffer[head++];
      if (isData(d.data)) queued[byPort.get(d.from.port)!]--;
      server.handleDatagram(d.data, d.from, now);
      for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
        put(byPort.get(t.to.port)!, false, t.data, now);
      }
      served++;
      serverFreeAt = now + serviceMs * (0.5 + unitDraw(plan.seed, 1, true, served, 1));
      if (plan.stallEvery && unitDraw(plan.seed, 2, true, served, 2) < 1 / plan.stallEvery) {
        stalls++;
        serverFreeAt += (plan.stallLongestMs ?? 10) * unitDraw(plan.seed, 3, true, served, 3);
      }
      if (head > 4096) {
        buffer.splice(0, head);
        head = 0;
      }
    }
  }
  const printed = new Array<number>(n).fill(0);
  const text = new TextDecoder().decode(output.take());
  for (const m of text.matchAll(/\] c(\d+) line \d+$/gm)) printed[Number(m[1])]++;
  return {
    overflow,
    printed,
    codes: peers.map((p) => p.session.result?.code),
    sendSpanMs: peers.map((p) => p.firstDataAt < 0 ? 0 : p.lastDataAt - p.firstDataAt),
    ms: now,
    longestPauseMs: peers.map((p) => p.longestPause),
    peakBuffer,
    peakQueued,
    stalls,
    pacing: peers.map((p) => ({ ...p.session.pacing.stats })),
  };
}
