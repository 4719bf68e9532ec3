/**
 * What a protocol family gives `pudp check`: its server and client cases,
 * the transport its server listens on, what its client command must name
 * (`{id}` for ids), and the words of its help. `commands.ts` makes the
 * `pudp check [FAMILY] server|client` commands from it; nothing else about
 * a family is known to the runner, the targets or the reports.
 *
 * @module
 */

import type { CheckCase } from "./case_model.ts";
import type { ClientTarget, ServerTarget, Transport } from "./target.ts";

/** One family of conformance cases. */
export interface CheckFamily {
  /** Its word under `pudp check` (`ids`); undefined for PUDP, whose commands are flat. */
  readonly command?: string;
  /** How reports name it (`PUDP`, `ids`). */
  readonly label: string;
  /** What its servers listen on; `tcpSwitch` families take `--tcp` to choose TCP. */
  readonly transport: Transport;
  /** Whether it takes `--tcp` (ids: UDP by default, TCP with it). */
  readonly tcpSwitch?: boolean;
  /** Whether it speaks PUDP's magic number (`--magic`). */
  readonly magicFlag?: boolean;
  /** Whether its client command takes the id to ask for as `{id}` (ids). */
  readonly clientId?: boolean;
  /** The server cases. */
  readonly serverCases: readonly CheckCase<ServerTarget>[];
  /** The client cases. */
  readonly clientCases: readonly CheckCase<ClientTarget>[];
  /** The server command's description in `--help` (what pudp does as its client). */
  readonly serverHelp: string;
  /** The client command's description in `--help` (the server pudp plays). */
  readonly clientHelp: string;
}
