/**
 * The batched UDP socket: pudp's own socket, opened through `Deno.dlopen` of
 * libc, on 64-bit Linux only. All of pudp's pointer code is in this file.
 *
 * How it works:
 * - **Receiving** drains the socket with `recvmmsg(MSG_DONTWAIT)` into 64
 *   preallocated slots until `EAGAIN`, hands each datagram to the handler
 *   (a view into its slot), sends the replies the batch produced with one
 *   `sendmmsg`, then `await`s a `nonblocking` `poll` (run on a thread by
 *   Deno) with a bounded timeout. No call blocks the main thread; an idle
 *   socket costs one wake-up per timeout. A busy socket yields to timers
 *   and other I/O every few full batches with an immediate (`setImmediate`:
 *   a turn of the event loop, about 5 µs), not a `poll` with timeout 0,
 *   whose hop to a thread costs about 100 µs.
 * - **Sending** copies each datagram into a slot at once (the caller may
 *   reuse its buffer); the queue goes out in one `sendmmsg` when it is full,
 *   at the end of the current turn (a microtask) or on `flush()` (which
 *   then yields a turn of the event loop, as receiving does). Sends
 *   leave in the order they were queued. `EAGAIN` parks the queue (and any
 *   overflow) until a `poll` says the socket is writable.
 * - **Closing** never closes the descriptor under a pending `poll`: an
 *   eventfd wakes the poll, and the descriptor is closed once every poll has
 *   returned.
 * - **Buffers** handed to libc live in fields of the socket for its whole
 *   life, in plain (not resizable) ArrayBuffers. `errno` is read through
 *   `__errno_location` right after the synchronous call that failed.
 * - The struct layouts (`msghdr`, `mmsghdr`, `iovec`, `sockaddr_in6`) are
 *   those of 64-bit Linux, glibc and musl alike; {@link libcUdpSupport} says
 *   why the socket cannot be used elsewhere.
 *
 * @module
 */

import type { PeerAddress } from "../runtime/transmit.ts";
import { setImmediate } from "node:timers";

// ------------------------------------------------------------ constants (Linux)

const AF_INET = 2;
const AF_INET6 = 10;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_SNDBUFFORCE = 32;
const SO_RCVBUFFORCE = 33;
const MSG_TRUNC = 0x20;
const MSG_DONTWAIT = 0x40;
const POLLIN = 1;
const POLLOUT = 4;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const EINTR = 4;
const EAGAIN = 11;

/** errno numbers of Linux and their names, for one-line messages. */
const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  4: "EINTR",
  9: "EBADF",
  11: "EAGAIN",
  12: "ENOMEM",
  13: "EACCES",
  14: "EFAULT",
  22: "EINVAL",
  23: "ENFILE",
  24: "EMFILE",
  90: "EMSGSIZE",
  92: "ENOPROTOOPT",
  93: "EPROTONOSUPPORT",
  97: "EAFNOSUPPORT",
  98: "EADDRINUSE",
  99: "EADDRNOTAVAIL",
  100: "ENETDOWN",
  101: "ENETUNREACH",
  104: "ECONNRESET",
  105: "ENOBUFS",
  111: "ECONNREFUSED",
  113: "EHOSTUNREACH",
};

/** The name of Linux errno `n` (`EADDRINUSE`), or `errno N`. */
export function errnoName(n: number): string {
  return ERRNO_NAMES[n] ?? `errno ${n}`;
}

/** Datagrams per `recvmmsg` / `sendmmsg`. */
export const BATCH = 64;
/** Bytes per slot: the largest UDP datagram fits. */
const SLOT = 65_536;
/** The receive and send buffers asked for. */
export const SOCKET_BUFFER = 4 * 1024 * 1024;
/** Longest wait of one `poll` (ms): bounds how long a close waits. */
const POLL_MS = 100;
/** Full batches received in a row before the loop lets timers and other I/O run. */
const BATCHES_PER_TURN = 8;

const MMSGHDR = 64; // struct mmsghdr: msghdr (56) + msg_len (4) + padding
const IOVEC = 16;
const NAME = 28; // sockaddr_in6, the larger of the two
const SOCKADDR_IN = 16;

// ------------------------------------------------------------ errors

/**
 * A failed libc call: its message is Deno's for the same error
 * (`Address already in use (os error 98)`), so both paths say the same;
 * `code` is the errno's name and `call` the function.
 */
export interface LibcError extends Error {
  /** The errno's name (`EADDRINUSE`). */
  code: string;
  /** The errno. */
  errno: number;
  /** The libc function that failed. */
  call: string;
}

/** Deno's error class for an errno, so `instanceof Deno.errors.X` works on both paths. */
function errorClass(errno: number): new (message: string) => Error {
  switch (errno) {
    case 98:
      return Deno.errors.AddrInUse;
    case 99:
      return Deno.errors.AddrNotAvailable;
    case 111:
      return Deno.errors.ConnectionRefused;
    case 104:
      return Deno.errors.ConnectionReset;
    case 9:
      return Deno.errors.BadResource;
    case 1:
    case 13:
      return Deno.errors.PermissionDenied;
    default:
      return Error;
  }
}

// ------------------------------------------------------------ addresses

/** The 4 bytes of an IPv4 literal, or undefined. */
function parseIPv4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** The 16 bytes of an IPv6 literal (a `%zone` is ignored), or undefined. */
function parseIPv6(text: string): number[] | undefined {
  let s = text;
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  if (!s.includes(":")) return undefined;
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const words = part.split(":");
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (i === words.length - 1 && w.includes(".")) {
        const v4 = parseIPv4(w);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(w)) return undefined;
        out.push(parseInt(w, 16));
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  let all: number[];
  if (halves.length === 2) {
    if (head.length + tail.length > 7) return undefined;
    all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  } else {
    if (head.length !== 8) return undefined;
    all = head;
  }
  const bytes: number[] = [];
  for (const g of all) bytes.push(g >> 8, g & 0xff);
  return bytes;
}

/** Formats 16 bytes as Rust (and so Deno) does: RFC 5952, `::ffff:a.b.c.d` for mapped IPv4. */
export function formatIPv6(b: Uint8Array): string {
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((b[i] << 8) | b[i + 1]);
  let bestAt = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) [bestAt, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (a: number[]) => a.map((x) => x.toString(16)).join(":");
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}

/**
 * Writes `address` as a `sockaddr_in` (for an IPv4 socket) or `sockaddr_in6`
 * (an IPv6 socket: IPv4 becomes `::ffff:a.b.c.d`) at `view`'s offset `at`;
 * returns its length, or 0 when the hostname is not an IP literal of a family
 * the socket can reach.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeSockaddr, encodeSockaddr } from "./libc_udp.ts";
 * const buf = new Uint8Array(28);
 * const view = new DataView(buf.buffer);
 * assert.equal(encodeSockaddr(view, 0, { hostname: "127.0.0.1", port: 9 }, false), 16);
 * assert.deepEqual(decodeSockaddr(buf, view, 0), { transport: "udp", hostname: "127.0.0.1", port: 9 });
 * assert.equal(encodeSockaddr(view, 0, { hostname: "10.0.0.1", port: 80 }, true), 28);
 * assert.equal(decodeSockaddr(buf, view, 0).hostname, "::ffff:10.0.0.1");
 * assert.equal(encodeSockaddr(view, 0, { hostname: "::1", port: 1 }, false), 0);
 * ```
 */
export function encodeSockaddr(
  view: DataView,
  at: number,
  address: PeerAddress,
  v6Socket: boolean,
): number {
  const v4 = parseIPv4(address.hostname);
  if (v4 && !v6Socket) {
    view.setUint16(at, AF_INET, true);
    view.setUint16(at + 2, address.port, false);
    for (let i = 0; i < 4; i++) view.setUint8(at + 4 + i, v4[i]);
    for (let i = 8; i < 16; i++) view.setUint8(at + i, 0);
    return SOCKADDR_IN;
  }
  if (!v6Socket) return 0;
  const v6 = v4 ? [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4] : parseIPv6(address.hostname);
  if (!v6) return 0;
  view.setUint16(at, AF_INET6, true);
  view.setUint16(at + 2, address.port, false);
  view.setUint32(at + 4, 0, true);
  for (let i = 0; i < 16; i++) view.setUint8(at + 8 + i, v6[i]);
  view.setUint32(at + 24, 0, true);
  return NAME;
}

/** Reads the `sockaddr_in` or `sockaddr_in6` at `at` (see {@link encodeSockaddr}). */
export function decodeSockaddr(bytes: Uint8Array, view: DataView, at: number): Deno.NetAddr {
  const family = view.getUint16(at, true);
  const port = view.getUint16(at + 2, false);
  if (family === AF_INET) {
    return {
      transport: "udp",
      hostname: `${bytes[at + 4]}.${bytes[at + 5]}.${bytes[at + 6]}.${bytes[at + 7]}`,
      port,
    };
  }
  return {
    transport: "udp",
    hostname: formatIPv6(bytes.subarray(at + 8, at + 24)),
    port,
  };
}

// ------------------------------------------------------------ libc

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "pointer"], result: "i32" },
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let libc: { symbols: Libc; errno: Deno.UnsafePointerView } | undefined;
let libcError: string | undefined;

/**
 * Why the batched socket cannot be used here, or undefined when it can: not
 * 64-bit Linux, no `--allow-ffi`, or no libc to open. Checked once.
 */
export function libcUdpSupport(): string | undefined {
  if (Deno.build.os !== "linux") return "not Linux";
  if (Deno.build.arch !== "x86_64" && Deno.build.arch !== "aarch64") {
    return `not x86_64 or aarch64 (${Deno.build.arch})`;
  }
  if (Deno.permissions.querySync({ name: "ffi" }).state !== "granted") {
    return "no --allow-ffi";
  }
  if (libc) return undefined;
  if (libcError !== undefined) return libcError;
  const names = [
    "libc.so.6",
    `libc.musl-${Deno.build.arch}.so.1`,
    `/lib/ld-musl-${Deno.build.arch}.so.1`,
    "libc.so",
  ];
  const failures: string[] = [];
  for (const name of names) {
    try {
      const lib = Deno.dlopen(name, SYMBOLS);
      const at = lib.symbols.__errno_location();
      if (at === null) throw new Error("__errno_location returned NULL");
      libc = { symbols: lib.symbols, errno: new Deno.UnsafePointerView(at) };
      return undefined;
    } catch (e) {
      failures.push(e instanceof Error ? e.message.split("\n")[0] : String(e));
    }
  }
  libcError = `cannot open libc (${failures[0]})`;
  return libcError;
}

/** The errno of the synchronous call that just failed, as an error of Deno's class. */
function lastError(call: string): LibcError {
  const n = libc!.errno.getInt32(0);
  return errnoError(call, n);
}

function errnoError(call: string, n: number): LibcError {
  const text = libc!.symbols.strerror(n);
  const msg = text === null ? `error ${n}` : Deno.UnsafePointerView.getCString(text);
  const e = new (errorClass(n))(`${msg} (os error ${n})`) as LibcError;
  e.code = errnoName(n);
  e.errno = n;
  e.call = call;
  return e;
}

// ------------------------------------------------------------ the socket

/** The socket options a batched socket is opened with. */
export interface LibcUdpOptions {
  /** Bytes per receive slot (default 65,536: every datagram fits). */
  slotSize?: number;
  /** Called with each received datagram that did not fit its slot (it is dropped). */
  onTruncated?: (from: Deno.NetAddr, size: number) => void;
}

/** What a send that failed is reported to: the error and the tag given to `queue`. */
export type SendFailed<T> = (error: unknown, tag: T) => void;

/** One queued datagram that waits for room (the slots are full and the socket is not writable). */
interface Overflow {
  data: Uint8Array;
  to: PeerAddress;
  onError: SendFailed<unknown> | undefined;
  tag: unknown;
}

/** A `poll` in progress on its own `pollfd` pair. */
class PollSlot {
  readonly fds = new Uint8Array(16);
  readonly view = new DataView(this.fds.buffer);
  pending: Promise<number> | undefined;
  constructor(fd: number, efd: number, events: number) {
    this.view.setInt32(0, fd, true);
    this.view.setInt16(4, events, true);
    this.view.setInt32(8, efd, true);
    this.view.setInt16(12, POLLIN, true);
  }
}

/**
 * A UDP socket on libc with batched receives and sends (see the module
 * comment). Open it with {@link LibcUdpSocket.open}; it has the small
 * interface drivers use (`addr`, `send`, `receive`, `close`) and the batched
 * calls (`queue`, `flush`, `receiveBatches`).
 */
export class LibcUdpSocket {
  /** The address the socket is bound to. */
  readonly addr: Deno.NetAddr;
  /** The receive buffer the kernel gave (bytes, as `getsockopt` reports it). */
  readonly receiveBuffer: number;
  /** The send buffer the kernel gave (bytes, as `getsockopt` reports it). */
  readonly sendBuffer: number;
  /** Whether the sizes were forced past the system's maximum (`SO_RCVBUFFORCE`). */
  readonly forced: boolean;
  /** Datagrams per batch. */
  readonly batchSize: number = BATCH;
  /** Received datagrams dropped because they did not fit a slot. */
  truncated = 0;

  /** This socket, as the batched calls of the `UdpSocket` interface. */
  get batched(): LibcUdpSocket {
    return this;
  }

  readonly #fd: number;
  #fdOpen = true;
  readonly #efd: number;
  readonly #v6: boolean;
  readonly #slot: number;
  readonly #onTruncated: ((from: Deno.NetAddr, size: number) => void) | undefined;

  // Receive side: every buffer lives as long as the socket.
  readonly #rxData: Uint8Array;
  readonly #rxNames = new Uint8Array(BATCH * NAME);
  readonly #rxNamesView = new DataView(this.#rxNames.buffer);
  readonly #rxIov = new Uint8Array(BATCH * IOVEC);
  readonly #rxHdrs = new Uint8Array(BATCH * MMSGHDR);
  readonly #rxHdrsView = new DataView(this.#rxHdrs.buffer);
  readonly #rxPoll: PollSlot;

  // Send side.
  readonly #txData = new Uint8Array(BATCH * SLOT);
  readonly #txNames = new Uint8Array(BATCH * NAME);
  readonly #txNamesView = new DataView(this.#txNames.buffer);
  readonly #txIov = new Uint8Array(BATCH * IOVEC);
  readonly #txIovView = new DataView(this.#txIov.buffer);
  readonly #txHdrs = new Uint8Array(BATCH * MMSGHDR);
  readonly #txHdrsView = new DataView(this.#txHdrs.buffer);
  readonly #txPoll: PollSlot;
  readonly #txErrors: (SendFailed<unknown> | undefined)[] = new Array(BATCH).fill(undefined);
  readonly #txTags: unknown[] = new Array(BATCH).fill(undefined);
  /** First unsent slot and the number queued from there. */
  #txHead = 0;
  #txCount = 0;
  #overflow: Overflow[] = [];
  #flushScheduled = false;
  #waitingWritable: Promise<void> | undefined;
  #drainWaiters: (() => void)[] = [];

  readonly #efdValue = new Uint8Array(8);
  /** Peers by address key, so a busy peer costs no object per datagram. */
  readonly #peers = new Map<number | string, Deno.NetAddr>();
  /** sockaddr bytes by hostname. */
  readonly #names = new Map<string, Uint8Array>();

  #closing = false;
  #closed = Promise.withResolvers<void>();
  #receiving = false;
  #queued: [Uint8Array, Deno.NetAddr][] = [];
  #receiveWaiter: PromiseWithResolvers<void> | undefined;
  #receiveError: { e: unknown } | undefined;

  private constructor(
    fd: number,
    efd: number,
    v6: boolean,
    addr: Deno.NetAddr,
    buffers: { receive: number; send: number; forced: boolean },
    options: LibcUdpOptions,
  ) {
    this.#fd = fd;
    this.#efd = efd;
    this.#v6 = v6;
    this.addr = addr;
    this.receiveBuffer = buffers.receive;
    this.sendBuffer = buffers.send;
    this.forced = buffers.forced;
    this.#slot = options.slotSize ?? SLOT;
    this.#onTruncated = options.onTruncated;
    this.#rxData = new Uint8Array(BATCH * this.#slot);
    this.#rxPoll = new PollSlot(fd, efd, POLLIN);
    this.#txPoll = new PollSlot(fd, efd, POLLOUT);
    new DataView(this.#efdValue.buffer).setBigUint64(0, 1n, true);
    this.#prepare(this.#rxData, this.#slot, this.#rxNames, this.#rxIov, this.#rxHdrs);
    this.#prepare(this.#txData, SLOT, this.#txNames, this.#txIov, this.#txHdrs);
  }

  /** Points each header at its name and iovec, each iovec at its slot. */
  #prepare(data: Uint8Array, slot: number, names: Uint8Array, iov: Uint8Array, hdrs: Uint8Array) {
    const dataAt = address(data), namesAt = address(names), iovAt = address(iov);
    const iv = new DataView(iov.buffer), hv = new DataView(hdrs.buffer);
    for (let i = 0; i < BATCH; i++) {
      iv.setBigUint64(i * IOVEC, dataAt + BigInt(i * slot), true);
      iv.setBigUint64(i * IOVEC + 8, BigInt(slot), true);
      const h = i * MMSGHDR;
      hv.setBigUint64(h, namesAt + BigInt(i * NAME), true); // msg_name
      hv.setUint32(h + 8, NAME, true); // msg_namelen
      hv.setBigUint64(h + 16, iovAt + BigInt(i * IOVEC), true); // msg_iov
      hv.setBigUint64(h + 24, 1n, true); // msg_iovlen
    }
  }

  /**
   * Opens and binds a socket on `address` (an IP literal; port 0 picks one),
   * with 4 MiB buffers or as large as the system allows. Throws the libc
   * error (Deno's message and class) or an Error when
   * {@link libcUdpSupport} says no.
   */
  static open(address: PeerAddress, options: LibcUdpOptions = {}): LibcUdpSocket {
    const why = libcUdpSupport();
    if (why !== undefined) throw new Error(why);
    const c = libc!.symbols;
    const v6 = parseIPv4(address.hostname) === undefined;
    const name = new Uint8Array(NAME);
    const nameView = new DataView(name.buffer);
    const length = encodeSockaddr(nameView, 0, address, v6);
    if (length === 0) throw new Error(`not an IP address: ${address.hostname}`);
    const fd = c.socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw lastError("socket");
    let efd = -1;
    try {
      if (c.bind(fd, name, length) < 0) throw lastError("bind");
      const buffers = setBuffers(fd);
      const lenBuf = new Uint32Array([NAME]);
      if (c.getsockname(fd, name, new Uint8Array(lenBuf.buffer)) < 0) {
        throw lastError("getsockname");
      }
      efd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (efd < 0) throw lastError("eventfd");
      return new LibcUdpSocket(fd, efd, v6, decodeSockaddr(name, nameView, 0), buffers, options);
    } catch (e) {
      c.close(fd);
      if (efd >= 0) c.close(efd);
      throw e;
    }
  }

  // ---------------------------------------------------------- sending

  /**
   * Queues a copy of `data` for `to` (the caller may reuse `data` at once).
   * The queue goes out in one `sendmmsg` when full, at the end of this turn,
   * or on {@link flush}. A send that fails calls `onError(error, tag)`.
   */
  queue<T>(data: Uint8Array, to: PeerAddress, onError?: SendFailed<T>, tag?: T): void {
    if (this.#closing) {
      onError?.(new Deno.errors.BadResource("Bad resource ID"), tag as T);
      return;
    }
    if (this.#txHead + this.#txCount === BATCH) {
      if (this.#waitingWritable === undefined) this.#sendQueued();
      if (this.#txHead + this.#txCount === BATCH) {
        this.#overflow.push({
          data: data.slice(),
          to,
          onError: onError as SendFailed<unknown>,
          tag,
        });
        return;
      }
    }
    if (data.length > SLOT) {
      onError?.(errnoError("sendmmsg", 90), tag as T);
      return;
    }
    const i = this.#txHead + this.#txCount;
    const nameLength = this.#name(i, to);
    if (nameLength === 0) {
      const e = this.#v6 || parseIPv6(to.hostname) === undefined
        ? new Error(`invalid IP address: ${to.hostname}`)
        : errnoError("sendmmsg", 97);
      onError?.(e, tag as T);
      return;
    }
    this.#txData.set(data, i * SLOT);
    this.#txIovView.setBigUint64(i * IOVEC + 8, BigInt(data.length), true);
    this.#txHdrsView.setUint32(i * MMSGHDR + 8, nameLength, true);
    this.#txErrors[i] = onError as SendFailed<unknown> | undefined;
    this.#txTags[i] = tag;
    this.#txCount++;
    if (this.#txHead + this.#txCount === BATCH) {
      if (this.#waitingWritable === undefined) this.#sendQueued();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#endOfTurn);
    }
  }

  readonly #endOfTurn = (): void => {
    this.#flushScheduled = false;
    if (this.#waitingWritable === undefined) this.#sendQueued();
  };

  /** Writes `to` into name slot `i`; its length (0: not an address this socket reaches). */
  #name(i: number, to: PeerAddress): number {
    let cached = this.#names.get(to.hostname);
    if (cached === undefined) {
      const b = new Uint8Array(NAME);
      if (
        encodeSockaddr(new DataView(b.buffer), 0, { hostname: to.hostname, port: 0 }, this.#v6) ===
          0
      ) {
        return 0;
      }
      if (this.#names.size >= 1024) this.#names.clear();
      this.#names.set(to.hostname, b);
      cached = b;
    }
    this.#txNames.set(cached, i * NAME);
    this.#txNamesView.setUint16(i * NAME + 2, to.port, false);
    return this.#v6 ? NAME : SOCKADDR_IN;
  }

  /**
   * Sends the queued datagrams now (synchronous `sendmmsg` calls). On
   * `EAGAIN` the rest waits for a `poll` that says the socket is writable.
   */
  #sendQueued(): void {
    const c = libc!.symbols;
    while (this.#txCount > 0) {
      const at = this.#txHead;
      const n = c.sendmmsg(
        this.#fd,
        this.#txHdrs.subarray(at * MMSGHDR),
        this.#txCount,
        MSG_DONTWAIT,
      );
      if (n > 0) {
        this.#release(at, n);
        continue;
      }
      const errno = libc!.errno.getInt32(0);
      if (errno === EINTR) continue;
      if (errno === EAGAIN) {
        this.#waitWritable();
        return;
      }
      // The first datagram failed: report it and go on with the next.
      const onError = this.#txErrors[at], tag = this.#txTags[at];
      this.#release(at, 1);
      onError?.(errnoError("sendmmsg", errno), tag);
    }
    this.#txHead = 0;
    this.#refill();
  }

  #release(at: number, n: number): void {
    for (let i = at; i < at + n; i++) {
      this.#txErrors[i] = undefined;
      this.#txTags[i] = undefined;
    }
    this.#txHead += n;
    this.#txCount -= n;
  }

  /** Moves waiting overflow into the (empty) slots, or wakes the drain waiters. */
  #refill(): void {
    if (this.#overflow.length > 0) {
      const waiting = this.#overflow;
      this.#overflow = [];
      for (const o of waiting) this.queue(o.data, o.to, o.onError, o.tag);
      return;
    }
    if (this.#txCount === 0 && this.#drainWaiters.length > 0) {
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  #waitWritable(): void {
    this.#waitingWritable = (async () => {
      while (!this.#closing) {
        const r = await this.#poll(this.#txPoll, POLL_MS);
        if (r > 0 && (this.#txPoll.view.getInt16(6, true) & ~POLLIN) !== 0) break;
      }
    })().finally(() => {
      this.#waitingWritable = undefined;
      if (this.#closing) this.#failQueued();
      else this.#sendQueued();
    });
  }

  /** On close: what is still queued fails as on a closed Deno socket. */
  #failQueued(): void {
    const gone = () => new Deno.errors.BadResource("Bad resource ID");
    for (let i = this.#txHead; i < this.#txHead + this.#txCount; i++) {
      this.#txErrors[i]?.(gone(), this.#txTags[i]);
    }
    this.#release(this.#txHead, this.#txCount);
    this.#txHead = 0;
    for (const o of this.#overflow) o.onError?.(gone(), o.tag);
    this.#overflow = [];
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }

  /**
   * Sends what is queued, waits while the socket is not writable (a full
   * kernel buffer), then yields one turn of the event loop, letting timers
   * and other I/O run: call it after a batch of {@link queue} calls.
   * Resolves once everything queued so far has gone to the kernel (or
   * failed).
   */
  async flush(): Promise<void> {
    if (this.#waitingWritable === undefined) this.#sendQueued();
    if (this.#txCount > 0 || this.#overflow.length > 0) {
      const { promise, resolve } = Promise.withResolvers<void>();
      this.#drainWaiters.push(resolve);
      await promise;
    }
    // The yield: an immediate (about 5 µs) lets timers and I/O run as a
    // `poll` with timeout 0 did, without its hop to a thread (about 100 µs,
    // once a batch). `EAGAIN` already waits above for writability.
    if (!this.#closing) await new Promise<void>(yieldTurn);
  }

  /** Sends one datagram (a copy of `data`): resolves with its length once it went out. */
  send(data: Uint8Array, to: PeerAddress): Promise<number> {
    const { promise, resolve, reject } = Promise.withResolvers<number>();
    let failed = false;
    this.queue(data, to, (e) => {
      failed = true;
      reject(e);
    });
    if (failed) return promise;
    if (this.#txCount === 0 && this.#overflow.length === 0) {
      resolve(data.length);
    } else {
      this.#drainWaiters.push(() => resolve(data.length));
    }
    return promise;
  }

  // ---------------------------------------------------------- receiving

  /** One `poll` on `slot`, tracked so `close` can wait for it. */
  async #poll(slot: PollSlot, timeoutMs: number): Promise<number> {
    while (slot.pending) await slot.pending;
    if (this.#closing) return 0;
    slot.view.setInt16(6, 0, true);
    slot.view.setInt16(14, 0, true);
    slot.pending = libc!.symbols.poll(slot.fds, 2n, timeoutMs);
    try {
      return await slot.pending;
    } finally {
      slot.pending = undefined;
      if (this.#closing) this.#finishClose();
    }
  }

  /**
   * Receives until the socket is closed: each datagram goes to `handle` as a
   * view into its slot (copy what you keep) with its sender; a promise it
   * returns is awaited before the next (backpressure). After each batch the
   * replies queued meanwhile go out in one `sendmmsg`. A receive error
   * (other than the close) goes to `onError` and ends the loop, as on
   * Deno's socket.
   */
  async receiveBatches(
    handle: (bytes: Uint8Array, from: Deno.NetAddr) => void | Promise<void>,
    onError: (e: unknown) => void,
  ): Promise<void> {
    if (this.#receiving) throw new Error("the socket is being received from already");
    this.#receiving = true;
    const c = libc!.symbols;
    const hv = this.#rxHdrsView;
    let full = 0;
    try {
      while (!this.#closing) {
        for (let i = 0; i < BATCH; i++) hv.setUint32(i * MMSGHDR + 8, NAME, true);
        const n = c.recvmmsg(this.#fd, this.#rxHdrs, BATCH, MSG_DONTWAIT, null);
        if (n < 0) {
          const errno = libc!.errno.getInt32(0);
          if (errno === EINTR) continue;
          if (errno !== EAGAIN) {
            onError(errnoError("recvmmsg", errno));
            return;
          }
          full = 0;
          await this.#poll(this.#rxPoll, POLL_MS);
          continue;
        }
        for (let i = 0; i < n && !this.#closing; i++) {
          const h = i * MMSGHDR;
          const length = hv.getUint32(h + 56, true);
          const from = this.#peer(i);
          if ((hv.getInt32(h + 48, true) & MSG_TRUNC) !== 0) {
            this.truncated++;
            this.#onTruncated?.(from, length);
            continue;
          }
          const at = i * this.#slot;
          const wait = handle(this.#rxData.subarray(at, at + length), from);
          if (wait) await wait;
        }
        if (this.#waitingWritable === undefined && this.#txCount > 0) this.#sendQueued();
        if (n === BATCH && ++full >= BATCHES_PER_TURN) {
          full = 0;
          await new Promise<void>(yieldTurn); // let timers and other I/O run
        }
      }
    } finally {
      this.#receiving = false;
    }
  }

  /** The sender of received datagram `i`, the same object for the same address. */
  #peer(i: number): Deno.NetAddr {
    const at = i * NAME;
    const v = this.#rxNamesView, b = this.#rxNames;
    const port = v.getUint16(at + 2, false);
    let key: number | string;
    if (v.getUint16(at, true) === AF_INET) {
      key = v.getUint32(at + 4, false) * 65536 + port;
    } else if (
      v.getUint32(at + 8, true) === 0 && v.getUint32(at + 12, true) === 0 &&
      v.getUint32(at + 16, false) === 0xffff
    ) {
      key = -(v.getUint32(at + 20, false) * 65536 + port) - 1;
    } else {
      key = `${formatIPv6(b.subarray(at + 8, at + 24))} ${port}`;
    }
    let peer = this.#peers.get(key);
    if (peer === undefined) {
      peer = Object.freeze(decodeSockaddr(b, v, at));
      if (this.#peers.size >= 4096) this.#peers.clear();
      this.#peers.set(key, peer);
    }
    return peer;
  }

  /**
   * One datagram, as `Deno.DatagramConn.receive`: copied into `buf` (or a
   * new buffer). Served from the batch loop, which it starts.
   */
  async receive(buf?: Uint8Array): Promise<[Uint8Array, Deno.NetAddr]> {
    if (!this.#receiving && !this.#closing && this.#receiveError === undefined) {
      this.receiveBatches((bytes, from) => {
        this.#queued.push([bytes.slice(), from]);
        this.#receiveWaiter?.resolve();
        if (this.#queued.length < BATCH) return undefined;
        this.#receiveWaiter = Promise.withResolvers<void>();
        return this.#receiveWaiter.promise;
      }, (e) => {
        this.#receiveError = { e };
      }).finally(() => this.#receiveWaiter?.resolve());
    }
    for (;;) {
      const next = this.#queued.shift();
      if (next) {
        this.#receiveWaiter?.resolve();
        if (!buf) return next;
        const n = Math.min(buf.length, next[0].length);
        buf.set(next[0].subarray(0, n));
        return [buf.subarray(0, n), next[1]];
      }
      if (this.#receiveError) {
        const { e } = this.#receiveError;
        this.#receiveError = undefined;
        throw e;
      }
      if (this.#closing) throw new Deno.errors.BadResource("Bad resource ID");
      this.#receiveWaiter = Promise.withResolvers<void>();
      await this.#receiveWaiter.promise;
    }
  }

  // ---------------------------------------------------------- closing

  /**
   * Closes the socket: what is queued is sent first (or fails), a pending
   * poll is woken, and the descriptors are closed once no poll runs
   * ({@link closed} then resolves).
   */
  close(): void {
    if (this.#closing) return;
    if (this.#waitingWritable === undefined && this.#txCount > 0) this.#sendQueued();
    this.#closing = true;
    this.#receiveWaiter?.resolve();
    libc!.symbols.write(this.#efd, this.#efdValue, 8n);
    this.#finishClose();
  }

  /** Resolves once the descriptors are closed. */
  get closed(): Promise<void> {
    return this.#closed.promise;
  }

  #finishClose(): void {
    if (this.#rxPoll.pending || this.#txPoll.pending || !this.#fdOpen) return;
    if (this.#waitingWritable === undefined) this.#failQueued();
    const c = libc!.symbols;
    c.close(this.#fd);
    c.close(this.#efd);
    this.#fdOpen = false;
    this.#closed.resolve();
  }
}

/** Resolves `resolve` after the event loop's next turn (timers and I/O included). */
function yieldTurn(resolve: () => void): void {
  setImmediate(resolve);
}

/** The address of a buffer's first byte, as a number libc can be given inside a struct. */
function address(buf: Uint8Array): bigint {
  const p = Deno.UnsafePointer.of(buf);
  return BigInt(Deno.UnsafePointer.value(p));
}

/**
 * Sets SO_RCVBUF and SO_SNDBUF to {@link SOCKET_BUFFER}: forced past the
 * system's maximum when allowed (root), else as large as the system allows.
 */
function setBuffers(fd: number): { receive: number; send: number; forced: boolean } {
  const c = libc!.symbols;
  const value = new Uint8Array(new Int32Array([SOCKET_BUFFER]).buffer);
  let forced = true;
  for (const [force, plain] of [[SO_RCVBUFFORCE, SO_RCVBUF], [SO_SNDBUFFORCE, SO_SNDBUF]]) {
    if (c.setsockopt(fd, SOL_SOCKET, force, value, 4) < 0) {
      forced = false;
      c.setsockopt(fd, SOL_SOCKET, plain, value, 4); // capped at rmem_max / wmem_max
    }
  }
  const read = (option: number) => {
    const out = new Int32Array(1);
    const len = new Uint32Array([4]);
    c.getsockopt(
      fd,
      SOL_SOCKET,
      option,
      new Uint8Array(out.buffer),
      new Uint8Array(len.buffer),
    );
    return out[0];
  };
  return { receive: read(SO_RCVBUF), send: read(SO_SNDBUF), forced };
}
