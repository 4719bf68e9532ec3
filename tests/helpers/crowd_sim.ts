/**
 * A crowd of real {@link ClientMachine}s and one real {@link ServerMachine}
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
 * a failing seed is a reproduction. The time line, the paths, the buffer and
 * the clients' busy CPUs are the shared {@link VirtualNet}; what is here is
 * the crowd: its clients' stdin, the server's service time and stalls, and
 * what is measured.
 *
 * @module
 */

import { ClientMachine } from "../../lib/pudp/client_machine.ts";
import { ServerMachine } from "../../lib/pudp/server_machine.ts";
import { ServerTextSink } from "../../lib/pudp/server_text.ts";
import { unitDraw } from "../../lib/impair/fault_plan.ts";
import type { PacingStats } from "../../lib/pudp/pacing_window.ts";
import type { PeerAddress } from "../../lib/runtime/transmit.ts";
import { type Datagram, sameAddress, seededLoss, VirtualNet } from "./virtual_net.ts";

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

/** Runs one crowd to the end (every client closed) or to `untilMs`. */
export function runCrowd(plan: CrowdPlan): CrowdRun {
  const n = plan.lines.length;
  const serviceMs = plan.serviceMs ?? 0.01;
  const pathLoss = plan.pathLoss ?? 0;
  const output = new ServerTextSink();
  const encoder = new TextEncoder();
  const isData = (data: Uint8Array) => data.length >= 12 && data[3] === 1;
  const queued = new Array<number>(n).fill(0);
  const peakQueued = new Array<number>(n).fill(0);
  let stalls = 0;
  let served = 0;

  const net = new VirtualNet({
    delayMs: plan.oneWayMs ?? 0.02,
    // One count of datagrams for both directions, as the simulator always had.
    fate: pathLoss > 0
      ? seededLoss(pathLoss, plan.seed, { flow: 7, draw: 3, up: (d) => isUp(d) })
      : undefined,
    onEvent: (e) => {
      // DATA on the way to the server or in its buffer, per client.
      if (!isUp(e.datagram) || !isData(e.datagram.data)) return;
      const i = byPort.get(e.datagram.from.port)!;
      if (e.kind === "sent") peakQueued[i] = Math.max(peakQueued[i], ++queued[i]);
      else if (e.kind === "overflow" || e.kind === "delivered") queued[i]--;
    },
  });
  const isUp = (d: Datagram) => sameAddress(d.to, SIM_SERVER);
  const server = net.add({
    address: SIM_SERVER,
    machine: new ServerMachine({ timeoutMs: 60_000 }, output),
    // The simulator never ran the server's timers (sessions time out after 60 s).
    timers: false,
    bufferDatagrams: plan.bufferDatagrams ?? 256,
    // One datagram per service time (0.5–1.5× serviceMs), now and then a stall.
    serviceUntil: (now) => {
      served++;
      let freeAt = now + serviceMs * (0.5 + unitDraw(plan.seed, 1, true, served, 1));
      if (plan.stallEvery && unitDraw(plan.seed, 2, true, served, 2) < 1 / plan.stallEvery) {
        stalls++;
        freeAt += (plan.stallLongestMs ?? 10) * unitDraw(plan.seed, 3, true, served, 3);
      }
      return freeAt;
    },
  });
  const peers = plan.lines.map((lines, i) => {
    const session = new ClientMachine(SIM_SERVER, {
      sessionId: i + 1,
      timeoutMs: plan.timeoutMs ?? 5_000,
      ...(plan.window !== undefined ? { window: plan.window } : {}),
    });
    const p = {
      session,
      lines,
      fed: 0,
      /** DATA sent by the last drain. */
      dataCounted: 0,
      firstDataAt: -1,
      lastDataAt: 0,
      longestPause: 0,
    };
    const endpoint = net.add({
      address: { hostname: `10.0.1.${i % 250}`, port: 20_000 + i },
      machine: session,
      // CPU-bound: at most one datagram per clientSendMs.
      sendGapMs: plan.clientSendMs ?? 0.01,
      closed: () => session.result !== undefined,
      // Hands the client the lines it will read (as much as it wants, as stdin would).
      afterInput: (now) => {
        while (p.fed < p.lines && session.wantsLines) {
          session.handleLine(encoder.encode(`c${i} line ${++p.fed}`), now);
        }
        if (p.fed === p.lines) session.handleEof(now);
      },
      // Reads stdin again as soon as its CPU is free.
      wantsWake: () => session.wantsLines && p.fed < p.lines,
      drained: (now, freeAt) => {
        if (session.stats.dataSent > p.dataCounted) {
          p.dataCounted = session.stats.dataSent;
          if (p.firstDataAt < 0) p.firstDataAt = now;
          else p.longestPause = Math.max(p.longestPause, now - p.lastDataAt);
          p.lastDataAt = freeAt;
        }
      },
    });
    net.at(plan.startMs?.[i] ?? 0, endpoint, (now) => session.start(now));
    return p;
  });
  const byPort = new Map(peers.map((_, i) => [20_000 + i, i]));

  net.run({
    untilMs: plan.untilMs ?? 600_000,
    maxSteps: 50_000_000,
    stop: () => peers.every((p) => p.session.result !== undefined),
  });
  const printed = new Array<number>(n).fill(0);
  const text = new TextDecoder().decode(output.take());
  for (const m of text.matchAll(/\] c(\d+) line \d+$/gm)) printed[Number(m[1])]++;
  return {
    overflow: server.overflow,
    printed,
    codes: peers.map((p) => p.session.result?.code),
    sendSpanMs: peers.map((p) => p.firstDataAt < 0 ? 0 : p.lastDataAt - p.firstDataAt),
    ms: net.now,
    longestPauseMs: peers.map((p) => p.longestPause),
    peakBuffer: server.peakBuffered,
    peakQueued,
    stalls,
    pacing: peers.map((p) => ({ ...p.session.pacing.stats })),
  };
}
