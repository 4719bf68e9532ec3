/**
 * `pudp pipe server`: the driver around {@link StdoutTurns}, on the shared
 * {@link StreamServer} (accepting and reading) and {@link Lifecycle} (signals,
 * ordered shutdown, summary line), with a {@link PipeOpRunner} carrying out
 * the machine's operations. Events and the summary go to stderr: stdout is
 * the data.
 *
 * How this works: the machine has deadlines (the drain time after a stop,
 * refused connections' linger), so a {@link TimerLoop} drains it after every
 * input and at its alarm: the runner is woken for the operations queued,
 * the event output kicked, readers held back by the budgets woken to look
 * again.
 *
 * Failures: an operation that fails (a temporary file or stdout that cannot
 * be written) fails its connection alone ({@link StdoutTurns.handleFailed}):
 * its client gets the line `ERR REASON` ({@link refusalLine}) and then the
 * close, and the server goes on.
 *
 * Backpressure: a waiting connection the machine holds back (memory and disk
 * budgets full) is read no further until room frees or its turn comes.
 *
 * Stopping: on SIGINT/SIGTERM/SIGHUP the server stops accepting and finishes
 * what it has: every open connection is read to its end (one still open
 * after `drainTimeoutMs` is cut: its client exits 1) and every byte held is
 * written, then it exits 0. A second signal cuts the open connections at
 * once but still writes what is held (those clients were told exit 0); only
 * a third ends it without (exit 1, what is lost is said).
 *
 * @module
 */

import { listenStream, serverLife, type StreamListenConfig } from "../net/service.ts";
import type { StreamServer } from "../net/stream_server.ts";
import { formatAddress } from "../runtime/transmit.ts";
import { monotonicNow, TimerLoop } from "../runtime/timer_loop.ts";
import { pipeJsonFields, PipeTextSink } from "./events.ts";
import { type OpenTempFile, PipeOpRunner } from "./op_runner.ts";
import { type PipeServerOptions, type PipeStats, StdoutTurns } from "./turn_machine.ts";

/** What `pudp pipe server` was asked to do. */
export interface PipeServerConfig extends PipeServerOptions, StreamListenConfig {}

/** The most one read of a connection takes. */
const READ_SIZE = 1 << 20;

const encoder = new TextEncoder();

/** What the server sends a client whose bytes it could not keep: `ERR REASON` and a newline. */
export function refusalLine(reason: string): Uint8Array {
  return encoder.encode(`ERR ${reason.replace(/[\r\n]+/g, " ")}\n`);
}

/** The summary line printed to stderr at exit. */
export function pipeSummaryLine(s: PipeStats): string {
  const failed = s.failed > 0 ? `, ${s.failed} failed` : "";
  return `pudp pipe server: ${s.connections} connections, ${s.bytes} bytes, ` +
    `${s.spilled} through temporary files, at most ${s.peakMemory} held in memory${failed}`;
}

/** Runs the server until SIGINT/SIGTERM/SIGHUP, then finishes what it holds. */
export function runPipeServer(
  config: PipeServerConfig,
  log: (line: string) => void,
  openTempFile?: OpenTempFile,
): Promise<number> {
  const { life, output } = serverLife(
    config.json,
    (t) => new PipeTextSink(t),
    pipeJsonFields,
    Deno.stderr,
  );
  const machine = new StdoutTurns(config, output.sink);
  const runner = new PipeOpRunner(
    machine,
    Deno.stdout,
    {
      close: (id) => tcp.end(id),
      refuse: (id, reason) => tcp.write(id, refusalLine(reason)),
    },
    () => loop.afterEvent(),
    openTempFile,
    monotonicNow,
  );
  // Readers held back by the budgets: woken after every event to look again.
  let roomWaiters: (() => void)[] = [];
  const room = () => new Promise<void>((resolve) => roomWaiters.push(resolve));
  const tcp: StreamServer = listenStream(config, {
    readSize: READ_SIZE,
    writeHighWater: 0,
    readPause: (conn) => {
      const ops = runner.until(runner.queued);
      if (!machine.heldBack(conn.id)) return ops;
      return (async () => {
        await ops;
        while (machine.heldBack(conn.id)) await room();
      })();
    },
  }, log);
  const finished = Promise.withResolvers<void>();
  const loop = new TimerLoop(machine, () => {
    runner.wake();
    life.kickOutput();
    if (roomWaiters.length > 0) {
      const waiters = roomWaiters;
      roomWaiters = [];
      for (const w of waiters) w();
    }
    if (output.failure !== undefined) finished.resolve();
    if (life.stop.stopping && machine.pending === 0) finished.resolve();
  });
  // serve() stops at the first signal; here, the second and the third (until the end is settled).
  let settled = false;
  const aborted = Promise.withResolvers<void>();
  life.onSignal((_signal, count) => {
    if (settled) return;
    if (count === 2) {
      log("second signal: cutting the open connections, writing what is held (again to abort)");
      machine.handleShutdown(loop.clock());
      loop.afterEvent();
    } else if (count >= 3) aborted.resolve();
  });
  tcp.start(machine, loop, life.stop);
  return life.serve({
    ready: `listening on ${formatAddress(tcp.listener.address)} (tcp)`,
    shutdown: () => {
      machine.handleShutdown(loop.clock());
      if (machine.pending > 0) {
        log(
          `stopping: finishing ${machine.pending} connection(s) first, cutting any still ` +
            `sending after ${config.drainTimeoutMs / 1000} s (signal again to cut them now)`,
        );
      }
      loop.afterEvent(); // the drain deadline stays armed until close() is done
    },
    close: async () => {
      await tcp.stopAccepting();
      let abort = false;
      if (life.stop.failure === undefined) {
        const done = (async () => {
          await finished.promise;
          await runner.idle();
        })();
        abort = await Promise.race([done.then(() => false), aborted.promise.then(() => true)]);
      }
      settled = true;
      if (abort) {
        life.stop.failure ??= `aborted by a third signal: ${machine.pending} connection(s), ` +
          `${machine.memoryHeld + machine.diskHeld} held bytes not written`;
      }
      loop.cancel();
      runner.closeFiles();
    },
    summary: () => pipeSummaryLine(machine.stats),
  }, log);
}
