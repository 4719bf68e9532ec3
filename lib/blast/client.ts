/**
 * `pudp blast client`: one run (an echo or a transfer) over TCP or UDP,
 * then the report on stdout (text, or one JSON object with `--json`) and
 * the exit status. The {@link Lifecycle} runs it: its signals cut the run
 * short (the report of what was done still goes out, and the exit status is
 * 128 + the signal's number). The UDP side is the pure
 * {@link BlastUdpClient} on a socket and a {@link BlastUdpLoop}; the TCP side is a short sequence of reads and writes on
 * a {@link BlastStream}, its lines wire.ts's (a timed run's: timed_tcp.ts).
 * `--parallel N` starts N such runs at once and reports each and their sum
 * (parallel.ts); `--report-every` reads their counts on a timer
 * (interval_ticker.ts, intervals.ts).
 *
 * @module
 */

import { type ClientEnd, Lifecycle, SIGNAL_EXIT, type StopSignal } from "../runtime/lifecycle.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import { errorText, ExchangeError } from "../util/errors.ts";
import { writeAll } from "../io/write_all.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { TcpConnection } from "../net/tcp.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import type { UdpIo } from "../net/udp_socket.ts";
import { ProgressLine } from "../io/progress_line.ts";
import type { ReceiverReport } from "./receiver.ts";
import { type BlastReport, type EchoFigures, rates, reportLines } from "./report.ts";
import { IntervalTicker, type StreamCounter } from "./interval_ticker.ts";
import { combineReports, parallelLines } from "./parallel.ts";
import { BlastStream, endReason, receive, sendTransfer, TOO_LONG } from "./tcp_stream.ts";
import { BlastUdpClient, type ClientFinish } from "./udp_client_machine.ts";
import { BlastUdpLoop } from "./udp_send_loop.ts";
import { type Kept, timedTcpRun } from "./timed_tcp.ts";
import {
  formatRequest,
  MAX_REQUEST_LINE,
  parseAnswer,
  parseDone,
  type Request,
  WireError,
} from "./wire.ts";
import { foreignAnswer, isBlastDatagram } from "./classic_wire.ts";

/** What every blast client run takes from the command line, `--classic` or not. */
export interface BlastRunBase {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** Over UDP (`--udp`) instead of TCP. */
  udp: boolean;
  /** Echo rounds. */
  rounds: number;
  /** ms between echo rounds. */
  echoIntervalMs: number;
  /** The longest silence before the run ends, in ms. */
  timeoutMs: number;
  /** `--json`: the output as JSON instead of text. */
  json: boolean;
  /** Which UDP sockets (`--udp-io`; default `auto`). */
  udpIo?: UdpIo;
  /** `--verbose`: where to say which UDP socket was opened. */
  udpLog?: (line: string) => void;
}

/** The client flags {@link runBase} reads. */
export interface BaseFlags {
  /** `--udp`. */
  udp: boolean;
  /** `--echo TEXT`. */
  echo?: string;
  /** `--count N`: with `--echo`, the rounds. */
  count?: number;
  /** `--interval MS`. */
  interval: number;
  /** `--timeout` in ms. */
  timeout: number;
  /** `--json`. */
  json: boolean;
  /** `--udp-io`. */
  "udp-io"?: UdpIo;
}

/** The {@link BlastRunBase} of `flags` and the server's `host` and `port`. */
export function runBase(flags: BaseFlags, host: string, port: number): BlastRunBase {
  return {
    host,
    port,
    udp: flags.udp,
    rounds: flags.echo !== undefined ? flags.count ?? 1 : 1,
    echoIntervalMs: flags.interval,
    timeoutMs: flags.timeout,
    json: flags.json,
    udpIo: flags["udp-io"],
  };
}

/** What `pudp blast client` was asked to do. */
export interface BlastClientConfig extends BlastRunBase {
  /** What to ask the server for: an echo or a transfer. */
  request: Request;
  /** Show the progress line (stderr is a terminal and no --quiet). */
  progress: boolean;
  /** `--parallel N`: streams at once (transfers only; default 1). */
  parallel?: number;
  /** `--report-every`: the interval of the interval lines, in ms (undefined: none). */
  reportEveryMs?: number;
  /** `--verbose`: told the first datagram that is not blast (a foreign server's answer). */
  foreign?: (bytes: Uint8Array) => void;
}

const encoder = new TextEncoder();

/** Runs the client; the report goes to stdout, the failure line (if any) is the end's. */
export function runBlastClient(config: BlastClientConfig): Promise<ClientEnd> {
  const label = serverLabel(config.host, config.port);
  const r = config.request;
  // --parallel N: N runs, each on its own connection or socket (parallel.ts).
  const streams = r.kind === "transfer" ? config.parallel ?? 1 : 1;
  const moved: Moved[] = Array.from({ length: streams }, () => ({ bytes: 0 }));
  const progress = new ProgressLine(config.progress && r.kind === "transfer", () => ({
    unit: "bytes",
    sent: moved.reduce((a, m) => a + m.bytes, 0),
    verb: r.kind === "transfer" && r.direction === "get" ? "received" : "sent",
  }));
  const upload = r.kind === "transfer" && r.direction === "put";
  const ticker = new IntervalTicker(config.reportEveryMs, moved, !config.json, upload);
  const began = {
    start: () => {
      progress.start();
      ticker.begin();
    },
  };
  let runs: Run[] = [];
  /** How each run ended, when it ended by itself (before any signal). */
  const ended: (ClientFinish | undefined)[] = [];
  /** A failure that is not the run's (a bug): thrown after the run is closed. */
  let crash: { error: unknown } | undefined;
  /** The signal that cut the run short, if one did. */
  let signal: StopSignal | undefined;
  return new Lifecycle().run({
    start: (finish) => {
      runs = moved.map((m) => config.udp ? runUdp(config, began, m) : runTcp(config, began, m));
      let left = runs.length;
      for (const [i, run] of runs.entries()) {
        run.finish.then((f) => {
          ended[i] = f;
        }, (e) => {
          if (e instanceof ExchangeError) ended[i] = { failure: e.message, answered: false };
          else crash ??= { error: e };
        }).finally(() => {
          if (--left === 0) finish({ code: 0 }); // the end's code is decided in close
        });
      }
    },
    onSignal: (s, finish) => {
      if (runs.some((_, i) => ended[i] === undefined) && crash === undefined) signal ??= s;
      finish({ code: SIGNAL_EXIT[s] });
    },
    close: async () => {
      const fs = runs.map((run, i) =>
        signal !== undefined ? ended[i] ?? run.interrupt() : ended[i]
      );
      await Promise.all(runs.map((run) => run.close()));
      await ticker.end();
      progress.stop();
      if (crash !== undefined) throw crash.error;
      const reports = fs.map((f) => buildReport(config, label, f!));
      const meter = ticker.meter;
      for (const [i, one] of reports.entries()) {
        if (meter) one.intervals = meter.meters[i].intervals;
      }
      const report = reports.length === 1 ? reports[0] : combineReports(reports);
      if (meter) {
        if (reports.length > 1) report.intervals = meter.sums;
        report.intervals_by = upload ? "sender" : "receiver";
      }
      try {
        const text = config.json
          ? JSON.stringify(report) + "\n"
          : reports.length === 1
          ? textOf(report)
          : parallelLines(report).join("\n") + "\n";
        if (text.length > 0) await writeAll(Deno.stdout, encoder.encode(text));
      } catch (e) {
        return { code: 1, message: `cannot write to stdout: ${errorText(e)}` };
      }
      if (signal !== undefined) return { code: SIGNAL_EXIT[signal] };
      return report.error === undefined ? { code: 0 } : { code: 1, message: report.error };
    },
  });
}

function textOf(report: BlastReport): string {
  const lines = reportLines(report);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** Bytes moved so far, for the progress line and the intervals. */
type Moved = StreamCounter;

/** Called once a run's transfer begins (after the server's answer). */
interface Began {
  /** The transfer begins now. */
  start(): void;
}

/** A run in progress: how it finishes, how to cut it short, how to let go of its socket. */
interface Run {
  /** How the run ended by itself; rejects with an ExchangeError when it could not start. */
  finish: Promise<ClientFinish>;
  /** Cuts the run short (a signal): what it did so far. */
  interrupt(): ClientFinish;
  /** Lets go of the socket (after the end, or after `interrupt`). */
  close(): Promise<void>;
}

/** The report of a finished run; its `error` is the failure line, if the run failed. */
export function buildReport(
  config: BlastClientConfig,
  server: string,
  f: ClientFinish,
): BlastReport {
  const r = config.request;
  const mode = r.kind === "echo" ? "echo" : r.direction === "get" ? "download" : "upload";
  const receiver = f.answered ? f.receiver : undefined;
  const { mb, mbit } = receiver
    ? rates(receiver.bytes, receiver.seconds)
    : { mb: null, mbit: null };
  const report: BlastReport = {
    transport: config.udp ? "udp" : "tcp",
    server,
    mode,
    request: formatRequest(r),
    measured_by: mode === "upload" ? "server" : "client",
    complete: f.failure === undefined && (receiver?.complete ?? true),
    mb_per_s: mb,
    mbit_per_s: mbit,
  };
  if (receiver) report.receiver = receiver;
  if (f.sender) report.sender = f.sender;
  if (f.echo) report.echo = f.echo;
  let error = f.failure;
  // --time: a run the server's limit ended before its time did not do what was asked.
  if (r.kind === "transfer" && r.timeMs !== undefined && f.sender?.limited) {
    report.cut_by_limit = true;
    error ??= `cut by the server's limit (--max-bytes) after ${f.sender.bytes} bytes, ` +
      `before the ${r.timeMs / 1000} s asked`;
  }
  if (error === undefined && receiver) {
    const outOfRange = receiver.segments?.out_of_range ?? 0;
    if (outOfRange > 0) {
      error = `${outOfRange} segments numbered past the run's declared count (dropped)`;
    } else if (receiver.corrupt_bytes > 0) {
      error =
        `${receiver.corrupt_bytes} bytes differ from the pattern (the first at offset ${receiver.first_corrupt_at})`;
    } else if (!config.udp && receiver.missing_bytes > 0) {
      error = `${receiver.missing_bytes} bytes missing`;
    }
  }
  if (error !== undefined) report.error = error;
  return report;
}

// ---------------------------------------------------------------- UDP

function runUdp(config: BlastClientConfig, progress: Began, moved: Moved): Run {
  const done = Promise.withResolvers<ClientFinish>();
  const setup = (async () => {
    const peer = await resolveHost(config.host);
    const server = { hostname: peer.hostname, port: config.port };
    const endpoint = UdpEndpoint.bind({ hostname: peer.anyAddress, port: 0 }, {
      io: config.udpIo,
      log: config.udpLog,
    });
    let finished: ClientFinish | undefined;
    const machine = new BlastUdpClient({
      request: config.request,
      run: crypto.getRandomValues(new Uint32Array(1))[0],
      rounds: config.rounds,
      echoIntervalMs: config.echoIntervalMs,
      timeoutMs: config.timeoutMs,
      server,
      serverLabel: serverLabel(config.host, config.port),
    }, { emit: (e) => finished = e.finish });
    const tally = machine.receiver?.tally;
    if (tally) moved.segments = () => tally.counts;
    const unreachable = (e: unknown) => {
      if (e instanceof Deno.errors.ConnectionRefused) {
        machine.handleUnreachable(errorText(e), epochNow());
        return true;
      }
      return false;
    };
    const driver = new BlastUdpLoop(endpoint.socket, machine, () => {
      if (finished !== undefined) {
        driver.stop();
        done.resolve(finished);
        return;
      }
      moved.bytes = machine.bytesMoved;
    }, unreachable);
    const clock = driver.loop.clock;
    let foreign = config.foreign;
    endpoint.receive((bytes, from) => {
      if (foreign && !isBlastDatagram(bytes)) {
        foreign(bytes); // once
        foreign = undefined;
      }
      machine.handleDatagram(bytes, from, clock());
      driver.afterEvent();
    }, (e) => {
      if (!unreachable(e)) machine.handleReceiveError(errorText(e), clock());
      driver.afterEvent();
    });
    progress.start();
    machine.start(clock());
    driver.afterEvent();
    return { machine, endpoint, driver };
  })();
  setup.catch((e) => done.reject(e));
  return {
    finish: done.promise,
    interrupt: () => ({ failure: "interrupted", answered: false }),
    close: async () => {
      const s = await setup.catch(() => undefined);
      if (!s) return;
      s.driver.stop();
      // The last answers (END_ACK) still go: the server stops resending its END.
      for (let t = s.machine.pollTransmit(); t; t = s.machine.pollTransmit()) {
        await s.endpoint.socket.send(t.data, { ...t.to, transport: "udp" }).catch(() => {});
      }
      await s.endpoint.close();
    },
  };
}

// ---------------------------------------------------------------- TCP

function runTcp(config: BlastClientConfig, progress: Began, moved: Moved): Run {
  let conn: TcpConnection | undefined;
  let interrupted = false;
  const kept: Kept = {};
  const finish = (async (): Promise<ClientFinish> => {
    const peer = await resolveHost(config.host);
    const label = serverLabel(config.host, config.port);
    conn = await TcpConnection.connect({ hostname: peer.hostname, port: config.port });
    if (interrupted) conn.close(); // what follows ends at once
    conn.conn.setNoDelay(true); // paced segments and echoes go when written
    const stream = new BlastStream(conn);
    const r = config.request;
    const line = formatRequest(r);
    if (r.kind === "echo") return await tcpEcho(conn, stream, line, r.text, config, label);
    conn.write(encoder.encode(line + "\n"));
    const answer = await stream.readLine(MAX_REQUEST_LINE);
    if (typeof answer !== "string") {
      return {
        failure: answer === TOO_LONG ? `bad answer from ${label}` : lostText(label, answer),
        answered: false,
      };
    }
    let bound: number | undefined;
    try {
      const a = parseAnswer(answer);
      if (a.kind === "refused") return { failure: `server refused: ${a.reason}`, answered: true };
      bound = a.bytes;
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return {
        failure: `bad answer from ${label}: ${foreignAnswer(line, answer)}`,
        answered: true,
      };
    }
    progress.start();
    if (r.timeMs !== undefined) { // --time: timed_tcp.ts
      return await timedTcpRun(conn, stream, r, bound, moved, kept, (end) => lostText(label, end));
    }
    if (r.direction === "get") {
      const got = await receive(stream, r, epochNow, (b) => moved.bytes = b);
      kept.partial = got.report;
      if (got.end !== undefined) {
        return {
          failure: `${
            lostText(label, got.end)
          } after ${got.report.bytes} of ${got.report.expected_bytes} bytes`,
          answered: true,
          receiver: got.report,
        };
      }
      let extra = 0;
      for (;;) {
        const more = await stream.readChunk();
        if (!(more instanceof Uint8Array)) break;
        extra += more.length;
      }
      return {
        answered: true,
        receiver: got.report,
        ...(extra > 0 ? { failure: `server sent ${extra} bytes more than asked` } : {}),
      };
    }
    const sender = kept.sender = await sendTransfer(conn, r, 0, (b) => moved.bytes = b);
    if (conn.writeError !== undefined) {
      return {
        failure: conn.peerReset
          ? `server ${label} reset the connection`
          : `cannot send to ${label}: ${errorText(conn.writeError)}`,
        answered: true,
        sender,
      };
    }
    const done = await stream.readLine(64 * 1024);
    if (typeof done !== "string") {
      return {
        failure: `no report: ${done === TOO_LONG ? "answer too long" : lostText(label, done)}`,
        answered: true,
        sender,
      };
    }
    try {
      return { answered: true, receiver: parseDone<ReceiverReport>(done), sender };
    } catch (e) {
      if (!(e instanceof WireError)) throw e;
      return {
        failure: `bad report from ${label}: '${done.slice(0, 60)}'`,
        answered: true,
        sender,
      };
    }
  })();
  return {
    finish,
    interrupt: () => {
      interrupted = true;
      const cut: ClientFinish = {
        failure: "interrupted",
        answered: true,
        receiver: kept.partial,
        sender: kept.sender,
      };
      conn?.close(); // the run's reads and writes end at once
      return cut;
    },
    close: async () => {
      if (!interrupted) await finish.then(() => undefined, () => undefined);
      conn?.close();
    },
  };
}

function lostText(label: string, end: { kind: string; error?: unknown }): string {
  const reason = endReason(end);
  return reason === "peer closed"
    ? `server ${label} closed the connection`
    : reason === "peer reset"
    ? `server ${label} reset the connection`
    : `connection to ${label}: ${reason}`;
}

async function tcpEcho(
  conn: TcpConnection,
  stream: BlastStream,
  line: string,
  text: string,
  config: BlastClientConfig,
  label: string,
): Promise<ClientFinish> {
  const samples: number[] = [];
  const figures = (): EchoFigures => ({
    text,
    rounds: config.rounds,
    answered: samples.length,
    requests: samples.length,
    rtt_ms: samples.length === 0 ? null : {
      min: Math.min(...samples),
      avg: samples.reduce((a, b) => a + b, 0) / samples.length,
      max: Math.max(...samples),
    },
    samples,
  });
  const bytes = encoder.encode(line + "\n");
  for (let round = 0; round < config.rounds; round++) {
    if (round > 0 && config.echoIntervalMs > 0) {
      await new Promise((r) => setTimeout(r, config.echoIntervalMs));
    }
    const sent = epochNow();
    conn.write(bytes);
    const answer = await stream.readLine(MAX_REQUEST_LINE);
    if (typeof answer !== "string") {
      const failure = answer === TOO_LONG ? `bad answer from ${label}` : lostText(label, answer);
      return { failure, answered: samples.length > 0, echo: figures() };
    }
    if (answer !== line) {
      return {
        failure: `echo ${round + 1} came back different: ${foreignAnswer(line, answer)}`,
        answered: true,
        echo: figures(),
      };
    }
    samples.push(epochNow() - sent);
  }
  return { answered: true, echo: figures() };
}
