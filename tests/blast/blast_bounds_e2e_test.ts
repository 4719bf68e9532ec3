/**
 * `pudp blast server` against hostile clients that speak the wire by hand:
 * `--max-bytes` bounds every kind of request (segment streams by count ×
 * size, headers included), and an upload whose segments carry scattered
 * sequence numbers near 2^32 costs memory by its declared count, not by the
 * sequence numbers (they are counted out of range and dropped).
 */
import assert from "node:assert/strict";
import {
  decodeHeader,
  emptyHeader,
  encodeSegment,
  SEGMENT_HEADER,
  SegmentType,
  type SegmentTypeCode,
} from "../../lib/blast/wire.ts";
import { withBlastServer } from "../helpers/blast.ts";
import { peakRss } from "../helpers/pipe.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

const withServer = withBlastServer;

/** Sends `line` on a fresh TCP connection; the first line of the answer. */
async function tcpAsk(port: number, line: string): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(encoder.encode(line + "\n"));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += decoder.decode(buf.subarray(0, n));
    }
    return text.split("\n")[0];
  } finally {
    conn.close();
  }
}

/** Runs `body` with a UDP socket on 127.0.0.1, closed after. */
async function withSocket(body: (socket: Deno.DatagramConn) => Promise<void>): Promise<void> {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await body(socket);
  } finally {
    socket.close();
  }
}

/** Waits at most `ms` for the next datagram on `socket`, or undefined. */
async function receiveWithin(
  socket: Deno.DatagramConn,
  ms: number,
): Promise<Uint8Array | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<undefined>((r) => timer = setTimeout(() => r(undefined), ms));
  const got = await Promise.race([socket.receive().then(([b]) => b), late]);
  clearTimeout(timer);
  return got;
}

const LIMIT = "is over this server's limit of 1000 bytes (--max-bytes)";
const HOSTILE = [
  ["GET count=300000 interval=0 size=24", `300000 segments of 24 bytes (7200000 bytes) ${LIMIT}`],
  [
    "GET count=4294967294 interval=0 size=24",
    `4294967294 segments of 24 bytes (103079215056 bytes) ${LIMIT}`,
  ],
  ["PUT count=100 interval=0 size=25", `100 segments of 25 bytes (2500 bytes) ${LIMIT}`],
  ["ECHO " + "x".repeat(1001), `an echo of 1001 bytes ${LIMIT}`],
] as const;

Deno.test("blast bounds e2e (tcp): --max-bytes 1000 refuses streams by count × size", async () => {
  await withServer(["--max-bytes", "1000"], async ({ port, process }) => {
    for (const [line, reason] of HOSTILE) {
      assert.equal(await tcpAsk(port, line), `REFUSED ${reason}`, line.slice(0, 40));
    }
    assert.match(await tcpAsk(port, "GET count=1 size=23"), /^REFUSED bad request: size=23/);
    // Within the limit, headers included: still served.
    assert.equal(await tcpAsk(port, "GET count=10 interval=0 size=100"), "OK");
    await process.stdout.waitFor(
      (t) => (t.match(/refused \(/g) ?? []).length >= HOSTILE.length + 1,
      5000,
      "refused lines",
    );
  });
});

Deno.test("blast bounds e2e (udp): --max-bytes 1000 refuses streams by count × size", async () => {
  await withServer(["--udp", "--max-bytes", "1000"], ({ port }) =>
    withSocket(async (socket) => {
      const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
      const h = emptyHeader();
      for (const [i, [line, reason]] of HOSTILE.entries()) {
        const request = { type: SegmentType.Request as SegmentTypeCode, run: 100 + i, seq: 0 };
        await socket.send(
          encodeSegment({ ...request, total: 0, sent: Date.now() }, encoder.encode(line)),
          to,
        );
        const answer = await receiveWithin(socket, 5000);
        assert.ok(answer, `an answer to ${line.slice(0, 40)}`);
        decodeHeader(answer, h);
        assert.equal(h.type, SegmentType.Refuse, line.slice(0, 40));
        assert.equal(h.run, 100 + i);
        assert.equal(decoder.decode(answer.subarray(SEGMENT_HEADER)), reason);
      }
    }));
});

Deno.test(
  "blast bounds e2e (udp): an upload of 20,000 seqs scattered up to 2^32 is counted out of range; memory stays flat",
  async () => {
    await withServer(["--udp", "--json"], ({ port, process }) =>
      withSocket(async (socket) => {
        const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
        const run = 0x5eed;
        const h = { type: SegmentType.Request as SegmentTypeCode, run, seq: 0, total: 0, sent: 0 };
        const line = "PUT count=1000 interval=0 size=100";
        await socket.send(encodeSegment(h, encoder.encode(line)), to);
        // The server validates the address first: its CHALLENGE's token goes back with the line.
        const challenge = await receiveWithin(socket, 5000);
        assert.ok(challenge, "a challenge");
        assert.equal(decodeHeader(challenge, emptyHeader()).type, SegmentType.Challenge);
        const token = decoder.decode(challenge.subarray(SEGMENT_HEADER));
        await socket.send(encodeSegment(h, encoder.encode(`${line} token=${token}`)), to);
        const accept = await receiveWithin(socket, 5000);
        assert.ok(accept, "an answer to the PUT");
        assert.equal(decodeHeader(accept, emptyHeader()).type, SegmentType.Accept);
        const before = await peakRss(process.child.pid);

        const body = new Uint8Array(76);
        let state = 99;
        for (let i = 0; i < 20_000; i++) {
          state = (state * 1103515245 + 12345) >>> 0;
          // Climbing to 2^32 first (a table indexed by seq grows and copies
          // at each step), then anywhere in the 32-bit space.
          const seq = i < 23 ? 2 ** (10 + i) - 1 : state;
          await socket.send(
            encodeSegment({ ...h, type: SegmentType.Data, seq, sent: 0 }, body),
            to,
          );
          if (i % 200 === 199) await new Promise((r) => setTimeout(r, 1)); // let it keep up
        }
        const end = encodeSegment({ ...h, type: SegmentType.End, seq: 1000, total: 1000 });
        let report: Uint8Array | undefined;
        for (let tries = 0; tries < 25 && report === undefined; tries++) {
          await socket.send(end, to);
          const got = await receiveWithin(socket, 400);
          if (got && decodeHeader(got, emptyHeader()).type === SegmentType.Report) report = got;
        }
        assert.ok(report, "the server's report");
        const after = await peakRss(process.child.pid);
        // The old bitmap was indexed by sequence number: 512 MiB for one seq near 2^32.
        const mib = (n: number) => (n / 2 ** 20).toFixed(1);
        console.log(`server peak RSS: ${mib(before)} MiB → ${mib(after)} MiB`);
        assert.ok(
          after < 200 * 2 ** 20 && after - before < 64 * 2 ** 20,
          `peak RSS ${mib(before)} MiB before, ${mib(after)} MiB after`,
        );
        const figures = JSON.parse(decoder.decode(report.subarray(SEGMENT_HEADER)));
        const outOfRange = figures.segments.out_of_range;
        // Loopback may drop some under load; most arrive, none is received or lost in range.
        assert.ok(outOfRange > 10_000, `out_of_range ${outOfRange}`);
        assert.equal(figures.segments.received, 0);
        assert.equal(figures.bytes, 0);
        await process.stdout.waitFor((t) => /"event":"closed"/.test(t), 5000, "closed event");
        const closed = JSON.parse(
          process.stdout.text.split("\n").find((l) => l.includes('"event":"closed"'))!,
        );
        assert.equal(closed.received.segments.out_of_range, outOfRange);
      }));
  },
);

Deno.test(
  "blast bounds e2e (udp): one GET from a silent address gets at most 3× its bytes back, IP and UDP headers counted",
  async () => {
    await withServer(["--udp"], ({ port }) =>
      withSocket(async (socket) => {
        const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
        const h = { type: SegmentType.Request as SegmentTypeCode, run: 0xa3, seq: 0, total: 0 };
        const request = encodeSegment(
          { ...h, sent: Date.now() },
          encoder.encode("GET bytes=123456789"),
        );
        await socket.send(request, to);
        // Only listens from now on: never echoes a token, never acknowledges.
        let received = 0;
        let datagrams = 0;
        const until = Date.now() + 1200;
        for (let left = until - Date.now(); left > 0; left = until - Date.now()) {
          const got = await receiveWithin(socket, left);
          if (got === undefined) break;
          received += got.length + 28; // IPv4 + UDP headers
          datagrams++;
        }
        const sent = request.length + 28;
        console.log(
          `amplification: ${sent} bytes sent, ${received} bytes in ${datagrams} datagrams back (×${
            (received / sent).toFixed(2)
          })`,
        );
        assert.ok(received <= 3 * sent, `${received} bytes back for ${sent} (over 3×)`);
      }));
  },
);
