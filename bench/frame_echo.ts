/**
 * The baseline for the frame benchmark: a minimal Deno frame server, the
 * least a hand-written one does — read, split messages, answer each with
 * its text minus 10 characters (ASCII payloads here), write. No events, no
 * limits, no backpressure.
 *
 * Usage: deno run --allow-net bench/frame_echo.ts  (prints `listening on 127.0.0.1:PORT`)
 *
 * @module
 */

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.error(`listening on 127.0.0.1:${listener.addr.port}`);

async function serve(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  let held = new Uint8Array(0);
  try {
    for (let n = await conn.read(buf); n !== null; n = await conn.read(buf)) {
      let data = held.length
        ? new Uint8Array([...held, ...buf.subarray(0, n)])
        : buf.subarray(0, n);
      while (data.length >= 4) {
        const len = new DataView(data.buffer, data.byteOffset).getUint32(0);
        if (data.length < 4 + len) break;
        const text = data.subarray(4 + Math.min(10, len), 4 + len);
        const answer = new Uint8Array(4 + text.length);
        new DataView(answer.buffer).setUint32(0, text.length);
        answer.set(text, 4);
        await conn.write(answer);
        data = data.subarray(4 + len);
      }
      held = data.slice();
    }
  } catch {
    // the client went away
  } finally {
    conn.close();
  }
}

for await (const conn of listener) serve(conn);
