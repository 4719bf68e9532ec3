/**
 * `pudp blast client`: one run (an echo or a transfer) over TCP or UDP,
 * then the report on stdout (text, or one JSON object with `--json`) and
 * the exit status. The UDP side is the pure {@link BlastUdpClient} on a
 * socket and a {@link DatagramPump}; the TCP side is a short sequence of
 * reads and writes on a {@link BlastStream}.
 *
 * @module
 */

import type { ClientEnd } from "../runtime/lifecycle.ts";
import { errorText, ExchangeError } from "../util/errors.ts";
import { writeAll } from "../io/write_all.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { TcpConnection } from "../net/tcp.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import { epochNow, SIGNAL_EXIT, type StopSignal } from "../runtime/driver.ts";
import { Alarm } from "../runtime/alarm.ts";
import { ProgressLine } from "../io/progress_line.ts";
import type { ReceiverReport } from "./receiver.ts";
import { type BlastReport, type EchoFigures, rates, reportLines } from "./report.ts";
import type { SenderFigures } from "./segment_source.ts";
import { SegmentSource } from "./segment_source.ts";
import { BlastStream, sendPattern, sendSegments, TOO_LONG } from "./tcp_stream.ts";
import { endReason, receive } from "./tcp_server.ts";
import { BlastUdpClient, type ClientFinish, parseJson } from "./udp_client_machine.ts";
import { DatagramPump } from "./udp_pump.ts";
import { formatRequest, MAX_REQUEST_LINE, type Request } from "./wire.ts";

/** What `pudp blast client` was asked to do. */
export interface BlastClientConfig {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** Over UDP (`--udp`) instead of TCP. */
  udp: boolean;
  /** What to ask the server for: an echo or a transfer. */
  request: Request;
  /** Echo rounds. */
  rounds: number;
  /** ms between echo rounds. */
  echoIntervalMs: number;
  /** The longest silence before the run ends (UDP), in ms. */
  timeoutMs: number;
  /** One JSON object per event per line (`--json`) instead of text. */
  json: boolean;
  /** Show the progress line (stderr is a terminal and no --quiet). */
  progress: boolean;
}

const encoder = new TextEncoder();

/** Runs the client; the report goes to stdout, the failure line (if any) is the outcome's. */
export async function runBlastClient(config: BlastClientConfig): Promise<ClientEnd> {
  const label = serverLabel(config.host, config.port);
  const r = config.request;
  const moved: Moved = { bytes: 0 };
  const progress = new ProgressLine(config.progress && r.kind === "transfer", () => ({
    unit: "bytes",
    sent: moved.bytes,
    verb: r.kind === "transfer" && r.direction === "get" ? "received" : "sent",
  }));
  const stopped = Promise.withResolvers<StopSignal>();
  const signals: [StopSignal, () => void][] = (["SIGINT", "SIGTERM"] as const).map((s) => [
    s,
    () => stopped.resolve(s),
  ]);
  for (const [s, f] of signals) Deno.addSignalListener(s, f);
  let finish: ClientFinish;
  let signal: StopSignal | undefined;
  try {
    const run = config.udp ? runUdp(config, progress, moved) : runTcp(config, progress, moved);
    const first = await Promise.race([run.finish, stopped.promise]);
    if (typeof first === "string") {
      signal = first;
      finish = run.interrupt();
    } else {
      finish = first;
    }
    await run.close();
  } catch (e) {
    if (!(e instanceof ExchangeError)) throw e;
    finish = { failure: e.message, answered: false };
  } finally {
    progress.stop();
    for (const [s, f] of signals) Deno.removeSignalListener(s, f);
  }
  const report = buildReport(config, label, finish);
  const failure = signal ? undefined : report.error;
  try {
    const text = config.json ? JSON.stringify(report) + "\n" : textOf(report);
    if (text.length > 0) await writeAll(Deno.stdout, encoder.encode(text));
  } catch (e) {
    return { code: 1, message: `cannot write to stdout: ${errorText(e)}` };
  }
  if (signal) return { code: SIGNAL_EXIT[signal] };
  return failure === undefined ? { code: 0 } : { code: 1, message: failure };
}

function textOf(report: BlastReport): string {
  const lines = reportLines(report);
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}

/** Bytes moved so far, for the progress line. */
interface Moved {
  bytes: number;
}

/** A run in progress: how it finishes, how to cut it short, how to let go of its socket. */
interface Run {
  finish: Promise<ClientFinish>;
  interrupt(): ClientFinish;
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

function runUdp(config: BlastClientConfig, progress: ProgressLine, moved: Moved): Run {
  const done = Promise.withResolvers<ClientFinish>();
  const setup = (async () => {
    const peer = await resolveHost(config.host);
    const server = { hostname: peer.hostname, port: config.port };
    const endpoint = UdpEndpoint.bind({ hostname: peer.anyAddress, port: 0 });
    const machine = new BlastUdpClient({
      request: config.request,
      run: crypto.getRandomValues(new Uint32Array(1))[0],
      rounds: config.rounds,
      echoIntervalMs: config.echoIntervalMs,
      timeoutMs: config.timeoutMs,
    });
    let refusedBySocket: string | undefined;
    const pump = new DatagramPump(
      endpoint.socket,
      {
        pollTransmit: () => {
          const data = machine.pollTransmit();
          return data && { data, to: server };
        },
        fillData: (buf, view, now) => {
          const length = machine.fillData(buf, view, now);
          return length > 0 ? { length, to: server } : undefined;
        },
      },
      epochNow,
      () => after(),
      (e) => {
        if (e instanceof Deno.errors.ConnectionRefused) refusedBySocket = errorText(e);
      },
    );
    const alarm = new Alarm(epochNow, () => {
      machine.handleTimeout(epochNow());
      after();
    });
    const after = () => {
      if (refusedBySocket !== undefined && !machine.answered && !machine.finish) {
        machine.finish = {
          failure: `no server at ${
            serverLabel(config.host, config.port)
          } (udp): ${refusedBySocket}`,
          answered: false,
        };
      }
      if (machine.finish) {
        alarm.cancel();
        pump.stop();
        done.resolve(machine.finish);
        return;
      }
      pump.kick();
      const timers = machine.pollTimeout();
      const data = pump.running ? undefined : machine.dataDueAt(epochNow());
      alarm.set(data === undefined ? timers : timers === undefined ? data : Math.min(timers, data));
      moved.bytes = machine.receiver?.bytes ?? machine.source?.figures.bytes ?? 0;
    };
    endpoint.receive((bytes) => {
      machine.handleDatagram(bytes, epochNow());
      after();
    }, (e) => {
      if (e instanceof Deno.errors.ConnectionRefused) refusedBySocket = errorText(e);
      else {machine.finish ??= {
          failure: `cannot receive: ${errorText(e)}`,
          answered: machine.answered,
        };}
      after();
    });
    progress.start();
    machine.start(epochNow());
    after();
    return { machine, endpoint, alarm, pump, server };
  })();
  setup.catch((e) => done.reject(e));
  return {
    finish: done.promise,
    interrupt: () => ({ failure: "interrupted", answered: false }),
    close: async () => {
      const s = await setup.catch(() => undefined);
      if (!s) return;
      s.alarm.cancel();
      s.pump.stop();
      // The last answers (END_ACK) still go: the server stops resending its END.
      for (let data = s.machine.pollTransmit(); data; data = s.machine.pollTransmit()) {
        await s.endpoint.socket.send(data, { ...s.server, transport: "udp" }).catch(() => {});
      }
      await s.endpoint.close();
    },
  };
}

// ---------------------------------------------------------------- TCP

function runTcp(config: BlastClientConfig, progress: ProgressLine, moved: Moved): Run {
  let conn: TcpConnection | undefined;
  let partial: ReceiverReport | undefined;
  let sender: SenderFigures | undefined;
  const finish = (async (): Promise<ClientFinish> => {
    const peer = await resolveHost(config.host);
    const label = serverLabel(config.host, config.port);
    conn = await TcpConnection.connect({ hostname: peer.hostname, port: config.port });
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
    if (answer.startsWith("REFUSED")) {
      return { failure: `server refused: ${answer.slice(8)}`, answered: true };
    }
    if (answer !== "OK") {
      return { failure: `bad answer from ${label}: '${answer.slice(0, 60)}'`, answered: true };
    }
    progress.start();
    if (r.direction === "get") {
      const got = await receive(stream, r, epochNow, (b) => moved.bytes = b);
      partial = got.report;
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
    const started = epochNow();
    const source = new SegmentSource(r, 0);
    if (r.bytes !== undefined) await sendPattern(conn, r.bytes, (b) => moved.bytes = b);
    else await sendSegments(conn, source, epochNow, (b) => moved.bytes = b);
    sender = r.bytes !== undefined
      ? { segments: 0, bytes: r.bytes, seconds: (epochNow() - started) / 1000 }
      : source.figures;
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
    const report = done.startsWith("DONE ")
      ? parseJson<ReceiverReport>(encoder.encode(done.slice(5)))
      : undefined;
    if (report === undefined) {
      return {
        failure: `bad report from ${label}: '${done.slice(0, 60)}'`,
        answered: true,
        sender,
      };
    }
    return { answered: true, receiver: report, sender };
  })();
  return {
    finish,
    interrupt: () => ({ failure: "interrupted", answered: true, receiver: partial, sender }),
    close: async () => {
      await finish.catch(() => undefined).then(() => undefined, () => undefined);
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
      return { failure: `echo ${round + 1} came back different`, answered: true, echo: figures() };
    }
    samples.push(epochNow() - sent);
  }
  return { answered: true, echo: figures() };
}
