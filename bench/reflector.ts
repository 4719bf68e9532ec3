/**
 * The baseline: a bare Deno UDP reflector. For every datagram it receives it
 * sends back a 12-byte reply — the first 12 bytes with the command byte set to
 * ALIVE (a HELLO is answered with HELLO, a GOODBYE with GOODBYE), so that
 * `pudp client` can drive it exactly as it drives `pudp server`. No sessions,
 * no output: what is left is the runtime's own cost per datagram.
 *
 * It sends the way the fastest Deno code can: one reused receive buffer,
 * replies from a pool of 12-byte buffers, up to 64 sends overlapped (as the
 * server does), none awaited one by one.
 *
 * Usage: deno run --allow-net bench/reflector.ts [PORT]
 * Prints `listening on HOST:PORT` to stderr; ends on SIGTERM/SIGINT.
 */

const IN_FLIGHT = 64;

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

const free: Uint8Array[] = Array.from({ length: IN_FLIGHT }, () => new Uint8Array(12));
let waiting: (() => void) | undefined;
const release = (reply: Uint8Array) => {
  free.push(reply);
  waiting?.();
  waiting = undefined;
};

const buf = new Uint8Array(65_536);
let count = 0;
try {
  for (;;) {
    const [data, from] = await socket.receive(buf);
    if (data.length < 12) continue;
    while (free.length === 0) await new Promise<void>((r) => waiting = r);
    const reply = free.pop()!;
    for (let i = 0; i < 12; i++) reply[i] = data[i];
    if (reply[3] === 1) reply[3] = 2; // DATA -> ALIVE
    count++;
    socket.send(reply, from).then(() => release(reply), () => release(reply));
  }
} catch {
  // closed
}
console.error(`reflector: ${count} datagrams`);
Deno.exit(0);
