/**
 * The small socket interface every UDP driver uses ({@link UdpSocket}: what
 * `Deno.DatagramConn` and pudp's batched {@link LibcUdpSocket} both are),
 * and the choice between them (`--udp-io auto|ffi|deno`, {@link openUdpSocket}).
 *
 * @module
 */

import type { PeerAddress } from "../runtime/transmit.ts";
import { type LibcError, LibcUdpSocket, libcUdpSupport } from "./libc_udp.ts";

/** A bound UDP socket: `Deno.DatagramConn`, or pudp's batched socket on libc. */
export interface UdpSocket {
  /** The address the socket is bound to. */
  readonly addr: Deno.Addr;
  /** Sends one datagram; resolves with the bytes sent (only `hostname` and `port` of `to` are read). */
  send(data: Uint8Array, to: Deno.NetAddr): Promise<number>;
  /** Receives one datagram (into `buf` when given). */
  receive(buf?: Uint8Array): Promise<[Uint8Array, Deno.Addr]>;
  /** Closes the socket; a pending receive rejects. */
  close(): void;
  /** The batched calls, on pudp's libc socket only. */
  readonly batched?: LibcUdpSocket;
}

/** How UDP sockets are opened: `ffi` pudp's batched socket, `deno` `Deno.listenDatagram`, `auto` ffi when possible. */
export type UdpIo = "auto" | "ffi" | "deno";

/** The values of `--udp-io`. */
export const UDP_IO_CHOICES: readonly UdpIo[] = ["auto", "ffi", "deno"];

/** A socket to open, and how. */
export interface UdpOpenOptions {
  /** How (default `auto`). */
  io?: UdpIo;
  /** Says which socket was opened and its buffer sizes (`--verbose`). */
  log?: (line: string) => void;
  /** Called with each received datagram too large for a slot (batched socket only). */
  onTruncated?: (from: Deno.NetAddr, size: number) => void;
}

/** Thrown when `--udp-io ffi` was asked for and the batched socket cannot be used. */
export class UdpIoUnavailable extends Error {}

/** Whether `e` is a libc call's failure (an errno), not a reason the batched socket cannot be used. */
function isLibcError(e: unknown): e is LibcError {
  return e instanceof Error && typeof (e as Partial<LibcError>).errno === "number";
}

/** Whole MiB or KiB, for the verbose line. */
function size(bytes: number): string {
  return bytes % 1_048_576 === 0 ? `${bytes / 1_048_576} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/**
 * Opens a UDP socket bound to `address`: the batched libc socket when `io`
 * allows and it can be used here (64-bit Linux, `--allow-ffi`, an IP
 * literal), else `Deno.listenDatagram`. Throws the bind's error as the chosen
 * socket reports it (same message on both), or {@link UdpIoUnavailable} for
 * `io: "ffi"` when the batched socket cannot be used.
 */
export function openUdpSocket(address: PeerAddress, options: UdpOpenOptions = {}): UdpSocket {
  const io = options.io ?? "auto";
  let why: string | undefined;
  if (io !== "deno") {
    why = libcUdpSupport();
    if (why === undefined) {
      try {
        const socket = LibcUdpSocket.open(address, { onTruncated: options.onTruncated });
        options.log?.(
          `udp io: ffi (recvmmsg/sendmmsg, ${socket.batchSize} datagrams a call), receive buffer ${
            size(socket.receiveBuffer / 2)
          }, send buffer ${size(socket.sendBuffer / 2)}${
            socket.forced ? " (forced past the system maximum)" : ""
          }`,
        );
        return socket;
      } catch (e) {
        if (isLibcError(e)) throw e;
        why = e instanceof Error ? e.message : String(e);
      }
    }
    if (io === "ffi") throw new UdpIoUnavailable(`--udp-io ffi is not possible here: ${why}`);
  }
  const socket = Deno.listenDatagram({ ...address, transport: "udp" });
  options.log?.(`udp io: deno (Deno.listenDatagram)${why === undefined ? "" : `: ${why}`}`);
  return socket;
}
