/**
 * What every pudp server is assembled from besides its machine: the listen
 * config its command builds ({@link ListenConfig}), its `Lifecycle` with
 * its event output ({@link serverLife}), the TCP side of a stream server
 * ({@link listenStream}) and the serve hooks of a machine
 * ({@link machineHooks}).
 *
 * How a server is put together: {@link serverLife} makes its output and its
 * lifecycle; the family's drain moves the machine's outputs to its
 * endpoints and ends with `life.kickOutput()`; a machine with deadlines is
 * drained by a {@link TimerLoop}, one without by its drain alone; the
 * endpoints' inputs feed the machine and call `afterEvent()`;
 * `life.serve(machineHooks(…))` runs it to the stop and shuts it down in
 * order.
 *
 * @module
 */

import type { UdpIo } from "./udp_socket.ts";
import { EventOutput } from "../events/event_output.ts";
import type { JsonTable } from "../events/json_lines.ts";
import type { BaseEvent, OutputSink } from "../events/sink.ts";
import type { ByteWriter } from "../io/write_all.ts";
import { Lifecycle, type ServiceHooks } from "../runtime/lifecycle.ts";
import { monotonicNow, type TimerLoop } from "../runtime/timer_loop.ts";
import type { TcpLimits } from "./connection_limits.ts";
import { StreamServer, type StreamServerOptions } from "./stream_server.ts";

/** What every server command is asked: where to listen and how to print. */
export interface ListenConfig {
  /** Address to listen on (`--host`). */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** One JSON object per event per line (`--json`) instead of text. */
  json: boolean;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** Which UDP sockets (`--udp-io`; default `auto`). */
  udpIo?: UdpIo;
}

/** What a TCP server is asked besides {@link ListenConfig}. */
export interface StreamListenConfig extends ListenConfig {
  /** `--max-connections` and `--idle-timeout`. */
  limits: TcpLimits;
}

/** A server's {@link Lifecycle} and the event output it watches and closes. */
export interface ServerLife<E extends BaseEvent> {
  /** The server's signals, stop latch and ordered shutdown. */
  life: Lifecycle;
  /** Its events: the machine emits to `output.sink`. */
  output: EventOutput<E>;
}

/**
 * The life of a server that prints events: `--json` or the family's text
 * renderer, written to stdout (or `writer`) on the drivers' clock, given to
 * a new {@link Lifecycle} (a failed write stops the server).
 */
export function serverLife<E extends BaseEvent>(
  json: boolean,
  text: (terminal: boolean) => OutputSink<E>,
  fields: JsonTable<E>,
  writer?: ByteWriter,
): ServerLife<E> {
  const output = new EventOutput<E>({ json, text, fields, clock: monotonicNow, writer });
  return { life: new Lifecycle({ output }), output };
}

/**
 * Listens for a stream server as its config says (the address, the limits,
 * notices and, with `--verbose`, accept errors to `log`); `io` is how the
 * family reads and writes its connections.
 */
export function listenStream(
  config: StreamListenConfig,
  io: Pick<StreamServerOptions, "readSize" | "writeHighWater" | "readPause">,
  log: (line: string) => void,
): StreamServer {
  return StreamServer.listen(
    { hostname: config.host, port: config.port },
    { ...io, limits: config.limits, onNotice: log },
    config.verbose ? log : undefined,
  );
}

/** The parts of a server that {@link machineHooks} shuts down in order. */
export interface MachineService {
  /** Logged once the server is set up (`listening on HOST:PORT`). */
  ready: string;
  /** The machine: its `shutdown()` is its goodbye. */
  machine: { shutdown(): void };
  /** How the machine is drained: its {@link TimerLoop}, or `{ afterEvent: drain }` without deadlines. */
  loop: Pick<TimerLoop, "afterEvent"> & { cancel?(): void };
  /** Closes the endpoints. */
  close(): Promise<void>;
  /** The summary line printed to stderr at exit. */
  summary(): string;
}

/**
 * The serve hooks of a server: the machine's goodbye and a last drain, then
 * the alarm off and the endpoints closed (the lifecycle then flushes the
 * output and prints the summary).
 */
export function machineHooks(service: MachineService): ServiceHooks {
  const { machine, loop } = service;
  return {
    ready: service.ready,
    shutdown: () => {
      machine.shutdown();
      loop.afterEvent();
    },
    close: () => {
      loop.cancel?.();
      return service.close();
    },
    summary: service.summary,
  };
}
