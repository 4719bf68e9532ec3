/**
 * The UDP client and server machines joined by a simulated link in virtual
 * time: the link drops, copies or holds back (until the next datagram has
 * gone) what a fault function says, and the client's report must count
 * exactly that.
 */
import assert from "node:assert/strict";
import type { BlastServerEvent } from "../../lib/blast/events.ts";
import { BlastUdpClient, type ClientFinish } from "../../lib/blast/udp_client_machine.ts";
import { BlastUdpServer } from "../../lib/blast/udp_server_machine.ts";
import {
  decodeHeader,
  emptyHeader,
  type Request,
  SegmentType,
  type TransferRequest,
} from "../../lib/blast/wire.ts";

const pure = { permissions: "none" } as const;
const CLIENT = { hostname: "127.0.0.1", port: 4000 };

type Fate = "pass" | "drop" | "dup" | "hold";

/** One direction of the link: the n-th datagram meets `fate(n, bytes)`. */
class Link {
  n = 0;
  held: Uint8Array | undefined;
  constructor(readonly fate: (n: number, bytes: Uint8Array) => Fate) {}
  carry(bytes: Uint8Array, deliver: (b: Uint8Array) => void): void {
    const f = this.fate(this.n++, bytes);
    if (f === "drop") return;
    if (f === "hold" && this.held === undefined) {
      this.held = bytes;
      return;
    }
    deliver(bytes);
    if (f === "dup") deliver(bytes);
    const held = this.held;
    this.held = undefined;
    if (held) deliver(held);
  }
}

function run(
  request: Request,
  down: (n: number, bytes: Uint8Array) => Fate,
  up: (n: number, bytes: Uint8Array) => Fate = () => "pass",
  maxBytes = 1e9,
): { finish: ClientFinish; events: BlastServerEvent[] } {
  const events: BlastServerEvent[] = [];
  const server = new BlastUdpServer({ maxBytes, idleMs: 30_000 }, {
    emit: (e) => events.push({ ...e }),
  });
  const client = new BlastUdpClient({
    request,
    run: 77,
    rounds: 2,
    echoIntervalMs: 10,
    timeoutMs: 2000,
  });
  const toClient = new Link(down);
  const toServer = new Link(up);
  const buf = new Uint8Array(65_536);
  const view = new DataView(buf.buffer);
  let now = 1000;
  client.start(now);
  for (let step = 0; step < 200_000 && client.finish === undefined; step++) {
    now += 0.05;
    for (let d = client.pollTransmit(); d; d = client.pollTransmit()) {
      toServer.carry(d, (b) => server.handleDatagram(b, CLIENT, now));
    }
    const length = client.fillData(buf, view, now);
    if (length > 0) {
      toServer.carry(buf.slice(0, length), (b) => server.handleDatagram(b, CLIENT, now));
    }
    for (let t = server.pollTransmit(); t; t = server.pollTransmit()) {
      toClient.carry(t.data, (b) => client.handleDatagram(b, now));
    }
    const data = server.fillData(buf, view, now);
    if (data) toClient.carry(buf.slice(0, data.length), (b) => client.handleDatagram(b, now));
    if ((server.pollTimeout() ?? Infinity) <= now) server.handleTimeout(now);
    if ((client.pollTimeout() ?? Infinity) <= now) client.handleTimeout(now);
  }
  assert.ok(client.finish, "the run ended");
  // As the driver does at the end: the client's last answers (END_ACK) still go.
  for (let d = client.pollTransmit(); d; d = client.pollTransmit()) {
    toServer.carry(d, (b) => server.handleDatagram(b, CLIENT, now));
  }
  return { finish: client.finish, events };
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
        !isData(b) && decodeHeader(b, header).type === SegmentType.Accept
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
