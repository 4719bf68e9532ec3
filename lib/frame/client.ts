/**
 * `pudp frame client`: sends each stdin line as a frame message and prints
 * each answer on stdout, on a {@link FrameSocket}.
 *
 * Two loops run at once: the sender takes lines from the stdin worker (see
 * {@link StdinLines}) and writes them, pausing while the server has not
 * taken what was sent; the receiver prints answers as they come. Lines may
 * be sent ahead of their answers (a pipe of many lines is one stream, not a
 * round trip each), unless `--lockstep`: then the next message is sent only
 * after the answer to the last, for servers that assume one message per
 * read (course servers). The run succeeds once stdin has ended and every message
 * has its answer; the server closing or resetting the connection before
 * that is a failure, told in one line. The loops run in a
 * {@link Lifecycle}'s run: the first of them to know how it ended finishes
 * it, and a signal ends it with 130/143/129. With `--verbose`, an answer
 * that is not a frame message (or is cut short) has its first bytes said
 * on stderr, escaped: what a foreign server actually answered.
 *
 * @module
 */

import { type ClientEnd, Lifecycle } from "../runtime/lifecycle.ts";
import { errorText } from "../util/errors.ts";
import { escapeBytes, firstBytes } from "../io/terminal_text.ts";
import { writeAll } from "../io/write_all.ts";
import { resolveHost, serverLabel } from "../net/resolve.ts";
import { StdinLines } from "../stdin/stdin_lines.ts";
import { FrameSocket, type Received } from "./frame_socket.ts";
import { encodeMessage } from "./wire.ts";
import { concatBytes } from "../bytes/concat.ts";

/** What `pudp frame client` was asked to do. */
export interface FrameClientConfig {
  /** The server's host name or address, as the user wrote it. */
  host: string;
  /** The server's port. */
  port: number;
  /** The most bytes one read takes. */
  bufferSize: number;
  /** The largest message sent or accepted. */
  maxMessage: number;
  /** Send the next message only after the answer to the last (`--lockstep`). */
  lockstep: boolean;
  /** Say on `log` what a server answered that is not a frame message (`--verbose`). */
  verbose: boolean;
}

/** Sending pauses while this many bytes wait to be written. */
const SEND_HIGH_WATER = 1024 * 1024;
/** Pieces of a long line come from the stdin worker at most this big. */
const PIECE = 64 * 1024;

/** Why the stream ended, as the failure line says it. */
function endText(label: string, end: (Received & { ok: false })["end"]): string {
  switch (end.kind) {
    case "eof":
      return `server ${label} closed the connection`;
    case "reset":
      return `server ${label} reset the connection`;
    case "closed":
    case "idle":
      return `connection to ${label} closed`;
    case "error":
      return `cannot read from ${label}: ${errorText(end.error)}`;
    case "invalid":
      return `bad answer from ${label}: ${end.reason}`;
  }
}

/** Runs the client over stdin; `--verbose` lines go to `log`. */
export async function runFrameClient(
  config: FrameClientConfig,
  log: (line: string) => void = () => {},
): Promise<ClientEnd> {
  const peer = await resolveHost(config.host);
  const label = serverLabel(config.host, config.port);
  const socket = await FrameSocket.connect({ hostname: peer.hostname, port: config.port }, {
    bufferSize: config.bufferSize,
    maxMessage: config.maxMessage,
  });
  return await new Lifecycle().run({
    start: (finish) => startLoops(config, label, socket, finish, log),
    close: () => socket.close(),
  });
}

/** Starts the receiver and the sender; `finish` says how the run ended. */
function startLoops(
  config: FrameClientConfig,
  label: string,
  socket: FrameSocket,
  finishRun: (end: ClientEnd) => void,
  log: (line: string) => void,
): void {
  let sent = 0;
  let answered = 0;
  let stdinEnded = false;
  let over = false;
  /** Wakes the sender waiting for an answer (`--lockstep`) or the end. */
  let wake = () => {};
  const finish = (end: ClientEnd) => {
    over = true;
    wake();
    finishRun(end);
  };
  const finishIfDone = () => {
    if (stdinEnded && answered === sent) finish({ code: 0 });
  };
  /** `--lockstep`: until every message sent has its answer, or the run is over. */
  const answersIn = () =>
    new Promise<void>((resolve) => {
      wake = () => {
        if (over || answered === sent) resolve();
      };
      wake();
    });

  // The receiver: every answer, printed in order (escaped on a terminal: the server's bytes
  // could drive it).
  const terminal = Deno.stdout.isTerminal();
  (async () => {
    while (!socket.closed) {
      const r = await socket.receiveBytes();
      if (!r.ok) {
        const left = socket.pending();
        if (config.verbose && left.length > 0) {
          const what = r.end.kind === "invalid" ? "not a frame message" : "an unfinished message";
          log(`${label} answered ${what}: ${firstBytes(left)}`);
        }
        if (r.end.kind === "reset" || !(stdinEnded && answered === sent)) {
          finish({ code: 1, message: endText(label, r.end) });
        }
        return;
      }
      const payload = terminal ? escapeBytes(r.payload) : r.payload;
      const line = new Uint8Array(payload.length + 1);
      line.set(payload);
      line[payload.length] = 0x0a;
      try {
        await writeAll(Deno.stdout, line);
      } catch (e) {
        finish({ code: 1, message: `cannot write to stdout: ${errorText(e)}` });
        return;
      }
      answered++;
      wake();
      finishIfDone();
    }
  })();

  // The sender: stdin lines (assembled from the worker's pieces), one message each.
  const stdin = StdinLines.start(PIECE);
  (async () => {
    const pieces: Uint8Array[] = [];
    let length = 0;
    for (;;) {
      for (let rec = stdin.next(); rec; rec = stdin.next()) {
        pieces.push(rec.bytes);
        length += rec.bytes.length;
        if (length > config.maxMessage) {
          finish({
            code: 1,
            message: `line ${sent + 1} is longer than --max-message (${config.maxMessage} bytes)`,
          });
          return;
        }
        if (!rec.endOfLine) continue;
        socket.conn.write(encodeMessage(pieces.length === 1 ? pieces[0] : concatBytes(pieces)));
        sent++;
        pieces.length = 0;
        length = 0;
        if (config.lockstep) {
          await answersIn();
          if (over) return;
        }
      }
      stdin.release();
      if (socket.conn.writeError !== undefined) {
        finish({
          code: 1,
          message: socket.conn.peerReset
            ? `server ${label} reset the connection`
            : `cannot send to ${label}: ${errorText(socket.conn.writeError)}`,
        });
        return;
      }
      if (socket.conn.pendingWrite > SEND_HIGH_WATER) {
        await socket.conn.drained();
        continue;
      }
      if (stdin.finished) {
        const error = await stdin.error();
        if (error !== undefined) finish({ code: 1, message: `cannot read stdin: ${error}` });
        stdinEnded = true;
        finishIfDone();
        return;
      }
      await stdin.ready();
    }
  })();
}
