/**
 * Carries out the pipe machine's operations ({@link PipeOp}) one at a time,
 * in order: writes to stdout, appends to and replays temporary files, and
 * closes connections whose bytes are all written or held.
 *
 * Temporary files are deleted from the directory as soon as they are
 * opened (the open descriptor keeps the data), so none is left behind
 * whatever happens to the process; they live in `TMPDIR` (default /tmp).
 *
 * Each operation taken gets a number; {@link PipeOpRunner.until} waits for
 * the operations up to a number to be done, which is how a connection's
 * read waits for the operations that point into its read buffer.
 *
 * @module
 */

import { errorText } from "../cli/errors.ts";
import type { ByteWriter } from "../io/output_pump.ts";
import { SerialLoop } from "../io/serial_loop.ts";
import { writeAll } from "../io/write_all.ts";
import type { PipeOp, StdoutTurns } from "./turn_machine.ts";

/** Size of one read of a temporary file being replayed. */
const REPLAY_CHUNK = 1 << 20;

/** The serial executor of a pipe server's operations. */
export class PipeOpRunner {
  readonly #loop: SerialLoop<PipeOp>;
  readonly #files = new Map<number, Deno.FsFile>();
  readonly #waiters: { upTo: number; resolve: () => void }[] = [];
  #taken = 0;
  #done = 0;
  #failure: string | undefined;

  /**
   * A runner of `machine`'s operations.
   * @param machine where operations come from
   * @param stdout where the data goes
   * @param closeConnection closes our side of a connection
   */
  constructor(
    readonly machine: StdoutTurns,
    readonly stdout: ByteWriter,
    readonly closeConnection: (id: number) => void,
  ) {
    this.#loop = new SerialLoop(() => this.#take(), (op) => this.#run(op));
  }

  /** Why the runner stopped (`cannot write to stdout: …`), once it has. */
  get failure(): string | undefined {
    return this.#failure;
  }

  /** The number of the last operation taken from the machine so far, or about to be. */
  get queued(): number {
    return this.#taken + this.machine.queuedOps;
  }

  /** Starts carrying out what the machine has queued; call after every event. */
  wake(): void {
    if (this.#failure === undefined) this.#loop.wake();
  }

  /** Resolves once operations up to number `upTo` are done (or the runner failed). */
  until(upTo: number): Promise<void> | undefined {
    if (this.#done >= upTo || this.#failure !== undefined) return undefined;
    return new Promise((resolve) => this.#waiters.push({ upTo, resolve }));
  }

  /** Resolves when nothing is left to do. */
  async idle(): Promise<void> {
    await this.#loop.idle().catch(() => {});
  }

  /** Closes the temporary files still open (their bytes are lost: only after a failure). */
  closeFiles(): void {
    for (const file of this.#files.values()) file.close();
    this.#files.clear();
  }

  #take(): PipeOp | undefined {
    if (this.#failure !== undefined) return undefined;
    const op = this.machine.pollOp();
    if (op) this.#taken++;
    return op;
  }

  async #run(op: PipeOp): Promise<void> {
    try {
      await this.#carryOut(op);
    } catch (e) {
      this.#failure = e instanceof StdoutError
        ? `cannot write to stdout: ${errorText(e.cause)}`
        : `temporary file: ${errorText(e)}`;
      for (const w of this.#waiters.splice(0)) w.resolve();
      return;
    }
    this.#done++;
    while (this.#waiters.length > 0 && this.#waiters[0].upTo <= this.#done) {
      this.#waiters.shift()!.resolve();
    }
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
          file = await openTemporaryFile();
          this.#files.set(op.connection, file);
        }
        await writeAll(file, op.data);
        return;
      }
      case "replay": {
        const file = this.#files.get(op.connection)!;
        this.#files.delete(op.connection);
        try {
          await file.seek(0, Deno.SeekMode.Start);
          const buf = new Uint8Array(REPLAY_CHUNK);
          for (let n = await file.read(buf); n !== null; n = await file.read(buf)) {
            await this.#toStdout(buf.subarray(0, n));
          }
        } finally {
          file.close();
        }
        return;
      }
      case "close":
        this.closeConnection(op.connection);
        return;
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

/** A new temporary file, open for reading and writing, already deleted from its directory. */
async function openTemporaryFile(): Promise<Deno.FsFile> {
  const path = await Deno.makeTempFile({ prefix: "pudp-pipe-" });
  try {
    return await Deno.open(path, { read: true, write: true });
  } finally {
    await Deno.remove(path);
  }
}
