/**
 * The types a pure protocol machine uses to say where a datagram goes.
 *
 * `PeerAddress` is structurally a subset of `Deno.NetAddr`, so drivers pass
 * the addresses the socket gives them without conversion.
 *
 * @module
 */

/** A UDP peer: an IP literal and a port. */
export interface PeerAddress {
  /** An IP literal. */
  readonly hostname: string;
  /** The UDP or TCP port. */
  readonly port: number;
}

/** One datagram a state machine wants sent. */
export interface Transmit {
  /** The datagram's bytes (owned by the transmit until sent). */
  readonly data: Uint8Array;
  /** Where it goes. */
  readonly to: PeerAddress;
}

/** `HOST:PORT`, with IPv6 literals in brackets. */
export function formatAddress(addr: PeerAddress): string {
  return addr.hostname.includes(":")
    ? `[${addr.hostname}]:${addr.port}`
    : `${addr.hostname}:${addr.port}`;
}
