/**
 * One virtual-time network for tests: pure protocol machines (time passed in
 * as a number, outputs drained with `pollTransmit` and `pollTimeout`) joined
 * by simulated paths, run on one time line with no clock and no socket.
 *
 * How this works: everything that will happen is an entry in one event
 * queue, ordered by time. An endpoint is a machine at an address. After each
 * input an endpoint is given (a datagram, its timer, an action of the test)
 * the net drains its `pollTransmit()` onto the paths and asks its
 * `pollTimeout()` again; that deadline is its one timer entry, moved or
 * dropped as the answer changes. A datagram sent is judged by its path's
 * `fate` (pass, drop, duplicate, hold until the next one has gone) and, if it
 * passes, arrives `delayMs` later; an arrival is handed to the machine at the
 * address it was sent to (`handleDatagram`), or dropped if no endpoint is
 * there or the endpoint has closed.
 *
 * Endpoints may be slow, which is what the crowd tests need: `sendGapMs`
 * spaces an endpoint's datagrams (a busy CPU: the k-th of one drain leaves
 * k × gap after the first, and the endpoint is busy until the last has gone);
 * `bufferDatagrams`/`serviceMs` put a receive buffer in front of it (an
 * arrival that finds it full is an overflow, lost; the endpoint takes one
 * datagram per service time). A busy endpoint's timer waits until it is
 * free, and `wantsWake` wakes it when it becomes free (to read its stdin).
 *
 * Ties: entries at the same time run in a fixed order, so a run is exact:
 * first what endpoints do by themselves (in the order they were added; for
 * one endpoint its scheduled actions, then its timer, then its wake-up),
 * then arrivals (in the order they were sent), then buffer services. This is
 * the order the crowd simulator always had, so its seeded figures did not
 * move when it came here. The clock never goes back: a timer is due no
 * earlier than the endpoint's last input. Loss is a seeded draw
 * ({@link seededLoss}: `unitDraw` of the fault plan `pudp impair` uses), so
 * a failing seed is a reproduction.
 *
 * Bounds: {@link VirtualNet.run} stops at a virtual time (`untilMs`: nothing
 * later than it runs), after a number of steps (`maxSteps`: one step is one
 * entry run), when `stop` says so, or when nothing is left to happen, and
 * says which; no run can loop forever.
 *
 * Datagrams are not copied: a machine must not reuse the bytes of a transmit
 * while it may still be on the way.
 *
 * @example
 * ```ts
 * const net = new VirtualNet({ delayMs: 0.1 });
 * const server = net.add({ address: SERVER, machine: new ServerMachine({}, sink), timers: false });
 * const client = net.add({ address: CLIENT, machine: new ClientMachine(SERVER, {}) });
 * net.input(client, (now) => client.machine.start(now));
 * net.run({ untilMs: 10_000, stop: () => client.machine.result !== undefined });
 * ```
 *
 * @module
 */

import { unitDraw } from "../../lib/impair/fault_plan.ts";
import type { PeerAddress, Transmit } from "../../lib/runtime/transmit.ts";

/**
 * What the net drives: a pure datagram machine. PUDP's client and server
 * sessions are this as they are; a machine with another shape (the blast
 * machines' `handleDatagram(bytes, now)`, `fillData`) takes a small adapter.
 */
export interface NetMachine {
  /** A datagram arrived from `from`. */
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void;
  /** The time asked for by `pollTimeout` has come. */
  handleTimeout(now: number): void;
  /** The next datagram to send, or undefined when there is none. */
  pollTransmit(): Transmit | undefined;
  /** When the machine next needs `handleTimeout`; undefined for never. */
  pollTimeout(): number | undefined;
}

/** One datagram on its way. */
export interface Datagram {
  /** The sender's address. */
  readonly from: PeerAddress;
  /** Where it goes. */
  readonly to: PeerAddress;
  /** Its bytes (not copied). */
  readonly data: Uint8Array;
  /** When it left the sender, in ms. */
  readonly sentAt: number;
}

/**
 * What a path does with one datagram: let it through, drop it, deliver it
 * twice, or hold it back until the next datagram on the same path has been
 * let through (then it arrives right after that one; a datagram to be held
 * while another already is passes instead).
 */
export type Fate = "pass" | "drop" | "dup" | "hold";

/** One direction of a path (or every direction: the net's default). */
export interface PathOptions {
  /** One-way delay, in ms (default 0). */
  delayMs?: number;
  /** What happens to each datagram (default: all pass); called once per datagram, in send order. */
  fate?: (d: Datagram) => Fate;
}

/** The net's options: the default path and an observer. */
export interface NetOptions extends PathOptions {
  /** Told of everything that happens to a datagram (counting, tracing). */
  onEvent?: (e: NetEvent) => void;
}

/**
 * Something that happened to a datagram: `sent` (the path took it: it will
 * arrive), `lost` (the path dropped it), `unroutable` (no endpoint at its
 * address), `closed` (the endpoint there has closed), `overflow` (the
 * endpoint's receive buffer was full), `buffered` (it waits in that buffer;
 * `depth` counts it), `delivered` (handed to the machine, just before).
 */
export type NetEvent =
  | { kind: "sent" | "lost" | "unroutable"; datagram: Datagram }
  | { kind: "closed" | "overflow" | "delivered"; datagram: Datagram; endpoint: Endpoint }
  | { kind: "buffered"; datagram: Datagram; endpoint: Endpoint; depth: number };

/** How to add an endpoint. */
export interface EndpointOptions<M extends NetMachine> {
  /** Its address: datagrams sent there reach it, and what it sends comes from there. */
  address: PeerAddress;
  /** The machine. */
  machine: M;
  /** Whether its `pollTimeout`/`handleTimeout` are used (default true). */
  timers?: boolean;
  /** Its datagrams leave one per this many ms, and it is busy until the last has gone (default 0). */
  sendGapMs?: number;
  /** A receive buffer of this many datagrams; arrivals beyond it are lost (default: none, or unbounded with a service time). */
  bufferDatagrams?: number;
  /** With a buffer: the time it takes for each datagram, in ms (default 0). */
  serviceMs?: number;
  /** With a buffer, instead of `serviceMs`: after a datagram taken at `now`, when the next may be taken. */
  serviceUntil?: (now: number) => number;
  /** True once the endpoint has closed (exited): it then takes no input and has no timer. */
  closed?: () => boolean;
  /** Called after every input the machine was given, before its datagrams are drained (a driver's own work: reading stdin). */
  afterInput?: (now: number) => void;
  /** Whether the endpoint wants to be woken when it becomes free again (it then gets an input of nothing: `afterInput` and a drain). */
  wantsWake?: () => boolean;
  /** After each drain: the time of the drain and when the endpoint is free again (the last datagram gone). */
  drained?: (now: number, freeAt: number) => void;
}

/** A machine at an address on a {@link VirtualNet}. */
export interface Endpoint<M extends NetMachine = NetMachine> {
  /** Its address. */
  readonly address: PeerAddress;
  /** The machine. */
  readonly machine: M;
  /** Its place in the order endpoints were added (the tie-break between endpoints). */
  readonly index: number;
  /** When it is free again (no datagram of its last drain still to leave, the last datagram served). */
  readonly freeAt: number;
  /** Datagrams now in its receive buffer. */
  readonly buffered: number;
  /** Most datagrams its receive buffer held at once. */
  readonly peakBuffered: number;
  /** Arrivals that found its receive buffer full. */
  readonly overflow: number;
}

/** Bounds and end condition of one {@link VirtualNet.run}. */
export interface RunBounds {
  /** Nothing later than this virtual time runs, in ms (default: no limit). */
  untilMs?: number;
  /** At most this many steps (events run) in this call (default 10,000,000). */
  maxSteps?: number;
  /** Checked before every step: true ends the run. */
  stop?: () => boolean;
}

/** Why a run ended: `stop` said so, nothing left to happen, the time limit, the step limit. */
export type RunEnd = "stopped" | "idle" | "time" | "steps";

/** Counts of what happened to datagrams on the whole net. */
export interface NetStats {
  /** Datagrams sent by endpoints. */
  sent: number;
  /** Dropped by a path's fate. */
  lost: number;
  /** Arrived where no endpoint is. */
  unroutable: number;
  /** Arrived at a closed endpoint. */
  closed: number;
  /** Found a receive buffer full. */
  overflow: number;
  /** Handed to a machine. */
  delivered: number;
}

/**
 * A seeded loss: each datagram is dropped when `unitDraw(seed, flow, up,
 * n, draw) < rate`, `n` counting the datagrams this fate has judged (share one
 * fate between paths to number them together, or give each direction its
 * own). `up` tells which direction a datagram goes (default: all up).
 */
export function seededLoss(
  rate: number,
  seed: number,
  options: { flow?: number; draw?: number; up?: (d: Datagram) => boolean } = {},
): (d: Datagram) => Fate {
  const { flow = 0, draw = 0, up = () => true } = options;
  let n = 0;
  return (d) => unitDraw(seed, flow, up(d), n++, draw) < rate ? "drop" : "pass";
}

/** Whether two addresses are the same. */
export function sameAddress(a: PeerAddress, b: PeerAddress): boolean {
  return a.port === b.port && a.hostname === b.hostname;
}

const keyOf = (a: PeerAddress) => `${a.hostname}|${a.port}`;

/** Entry bands: at one instant, endpoints' own events, then arrivals, then services. */
const Band = { Endpoint: 0, Arrival: 1, Service: 2 } as const;
/** Within an endpoint's band: actions, then its timer, then its wake-up. */
const Sub = { Action: 0, Timer: 1, Wake: 2 } as const;

interface Entry {
  at: number;
  /** The tie-break at one instant: band, then endpoint index, then sub (see {@link rankOf}). */
  rank: number;
  seq: number;
  live: boolean;
  kind: "action" | "timer" | "wake" | "arrive" | "serve";
  endpoint?: Slot;
  action?: (now: number) => void;
  datagram?: Datagram;
}

interface Path {
  delayMs: number;
  fate: ((d: Datagram) => Fate) | undefined;
  held: Datagram | undefined;
}

class Slot implements Endpoint {
  freeAt = 0;
  peakBuffered = 0;
  overflow = 0;
  readonly queue: Datagram[] = [];
  head = 0;
  timer: Entry | undefined;
  wake: Entry | undefined;
  serve: Entry | undefined;
  constructor(
    readonly options: EndpointOptions<NetMachine>,
    readonly index: number,
  ) {}
  get address(): PeerAddress {
    return this.options.address;
  }
  get machine(): NetMachine {
    return this.options.machine;
  }
  get buffered(): number {
    return this.queue.length - this.head;
  }
  get hasBuffer(): boolean {
    const o = this.options;
    return o.bufferDatagrams !== undefined || o.serviceMs !== undefined ||
      o.serviceUntil !== undefined;
  }
  isClosed(): boolean {
    return this.options.closed?.() ?? false;
  }
}

/** Band, endpoint index and sub in one number, compared in that order. */
function rankOf(band: number, index: number, sub: number): number {
  return (band * 2 ** 32 + index) * 4 + sub;
}

/** Whether entry `a` runs before entry `b`. */
function before(a: Entry, b: Entry): boolean {
  if (a.at !== b.at) return a.at < b.at;
  if (a.rank !== b.rank) return a.rank < b.rank;
  return a.seq < b.seq;
}

/** A binary min-heap of entries, with cancelled entries removed lazily. */
class TimeLine {
  #heap: Entry[] = [];
  #stale = 0;

  push(e: Entry): void {
    const h = this.#heap;
    let i = h.push(e) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, h[parent])) break;
      h[i] = h[parent];
      i = parent;
    }
    h[i] = e;
  }

  cancel(e: Entry): void {
    if (!e.live) return;
    e.live = false;
    // Cancelled entries stay until popped; rebuild when they are most of the heap.
    if (++this.#stale > 1024 && this.#stale > this.#heap.length / 2) {
      const live = this.#heap.filter((x) => x.live);
      this.#heap = [];
      this.#stale = 0;
      for (const x of live) this.push(x);
    }
  }

  /** The next live entry, not taken. */
  peek(): Entry | undefined {
    while (this.#heap.length > 0 && !this.#heap[0].live) {
      this.#take();
      this.#stale--;
    }
    return this.#heap[0];
  }

  /** Takes the entry `peek` returned. */
  pop(): Entry {
    const e = this.#take();
    e.live = false;
    return e;
  }

  #take(): Entry {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= h.length) break;
        const r = l + 1;
        const c = r < h.length && before(h[r], h[l]) ? r : l;
        if (!before(h[c], last)) break;
        h[i] = h[c];
        i = c;
      }
      h[i] = last;
    }
    return top;
  }
}

/**
 * The network: endpoints, paths, one time line. See the module comment for
 * how it runs.
 */
export class VirtualNet {
  /** Virtual time, in ms: the time of the last event run. */
  now = 0;
  /** Events run so far, over all runs. */
  steps = 0;
  /** What happened to datagrams so far. */
  readonly stats: NetStats = {
    sent: 0,
    lost: 0,
    unroutable: 0,
    closed: 0,
    overflow: 0,
    delivered: 0,
  };
  #line = new TimeLine();
  #seq = 0;
  #slots: Slot[] = [];
  #byAddress = new Map<string, Slot>();
  /** The same, by address object: machines mostly send to the objects they were given. */
  #byObject = new Map<PeerAddress, Slot>();
  #default: Path;
  #paths = new Map<string, Path>();
  #onEvent: ((e: NetEvent) => void) | undefined;

  /** A net whose paths all have `options` unless {@link path} says otherwise. */
  constructor(options: NetOptions = {}) {
    this.#default = { delayMs: options.delayMs ?? 0, fate: options.fate, held: undefined };
    this.#onEvent = options.onEvent;
  }

  /**
   * Adds an endpoint. Its timer is first looked at after its first input
   * ({@link input} or {@link at}): until then it is a process not started.
   */
  add<M extends NetMachine>(options: EndpointOptions<M>): Endpoint<M> {
    const key = keyOf(options.address);
    if (this.#byAddress.has(key)) throw new Error(`address ${key} taken`);
    const slot = new Slot(options, this.#slots.length);
    this.#slots.push(slot);
    this.#byAddress.set(key, slot);
    return slot as unknown as Endpoint<M>;
  }

  /** Sets the path from `from` to `to` (one direction), instead of the default. */
  path(from: PeerAddress, to: PeerAddress, options: PathOptions): void {
    this.#paths.set(`${keyOf(from)}>${keyOf(to)}`, {
      delayMs: options.delayMs ?? 0,
      fate: options.fate,
      held: undefined,
    });
  }

  /** Gives `endpoint` an input now (`action` calls its machine), then drains it. */
  input(endpoint: Endpoint, action: (now: number) => void): void {
    this.#input(this.#slot(endpoint), action);
  }

  /** Schedules `action` as an input of `endpoint` at `time` (not before now; skipped if it has closed by then). */
  at(time: number, endpoint: Endpoint, action: (now: number) => void): void {
    const slot = this.#slot(endpoint);
    this.#line.push(
      this.#entry("action", Math.max(time, this.now), Band.Endpoint, slot, Sub.Action, {
        action,
      }),
    );
  }

  /** Runs events in order until `stop`, nothing is left, or a bound. */
  run(bounds: RunBounds = {}): RunEnd {
    const untilMs = bounds.untilMs ?? Infinity;
    const maxSteps = bounds.maxSteps ?? 10_000_000;
    for (let steps = 0;;) {
      if (bounds.stop?.()) return "stopped";
      const e = this.#line.peek();
      if (e === undefined) return "idle";
      if (e.at > untilMs) return "time";
      if (steps >= maxSteps) return "steps";
      this.#line.pop();
      const slot = e.endpoint;
      if (slot !== undefined) {
        if (e === slot.timer) slot.timer = undefined;
        if (e === slot.wake) slot.wake = undefined;
        if (e === slot.serve) slot.serve = undefined;
      }
      steps++;
      this.steps++;
      this.now = Math.max(this.now, e.at);
      this.#dispatch(e);
    }
  }

  #dispatch(e: Entry): void {
    const slot = e.endpoint;
    switch (e.kind) {
      case "action":
        if (!slot!.isClosed()) this.#input(slot!, e.action!);
        return;
      case "timer":
        if (slot!.isClosed()) this.#reschedule(slot!);
        else this.#input(slot!, (now) => slot!.machine.handleTimeout(now));
        return;
      case "wake":
        if (slot!.isClosed()) this.#reschedule(slot!);
        else this.#input(slot!, () => {});
        return;
      case "arrive":
        this.#arrive(e.datagram!);
        return;
      case "serve":
        this.#serve(slot!);
    }
  }

  #arrive(d: Datagram): void {
    let slot = this.#byObject.get(d.to);
    if (slot === undefined) {
      slot = this.#byAddress.get(keyOf(d.to));
      if (slot !== undefined && this.#byObject.size < 65_536) this.#byObject.set(d.to, slot);
    }
    if (slot === undefined) {
      this.stats.unroutable++;
      this.#onEvent?.({ kind: "unroutable", datagram: d });
    } else if (slot.isClosed()) {
      this.stats.closed++;
      this.#onEvent?.({ kind: "closed", datagram: d, endpoint: slot });
    } else if (!slot.hasBuffer) {
      this.#deliver(slot, d);
    } else if (slot.buffered >= (slot.options.bufferDatagrams ?? Infinity)) {
      slot.overflow++;
      this.stats.overflow++;
      this.#onEvent?.({ kind: "overflow", datagram: d, endpoint: slot });
    } else {
      slot.queue.push(d);
      slot.peakBuffered = Math.max(slot.peakBuffered, slot.buffered);
      this.#onEvent?.({ kind: "buffered", datagram: d, endpoint: slot, depth: slot.buffered });
      this.#scheduleService(slot);
    }
  }

  #serve(slot: Slot): void {
    const d = slot.queue[slot.head++];
    if (slot.head > 4096) {
      slot.queue.splice(0, slot.head);
      slot.head = 0;
    }
    this.#deliver(slot, d, true);
  }

  #deliver(slot: Slot, d: Datagram, served = false): void {
    this.stats.delivered++;
    this.#onEvent?.({ kind: "delivered", datagram: d, endpoint: slot });
    this.#input(slot, (now) => slot.machine.handleDatagram(d.data, d.from, now), served);
  }

  /**
   * One input: the machine's, the driver's own work, the drain, the service
   * time if it came from the buffer, the new deadlines.
   */
  #input(slot: Slot, action: (now: number) => void, served = false): void {
    const now = this.now;
    action(now);
    slot.options.afterInput?.(now);
    // The k-th datagram of a drain leaves k × gap after the first; the endpoint is busy till then.
    const gap = slot.options.sendGapMs ?? 0;
    let at = Math.max(now, slot.freeAt);
    for (let t = slot.machine.pollTransmit(); t; t = slot.machine.pollTransmit()) {
      this.#send({ from: slot.address, to: t.to, data: t.data, sentAt: at });
      at += gap;
    }
    slot.freeAt = Math.max(slot.freeAt, at);
    slot.options.drained?.(now, slot.freeAt);
    if (served) {
      const o = slot.options;
      const free = o.serviceUntil ? o.serviceUntil(now) : now + (o.serviceMs ?? 0);
      slot.freeAt = Math.max(slot.freeAt, free);
    }
    this.#reschedule(slot);
  }

  #send(d: Datagram): void {
    this.stats.sent++;
    const path = this.#paths.size === 0
      ? this.#default
      : this.#paths.get(`${keyOf(d.from)}>${keyOf(d.to)}`) ?? this.#default;
    const fate = path.fate?.(d) ?? "pass";
    if (fate === "drop") {
      this.stats.lost++;
      this.#onEvent?.({ kind: "lost", datagram: d });
      return;
    }
    this.#onEvent?.({ kind: "sent", datagram: d });
    if (fate === "hold" && path.held === undefined) {
      path.held = d;
      return;
    }
    const arrive = d.sentAt + path.delayMs;
    this.#line.push(this.#entry("arrive", arrive, Band.Arrival, undefined, 0, { datagram: d }));
    if (fate === "dup") {
      this.#line.push(this.#entry("arrive", arrive, Band.Arrival, undefined, 0, { datagram: d }));
    }
    const held = path.held;
    path.held = undefined;
    if (held) {
      this.#line.push(
        this.#entry("arrive", arrive, Band.Arrival, undefined, 0, { datagram: held }),
      );
    }
  }

  /** Moves the endpoint's timer, wake-up and service to what its state says now. */
  #reschedule(slot: Slot): void {
    const closed = slot.isClosed();
    const o = slot.options;
    let timerAt: number | undefined;
    if (!closed && o.timers !== false) {
      const due = slot.machine.pollTimeout();
      if (due !== undefined) timerAt = Math.max(due, slot.freeAt);
    }
    slot.timer = this.#move(slot.timer, timerAt, "timer", slot, Sub.Timer);
    const wake = !closed && slot.freeAt > this.now && (o.wantsWake?.() ?? false);
    slot.wake = this.#move(slot.wake, wake ? slot.freeAt : undefined, "wake", slot, Sub.Wake);
    this.#scheduleService(slot);
  }

  #scheduleService(slot: Slot): void {
    const at = slot.buffered > 0 ? Math.max(slot.freeAt, this.now) : undefined;
    slot.serve = this.#move(slot.serve, at, "serve", slot, 0);
  }

  /** Keeps `old` if it is already at `at`; otherwise cancels it and schedules anew. */
  #move(
    old: Entry | undefined,
    at: number | undefined,
    kind: "timer" | "wake" | "serve",
    slot: Slot,
    sub: number,
  ): Entry | undefined {
    if (old !== undefined && old.at === at) return old;
    if (old !== undefined) this.#line.cancel(old);
    if (at === undefined) return undefined;
    const band = kind === "serve" ? Band.Service : Band.Endpoint;
    const e = this.#entry(kind, at, band, slot, sub, {});
    this.#line.push(e);
    return e;
  }

  #entry(
    kind: Entry["kind"],
    at: number,
    band: number,
    slot: Slot | undefined,
    sub: number,
    more: Pick<Entry, "action" | "datagram">,
  ): Entry {
    return {
      at,
      rank: rankOf(band, slot?.index ?? 0, sub),
      seq: this.#seq++,
      live: true,
      kind,
      endpoint: slot,
      action: more.action,
      datagram: more.datagram,
    };
  }

  #slot(endpoint: Endpoint): Slot {
    const slot = this.#slots[endpoint.index];
    if (slot !== endpoint) throw new Error("not an endpoint of this net");
    return slot;
  }
}
