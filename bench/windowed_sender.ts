/**
 * A transfer baseline: the least a windowed PUDP sender does. It reads FILE
 * whole, sends HELLO and waits for the answer, then keeps WINDOW (64) DATA in
 * flight, one line each without its line ending, sending one more per reply;
 * GOODBYE goes out like one more DATA, and it exits 0 when the GOODBYE is
 * answered. No pacing, no loss handling: with no reply for TIMEOUT seconds
 * (or 600 s in all) it exits 1. Prints `elapsed SECONDS` (from the HELLO).
 *
 * Usage: deno run --allow-net --allow-read bench/windowed_sender.ts HOST PORT FILE [WINDOW]
 */

const [host, portText, file, windowText] = Deno.args;
const WINDOW = Number(windowText ?? 64);
const TIMEOUT_MS = 5_000;
const TOTAL_MS = 600_000;

const text = await Deno.readTextFile(file);
const lines = text.split("\n");
if (lines.at(-1) === "") lines.pop();
const encoder = new TextEncoder();
const session = crypto.getRandomValues(new Uint32Array(1))[0];
const to: Deno.NetAddr = { transport: "udp", hostname: host, port: Number(portText) };
const socket = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });

/** A datagram of `command` (0 HELLO, 1 DATA, 3 GOODBYE) with sequence number `seq`. */
function message(command: number, seq: number, payload = ""): Uint8Array {
  const out = new Uint8Array(12 + payload.length * 3);
  const n = payload ? encoder.encodeInto(payload, out.subarray(12)).written : 0;
  const view = new DataView(out.buffer);
  view.setUint16(0, 0xc356);
  out[2] = 1;
  out[3] = command;
  view.setUint32(4, seq);
  view.setUint32(8, session);
  return out.subarray(0, 12 + n);
}

const buf = new Uint8Array(2048);
const fail = (why: string) => {
  console.error(`windowed_sender: ${why}`);
  Deno.exit(1);
};
// A watchdog, not a timer per reply: the only loss handling is giving up.
let lastReply = performance.now();
const watchdog = setInterval(() => {
  if (performance.now() - lastReply > TIMEOUT_MS) fail(`no reply within ${TIMEOUT_MS} ms`);
}, 250);
const total = setTimeout(() => fail(`not done within ${TOTAL_MS} ms`), TOTAL_MS);
/** Waits for the next reply and returns its command. */
async function reply(): Promise<number> {
  const [data] = await socket.receive(buf);
  lastReply = performance.now();
  return data[3];
}

const start = performance.now();
socket.send(message(0, 0), to);
await reply();
// Messages 1..n are DATA (line seq - 1), message n + 1 is GOODBYE.
let next = 1;
const send = () => {
  const seq = next++;
  if (seq <= lines.length) socket.send(message(1, seq, lines[seq - 1]), to);
  else if (seq === lines.length + 1) socket.send(message(3, seq), to);
};
for (let i = 0; i < WINDOW; i++) send();
while (await reply() !== 3) send();
clearInterval(watchdog);
clearTimeout(total);
console.log(`elapsed ${((performance.now() - start) / 1000).toFixed(3)}`);
socket.close();
