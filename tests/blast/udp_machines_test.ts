/**
 * The UDP client and server machines joined by the virtual net
 * (tests/helpers/virtual_net.ts) in virtual time: its paths drop, copy or
 * hold back (until the next datagram has gone) what a fault function says,
 * and the client's report must count exactly that.
 */
import assert from "node:assert/strict";
import type { BlastServerEvent } from "../../lib/blast/events.ts";
import {
  type BlastClientEvent,
  BlastUdpClient,
  type ClientFinish,
  type UdpClientOptions,
} from "../../lib/blast/udp_client_machine.ts";
import { BlastUdpServer } from "../../lib/blast/udp_server_machine.ts";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  type Request,
  SegmentType,
  type SegmentTypeCode,
  type TransferRequest,
} from "../../lib/blast/wire.ts";
import type { PeerAddress, Transmit } from "../../lib/runtime/transmit.ts";
import { type Datagram, type Fate, type NetMachine, VirtualNet } from "../helpers/virtual_net.ts";

const pure = { permissions: "none" } as const;
const CLIENT = { hostname: "127.0.0.1", port: 4000 };
const SERVER = { hostname: "127.0.0.1", port: 9000 };
const SECRET = new Uint8Array(32).fill(7);

/** A client machine for `request` against SERVER, and how its run ended (once it has). */
function clientOf(
  request: Request,
  options: Partial<UdpClientOptions> = {},
): { client: BlastUdpClient; finished: { finish?: ClientFinish } } {
  const finished: { finish?: ClientFinish } = {};
  const sink = {
    emit: (e: BlastClientEvent) => {
      assert.equal(finished.finish, undefined, "one finished event");
      finished.finish = e.finish;
    },
  };
  const client = new BlastUdpClient({
    request,
    run: 77,
    rounds: 2,
    echoIntervalMs: 10,
    timeoutMs: 2000,
    server: SERVER,
    serverLabel: "127.0.0.1:9000",
    ...options,
  }, sink);
  return { client, finished };
}

/** A blast machine as the net drives it (the two share this shape). */
type BlastMachine = BlastUdpClient | BlastUdpServer;

/**
 * A blast machine on the virtual net: its control datagrams first, then
 * each DATA due at the net's time (copied: the net keeps the bytes).
 */
class OnNet implements NetMachine {
  readonly #buf = new Uint8Array(65_536);
  readonly #view = new DataView(this.#buf.buffer);
  constructor(readonly machine: BlastMachine, readonly clock: () => number) {}
  handleDatagram(data: Uint8Array, from: PeerAddress, now: number): void {
    this.machine.handleDatagram(data, from, now);
  }
  handleTimeout(now: number): void {
    this.machine.handleTimeout(now);
  }
  pollTimeout(): number | undefined {
    return this.machine.pollTimeout();
  }
  pollTransmit(): Transmit | undefined {
    const t = this.machine.pollTransmit();
    if (t) return t;
    const d = this.machine.fillData(this.#buf, this.#view, this.clock());
    return d && { data: this.#buf.slice(0, d.length), to: { ...d.to } };
  }
}

/** The n-th datagram of one direction (counted from 0) meets `fate(n, bytes)`. */
function counted(fate: (n: number, bytes: Uint8Array) => Fate): (d: Datagram) => Fate {
  let n = 0;
  return (d) => fate(n++, d.data);
}

function run(
  request: Request,
  down: (n: number, bytes: Uint8Array) => Fate,
  up: (n: number, bytes: Uint8Array) => Fate = () => "pass",
  maxBytes = 1e9,
): { finish: ClientFinish; events: BlastServerEvent[] } {
  const events: BlastServerEvent[] = [];
  const server = new BlastUdpServer({ maxBytes, idleMs: 30_000, secret: SECRET }, {
    emit: (e) => events.push({ ...e }),
  });
  const { client, finished } = clientOf(request, { server: SERVER });
  const net = new VirtualNet();
  net.path(SERVER, CLIENT, { fate: counted(down) });
  net.path(CLIENT, SERVER, { fate: counted(up) });
  const clock = () => net.now;
  net.add({ address: SERVER, machine: new OnNet(server, clock) });
  const c = net.add({
    address: CLIENT,
    machine: new OnNet(client, clock),
    closed: () => finished.finish !== undefined,
  });
  net.input(c, (now) => client.start(now));
  const end = net.run({ untilMs: 60_000, stop: () => finished.finish !== undefined });
  assert.equal(end, "stopped", "the run ended");
  assert.ok(finished.finish);
  assert.equal(client.pollTimeout(), undefined, "no deadline is left once the run is over");
  // The client's last answers (END_ACK) are on their way, as the driver still sends them.
  net.run({ untilMs: net.now });
  return { finish: finished.finish, events };
}

const header = emptyHeader();
const isData = (b: Uint8Array) => decodeHeader(b, header).type === SegmentType.Data;
const seqOf = (b: Uint8Array) => decodeHeader(b, header).seq;

const get = (count: number): TransferRequest => ({
  kind: "transfer",
  direction: "get",
  bytes: undefined,
  count,
  intervalMs: 0.2,
  size: 100,
  rate: 0,
});

Deno.test("blast udp machines: a clean download counts every segment, nothing lost", pure, () => {
  const { finish, events } = run(get(50), () => "pass");
  assert.equal(finish.failure, undefined);
  assert.deepEqual(finish.receiver!.segments, {
    sent: 50,
    received: 50,
    lost: 0,
    duplicated: 0,
    reordered: 0,
  });
  assert.equal(finish.receiver!.bytes, 50 * 76);
  assert.equal(finish.receiver!.corrupt_bytes, 0);
  assert.deepEqual(events.map((e) => e.event), ["request", "closed"]);
  assert.equal((events[1] as { reason: string }).reason, "complete");
});

Deno.test(
  "blast udp machines: drops, copies and holds of DATA are counted exactly, the last one held past END too",
  pure,
  () => {
    const drops = new Set([3, 10, 11, 30]);
    const dups = new Set([5, 20]);
    const holds = new Set([7, 25, 49]);
    const { finish } = run(get(50), (_n, b) => {
      if (!isData(b)) return "pass";
      const seq = seqOf(b);
      return drops.has(seq) ? "drop" : dups.has(seq) ? "dup" : holds.has(seq) ? "hold" : "pass";
    });
    assert.equal(finish.failure, undefined);
    assert.deepEqual(finish.receiver!.segments, {
      sent: 50,
      received: 46,
      lost: 4,
      duplicated: 2,
      reordered: 3,
    });
    assert.equal(finish.receiver!.missing_bytes, 4 * 76);
  },
);

Deno.test(
  "blast udp machines: lost REQUESTs and ENDs are sent again; an upload gets the server's report",
  pure,
  () => {
    const put: Request = { ...get(40), direction: "put" };
    const { finish } = run(
      put,
      (n) => (n === 0 ? "drop" : "pass"), // the first ACCEPT
      (n, b) => {
        const type = decodeHeader(b, header).type;
        if (type === SegmentType.Request && n === 0) return "drop";
        if (type === SegmentType.End && n < 45) return "drop"; // the first END
        return isData(b) && seqOf(b) % 10 === 3 ? "drop" : "pass";
      },
    );
    assert.equal(finish.failure, undefined);
    assert.deepEqual(finish.receiver!.segments, {
      sent: 40,
      received: 36,
      lost: 4,
      duplicated: 0,
      reordered: 0,
    });
    assert.equal(finish.sender!.segments, 40);
  },
);

Deno.test("blast udp machines: over the limit is refused with the reason", pure, () => {
  const { finish, events } = run(
    { ...get(0), count: undefined, bytes: 2000 },
    () => "pass",
    () => "pass",
    1000,
  );
  assert.match(
    finish.failure!,
    /server refused: 2000 bytes is over this server's limit of 1000 bytes/,
  );
  assert.equal(events[0].event, "refused");
});

Deno.test(
  "blast udp machines: a silent server ends the run: no answer, or a partial report",
  pure,
  () => {
    const none = run(get(10), () => "drop");
    assert.match(none.finish.failure!, /no answer from the server within 2 s/);
    const partial = run(get(50), (_n, b) =>
      (isData(b) && seqOf(b) < 20) ||
        !isData(b) && [SegmentType.Accept, SegmentType.Challenge].includes(
            decodeHeader(b, header).type as 2 | 9,
          )
        ? "pass"
        : "drop");
    assert.match(
      partial.finish.failure!,
      /went silent for 2 s before the end marker; the report is partial/,
    );
    assert.equal(partial.finish.receiver!.segments!.received, 20);
    assert.equal(partial.finish.receiver!.complete, false);
  },
);

Deno.test("blast udp machines: echoes come back, a lost one is asked again", pure, () => {
  const { finish } = run({ kind: "echo", text: "héllo" }, (n) => (n === 0 ? "drop" : "pass"));
  assert.equal(finish.failure, undefined);
  assert.equal(finish.echo!.answered, 2);
  assert.equal(finish.echo!.requests, 3);
  assert.equal(finish.echo!.samples.length, 2);
});

/** A random sequence number in the top 2^28 below 2^32 (a fixed generator). */
function scatteredSeqs(n: number): number[] {
  let state = 2024;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    out.push(0xffff_ffff - (state % 0x1000_0000));
  }
  return out;
}

Deno.test(
  "blast udp machines: an upload of seqs near 2^32 is counted out of range and dropped",
  pure,
  () => {
    const events: BlastServerEvent[] = [];
    const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 30_000, secret: SECRET }, {
      emit: (e) => events.push({ ...e }),
    });
    const h = { type: SegmentType.Request as SegmentTypeCode, run: 9, seq: 0, total: 0, sent: 0 };
    assert.equal(
      ask(server, CLIENT, 9, "PUT count=1000 interval=0 size=100", 0),
      SegmentType.Accept,
    );
    const body = new Uint8Array(76);
    for (const seq of scatteredSeqs(20_000)) {
      server.handleDatagram(encodeSegment({ ...h, type: SegmentType.Data, seq }, body), CLIENT, 1);
    }
    server.handleDatagram(
      encodeSegment({ ...h, type: SegmentType.End, total: 1000 }, new Uint8Array(0)),
      CLIENT,
      2,
    );
    assert.equal(
      server.pollTransmit(),
      undefined,
      "segments are missing: it lingers for late ones",
    );
    server.handleTimeout(2 + 1000);
    const report = server.pollTransmit()!.data;
    assert.equal(decodeHeader(report, header).type, SegmentType.Report);
    const figures = JSON.parse(new TextDecoder().decode(report.subarray(24)));
    assert.deepEqual(figures.segments, {
      sent: 1000,
      received: 0,
      lost: 1000,
      duplicated: 0,
      reordered: 0,
      out_of_range: 20_000,
    });
    assert.equal(server.stats.bytesReceived, 0);
    const closed = events.find((e) => e.event === "closed")!;
    assert.equal(closed.reason, "complete");
  },
);

Deno.test(
  "blast udp machines: a download whose server sends seqs near 2^32 keeps the client's bitmap small, counted out of range",
  pure,
  () => {
    const { client, finished } = clientOf(get(1000), { run: 5, rounds: 1, echoIntervalMs: 0 });
    client.start(0);
    const h = { type: SegmentType.Accept as SegmentTypeCode, run: 5, seq: 0, total: 0, sent: 0 };
    client.handleDatagram(encodeSegment(h), SERVER, 1);
    const body = new Uint8Array(76);
    for (const seq of scatteredSeqs(20_000)) {
      client.handleDatagram(encodeSegment({ ...h, type: SegmentType.Data, seq }, body), SERVER, 2);
    }
    assert.ok(client.receiver!.tally.footprint <= 125, `${client.receiver!.tally.footprint}`);
    client.handleDatagram(
      encodeSegment({ ...h, type: SegmentType.End, seq: 1000, total: 1000 }),
      SERVER,
      3,
    );
    client.handleTimeout(1000);
    assert.ok(finished.finish, "the run ended");
    const segments = finished.finish.receiver!.segments!;
    assert.equal(segments.out_of_range, 20_000);
    assert.equal(segments.received, 0);
  },
);

// ---------------------------------------------------------------- no amplification

const encoder = new TextEncoder();

/** A REQUEST datagram of `line` for run `run`. */
function requestOf(run: number, line: string): Uint8Array {
  const h = { type: SegmentType.Request as SegmentTypeCode, run, seq: 0, total: 0, sent: 0 };
  return encodeSegment(h, encoder.encode(line));
}

/**
 * `line` from `peer` as the client machine asks it: first without a token,
 * then with the CHALLENGE's; the type of the server's last answer.
 */
function ask(
  server: BlastUdpServer,
  peer: { hostname: string; port: number },
  run: number,
  line: string,
  now: number,
): number {
  server.handleDatagram(requestOf(run, line), peer, now);
  const challenge = server.pollTransmit()!.data;
  if (decodeHeader(challenge, header).type !== SegmentType.Challenge) return header.type;
  const token = new TextDecoder().decode(challenge.subarray(24));
  server.handleDatagram(requestOf(run, `${line} token=${token}`), peer, now);
  return decodeHeader(server.pollTransmit()!.data, header).type;
}

/** Every datagram `server` sends from `from` to `until` (ms), timers run: their bytes each. */
function drain(server: BlastUdpServer, from: number, until: number, step = 1): Uint8Array[] {
  const out: Uint8Array[] = [];
  const buf = new Uint8Array(65_536);
  const view = new DataView(buf.buffer);
  for (let now = from; now <= until; now += step) {
    if ((server.pollTimeout() ?? Infinity) <= now) server.handleTimeout(now);
    for (let t = server.pollTransmit(); t; t = server.pollTransmit()) out.push(t.data);
    for (let d = server.fillData(buf, view, now); d; d = server.fillData(buf, view, now)) {
      out.push(buf.slice(0, d.length));
    }
  }
  return out;
}

Deno.test(
  "blast udp machines: an unvalidated GET gets only a CHALLENGE, at most 3× its bytes with IP and UDP headers",
  pure,
  () => {
    for (const [peer, overhead] of [[CLIENT, 28], [{ hostname: "::1", port: 4000 }, 48]] as const) {
      for (const line of ["GET bytes=123456789", "PUT bytes=1000", "GET count=9 interval=0", ""]) {
        const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 30_000, secret: SECRET }, {
          emit: () => {},
        });
        const request = requestOf(5, line);
        server.handleDatagram(request, peer, 0);
        const out = drain(server, 0, 3000, 10);
        const back = out.reduce((sum, d) => sum + d.length + overhead, 0);
        assert.ok(
          back <= 3 * (request.length + overhead),
          `'${line}' from ${peer.hostname}: ${back} bytes back for ${request.length + overhead}`,
        );
        assert.ok(!out.some(isData), "no DATA before the address is validated");
        assert.equal(server.stats.runs, 0);
        assert.equal(server.active, 0, "no state kept for it");
      }
    }
  },
);

Deno.test(
  "blast udp machines: a wrong or another address's token gets another CHALLENGE; the echoed one starts the run",
  pure,
  () => {
    const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 30_000, secret: SECRET }, {
      emit: () => {},
    });
    const line = "GET count=10 interval=0 size=100";
    server.handleDatagram(requestOf(1, line), CLIENT, 0);
    const challenge = server.pollTransmit()!.data;
    assert.equal(decodeHeader(challenge, header).type, SegmentType.Challenge);
    const token = new TextDecoder().decode(challenge.subarray(24));
    assert.match(token, /^[0-9a-f]{32}$/);
    const other = { hostname: "127.0.0.2", port: 4000 };
    for (const [bad, from] of [["0".repeat(32), CLIENT], [token, other]] as const) {
      server.handleDatagram(requestOf(1, `${line} token=${bad}`), from, 1);
      assert.equal(decodeHeader(server.pollTransmit()!.data, header).type, SegmentType.Challenge);
    }
    assert.equal(server.stats.runs, 0);
    // A token from a slot long gone is no good either.
    server.handleDatagram(requestOf(1, `${line} token=${token}`), CLIENT, 60_000);
    assert.equal(decodeHeader(server.pollTransmit()!.data, header).type, SegmentType.Challenge);
    server.handleDatagram(requestOf(1, `${line} token=${token}`), CLIENT, 2);
    assert.equal(decodeHeader(server.pollTransmit()!.data, header).type, SegmentType.Accept);
    assert.equal(drain(server, 2, 3).filter(isData).length, 10);
  },
);

Deno.test(
  "blast udp machines: a GET whose receiver stops acknowledging is stopped within 1 s",
  pure,
  () => {
    const events: BlastServerEvent[] = [];
    const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 30_000, secret: SECRET }, {
      emit: (e) => events.push({ ...e }),
    });
    // 10,000 segments, one per ms: 10 s if it ran to the end.
    assert.equal(
      ask(server, CLIENT, 3, "GET count=10000 interval=1 size=100", 0),
      SegmentType.Accept,
    );
    const ack = (now: number) =>
      encodeSegment({ type: SegmentType.Ack, run: 3, seq: 0, total: 10_000, sent: now });
    let sent = 0;
    for (let t = 0; t < 2000; t += 100) {
      sent += drain(server, t, t + 99).filter(isData).length;
      server.handleDatagram(ack(t + 99), CLIENT, t + 99); // acks every 100 ms, up to 2 s
    }
    assert.ok(sent >= 1900, `${sent} segments while acknowledged`);
    const after = drain(server, 2000, 5000).filter(isData);
    const closed = events.find((e) => e.event === "closed")!;
    assert.equal(closed.reason, "receiver silent");
    assert.ok(after.length <= 1000 + 1, `${after.length} segments after the last ACK`);
    assert.equal(seqOf(after.at(-1)!), sent + after.length - 1);
    assert.equal(server.active, 0);
  },
);

Deno.test(
  "blast udp machines: a download longer than the ACK deadline runs to the end; one whose ACKs are lost is stopped",
  pure,
  () => {
    const slow = { ...get(30), intervalMs: 100 }; // 3 s of virtual time
    const ok = run(slow, () => "pass");
    assert.equal(ok.finish.failure, undefined);
    assert.equal(ok.finish.receiver!.segments!.received, 30);
    assert.equal((ok.events.at(-1) as { reason: string }).reason, "complete");
    const deaf = run(
      slow,
      () => "pass",
      (_n, b) => decodeHeader(b, header).type === SegmentType.Ack ? "drop" : "pass",
    );
    const closed = deaf.events.find((e) => e.event === "closed") as { reason: string };
    assert.equal(closed.reason, "receiver silent");
    assert.ok(deaf.finish.receiver!.segments!.received <= 12, "stopped after about 1 s");
  },
);

Deno.test(
  "blast udp machines: one run per address at a time, and at most maxRuns in all",
  pure,
  () => {
    const events: BlastServerEvent[] = [];
    const server = new BlastUdpServer(
      { maxBytes: 1e9, idleMs: 30_000, secret: SECRET, maxRuns: 2 },
      { emit: (e) => events.push({ ...e }) },
    );
    const line = "PUT count=10 interval=0 size=100";
    assert.equal(ask(server, CLIENT, 1, line, 0), SegmentType.Accept);
    // The same run asked again is the same run; another from the same address is refused.
    server.handleDatagram(requestOf(1, line), CLIENT, 1);
    assert.equal(decodeHeader(server.pollTransmit()!.data, header).type, SegmentType.Accept);
    assert.equal(ask(server, CLIENT, 2, line, 1), SegmentType.Refuse);
    assert.match(
      (events.at(-1) as { reason: string }).reason,
      /^a run from 127\.0\.0\.1:4000 is already going/,
    );
    const b = { hostname: "127.0.0.1", port: 4001 };
    const c = { hostname: "127.0.0.1", port: 4002 };
    assert.equal(ask(server, b, 3, line, 2), SegmentType.Accept);
    assert.equal(ask(server, c, 4, line, 3), SegmentType.Refuse);
    assert.match((events.at(-1) as { reason: string }).reason, /^busy: 2 runs going.*--max-runs/);
    assert.equal(server.active, 2);
    // The first ends: its END (every segment missing: the linger, then the REPORT).
    server.handleDatagram(
      encodeSegment({ type: SegmentType.End, run: 1, seq: 10, total: 10, sent: 4 }),
      CLIENT,
      4,
    );
    server.handleTimeout(1000);
    assert.equal(decodeHeader(server.pollTransmit()!.data, header).type, SegmentType.Report);
    assert.equal(server.active, 1);
    assert.equal(ask(server, c, 4, line, 1001), SegmentType.Accept);
    assert.equal(ask(server, CLIENT, 5, line, 1002), SegmentType.Refuse, "the cap is full again");
  },
);

Deno.test(
  "blast udp machines: when no DATA is due, the next one's time is a deadline (pacing on the timer table)",
  pure,
  () => {
    const buf = new Uint8Array(65_536);
    const view = new DataView(buf.buffer);
    // The client's upload, 3 segments 50 ms apart.
    const { client } = clientOf({ ...get(3), direction: "put", intervalMs: 50 }, { run: 3 });
    client.start(0);
    client.pollTransmit();
    const accept = {
      type: SegmentType.Accept as SegmentTypeCode,
      run: 3,
      seq: 0,
      total: 0,
      sent: 0,
    };
    client.handleDatagram(encodeSegment(accept), SERVER, 1);
    assert.equal(client.fillData(buf, view, 1)?.length, 100);
    assert.equal(client.fillData(buf, view, 2), undefined, "the next is not due yet");
    assert.equal(client.pollTimeout(), 51, "the next DATA's time");
    client.handleTimeout(51);
    assert.equal(client.fillData(buf, view, 51)?.length, 100);
    // The server's download, the same pacing.
    const server = new BlastUdpServer({ maxBytes: 1e9, idleMs: 30_000, secret: SECRET }, {
      emit: () => {},
    });
    assert.equal(ask(server, CLIENT, 4, "GET count=3 interval=50 size=100", 0), SegmentType.Accept);
    assert.equal(server.fillData(buf, view, 10)?.length, 100);
    assert.equal(server.fillData(buf, view, 11), undefined);
    assert.equal(server.pollTimeout(), 60, "the next DATA's time");
    server.handleTimeout(60);
    assert.equal(server.fillData(buf, view, 60)?.length, 100);
  },
);

Deno.test(
  "blast udp machines: the socket's port unreachable ends a run the server has not answered; a receive error any run",
  pure,
  () => {
    const silent = clientOf(get(10));
    silent.client.start(0);
    silent.client.handleUnreachable("Connection refused (os error 111)", 5);
    assert.deepEqual(
      silent.finished.finish?.failure,
      "no server at 127.0.0.1:9000 (udp): Connection refused (os error 111)",
    );
    assert.equal(silent.client.pollTimeout(), undefined);

    const answered = clientOf(get(10));
    answered.client.start(0);
    const accept = {
      type: SegmentType.Accept as SegmentTypeCode,
      run: 77,
      seq: 0,
      total: 0,
      sent: 0,
    };
    answered.client.handleDatagram(encodeSegment(accept), SERVER, 1);
    answered.client.handleUnreachable("Connection refused (os error 111)", 2);
    assert.equal(answered.finished.finish, undefined, "the server answered: not a refusal");
    answered.client.handleReceiveError("Bad file descriptor", 3);
    const end = answered.finished.finish as ClientFinish | undefined; // set by the call above
    assert.equal(end?.failure, "cannot receive: Bad file descriptor");
    assert.equal(end?.answered, true);
  },
);

/** A timed request (`--time`): `timeMs` long, a segment every ms. */
const timed = (direction: "get" | "put", timeMs: number): TransferRequest => ({
  kind: "transfer",
  direction,
  bytes: undefined,
  count: undefined,
  intervalMs: 1,
  size: 100,
  rate: 0,
  timeMs,
});

for (const direction of ["get", "put"] as const) {
  Deno.test(
    `blast udp machines: a timed ${direction} runs its time; the END says how many went, every one counted`,
    pure,
    () => {
      const { finish, events } = run(timed(direction, 100), () => "pass");
      assert.equal(finish.failure, undefined);
      const s = finish.receiver!.segments!;
      assert.ok(s.sent! >= 95 && s.sent! <= 101, `about 100 segments in 100 ms: ${s.sent}`);
      assert.equal(s.received, s.sent);
      assert.equal(s.lost, 0);
      assert.equal(finish.receiver!.expected_bytes, s.sent! * 76);
      assert.equal(finish.receiver!.missing_bytes, 0);
      assert.equal(finish.receiver!.complete, true);
      assert.equal(finish.sender!.limited, undefined);
      assert.equal((events.at(-1) as { reason: string }).reason, "complete");
    },
  );

  Deno.test(
    `blast udp machines: a timed ${direction} stops at the server's --max-bytes and says it was cut`,
    pure,
    () => {
      // 2,000 bytes hold 20 segments of 100: the run ends there, long before its second.
      const { finish, events } = run(timed(direction, 1000), () => "pass", undefined, 2000);
      assert.equal(finish.receiver!.segments!.sent, 20);
      assert.equal(finish.receiver!.segments!.received, 20);
      assert.equal(finish.receiver!.expected_bytes, 20 * 76);
      assert.equal(finish.sender!.limited, true);
      const closed = events.at(-1) as { event: string; reason: string };
      assert.deepEqual([closed.event, closed.reason], ["closed", "cut by --max-bytes"]);
    },
  );
}
