/**
 * The baseline: a bare Deno UDP reflector. For every datagram it receives it
 * sends back a 12-byte reply — the first 12 bytes with the command byte set to
 * ALIVE (a HELLO is answered with HELLO, a GOODBYE with GOODBYE), so that
 * `pudp client` can drive it exactly as it drives `pudp server`. No sessions,
 * no output: what is left is the runtime's own cost per datagram.
 *
 * Usage: deno run --allow-net bench/reflector.ts [PORT]
 * Prints `listening on HOST:PORT` to stderr; ends on SIGTERM/SIGINT.
 */

const socket = Deno.listenDatagram({
  hostname: "127.0.0.1",
  port: Number(Deno.args[0] ?? 0),
  transport: "udp",
});
const addr = socket.addr as Deno.NetAddr;
console.error(`listening on ${addr.hostname}:${addr.port}`);
const stop = () => socket.close();
Deno.addSignalListener("SIGTERM", stop);
Deno.addSignalListener("SIGINT", stop);

const buf = new Uint8Array(65_536);
let count = 0;
try {
  for (;;) {
    const [data, from] = await socket.receive(buf);
    if (data.length < 12) continue;
    const reply = data.slice(0, 12);
    if (reply[3] === 1) reply[3] = 2; // DATA -> ALIVE
    count++;
    socket.send(reply, from).catch(() => {});
  }
} catch {
  // closed
}
console.error(`reflector: ${count} datagrams`);
Deno.exit(0);
