/** The classic (2015) protocol's pure parts: the codec, the client's receiver, the UDP machine. */

import assert from "node:assert/strict";
import { EventQueue } from "../../lib/events/sink.ts";
import type { BlastServerEvent } from "../../lib/blast/events.ts";
import {
  classicRefusal,
  foreignAnswer,
  looksClassic,
  parseClassicRequest,
  previewBytes,
  WireError,
} from "../../lib/blast/classic_wire.ts";
import { ClassicReceiver } from "../../lib/blast/classic_receiver.ts";
import { BURST, ClassicUdpServer } from "../../lib/blast/classic_udp_machine.ts";
import { encodeSegment, SegmentType } from "../../lib/blast/wire.ts";

const text = (s: string) => new TextEncoder().encode(s);
const pure = { permissions: "none" } as const;

Deno.test({
  name: "classic wire: every malformed request is a WireError",
  ...pure,
  fn() {
    for (
      const bad of [
        new Uint8Array(0),
        new Uint8Array(1025).fill(0x41),
        new Uint8Array([0xc3]), // cut UTF-8
        new Uint8Array([0xb1, 0xa5, 0, 0]), // a blast header
        text("stream-10-5-0"),
        text("stream-10-5-65508"),
        text("stream-3600001-1-1"),
      ]
    ) {
      assert.throws(() => parseClassicRequest(bad), WireError, previewBytes(bad));
    }
    // Text that is not three numbers after stream- is any text: an echo.
    assert.deepEqual(parseClassicRequest(text("stream-x")), { kind: "echo", text: "stream-x" });
    assert.deepEqual(parseClassicRequest(text("stream")), { kind: "echo", text: "stream" });
    assert.deepEqual(parseClassicRequest(text("12 ")), { kind: "echo", text: "12 " });
    assert.equal(
      classicRefusal({ kind: "stream", intervalMs: 0, count: 10, size: 200 }, 1000),
      "10 chunks of 200 bytes (2000 bytes) is over this server's limit of 1000",
    );
    assert.equal(classicRefusal({ kind: "echo", text: "x".repeat(1000) }, 1), undefined);
    assert.equal(looksClassic(text("hello")), true);
    assert.equal(looksClassic(new Uint8Array([0xb1, 0xa5])), false);
    assert.equal(previewBytes(text("a\x1b[2J")), "a\\x1b[2J");
    assert.match(foreignAnswer("ECHO hello", "ECHO HELLO"), /try --classic/);
    assert.doesNotMatch(foreignAnswer("ECHO hello", "nope"), /try --classic/);
  },
});

Deno.test({
  name: "classic receiver: UDP notice as its own datagram, wrong and extra bytes counted",
  ...pure,
  fn() {
    const rx = new ClassicReceiver({ kind: "file", bytes: 6 }, "udp");
    rx.feed(text("AAA"), 0); // the notice was lost: counted all the same
    assert.equal(rx.notice, false);
    rx.feed(text("file_prepared"), 1); // late: still recognized
    rx.feed(text("AxAAA"), 5);
    assert.equal(rx.done, true);
    const r = rx.report(true);
    assert.equal(r.bytes, 6);
    assert.equal(r.corrupt_bytes, 1);
    assert.equal(r.first_corrupt_at, 4);
    assert.equal(rx.extra, 2);
    assert.equal(r.seconds, 0.005);

    const tcp = new ClassicReceiver({ kind: "file", bytes: 2 }, "tcp");
    tcp.feed(text("FILE_PREPAREDAA"), 0); // not the notice: no notice, bytes wrong
    assert.equal(tcp.notice, false);
    assert.equal(tcp.done, false);

    const stream = new ClassicReceiver({ kind: "stream", intervalMs: 1, count: 3, size: 4 }, "udp");
    stream.feed(text("AAAA"), 0);
    stream.feed(text("AAAA"), 1);
    assert.equal(stream.done, false);
    const partial = stream.report(true);
    assert.equal(partial.missing_bytes, 4);
    assert.equal(partial.complete, false);
  },
});

Deno.test({
  name:
    "classic UDP server: stream pacing, one run per address, --max-runs, --max-bytes, drops once",
  ...pure,
  fn() {
    const events = new EventQueue<BlastServerEvent>();
    const server = new ClassicUdpServer({ maxBytes: 100_000, maxRuns: 2 }, events);
    const a = { hostname: "127.0.0.1", port: 1 };
    const b = { hostname: "127.0.0.1", port: 2 };
    const c = { hostname: "127.0.0.1", port: 3 };
    const buf = new Uint8Array(65_536);
    const view = new DataView(buf.buffer);
    const drain = () => {
      const all: BlastServerEvent[] = [];
      for (let e = events.poll(); e; e = events.poll()) all.push(e);
      return all;
    };

    server.handleDatagram(text("stream-10-3-100"), a, 1000);
    assert.deepEqual(server.fillData(buf, view, 1000), { length: 100, to: a });
    assert.equal(server.fillData(buf, view, 1000), undefined); // the next is 10 ms later
    assert.equal(server.pollTimeout(), 1010);
    server.handleDatagram(text("5"), a, 1001); // a run from a is going
    server.handleDatagram(text("3000"), b, 1001);
    server.handleDatagram(text("5"), c, 1001); // 2 runs going
    server.handleDatagram(text("100001"), c, 1001); // over --max-bytes
    assert.deepEqual(drain().map((e) => [e.event, "reason" in e ? e.reason : ""]), [
      ["request", ""],
      ["refused", "a run for this address is going"],
      ["request", ""],
      ["refused", "2 runs are going (--max-runs)"],
      ["refused", "100001 bytes is over this server's limit of 100000"],
    ]);
    assert.deepEqual(server.pollTransmit(), { data: text("file_prepared"), to: b });
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const d = server.fillData(buf, view, 1001);
      if (!d) break;
      sizes.push(d.length);
    }
    assert.deepEqual(sizes, [1024, 1024, 952]);
    assert.ok(buf.subarray(0, 952).every((x) => x === 0x41));
    server.handleTimeout(1010);
    assert.deepEqual(server.fillData(buf, view, 1010), { length: 100, to: a });
    server.handleTimeout(1020);
    assert.deepEqual(server.fillData(buf, view, 1020), { length: 100, to: a });
    assert.equal(server.active, 0);
    const closed = drain().filter((e) => e.event === "closed");
    assert.deepEqual(
      closed.map((e) => e.event === "closed" && [e.run, e.sent]),
      [["#3", { segments: 3, bytes: 3000, seconds: 0 }], ["#1", {
        segments: 3,
        bytes: 300,
        seconds: 0.02,
      }]],
    );

    // A long file goes in bursts of BURST datagrams, 1 ms apart.
    server.handleDatagram(text(String(BURST * 1024 * 2)), a, 2000);
    server.pollTransmit();
    let n = 0;
    while (server.fillData(buf, view, 2000)) n++;
    assert.equal(n, BURST);
    assert.equal(server.pollTimeout(), 2001);

    // Not classic: dropped, once per address.
    const header = { type: SegmentType.Request, run: 1, seq: 0, total: 0, sent: 0 };
    drain();
    server.handleDatagram(encodeSegment(header, text("GET bytes=1")), c, 3000);
    server.handleDatagram(encodeSegment(header, text("GET bytes=1")), c, 3000);
    const dropped = drain();
    assert.equal(dropped.length, 1);
    assert.equal(
      dropped[0].event === "dropped" && dropped[0].reason,
      "a blast request, not classic",
    );
    server.shutdown();
    assert.deepEqual(drain().map((e) => e.event === "closed" && e.reason), ["shutdown"]);
  },
});
