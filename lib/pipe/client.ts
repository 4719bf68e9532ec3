/**
 * `pudp pipe client`: streams stdin to a pipe server, byte for byte, and
 * exits 0 only once the server has taken every byte.
 *
 * How this works: the stdin worker reads stdin straight into a shared ring
 * ({@link StdinBytes}) with blocking reads; the main thread writes straight
 * out of the ring in spans of up to {@link WRITE_SPAN}, so a fast input
 * costs few async operations and no copies, and memory is the ring whatever
 * the input's size. At EOF the client half-closes (FIN) and waits for the
 * server to close its side, which the server does once it holds or has
 * written every byte; that close is the receipt. The server closing or
 * resetting before that is a failure (exit 1, one line). A pudp pipe server
 * that could not keep our bytes (a full disk, a broken stdout, a stop)
 * says so with a line `ERR REASON` before it closes: exit 1, `server could
 * not keep your bytes: REASON` (other bytes from a server are ignored;
 * `--verbose` says their first bytes, escaped). With `--timeout S` (0, the
 * default: wait as long as it takes) a server that has not closed S seconds
 * after our EOF is given up on: exit 1, saying the bytes sent and that the
 * server did not close (a server that never closes, such as some netcats,
 * would keep the client forever).
 * The loops run in a {@link Lifecycle}'s run: the first of them to know how
 * it ended finishes it, and a signal ends it with 130/143/129.
 *
 * @module
 */

import { type ClientEnd, Lifecycle } from "../runtime/lifecycle.ts";
import { errorText } from "../util/errors.ts";
import { ProgressLine } from "../io/progress_line.ts";
import { firstBytes } from "../io/terminal_text.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { type ReadEnd, TcpConnection } from "../net/tcp.ts";
import { StdinBytes } from "../stdin/stdin_bytes.ts";

/** What `pudp pipe client` was asked to do. */
export interface PipeClientConfig {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** Show the progress line on stderr (a terminal, stdin not one, no `--quiet`). */
  progress: boolean;
  /** Diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** Give up when the server has not closed this long after EOF, in ms; 0 = never (`--timeout`). */
  timeoutMs: number;
}

/** The ring between the stdin worker and the socket writes. */
const RING_BYTES = 8 << 20;
/** The most one socket write takes. */
const WRITE_SPAN = 4 << 20;
/** The most of what the server sends that is kept (the refusal line). */
const REPLY_LIMIT = 1024;
/** How long a failed write waits for the server's refusal line, which explains it. */
const REFUSAL_WAIT_MS = 1000;

/**
 * Collects the first bytes the server sends: a pudp pipe server sends
 * nothing, or `ERR REASON\n` when it could not keep our bytes.
 */
export class ServerReply {
  #bytes = new Uint8Array(0);

  /** Adds bytes read from the server (beyond {@link REPLY_LIMIT} they are dropped). */
  add(bytes: Uint8Array): void {
    if (this.#bytes.length >= REPLY_LIMIT) return;
    const next = new Uint8Array(Math.min(REPLY_LIMIT, this.#bytes.length + bytes.length));
    next.set(this.#bytes);
    next.set(bytes.subarray(0, next.length - this.#bytes.length), this.#bytes.length);
    this.#bytes = next;
  }

  /** The bytes kept so far (at most {@link REPLY_LIMIT}). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** The reason of a refusal line, once it is complete (or `ended`: what came of it). */
  refusal(ended = false): string | undefined {
    const text = new TextDecoder().decode(this.#bytes);
    if (!text.startsWith("ERR ")) return undefined;
    const nl = text.indexOf("\n");
    if (nl < 0 && !ended && this.#bytes.length < REPLY_LIMIT) return undefined;
    return text.slice(4, nl < 0 ? undefined : nl).trimEnd();
  }
}

function endText(label: string, end: ReadEnd, early: boolean): string {
  const before = early ? " before the end of the input" : " before taking every byte";
  switch (end.kind) {
    case "eof":
      return `server ${label} closed the connection${before}`;
    case "reset":
      return `server ${label} reset the connection${before}`;
    case "closed":
    case "idle":
      return `connection to ${label} closed`;
    case "error":
      return `cannot read from ${label}: ${errorText(end.error)}`;
  }
}

/**
 * Streams stdin to the server; returns how it went (with `--verbose`, a
 * success says on `log` how many bytes were sent).
 */
export async function runPipeClient(
  config: PipeClientConfig,
  log: (line: string) => void,
): Promise<ClientEnd> {
  const peer = await resolveHost(config.host);
  const label = serverLabel(config.host, config.port);
  const conn = await TcpConnection.connect({ hostname: peer.hostname, port: config.port });
  const sent = { bytes: 0 };
  const progress = new ProgressLine(config.progress, () => ({ unit: "bytes", sent: sent.bytes }));
  return await new Lifecycle().run({
    start: (finish) => {
      progress.start();
      startLoops(config, label, conn, sent, (code, message) => finish({ code, message }), log);
    },
    close: (end) => {
      progress.stop();
      conn.close();
      if (end.code === 0 && config.verbose) log(`sent ${sent.bytes} bytes`);
    },
  });
}

/** Starts the reader and the writer; `finish` says how the run ended. */
function startLoops(
  config: PipeClientConfig,
  label: string,
  conn: TcpConnection,
  sent: { bytes: number },
  finishRun: (code: number, message?: string) => void,
  log: (line: string) => void,
): void {
  let inputDone = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  // The server sends nothing but a refusal; its end of the stream is the answer.
  const reply = new ServerReply();
  let over = false;
  const finish = (code: number, message?: string) => {
    if (over) return;
    over = true;
    clearTimeout(timer);
    // --verbose: what a foreign server sent that is not a refusal line.
    if (config.verbose && reply.bytes.length > 0 && reply.refusal(true) === undefined) {
      log(`${label} sent bytes a pipe server does not send: ${firstBytes(reply.bytes)}`);
    }
    finishRun(code, message);
  };
  const refused = (reason: string) => finish(1, `server could not keep your bytes: ${reason}`);
  const readEnd = conn.read((bytes) => {
    reply.add(bytes);
    const reason = reply.refusal();
    if (reason !== undefined) refused(reason);
  }, 4096).then((end) => {
    const reason = reply.refusal(true);
    if (reason !== undefined) refused(reason);
    else if (end.kind === "eof" && inputDone) finish(0);
    else finish(1, endText(label, end, !inputDone));
  });
  /** After EOF: `--timeout` for the server's close, the receipt. */
  const awaitClose = () => {
    if (config.timeoutMs <= 0 || over) return;
    timer = setTimeout(() => {
      finish(
        1,
        `sent ${sent.bytes} bytes, but server ${label} did not close within ` +
          `${config.timeoutMs / 1000} s after EOF (--timeout): not known whether it kept them`,
      );
    }, config.timeoutMs);
  };
  /** After a failed write: a moment for the refusal line that explains it. */
  const refusalOrTimeout = async () => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([readEnd, new Promise((r) => timer = setTimeout(r, REFUSAL_WAIT_MS))]);
    clearTimeout(timer);
  };

  const stdin = StdinBytes.start(RING_BYTES);
  (async () => {
    for (;;) {
      const span = stdin.span(WRITE_SPAN);
      if (span.length > 0) {
        conn.write(span);
        await conn.drained();
        if (conn.writeError !== undefined) {
          await refusalOrTimeout();
          return finish(
            1,
            conn.peerReset
              ? `server ${label} reset the connection before the end of the input`
              : `cannot send to ${label}: ${errorText(conn.writeError)}`,
          );
        }
        sent.bytes += span.length;
        stdin.consume(span.length);
        continue;
      }
      if (stdin.finished) break;
      await stdin.ready();
    }
    const error = await stdin.error();
    if (error !== undefined) return finish(1, `cannot read stdin: ${error}`);
    inputDone = true;
    await conn.closeWrite();
    if (conn.writeError !== undefined) {
      await refusalOrTimeout();
      return finish(1, `cannot send to ${label}: ${errorText(conn.writeError)}`);
    }
    awaitClose();
  })();
}
