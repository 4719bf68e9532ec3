/**
 * What both blast servers (TCP and UDP) share: their config, their counters
 * and the summary line they end with. Pure: no I/O.
 *
 * @module
 */

import type { UdpIo } from "../net/udp_socket.ts";
import type { TcpLimits } from "../net/connection_limits.ts";

/** What `pudp blast server` was asked to do. */
export interface BlastServerConfig {
  /** Address to listen on (`--host`). */
  host: string;
  /** Port to listen on; 0 picks a free one. */
  port: number;
  /** Over UDP (`--udp`) instead of TCP. */
  udp: boolean;
  /** Largest transfer a client may ask for, in bytes (`--max-bytes`). */
  maxBytes: number;
  /** One JSON object per event per line (`--json`) instead of text. */
  json: boolean;
  /** More diagnostics on stderr (`--verbose`). */
  verbose: boolean;
  /** `--max-connections` and `--idle-timeout` (TCP). */
  limits: TcpLimits;
  /** UDP: most runs going at once (`--max-runs`); default 64. */
  maxRuns?: number;
  /** Which UDP sockets (`--udp-io`; default `auto`). */
  udpIo?: UdpIo;
}

/** Counters for the summary line. */
export interface BlastServerStats {
  /** Transfer runs accepted. */
  runs: number;
  /** Echo requests answered. */
  echoes: number;
  /** Requests refused. */
  refused: number;
  /** UDP: transfer requests answered with a CHALLENGE (address not validated yet). */
  challenges: number;
  /** Payload bytes sent (downloads). */
  bytesSent: number;
  /** Payload bytes received (uploads). */
  bytesReceived: number;
}

/** Counters at the start: all 0. */
export function newServerStats(): BlastServerStats {
  return { runs: 0, echoes: 0, refused: 0, challenges: 0, bytesSent: 0, bytesReceived: 0 };
}

/** The summary line printed to stderr at exit. */
export function blastSummaryLine(s: BlastServerStats): string {
  return `pudp blast server: ${s.runs} transfers, ${s.echoes} echoes, ${s.refused} refused, ` +
    `${s.bytesSent} bytes sent, ${s.bytesReceived} bytes received`;
}
