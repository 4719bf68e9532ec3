/**
 * The frame benchmark's load: CLIENTS connections to a frame server at
 * 127.0.0.1:PORT, each sending a 100-byte message and waiting for its
 * 90-byte answer, again and again, for SECONDS. Prints one JSON line:
 * `{"roundTrips": N, "seconds": S}`.
 *
 * Usage: deno run --allow-net bench/frame_load.ts PORT CLIENTS SECONDS
 *
 * @module
 */

const [port, clients, seconds] = Deno.args.map(Number);
const MESSAGE = 100;
const ANSWER = 4 + MESSAGE - 10;

async function client(deadline: number): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const message = new Uint8Array(4 + MESSAGE).fill(0x61);
  new DataView(message.buffer).setUint32(0, MESSAGE);
  const buf = new Uint8Array(ANSWER);
  let done = 0;
  while (performance.now() < deadline) {
    for (let at = 0; at < message.length;) at += await conn.write(message.subarray(at));
    for (let got = 0; got < ANSWER;) {
      const n = await conn.read(buf.subarray(got));
      if (n === null) throw new Error("server closed");
      got += n;
    }
    done++;
  }
  conn.close();
  return done;
}

const start = performance.now();
const counts = await Promise.all(
  Array.from({ length: clients }, () => client(start + seconds * 1000)),
);
const elapsed = (performance.now() - start) / 1000;
console.log(JSON.stringify({ roundTrips: counts.reduce((a, b) => a + b, 0), seconds: elapsed }));
