/**
 * The batched UDP socket on libc (lib/net/libc_udp.ts): addresses, batches,
 * truncation, errors and closing, on 127.0.0.1 and ::1. Skipped where the
 * socket cannot be used (not 64-bit Linux).
 */

import assert from "node:assert/strict";
import {
  decodeSockaddr,
  encodeSockaddr,
  errnoName,
  formatIPv6,
  type LibcError,
  LibcUdpSocket,
  libcUdpSupport,
} from "../../lib/net/libc_udp.ts";
import { openUdpSocket } from "../../lib/net/udp_socket.ts";
import { DatagramSender } from "../../lib/net/datagram_sender.ts";
import { UdpEndpoint } from "../../lib/net/udp_endpoint.ts";

const ignore = libcUdpSupport() !== undefined;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Collects what a socket receives until `n` datagrams or `ms` pass. */
async function collect(
  socket: LibcUdpSocket,
  n: number,
  ms = 5000,
): Promise<{ text: string; from: Deno.NetAddr }[]> {
  const got: { text: string; from: Deno.NetAddr }[] = [];
  const done = Promise.withResolvers<void>();
  const timer = setTimeout(done.resolve, ms);
  socket.receiveBatches((bytes, from) => {
    got.push({ text: decoder.decode(bytes), from });
    if (got.length >= n) done.resolve();
  }, (e) => done.reject(e));
  await done.promise;
  clearTimeout(timer);
  return got;
}

async function closeAll(...sockets: LibcUdpSocket[]): Promise<void> {
  for (const s of sockets) s.close();
  await Promise.all(sockets.map((s) => s.closed));
}

Deno.test("libc udp: sockaddr encoding round-trips IPv4, IPv6 and mapped IPv4", {
  permissions: "none",
}, () => {
  const buf = new Uint8Array(28);
  const view = new DataView(buf.buffer);
  const cases: [string, number, boolean, string][] = [
    ["127.0.0.1", 1, false, "127.0.0.1"],
    ["255.255.255.255", 65535, false, "255.255.255.255"],
    ["::1", 80, true, "::1"],
    ["::", 0, true, "::"],
    ["2001:db8::1:0:0:1", 5, true, "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", 5, true, "2001:db8:0:1:1:1:1:1"],
    ["fe80::1%lo", 7, true, "fe80::1"],
    ["10.1.2.3", 9, true, "::ffff:10.1.2.3"],
    ["::ffff:192.0.2.128", 9, true, "::ffff:192.0.2.128"],
  ];
  for (const [hostname, port, v6, shown] of cases) {
    assert.ok(encodeSockaddr(view, 0, { hostname, port }, v6) > 0, hostname);
    assert.deepEqual(decodeSockaddr(buf, view, 0), { transport: "udp", hostname: shown, port });
  }
  for (const bad of ["localhost", "1.2.3", "1.2.3.256", ":::1", "1::2::3", "12345::"]) {
    assert.equal(encodeSockaddr(view, 0, { hostname: bad, port: 1 }, true), 0, bad);
  }
  assert.equal(encodeSockaddr(view, 0, { hostname: "::1", port: 1 }, false), 0);
  assert.equal(formatIPv6(new Uint8Array(16)), "::");
  assert.equal(errnoName(98), "EADDRINUSE");
  assert.equal(errnoName(4242), "errno 4242");
});

Deno.test({
  name:
    "libc udp: IPv4 and dual-stack IPv6 sockets exchange datagrams; addresses as Deno says them",
  ignore,
  async fn() {
    const v4 = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    const v6 = LibcUdpSocket.open({ hostname: "::", port: 0 });
    const lo6 = LibcUdpSocket.open({ hostname: "::1", port: 0 });
    try {
      assert.equal(v4.addr.hostname, "127.0.0.1");
      assert.equal(v6.addr.hostname, "::");
      assert.ok(v4.addr.port > 0 && v6.addr.port > 0);
      const atV6 = collect(v6, 2);
      await v4.send(encoder.encode("from v4"), { hostname: "127.0.0.1", port: v6.addr.port });
      await lo6.send(encoder.encode("from ::1"), { hostname: "::1", port: v6.addr.port });
      const got = await atV6;
      assert.deepEqual(got.map((g) => g.text).sort(), ["from ::1", "from v4"]);
      const fromV4 = got.find((g) => g.text === "from v4")!.from;
      assert.deepEqual(fromV4, {
        transport: "udp",
        hostname: "::ffff:127.0.0.1",
        port: v4.addr.port,
      });
      assert.deepEqual(got.find((g) => g.text === "from ::1")!.from, {
        transport: "udp",
        hostname: "::1",
        port: lo6.addr.port,
      });
      // A reply to the address as received reaches the IPv4 socket.
      const atV4 = collect(v4, 1);
      await v6.send(encoder.encode("back"), fromV4);
      const back = await atV4;
      assert.deepEqual(back.map((g) => [g.text, g.from.hostname]), [["back", "127.0.0.1"]]);
      // Deno's socket and this one agree on the same peer.
      const deno = Deno.listenDatagram({ hostname: "::", port: 0, transport: "udp" });
      await v4.send(encoder.encode("x"), {
        hostname: "127.0.0.1",
        port: (deno.addr as Deno.NetAddr).port,
      });
      const [, denoFrom] = await deno.receive();
      deno.close();
      assert.equal((denoFrom as Deno.NetAddr).hostname, fromV4.hostname);
    } finally {
      await closeAll(v4, v6, lo6);
    }
  },
});

Deno.test({
  name:
    "libc udp: a batch of 1, of 64 and of 1000 (overflowing the slots) arrive whole and in order",
  ignore,
  async fn() {
    const rx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    const tx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    try {
      const to = { hostname: "127.0.0.1", port: rx.addr.port };
      let expected: string[] = [];
      const got: string[] = [];
      let waiter = Promise.withResolvers<void>();
      rx.receiveBatches((bytes) => {
        got.push(decoder.decode(bytes));
        if (got.length >= expected.length) waiter.resolve();
      }, (e) => waiter.reject(e));
      for (const n of [1, 64, 1000]) {
        got.length = 0;
        waiter = Promise.withResolvers<void>();
        expected = Array.from({ length: n }, (_, i) => `${n}:${i}:${"x".repeat(i % 300)}`);
        const buf = new Uint8Array(400);
        for (const text of expected) {
          // One buffer reused for every datagram: each is copied when queued.
          const { written } = encoder.encodeInto(text, buf);
          tx.queue(buf.subarray(0, written), to);
          buf.fill(0);
        }
        await tx.flush();
        const timer = setTimeout(() => waiter.reject(new Error(`${got.length} of ${n}`)), 5000);
        await waiter.promise;
        clearTimeout(timer);
        assert.deepEqual(got, expected);
      }
    } finally {
      await closeAll(rx, tx);
    }
  },
});

Deno.test({
  name: "libc udp: flush yields a turn: a timer and a receive run between batches",
  ignore,
  async fn() {
    const rx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    const tx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    try {
      const got = collect(rx, 1);
      let fired = false;
      setTimeout(() => fired = true, 0);
      const to = { hostname: "127.0.0.1", port: rx.addr.port };
      let received = false;
      got.then(() => received = true);
      tx.queue(encoder.encode("ping"), to);
      const start = performance.now();
      // Flushing without end, as the blast send loop does: the timer and the
      // receive must still get their turn.
      while ((!fired || !received) && performance.now() - start < 5000) {
        tx.queue(encoder.encode("more"), { hostname: "127.0.0.1", port: tx.addr.port });
        await tx.flush();
      }
      assert.ok(fired, "the timer never ran during flushes");
      assert.ok(received, "the receive never ran during flushes");
      assert.deepEqual((await got).map((g) => g.text), ["ping"]);
    } finally {
      await closeAll(rx, tx);
    }
  },
});

Deno.test({
  name: "libc udp: a datagram larger than its slot is detected (MSG_TRUNC), reported and dropped",
  ignore,
  async fn() {
    const truncated: [string, number][] = [];
    const rx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 }, {
      slotSize: 1024,
      onTruncated: (from, size) => truncated.push([from.hostname, size]),
    });
    const tx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    try {
      const got = collect(rx, 2);
      const to = { hostname: "127.0.0.1", port: rx.addr.port };
      tx.queue(new Uint8Array(3000), to);
      tx.queue(encoder.encode("small"), to);
      tx.queue(new Uint8Array(1024).fill(65), to); // exactly a slot: whole
      await tx.flush();
      const texts = (await got).map((g) => g.text);
      assert.deepEqual(texts, ["small", "A".repeat(1024)]);
      assert.equal(rx.truncated, 1);
      assert.deepEqual(truncated, [["127.0.0.1", 1024]]);
    } finally {
      await closeAll(rx, tx);
    }
  },
});

Deno.test({
  name: "libc udp: errors are one line, with Deno's message and class and the errno's name",
  ignore,
  async fn() {
    const a = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    try {
      assert.throws(() => LibcUdpSocket.open({ hostname: "127.0.0.1", port: a.addr.port }), (e) => {
        assert.ok(e instanceof Deno.errors.AddrInUse);
        assert.equal((e as Error).message, "Address already in use (os error 98)");
        assert.equal((e as LibcError).code, "EADDRINUSE");
        assert.equal((e as LibcError).call, "bind");
        return true;
      });
      assert.throws(() => LibcUdpSocket.open({ hostname: "192.0.2.1", port: 0 }), (e) => {
        assert.equal((e as LibcError).code, "EADDRNOTAVAIL");
        assert.match((e as Error).message, /^[^\n]+ \(os error 99\)$/);
        return true;
      });
      assert.throws(
        () => LibcUdpSocket.open({ hostname: "localhost", port: 0 }),
        /not an IP address: localhost/,
      );
      // An IPv6 destination from an IPv4 socket, as Deno says it.
      await assert.rejects(
        a.send(new Uint8Array(1), { hostname: "::1", port: 9 }),
        /Address family not supported by protocol \(os error 97\)/,
      );
      const failures: string[] = [];
      a.queue(new Uint8Array(70_000), { hostname: "127.0.0.1", port: 9 }, (e, tag) => {
        failures.push(`${tag}: ${(e as LibcError).code}`);
      }, "big");
      assert.deepEqual(failures, ["big: EMSGSIZE"]);
    } finally {
      await closeAll(a);
    }
  },
});

Deno.test({
  name: "libc udp: close while a poll is pending returns at once; receive rejects, sends fail",
  ignore,
  async fn() {
    const s = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    const pending = assert.rejects(s.receive(), Deno.errors.BadResource);
    await new Promise((r) => setTimeout(r, 50)); // the poll is on its thread now
    const t0 = performance.now();
    s.close();
    await s.closed;
    assert.ok(performance.now() - t0 < 1000, `closed after ${performance.now() - t0} ms`);
    await pending;
    await assert.rejects(
      s.send(new Uint8Array(1), { hostname: "127.0.0.1", port: 9 }),
      Deno.errors.BadResource,
    );
    s.close(); // twice is harmless
  },
});

Deno.test({
  name: "libc udp: receive(buf) serves the drained batch like Deno.DatagramConn.receive",
  ignore,
  async fn() {
    const rx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    const tx = LibcUdpSocket.open({ hostname: "127.0.0.1", port: 0 });
    try {
      for (let i = 0; i < 100; i++) tx.queue(encoder.encode(`d${i}`), rx.addr);
      await tx.flush();
      const buf = new Uint8Array(100);
      for (let i = 0; i < 100; i++) {
        const [bytes, from] = await rx.receive(buf);
        assert.equal(decoder.decode(bytes), `d${i}`);
        assert.equal((from as Deno.NetAddr).port, tx.addr.port);
      }
    } finally {
      await closeAll(rx, tx);
    }
  },
});

Deno.test({
  name: "libc udp: --udp-io: ffi opens the batched socket, deno Deno's, auto the batched one here",
  ignore,
  async fn() {
    const lines: string[] = [];
    const ffi = openUdpSocket({ hostname: "127.0.0.1", port: 0 }, {
      io: "ffi",
      log: (l) => lines.push(l),
    });
    const auto = openUdpSocket({ hostname: "127.0.0.1", port: 0 });
    const deno = openUdpSocket({ hostname: "127.0.0.1", port: 0 }, { io: "deno" });
    assert.ok(ffi.batched && auto.batched);
    assert.equal(deno.batched, undefined);
    assert.match(
      lines[0],
      /^udp io: ffi \(recvmmsg\/sendmmsg, 64 datagrams a call\), receive buffer /,
    );
    // auto falls back to Deno's socket for a host name.
    const named = openUdpSocket({ hostname: "localhost", port: 0 }, { log: (l) => lines.push(l) });
    assert.equal(named.batched, undefined);
    assert.match(lines[1], /^udp io: deno \(Deno.listenDatagram\): not an IP address: localhost$/);
    for (const s of [ffi, auto, deno, named]) s.close();
    await ffi.batched!.closed;
    await auto.batched!.closed;
  },
});

Deno.test({
  name: "libc udp: without --allow-ffi, auto is Deno's socket and ffi is a one-line error",
  ignore,
  permissions: { net: true, ffi: false },
  fn() {
    assert.equal(libcUdpSupport(), "no --allow-ffi");
    const auto = openUdpSocket({ hostname: "127.0.0.1", port: 0 });
    assert.equal(auto.batched, undefined);
    auto.close();
    assert.throws(
      () => UdpEndpoint.bind({ hostname: "127.0.0.1", port: 0 }, { io: "ffi" }),
      /^ExchangeError: --udp-io ffi is not possible here: no --allow-ffi$/,
    );
  },
});

Deno.test({
  name:
    "libc udp: a DatagramSender and UdpEndpoint on the batched socket keep order; close sends what is queued",
  ignore,
  async fn() {
    const rx = UdpEndpoint.bind({ hostname: "127.0.0.1", port: 0 }, { io: "ffi" });
    const tx = UdpEndpoint.bind({ hostname: "127.0.0.1", port: 0 }, { io: "ffi" });
    const got: string[] = [];
    const all = Promise.withResolvers<void>();
    rx.receive((bytes) => {
      got.push(decoder.decode(bytes));
      if (got.length === 2000) all.resolve();
    }, (e) => all.reject(e));
    const sent: string[] = [];
    const sender = new DatagramSender(tx.socket, () => {}, 1);
    for (let i = 0; i < 2000; i++) {
      sent.push(`m${i}`);
      sender.push({
        data: encoder.encode(`m${i}`),
        to: { hostname: "127.0.0.1", port: rx.address.port },
      });
    }
    await tx.close();
    const timer = setTimeout(() => all.reject(new Error(`${got.length} of 2000`)), 5000);
    await all.promise;
    clearTimeout(timer);
    assert.deepEqual(got, sent);
    await rx.close();
  },
});
