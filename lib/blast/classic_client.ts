/**
 * `pudp blast client --classic`: runs of the 2015 protocol
 * (classic_wire.ts) over TCP or UDP, checked by a {@link ClassicReceiver},
 * reported as a normal run is (report.ts) with a `classic` part that says
 * how the end was known.
 *
 * - An echo (`--echo TEXT`, `--count N` rounds `--interval MS` apart): each
 *   round sends TEXT (TCP: on a connection of its own) and expects TEXT
 *   upper-cased: over TCP up to the server's close, over UDP one datagram.
 * - A file (`--bytes N`): expects `file_prepared`, then N bytes of `A`.
 * - A stream (`--count C --interval MS --size S`): sends
 *   `stream-MS-C-S`, expects C × S bytes of `A`.
 * The end: over TCP the server's close; over UDP the last byte asked for,
 * or a silence of `--timeout` (plus MS for a stream), and then the report
 * says the end was inferred from silence and counts what never came as
 * missing. Over TCP a server that neither answers nor closes for
 * `--timeout` ends the run too. Exit 0 only when everything asked for
 * arrived, right.
 *
 * @module
 */

import { type ClientEnd, Lifecycle, SIGNAL_EXIT, type StopSignal } from "../runtime/lifecycle.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import { errorText, ExchangeError, UsageError } from "../util/errors.ts";
import type { RunContext } from "../cli/command_tree.ts";
import { writeAll } from "../io/write_all.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { TcpConnection } from "../net/tcp.ts";
import { UdpEndpoint } from "../net/udp_endpoint.ts";
import type { PeerAddress } from "../runtime/transmit.ts";
import { type BlastReport, type EchoFigures, rates, reportLines } from "./report.ts";
import { type ClassicFigures, ClassicReceiver } from "./classic_receiver.ts";
import {
  CLASSIC_MAX_CHUNK,
  CLASSIC_MAX_INTERVAL_MS,
  CLASSIC_MAX_REQUEST,
  classicEchoAnswer,
  type ClassicRequest,
  encodeClassicRequest,
  formatClassicRequest,
  previewBytes,
} from "./classic_wire.ts";
import { endReason } from "./tcp_stream.ts";
import { type BaseFlags, type BlastRunBase, runBase } from "./client.ts";
import { concatBytes } from "../bytes/concat.ts";

/** What `pudp blast client --classic` was asked to do. */
export interface ClassicClientConfig extends BlastRunBase {
  /** The request. */
  request: ClassicRequest;
  /** More on stderr: what a foreign server answered. */
  verbose: boolean;
  /** Where the verbose lines go. */
  log: (line: string) => void;
}

/** The client flags `--classic` reads (the rest must be at their defaults). */
export interface ClassicFlags extends BaseFlags {
  /** `--bytes N`. */
  bytes?: number;
  /** `--size BYTES`. */
  size: number;
  /** `--upload`. */
  upload: boolean;
  /** `--rate`. */
  rate: number;
  /** `--parallel`. */
  parallel: number;
  /** `--report-every`. */
  "report-every"?: number;
}

/** `pudp blast client --classic`: the request from the flags (a UsageError when they do not fit), then the run. */
export function classicFromFlags(
  flags: ClassicFlags,
  host: string,
  port: number,
  context: RunContext,
): Promise<ClientEnd> {
  if (
    flags.upload || flags.rate !== 0 || flags.parallel > 1 || flags["report-every"] !== undefined
  ) {
    throw new UsageError(
      "--classic goes with --echo, --bytes or --count (no --upload, --rate, --parallel, --report-every)",
    );
  }
  const modes = [flags.echo, flags.bytes, flags.echo === undefined ? flags.count : undefined];
  if (modes.filter((m) => m !== undefined).length !== 1) {
    throw new UsageError("give one of --echo TEXT, --bytes N and --count N");
  }
  let request: ClassicRequest;
  if (flags.echo !== undefined) {
    request = { kind: "echo", text: flags.echo };
    const n = encoder.encode(flags.echo).length;
    if (
      n === 0 || n > CLASSIC_MAX_REQUEST ||
      /^[0-9]+$|^stream-[0-9]+-[0-9]+-[0-9]+$/.test(flags.echo)
    ) {
      throw new UsageError(
        `bad --echo with --classic: expected 1 to ${CLASSIC_MAX_REQUEST} bytes that are not a number or stream-MS-C-S`,
      );
    }
  } else if (flags.bytes !== undefined) {
    if (!Number.isSafeInteger(flags.bytes)) {
      throw new UsageError(`bad --bytes: expected a whole number`);
    }
    request = { kind: "file", bytes: flags.bytes };
  } else {
    if (flags.size > CLASSIC_MAX_CHUNK || flags.interval > CLASSIC_MAX_INTERVAL_MS) {
      throw new UsageError(
        `--classic streams take --size up to ${CLASSIC_MAX_CHUNK} and --interval up to ${CLASSIC_MAX_INTERVAL_MS}`,
      );
    }
    request = { kind: "stream", intervalMs: flags.interval, count: flags.count!, size: flags.size };
  }
  return runClassicClient({
    ...runBase(flags, host, port),
    request,
    verbose: context.verbose,
    log: context.log,
  });
}

/** Most bytes of an echo's answer kept. */
const ECHO_KEEP = 16 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** How a classic run ended. */
interface Outcome {
  failure?: string;
  receiver?: ClassicReceiver;
  ended?: boolean;
  end?: string;
  echo?: EchoFigures;
}

/** Runs the classic client; the report goes to stdout. */
export function runClassicClient(config: ClassicClientConfig): Promise<ClientEnd> {
  const label = serverLabel(config.host, config.port);
  const cancel = new AbortController();
  let outcome: Outcome | undefined;
  let crash: { error: unknown } | undefined;
  let signal: StopSignal | undefined;
  let running: Promise<void> | undefined;
  const state: Partial<Outcome> = {};
  return new Lifecycle().run({
    start: (finish) => {
      running = (config.request.kind === "echo"
        ? echoRun(config, label, cancel.signal, state)
        : transferRun(config, label, cancel.signal, state))
        .then((o) => {
          outcome = o;
        }, (e) => {
          if (e instanceof ExchangeError) {
            outcome = { failure: e.message };
          } else crash = { error: e };
        }).finally(() =>
          finish({ code: 0 })
        );
    },
    onSignal: (s, finish) => {
      if (outcome === undefined && crash === undefined) signal ??= s;
      cancel.abort();
      finish({ code: SIGNAL_EXIT[s] });
    },
    close: async () => {
      cancel.abort();
      await running;
      if (crash !== undefined) throw crash.error;
      const o = signal !== undefined ? { ...state, ...outcome, failure: "interrupted" } : outcome!;
      const report = classicReport(config, label, o);
      try {
        const text = config.json
          ? JSON.stringify(report) + "\n"
          : reportLines(report).map((l) => l + "\n").join("");
        if (text.length > 0) await writeAll(Deno.stdout, encoder.encode(text));
      } catch (e) {
        return { code: 1, message: `cannot write to stdout: ${errorText(e)}` };
      }
      if (signal !== undefined) return { code: SIGNAL_EXIT[signal] };
      return report.error === undefined ? { code: 0 } : { code: 1, message: report.error };
    },
  });
}

/** The report of a classic run; its `error` is the failure line, if any. */
function classicReport(config: ClassicClientConfig, server: string, o: Outcome): BlastReport {
  const rx = o.receiver;
  const receiver = rx?.report(o.ended ?? false);
  const { mb, mbit } = receiver
    ? rates(receiver.bytes, receiver.seconds)
    : { mb: null, mbit: null };
  let error = o.failure;
  if (error === undefined && rx && receiver) {
    if (!rx.notice) error = `no file_prepared from ${server}`;
    else if (receiver.corrupt_bytes > 0) {
      error =
        `${receiver.corrupt_bytes} bytes are not 'A' (the first at offset ${receiver.first_corrupt_at})`;
    } else if (receiver.missing_bytes > 0) {
      error = `${receiver.missing_bytes} of ${receiver.expected_bytes} bytes missing` +
        (config.udp ? " (lost, or the server stopped)" : "");
    } else if (rx.extra > 0) error = `server sent ${rx.extra} bytes more than asked`;
  }
  const classic: ClassicFigures = {
    request: formatClassicRequest(config.request),
    end: o.end ?? "not reached",
  };
  if (rx) {
    classic.chunks = rx.chunks;
    classic.extra_bytes = rx.extra;
  }
  if (config.request.kind === "file") classic.notice = rx?.notice ?? false;
  const report: BlastReport = {
    transport: config.udp ? "udp" : "tcp",
    server,
    mode: config.request.kind === "echo" ? "echo" : "download",
    request: classic.request,
    measured_by: "client",
    complete: error === undefined,
    mb_per_s: mb,
    mbit_per_s: mbit,
    classic,
  };
  if (receiver) report.receiver = receiver;
  if (o.echo) report.echo = o.echo;
  if (error !== undefined) report.error = error;
  return report;
}

/** A promise that resolves after `ms`, or at once on abort. */
function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
  });
}

/** What one request brought back: the bytes (or datagrams) as they came, and how it ended. */
type Feed = (bytes: Uint8Array, now: number) => boolean;

/**
 * Sends `request` and hands what comes back to `feed` (true: enough, stop)
 * until the end: `closed` (TCP: the server's), `enough`, `silence`, or
 * `aborted`. `silenceMs(started)` is the longest wait for the next bytes.
 */
async function exchange(
  config: ClassicClientConfig,
  label: string,
  request: Uint8Array,
  feed: Feed,
  silenceMs: (started: boolean) => number,
  signal: AbortSignal,
): Promise<"closed" | "enough" | "silence" | "aborted"> {
  const peer = await resolveHost(config.host);
  const server: PeerAddress = { hostname: peer.hostname, port: config.port };
  let started = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (!config.udp) {
    const conn = await TcpConnection.connect(server);
    let silent = false;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        silent = true;
        conn.close();
      }, silenceMs(started));
    };
    const onAbort = () => conn.close();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      conn.conn.setNoDelay(true);
      conn.write(request);
      const buf = new Uint8Array(256 * 1024);
      for (;;) {
        arm();
        const n = await conn.readInto(buf);
        if (typeof n !== "number") {
          if (signal.aborted) return "aborted";
          if (silent) return "silence";
          if (n.kind === "eof") return "closed";
          throw new ExchangeError(`connection to ${label}: ${endReason(n)}`);
        }
        started = true;
        if (feed(buf.subarray(0, n), epochNow())) return "enough";
      }
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", onAbort);
      conn.close();
    }
  }
  const endpoint = UdpEndpoint.bind({ hostname: peer.anyAddress, port: 0 }, {
    io: config.udpIo,
    log: config.verbose ? config.log : undefined,
  });
  const result = Promise.withResolvers<"enough" | "silence" | "aborted">();
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => result.resolve("silence"), silenceMs(started));
  };
  const onAbort = () => result.resolve("aborted");
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    endpoint.receive((bytes, from) => {
      if (from.port !== server.port) return; // not the server's
      started = true;
      arm();
      if (feed(bytes, epochNow())) result.resolve("enough");
    }, (e) => {
      result.reject(new ExchangeError(`no answer from ${label}: ${errorText(e)}`));
    });
    arm();
    await endpoint.socket.send(request, { ...server, transport: "udp" });
    return await result.promise;
  } finally {
    clearTimeout(timer);
    signal.removeEventListener("abort", onAbort);
    await endpoint.close();
  }
}

async function echoRun(
  config: ClassicClientConfig,
  label: string,
  signal: AbortSignal,
  state: Partial<Outcome>,
): Promise<Outcome> {
  const r = config.request as { kind: "echo"; text: string };
  const expected = classicEchoAnswer(r.text);
  const samples: number[] = [];
  let requests = 0;
  const figures = (): EchoFigures => ({
    text: r.text,
    rounds: config.rounds,
    answered: samples.length,
    requests,
    rtt_ms: samples.length === 0 ? null : {
      min: Math.min(...samples),
      avg: samples.reduce((a, b) => a + b, 0) / samples.length,
      max: Math.max(...samples),
    },
    samples,
  });
  const end = config.udp ? "one datagram per answer" : "server closed";
  for (let round = 0; round < config.rounds; round++) {
    if (round > 0 && config.echoIntervalMs > 0) await sleep(config.echoIntervalMs, signal);
    if (signal.aborted) break;
    const got: Uint8Array[] = [];
    let kept = 0;
    let at: number | undefined;
    const sent = epochNow();
    requests++;
    const how = await exchange(
      config,
      label,
      encodeClassicRequest(config.request),
      (bytes, now) => {
        at = now;
        if (kept < ECHO_KEEP) {
          got.push(bytes.slice(0, ECHO_KEEP - kept));
          kept += Math.min(bytes.length, ECHO_KEEP - kept);
        }
        return config.udp; // UDP: the answer is one datagram
      },
      () => config.timeoutMs,
      signal,
    );
    state.echo = figures();
    if (how === "aborted") break;
    const answer = concatBytes(got);
    if (answer.length === 0) {
      const why = how === "silence"
        ? `no answer from ${label} within ${config.timeoutMs / 1000} s`
        : `server ${label} closed the connection without an answer`;
      return { failure: why, echo: figures(), end };
    }
    if (decoder.decode(answer) !== expected) {
      const shown = previewBytes(answer);
      if (config.verbose) log(config, `${label} answered '${shown}'`);
      return {
        failure: `echo ${round + 1} came back different: got '${shown}', expected '${
          previewBytes(encoder.encode(expected))
        }'`,
        echo: figures(),
        end,
      };
    }
    if (!config.udp && how === "silence") {
      return { failure: `server ${label} did not close the connection`, echo: figures(), end };
    }
    samples.push(at! - sent);
  }
  return { echo: figures(), end };
}

async function transferRun(
  config: ClassicClientConfig,
  label: string,
  signal: AbortSignal,
  state: Partial<Outcome>,
): Promise<Outcome> {
  const r = config.request;
  const rx = new ClassicReceiver(r, config.udp ? "udp" : "tcp");
  state.receiver = rx;
  let first: Uint8Array | undefined;
  const extraMs = r.kind === "stream" ? r.intervalMs : 0;
  const how = await exchange(
    config,
    label,
    encodeClassicRequest(r),
    (bytes, now) => {
      first ??= bytes.slice(0, 64);
      rx.feed(bytes, now);
      return config.udp && rx.done; // TCP reads on to the close (extra bytes are counted)
    },
    (started) => config.timeoutMs + (started ? extraMs : 0),
    signal,
  );
  if (config.verbose && first !== undefined && !rx.notice) {
    log(config, `${label} answered '${previewBytes(first)}'`);
  }
  const silence = `inferred from ${((config.timeoutMs + extraMs) / 1000).toFixed(3)} s of silence`;
  switch (how) {
    case "closed":
      return { receiver: rx, ended: true, end: "server closed" };
    case "enough":
      return { receiver: rx, ended: true, end: "every byte asked for arrived" };
    case "aborted":
      return { receiver: rx, failure: "interrupted" };
    case "silence":
      if (first === undefined) {
        return {
          receiver: rx,
          failure: `no answer from ${label} within ${config.timeoutMs / 1000} s`,
          end: silence,
        };
      }
      if (!config.udp) {
        return {
          receiver: rx,
          failure: `server ${label} went silent without closing the connection`,
          end: silence,
        };
      }
      return { receiver: rx, ended: true, end: silence };
  }
}

function log(config: ClassicClientConfig, line: string): void {
  config.log(line);
}
