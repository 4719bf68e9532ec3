/**
 * `--time` over TCP: a timed transfer (`GET|PUT time=MS`, wire.ts), both
 * ends. The server answers `OK bytes=N`, N its `--max-bytes`: the most the
 * run may move. The sender writes pattern bytes until MS have passed since
 * its first write or N bytes have gone, whichever is first, then `\n` and
 * `DONE <its figures>` (`"limited":true` when N ended it). The pattern has
 * no line end, so the receiver takes bytes up to the `\n` as data and knows
 * the end, and the bytes sent, from the sender itself: a connection that
 * ends without the DONE line is a failure, never a guessed end. A PUT's
 * server then answers with its own `DONE <report>`, as for `bytes=`.
 *
 * The receiving is a {@link ByteReceiver} (pure) given the bound, whose
 * expected bytes become the sender's count at the DONE line.
 *
 * @module
 */

import type { ReadEnd, TcpConnection } from "../net/tcp.ts";
import { epochNow } from "../runtime/timer_loop.ts";
import { errorText } from "../util/errors.ts";
import { ByteReceiver, type ReceiverReport } from "./receiver.ts";
import type { SenderFigures } from "./segment_source.ts";
import { type BlastStream, endReason, sendPattern, TOO_LONG } from "./tcp_stream.ts";
import { formatAnswer, formatDone, parseDone, type TransferRequest, WireError } from "./wire.ts";

/** A timed send writes this much at once. */
const TIMED_CHUNK = 64 * 1024;
/**
 * A timed send waits while this many bytes are queued: what is queued when
 * the time is up still goes, so this is the most it overruns by.
 */
const TIMED_AHEAD = 4 * TIMED_CHUNK;

const encoder = new TextEncoder();

/**
 * Sends pattern bytes for `timeMs` (from the first write), at most `bound`,
 * then the DONE line with the sender's figures; returns them.
 */
export async function sendTimed(
  conn: TcpConnection,
  timeMs: number,
  bound: number,
  onProgress?: (sent: number) => void,
  clock: () => number = epochNow,
): Promise<SenderFigures> {
  const started = clock();
  let timeUp = false;
  const sent = await sendPattern(conn, bound, onProgress, {
    chunk: TIMED_CHUNK,
    ahead: TIMED_AHEAD,
    stop: () => timeUp = clock() - started >= timeMs,
  });
  const figures: SenderFigures = { segments: 0, bytes: sent, seconds: (clock() - started) / 1000 };
  if (!timeUp && sent >= bound) figures.limited = true;
  conn.write(encoder.encode("\n" + formatDone(figures) + "\n"));
  await conn.drained();
  return figures;
}

/** How a timed receive ended: the report, and the sender's figures or what went wrong. */
export interface TimedReceipt {
  /** What arrived (expected bytes: the sender's count, once its DONE line came). */
  report: ReceiverReport;
  /** The sender's figures (its DONE line); undefined when it never came. */
  sender?: SenderFigures;
  /** The stream ended before the DONE line: how. */
  end?: ReadEnd;
  /** Something other than pattern and a DONE line came: what. */
  failure?: string;
}

/** Receives a timed transfer of at most `bound` bytes: data up to the line end, then DONE. */
export async function receiveTimed(
  stream: BlastStream,
  bound: number,
  clock: () => number = epochNow,
  onProgress?: (bytes: number) => void,
): Promise<TimedReceipt> {
  const receiver = new ByteReceiver(bound);
  for (;;) {
    const chunk = await stream.readChunk();
    if (!(chunk instanceof Uint8Array)) return { report: receiver.report(), end: chunk };
    const nl = chunk.indexOf(0x0a);
    receiver.handleBytes(nl < 0 ? chunk : chunk.subarray(0, nl), clock());
    onProgress?.(receiver.bytes);
    if (receiver.extra > 0) {
      return { report: receiver.report(), failure: `more than the bound of ${bound} bytes came` };
    }
    if (nl >= 0) {
      stream.unread(chunk.subarray(nl + 1));
      break;
    }
  }
  const line = await stream.readLine(64 * 1024);
  if (typeof line !== "string") {
    if (line.kind === TOO_LONG.kind) {
      return { report: receiver.report(), failure: "the end line is too long" };
    }
    return { report: receiver.report(), end: line };
  }
  let sender: SenderFigures;
  try {
    sender = parseDone<SenderFigures>(line);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { report: receiver.report(), failure: `not a DONE line: '${line.slice(0, 60)}'` };
  }
  if (!Number.isSafeInteger(sender?.bytes) || sender.bytes < 0) {
    return { report: receiver.report(), failure: "the DONE line has no byte count" };
  }
  receiver.expectedBytes = sender.bytes;
  const report = receiver.report();
  if (receiver.bytes > sender.bytes) {
    return {
      report,
      sender,
      failure: `${receiver.bytes - sender.bytes} bytes more than the sender says it sent`,
    };
  }
  return { report, sender };
}

/** How a server's timed run ended: its `closed` reason and figures. */
export interface TimedServed {
  /** `complete`, `cut by --max-bytes`, or how the connection ended. */
  reason: string;
  /** What the server sent (a GET). */
  sent?: SenderFigures;
  /** What the server received (a PUT). */
  received?: ReceiverReport;
}

/**
 * Serves a timed request on `conn` for a server whose limit is `maxBytes`:
 * answers `OK bytes=maxBytes`, then sends (GET) or receives and reports
 * (PUT).
 */
export async function serveTimedTcp(
  conn: TcpConnection,
  stream: BlastStream,
  request: TransferRequest,
  maxBytes: number,
): Promise<TimedServed> {
  conn.write(encoder.encode(formatAnswer({ kind: "ok", bytes: maxBytes }) + "\n"));
  if (request.direction === "get") {
    const sent = await sendTimed(conn, request.timeMs!, maxBytes);
    if (conn.closed) return { reason: "shutdown", sent };
    if (conn.writeError !== undefined) {
      return { reason: conn.peerReset ? "peer reset" : `error: ${errorText(conn.writeError)}` };
    }
    await conn.closeWrite();
    return { reason: sent.limited ? "cut by --max-bytes" : "complete", sent };
  }
  const got = await receiveTimed(stream, maxBytes);
  if (got.end !== undefined) return { reason: endReason(got.end), received: got.report };
  if (got.failure !== undefined) return { reason: got.failure, received: got.report };
  conn.write(encoder.encode(formatDone(got.report) + "\n"));
  await conn.end();
  return { reason: got.sender!.limited ? "cut by --max-bytes" : "complete", received: got.report };
}

/** What a client's TCP run has so far, for the report of a run cut short (a signal). */
export interface Kept {
  /** The receiver's report so far (a download). */
  partial?: ReceiverReport;
  /** The client's sender figures (an upload, once sent). */
  sender?: SenderFigures;
}

/** How a client's run ended (the shape of `ClientFinish`, udp_client_machine.ts). */
export interface TimedFinish {
  /** One line when the run failed. */
  failure?: string;
  /** Whether the server answered. */
  answered: boolean;
  /** The receiver's figures. */
  receiver?: ReceiverReport;
  /** The sender's figures. */
  sender?: SenderFigures;
}

/**
 * The client's side of a timed TCP run, after the server's `OK bytes=N`
 * (`bound`): receives (GET) or sends and waits for the server's DONE (PUT).
 * `lost` says how a read ended, for the failure line.
 */
export async function timedTcpRun(
  conn: TcpConnection,
  stream: BlastStream,
  request: TransferRequest,
  bound: number | undefined,
  moved: { bytes: number },
  kept: Kept,
  lost: (end: ReadEnd) => string,
): Promise<TimedFinish> {
  if (bound === undefined) {
    return { failure: "the server's answer gave no bound for a timed run", answered: true };
  }
  if (request.direction === "get") {
    const got = await receiveTimed(stream, bound, epochNow, (b) => moved.bytes = b);
    kept.partial = got.report;
    const cut = { answered: true, receiver: got.report, sender: got.sender };
    if (got.end !== undefined) {
      return { ...cut, failure: `${lost(got.end)} before the end of the run` };
    }
    if (got.failure !== undefined) return { ...cut, failure: got.failure };
    let extra = 0;
    for (let more = await stream.readChunk(); more instanceof Uint8Array;) {
      extra += more.length;
      more = await stream.readChunk();
    }
    return extra > 0 ? { ...cut, failure: `server sent ${extra} bytes after its end` } : cut;
  }
  const sender = kept.sender = await sendTimed(
    conn,
    request.timeMs!,
    bound,
    (b) => moved.bytes = b,
  );
  if (conn.writeError !== undefined) {
    return {
      failure: conn.peerReset ? "the server reset the connection" : errorText(conn.writeError),
      answered: true,
      sender,
    };
  }
  const done = await stream.readLine(64 * 1024);
  if (typeof done !== "string") {
    const why = done.kind === TOO_LONG.kind ? "answer too long" : lost(done);
    return { failure: `no report: ${why}`, answered: true, sender };
  }
  try {
    return { answered: true, receiver: parseDone<ReceiverReport>(done), sender };
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return { failure: `bad report: '${done.slice(0, 60)}'`, answered: true, sender };
  }
}
