/**
 * Host name resolution for clients, through the system resolver
 * (getaddrinfo, so /etc/hosts and `localhost` work), plus the wildcard
 * address of the matching family for the client's own socket.
 *
 * @module
 */

import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { ExchangeError } from "../util/errors.ts";
import { formatAddress, type PeerAddress } from "../runtime/transmit.ts";

/** A resolved peer address and the wildcard address to bind a socket of its family to. */
export interface ResolvedHost {
  /** The address, an IP literal. */
  hostname: string;
  /** The address family. */
  family: 4 | 6;
  /** `0.0.0.0` or `::`. */
  anyAddress: string;
}

/** Resolves `host` (a name or an IP literal). Throws ExchangeError when it cannot. */
export async function resolveHost(host: string): Promise<ResolvedHost> {
  let hostname = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  let family = isIP(hostname);
  if (family === 0) {
    try {
      const found = await lookup(hostname);
      hostname = found.address;
      family = found.family;
    } catch (e) {
      const code = (e as { code?: string }).code;
      throw new ExchangeError(`cannot resolve ${host}${code ? ` (${code})` : ""}`);
    }
  }
  return family === 6
    ? { hostname, family: 6, anyAddress: "::" }
    : { hostname, family: 4, anyAddress: "0.0.0.0" };
}

/** How a client names its server in messages: `HOST:PORT` as the user wrote the host. */
export function serverLabel(host: string, port: number): string {
  return formatAddress({ hostname: host.replace(/^\[(.*)\]$/, "$1"), port });
}

/** A client's server, resolved: where to send, how to name it, what to bind to. */
export interface ResolvedServer {
  /** The server's address (an IP literal) and port. */
  server: PeerAddress;
  /** `HOST:PORT` as the user wrote the host ({@link serverLabel}). */
  label: string;
  /** The wildcard address of the server's family, for the client's own socket. */
  anyAddress: string;
}

/** Resolves a client's server `host` and `port`. Throws ExchangeError when it cannot. */
export async function resolveServer(host: string, port: number): Promise<ResolvedServer> {
  const peer = await resolveHost(host);
  return {
    server: { hostname: peer.hostname, port },
    label: serverLabel(host, port),
    anyAddress: peer.anyAddress,
  };
}
