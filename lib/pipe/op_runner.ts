/**
 * Carries out the pipe machine's operations ({@link PipeOp}) one at a time,
 * in order: writes to stdout, appends to and replays temporary files, and
 * tells and closes connections.
 *
 * Temporary files are deleted from the directory as soon as they are
 * opened (the open descriptor keeps the data), so none is left behind
 * whatever happens to the process; they live in `TMPDIR` (default /tmp).
 * Where they come from is a parameter ({@link OpenTempFile}), so tests can
 * give files that fail on demand.
 *
 * Failures: an operation that fails (stdout or a temporary file cannot be
 * written or read) is reported to the machine (`handleFailed`), which fails
 * that connection alone; the runner drops the connection's temporary file
 * and goes on with the next operation. Nothing stops the runner.
 *
 * Each operation taken gets a number; {@link PipeOpRunner.until} waits for
 * the operations up to a number to be done, which is how a connection's
 * read waits for the operations that point into its read buffer.
 *
 * @module
 */

import { errorText } from "../util/errors.ts";
import type { ByteWriter } from "../io/write_all.ts";
import { SerialLoop } from "../io/serial_loop.ts";
import { writeAll } from "../io/write_all.ts";
import type { PipeOp, StdoutTurns } from "./turn_machine.ts";

/** Size of one read of a temporary file being replayed. */
const REPLAY_CHUNK = 1 << 20;

/** What the runner needs of a temporary file (a `Deno.FsFile` has it all). */
export interface TempFile extends ByteWriter {
  /** Moves to `offset` from the start. */
  seek(offset: number, whence: Deno.SeekMode): Promise<number>;
  /** Reads into `p`: the number of bytes read, or null at the end. */
  read(p: Uint8Array): Promise<number | null>;
  /** Closes (and so deletes) it. */
  close(): void;
}

/** Opens a new, empty temporary file. */
export type OpenTempFile = () => Promise<TempFile>;

/** What the runner does to connections. */
export interface PipeConnections {
  /** Closes our side of a connection (after what was queued to it is written). */
  close(id: number): void;
  /** Tells a connection's client its bytes were not kept (`reason`: one line). */
  refuse(id: number, reason: string): void;
}

/** The serial executor of a pipe server's operations. */
export class PipeOpRunner {
  readonly #loop: SerialLoop<PipeOp>;
  readonly #files = new Map<number, TempFile>();
  readonly #waiters: { upTo: number; resolve: () => void }[] = [];
  #taken = 0;
  #done = 0;

  /**
   * A runner of `machine`'s operations.
   * @param machine where operations come from
   * @param stdout where the data goes
   * @param connections closes and refuses connections
   * @param afterOp called after each operation (the driver's afterEvent: budgets may have freed)
   * @param openTempFile where temporary files come from (default: in TMPDIR, deleted on open)
   * @param clock the machine's clock, for `handleFailed`
   */
  constructor(
    readonly machine: StdoutTurns,
    readonly stdout: ByteWriter,
    readonly connections: PipeConnections,
    readonly afterOp: () => void = () => {},
    readonly openTempFile: OpenTempFile = openTemporaryFile,
    readonly clock: () => number = () => performance.now(),
  ) {
    this.#loop = new SerialLoop(() => this.#take(), (op) => this.#run(op));
  }

  /**
   * The number of the last operation queued by the machine so far (taken,
   * about to be, or dropped: numbers only grow).
   */
  get queued(): number {
    return this.#taken + this.machine.queuedOps + this.machine.droppedOps;
  }

  /** Starts carrying out what the machine has queued; call after every event. */
  wake(): void {
    this.#release();
    this.#loop.wake();
  }

  /** Resolves once operations up to number `upTo` are done (or dropped by the machine). */
  until(upTo: number): Promise<void> | undefined {
    if (this.#finished >= upTo) return undefined;
    return new Promise((resolve) => this.#waiters.push({ upTo, resolve }));
  }

  /** Operations done, and dropped from the queue by the machine (a failed connection's). */
  get #finished(): number {
    return this.#done + this.machine.droppedOps;
  }

  #release(): void {
    while (this.#waiters.length > 0 && this.#waiters[0].upTo <= this.#finished) {
      this.#waiters.shift()!.resolve();
    }
  }

  /** Resolves when nothing is left to do. */
  async idle(): Promise<void> {
    await this.#loop.idle().catch(() => {});
  }

  /** Temporary files open now. */
  get openFiles(): number {
    return this.#files.size;
  }

  /** Closes the temporary files still open (their bytes are lost: only when aborting). */
  closeFiles(): void {
    for (const file of this.#files.values()) file.close();
    this.#files.clear();
  }

  #take(): PipeOp | undefined {
    const op = this.machine.pollOp();
    if (op) this.#taken++;
    return op;
  }

  async #run(op: PipeOp): Promise<void> {
    try {
      await this.#carryOut(op);
    } catch (e) {
      this.#dropFile(op.connection);
      const reason = e instanceof StdoutError
        ? `cannot write to stdout: ${errorText(e.cause)}`
        : `temporary file: ${errorText(e)}`;
      this.machine.handleFailed(op, reason.replace(/[\r\n]+/g, " "), this.clock());
    }
    this.#done++;
    this.#release();
    this.afterOp();
  }

  async #carryOut(op: PipeOp): Promise<void> {
    switch (op.kind) {
      case "write":
        await this.#toStdout(op.data);
        this.machine.handleWritten(op);
        return;
      case "spill": {
        let file = this.#files.get(op.connection);
        if (!file) {
          file = await this.openTempFile();
          this.#files.set(op.connection, file);
        }
        await writeAll(file, op.data);
        return;
      }
      case "replay": {
        const file = this.#files.get(op.connection);
        if (!file) throw new Error("the temporary file is gone");
        await file.seek(0, Deno.SeekMode.Start);
        const buf = new Uint8Array(REPLAY_CHUNK);
        for (let n = await file.read(buf); n !== null; n = await file.read(buf)) {
          await this.#toStdout(buf.subarray(0, n));
        }
        this.#dropFile(op.connection);
        this.machine.handleReplayed(op);
        return;
      }
      case "refuse":
        this.#dropFile(op.connection);
        this.connections.refuse(op.connection, op.reason);
        return;
      case "close":
        this.connections.close(op.connection);
        return;
    }
  }

  #dropFile(connection: number): void {
    const file = this.#files.get(connection);
    this.#files.delete(connection);
    try {
      file?.close();
    } catch {
      // closed already
    }
  }

  async #toStdout(bytes: Uint8Array): Promise<void> {
    try {
      await writeAll(this.stdout, bytes);
    } catch (e) {
      throw new StdoutError(e);
    }
  }
}

class StdoutError extends Error {
  constructor(override readonly cause: unknown) {
    super("stdout");
  }
}

/** A new temporary file in TMPDIR, open for reading and writing, already deleted from its directory. */
export async function openTemporaryFile(): Promise<TempFile> {
  const path = await Deno.makeTempFile({ prefix: "pudp-pipe-" });
  try {
    return await Deno.open(path, { read: true, write: true });
  } finally {
    await Deno.remove(path);
  }
}
