/**
 * The Wireshark dissectors (`contrib/wireshark/pudp.lua`) against real
 * traffic: tshark captures real pudp commands on `lo` into a pcap file, and
 * a second tshark reads it with the Lua script and prints the decoded field
 * values, which are checked against what the commands sent.
 *
 * Capture start is made certain, not waited for: the capture filter also
 * takes a probe port of the test's own, and the session starts only once a
 * probe datagram has shown up in tshark's live output. The end is the last
 * packet of the exchange showing up the same way. tshark is stopped by pid.
 *
 * Needs tshark (`.ci/run` installs it with apt-get) and root or the
 * wireshark group for capturing on `lo`.
 */

import assert from "node:assert/strict";
import { ROOT_DIR, spawnCli, startListening, startServer, stopServer } from "../helpers/cli.ts";

const LUA = `${ROOT_DIR}contrib/wireshark/pudp.lua`;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A live tshark writing `lo` traffic that matches `filter` (or the probe port) to a pcap file. */
class Capture implements AsyncDisposable {
  readonly file: string;
  readonly #dir: string;
  readonly #child: Deno.ChildProcess;
  readonly #probe: Deno.DatagramConn;
  #live = "";
  #reading: Promise<void>;

  readonly #decode: string[];

  private constructor(
    dir: string,
    filter: string,
    probe: Deno.DatagramConn,
    decode: string[],
  ) {
    this.#decode = decode;
    this.#dir = dir;
    this.file = `${dir}/capture.pcap`;
    this.#probe = probe;
    const probePort = (probe.addr as Deno.NetAddr).port;
    const child = new Deno.Command("tshark", {
      args: [
        "-i",
        "lo",
        "-f",
        `(${filter}) or udp port ${probePort}`,
        "-w",
        this.file,
        "-P",
        "-l",
        "-X",
        `lua_script:${LUA}`,
        ...decode,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    this.#reading = (async () => {
      for await (const chunk of child.stdout) {
        this.#live += decoder.decode(chunk, { stream: true });
      }
    })();
  }

  /**
   * Starts tshark and returns once it has been seen capturing; `decode` are
   * extra tshark options (`-d …`) for the live summary and every decoding.
   */
  static async start(filter: string, decode: string[] = []): Promise<Capture> {
    const dir = await Deno.makeTempDir({ prefix: "pudp-capture-" });
    const probe = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const capture = new Capture(dir, filter, probe, decode);
    const probeAddr = probe.addr as Deno.NetAddr;
    for (let i = 0; i < 100; i++) {
      await probe.send(encoder.encode("probe"), probeAddr);
      await probe.receive(new Uint8Array(16));
      if (capture.#live.includes(`${probeAddr.port}`)) return capture;
      await new Promise((r) => setTimeout(r, 100));
    }
    await capture[Symbol.asyncDispose]();
    throw new Error("tshark did not start capturing on lo within 10 s");
  }

  /** Waits (bounded) until tshark's live summary lines match `predicate`. */
  async waitFor(predicate: (live: string) => boolean, what: string): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (predicate(this.#live)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.fail(`${what}: not seen by tshark within 10 s; live output:\n${this.#live}`);
  }

  /** Stops tshark (SIGINT, so the pcap file is complete) and waits for it. */
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGINT");
    } catch {
      // already gone
    }
    await this.#child.status;
    await this.#reading;
  }

  /** Decodes the capture with the Lua script: one row of `fields` per packet matching `display`. */
  async fields(display: string, fields: string[], extra: string[] = []): Promise<string[][]> {
    const text = await this.tshark([
      "-Y",
      display,
      ...extra,
      "-T",
      "fields",
      "-E",
      "occurrence=a",
      "-E",
      "aggregator=|",
      ...fields.flatMap((f) => ["-e", f]),
    ]);
    return text.split("\n").filter((l) => l !== "").map((l) => l.split("\t"));
  }

  /** Runs tshark on the capture with the Lua script and `args`; its stdout. */
  async tshark(args: string[]): Promise<string> {
    const out = await new Deno.Command("tshark", {
      args: ["-r", this.file, "-X", `lua_script:${LUA}`, ...this.#decode, ...args],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = decoder.decode(out.stderr).replace(/^Running as user.*\n/m, "");
    assert.equal(out.code, 0, stderr);
    assert.ok(!/lua|error/i.test(stderr), `tshark complained: ${stderr}`);
    return decoder.decode(out.stdout);
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    this.#probe.close();
    await Deno.remove(this.#dir, { recursive: true });
  }
}

Deno.test("wireshark: a real PUDP session decodes field by field, found by its magic on any port", async () => {
  const server = await startServer();
  await using capture = await Capture.start(`udp port ${server.port}`);
  await using client = spawnCli(["client", "127.0.0.1", String(server.port)], "piped");
  await client.write("hello\nwörld\n");
  await client.closeStdin();
  assert.equal((await client.exit()).code, 0);

  // Datagrams no PUDP peer would accept, to the same server: bad version,
  // unknown command, short, and the course's P0P magic.
  const raw = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const to = { transport: "udp" as const, hostname: "127.0.0.1", port: server.port };
  await raw.send(Uint8Array.of(0xc3, 0x56, 2, 1, 0, 0, 0, 9, 0, 0, 0, 0x2a), to);
  await raw.send(Uint8Array.of(0xc3, 0x56, 1, 7, 0, 0, 0, 9, 0, 0, 0, 0x2a), to);
  await raw.send(Uint8Array.of(0xc3, 0x56, 1, 1, 0), to);
  await raw.send(Uint8Array.of(0xc4, 0x61, 1, 3, 0, 0, 0, 4, 0xde, 0xad, 0xbe, 0xef), to);
  raw.close();
  await capture.waitFor((t) => t.includes("session=0xdeadbeef"), "the last datagram");
  await capture.stop();
  const out = await stopServer(server);
  const session = out.stdout.match(/^(0x[0-9a-f]{8}) \[0\] Session created/m)![1];

  const rows = await capture.fields("pudp", [
    "udp.dstport",
    "pudp.magic",
    "pudp.version",
    "pudp.command",
    "pudp.seq",
    "pudp.session",
    "pudp.payload",
    "_ws.expert.message",
  ]);
  const port = String(server.port);
  const toServer = (r: string[]) => r[0] === port;
  const session0 = rows.filter((r) => r[5] === session);
  // client → server: HELLO (maybe repeated), DATA 1, DATA 2, GOODBYE; the
  // server answers each with HELLO, ALIVE 1, ALIVE 2, GOODBYE.
  const sent = session0.filter(toServer).map((r) => r.slice(1, 7).join(" "));
  const answered = session0.filter((r) => !toServer(r)).map((r) => r.slice(1, 7).join(" "));
  assert.deepEqual([...new Set(sent)], [
    "0xc356 1 0 0 " + session + " ",
    "0xc356 1 1 1 " + session + " hello",
    "0xc356 1 1 2 " + session + " wörld",
    "0xc356 1 3 3 " + session + " ",
  ]);
  assert.deepEqual([...new Set(answered)], [
    "0xc356 1 0 0 " + session + " ",
    "0xc356 1 2 1 " + session + " ",
    "0xc356 1 2 2 " + session + " ",
    "0xc356 1 3 3 " + session + " ",
  ]);
  for (const r of session0) assert.equal(r[7], "", `no expert info on a good message: ${r}`);

  const odd = rows.filter((r) => r[5] !== session);
  assert.deepEqual(odd.map((r) => [r[1], r[2], r[3], r[7]]), [
    ["0xc356", "2", "1", "Unknown PUDP version (expected 1)"],
    ["0xc356", "1", "7", "Unknown PUDP command"],
    ["0xc356", "1", "1", "Datagram shorter than the 12-byte PUDP header"],
    ["0xc461", "1", "3", ""],
  ]);
  assert.equal(odd[3][5], "0xdeadbeef");

  // The summary names commands and shows payloads; -V shows named fields.
  const summary = await capture.tshark(["-Y", "pudp"]);
  assert.match(summary, new RegExp(`PUDP .* DATA seq=1 session=${session} len=5 "hello"`));
  assert.match(summary, /P0P .* GOODBYE seq=4 session=0xdeadbeef/);
  assert.match(summary, /PUDP .* CMD7 seq=9 session=0x0000002a\n/);
  assert.match(summary, /PUDP .* DATA seq=9 session=0x0000002a len=0 \[version 2\]\n/);
  assert.match(summary, /PUDP .* short datagram \(5 of 12 header bytes\)\n/);
  const verbose = await capture.tshark(["-Y", "pudp.command == 1 && pudp.seq == 2", "-V"]);
  assert.match(verbose, /PUDP, DATA, Seq: 2, Session: 0x[0-9a-f]{8}/);
  assert.match(verbose, /Magic: PUDP \(0xc356\)/);
  assert.match(verbose, /Command: DATA \(1\)/);
  assert.match(verbose, /Payload: wörld/);

  // Forced onto the port with -d (the heuristic is not needed then).
  const forced = await capture.fields(
    "pudp",
    ["pudp.command"],
    ["-d", `udp.port==${server.port},pudp`, "--disable-heuristic", "pudp_udp"],
  );
  assert.ok(forced.length >= session0.length + odd.length, `decode-as: ${forced.length} rows`);
});

Deno.test("wireshark: a frame message split across TCP segments is reassembled; two in one segment are both shown", async () => {
  await using server = (await startListening(["frame", "server", "--host", "127.0.0.1", "0"]))
    .process;
  const port = Number(server.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  await using capture = await Capture.start(`tcp port ${port}`, [
    "-d",
    `tcp.port==${port},pudp_frame`,
  ]);

  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  conn.setNoDelay(true);
  const text = "0123456789split across segments";
  const message = new Uint8Array(4 + text.length);
  new DataView(message.buffer).setUint32(0, text.length);
  message.set(encoder.encode(text), 4);
  // the length and 6 bytes of text, then (after a pause) the rest
  await conn.write(message.subarray(0, 10));
  await new Promise((r) => setTimeout(r, 150));
  await conn.write(message.subarray(10));
  const answer = new Uint8Array(4 + 21);
  let got = 0;
  for (let i = 0; i < 50 && got < answer.length; i++) {
    got += (await conn.read(answer.subarray(got))) ?? 0;
  }
  assert.equal(decoder.decode(answer.subarray(4)), "split across segments");
  // two whole messages in one write
  const two = Uint8Array.of(0, 0, 0, 2, 0x68, 0x69, 0, 0, 0, 3, 0x61, 0x62, 0x63);
  await conn.write(two);
  await conn.read(new Uint8Array(64));
  conn.close();
  await capture.waitFor((t) => /len=3 "abc"/.test(t), "the two-message segment");
  await capture.stop();

  const rows = await capture.fields("pudp_frame", [
    "tcp.dstport",
    "tcp.len",
    "pudp_frame.length",
    "pudp_frame.payload",
    "tcp.reassembled.length",
  ]);
  const p = String(port);
  const sent = rows.filter((r) => r[0] === p).map((r) => r.slice(1));
  const answers = rows.filter((r) => r[0] !== p).map((r) => r.slice(1));
  assert.deepEqual(sent, [
    // the split message shows on its second segment, reassembled from both
    [String(message.length - 10), String(text.length), text, String(message.length)],
    // two messages in one segment: both, in order
    ["13", "2|3", "hi|abc", ""],
  ]);
  // each answer: the text without its first 10 characters (empty when shorter)
  assert.deepEqual(answers, [
    ["25", "21", "split across segments", ""],
    ["4", "0", "", ""],
    ["4", "0", "", ""],
  ]);
});

Deno.test("wireshark: ids requests and replies decode over UDP and over TCP", async () => {
  for (const transport of ["udp", "tcp"] as const) {
    const flag = transport === "tcp" ? ["--tcp"] : [];
    await using server = (await startListening([
      "ids",
      "server",
      ...flag,
      "--host",
      "127.0.0.1",
      "0",
    ])).process;
    const port = Number(server.stderr.text.match(/listening on \S+:(\d+)/)![1]);
    await using capture = await Capture.start(`${transport} port ${port}`, [
      "-d",
      `${transport}.port==${port},pudp_ids`,
    ]);
    await using first = spawnCli(["ids", "client", ...flag, "127.0.0.1", String(port), "8877"]);
    const ok = await first.exit();
    assert.equal(ok.code, 0);
    await using second = spawnCli(["ids", "client", ...flag, "127.0.0.1", String(port), "8877"]);
    assert.equal((await second.exit()).code, 1);
    await capture.waitFor((t) => t.includes("RESET 8877"), "the RESET reply");
    await capture.stop();
    const [, ip, clientPort] = ok.stdout.trim().split(" ").slice(1);

    const rows = await capture.fields("pudp_ids", [
      "pudp_ids.kind",
      "pudp_ids.id",
      "pudp_ids.ip",
      "pudp_ids.port",
    ]);
    assert.deepEqual(rows.map((r) => r.join(" ")), [
      "HELLO 8877  ",
      `OK 8877 ${ip} ${clientPort}`,
      "HELLO 8877  ",
      "RESET 8877  ",
    ], transport);
  }
});
