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

/** Runs `pudp blast client ARGS` to completion; asserts exit 0. */
async function blastClient(args: string[]) {
  await using client = spawnCli(["blast", "client", ...args]);
  const out = await client.exit(30_000);
  assert.equal(out.code, 0, `blast client ${args.join(" ")}: ${out.stderr}`);
  return out;
}

/** Decoded rows as records: field name → its occurrences in the packet (aggregated with |). */
async function records(
  capture: Capture,
  display: string,
  fields: string[],
): Promise<Record<string, string[]>[]> {
  const rows = await capture.fields(display, fields);
  return rows.map((r) =>
    Object.fromEntries(fields.map((f, i) => [f, (r[i] ?? "") === "" ? [] : r[i].split("|")]))
  );
}

/** The segment type names a packet's Info column gives (`DATA run=0x…`), in order. */
const typeNames = (r: Record<string, string[]>) =>
  [...r["_ws.col.Info"].join("|").matchAll(/(\w+) run=0x[0-9a-f]{8}/g)].map((m) => m[1]);

const BLAST_FIELDS = [
  "_ws.col.Info",
  "udp.srcport",
  "udp.dstport",
  "tcp.stream",
  "tcp.dstport",
  "pudp_blast.magic",
  "pudp_blast.type",
  "pudp_blast.run",
  "pudp_blast.seq",
  "pudp_blast.total",
  "pudp_blast.body_length",
  "pudp_blast.sent",
  "pudp_blast.age",
  "pudp_blast.verb",
  "pudp_blast.line",
  "pudp_blast.request",
  "pudp_blast.text",
  "pudp_blast.count",
  "pudp_blast.size",
  "pudp_blast.bytes",
  "pudp_blast.token",
  "pudp_blast.reason",
  "pudp_blast.report",
  "pudp_blast.pattern_length",
  "_ws.expert.message",
];

Deno.test("wireshark: a real pudp blast run decodes: TCP lines and segments, UDP header and control datagrams", async () => {
  await using tcpServer = (await startListening(["blast", "server", "--host", "127.0.0.1", "0"]))
    .process;
  const tcpPort = Number(tcpServer.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  await using udpServer = (await startListening([
    "blast",
    "server",
    "--udp",
    "--host",
    "127.0.0.1",
    "0",
  ])).process;
  const udpPort = Number(udpServer.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  // TCP by the port (-d, as a non-default port needs); UDP by its magic alone.
  await using capture = await Capture.start(`tcp port ${tcpPort} or udp port ${udpPort}`, [
    "-d",
    `tcp.port==${tcpPort},pudp_blast`,
  ]);
  const tcp = ["127.0.0.1", String(tcpPort)];
  const udp = ["127.0.0.1", String(udpPort), "--udp"];
  await blastClient([...tcp, "--echo", "hello", "--count", "2"]);
  await blastClient([...tcp, "--count", "3", "--size", "100"]);
  await blastClient([...tcp, "--count", "2", "--size", "100", "--upload"]);
  await blastClient([...tcp, "--bytes", "3000"]);
  await blastClient([...udp, "--echo", "hi"]);
  await blastClient([...udp, "--count", "4", "--size", "100"]);
  await blastClient([...udp, "--count", "3", "--size", "100", "--upload"]);
  await capture.waitFor((t) => / REPORT run=0x/.test(t), "the UDP upload's REPORT");
  await capture.stop();

  const all = await records(capture, "pudp_blast", BLAST_FIELDS);
  for (const r of all) assert.deepEqual(r["_ws.expert.message"], [], `no expert info: ${r}`);
  for (const r of all) {
    for (const m of r["pudp_blast.magic"]) assert.equal(m, "0xb1a5");
  }

  // --- TCP: one connection per run, in order.
  const tcpRows = all.filter((r) => r["tcp.stream"].length > 0);
  const streams = [...new Set(tcpRows.map((r) => r["tcp.stream"][0]))];
  assert.equal(streams.length, 4, `tcp streams: ${streams}`);
  const side = (stream: string, toServer: boolean) =>
    tcpRows.filter((r) =>
      r["tcp.stream"][0] === stream && (r["tcp.dstport"][0] === String(tcpPort)) === toServer
    );
  const flat = (rows: Record<string, string[]>[], field: string) => rows.flatMap((r) => r[field]);
  const [echoS, getS, putS, bytesS] = streams;

  // echo: the line both ways, twice
  assert.deepEqual(flat(side(echoS, true), "pudp_blast.line"), ["ECHO hello", "ECHO hello"]);
  assert.deepEqual(flat(side(echoS, false), "pudp_blast.line"), ["ECHO hello", "ECHO hello"]);
  assert.deepEqual(flat(side(echoS, false), "pudp_blast.text"), ["hello", "hello"]);
  assert.deepEqual(flat(side(echoS, true), "pudp_blast.verb"), ["ECHO", "ECHO"]);

  // GET count=3 size=100: the request's fields, OK, then 3 DATA segments of one run
  const get = side(getS, true);
  assert.deepEqual(flat(get, "pudp_blast.line"), ["GET count=3 interval=0 size=100 rate=0"]);
  assert.deepEqual(flat(get, "pudp_blast.verb"), ["GET"]);
  assert.deepEqual(flat(get, "pudp_blast.count"), ["3"]);
  assert.deepEqual(flat(get, "pudp_blast.size"), ["100"]);
  const got = side(getS, false);
  assert.deepEqual(flat(got, "pudp_blast.verb"), ["OK"]);
  assert.deepEqual(got.flatMap(typeNames), ["DATA", "DATA", "DATA"]);
  assert.deepEqual(flat(got, "pudp_blast.type"), ["4", "4", "4"]);
  assert.deepEqual(flat(got, "pudp_blast.seq"), ["0", "1", "2"]);
  assert.deepEqual(flat(got, "pudp_blast.total"), ["3", "3", "3"]);
  assert.deepEqual(flat(got, "pudp_blast.body_length"), ["76", "76", "76"]);
  assert.equal(new Set(flat(got, "pudp_blast.run")).size, 1);

  // PUT count=2: OK, the client's 2 segments, the server's DONE report
  const put = side(putS, true);
  assert.deepEqual(flat(put, "pudp_blast.verb"), ["PUT"]);
  assert.deepEqual(flat(put, "pudp_blast.seq"), ["0", "1"]);
  assert.deepEqual(flat(put, "pudp_blast.total"), ["2", "2"]);
  assert.equal(new Set(flat(put, "pudp_blast.run")).size, 1);
  const done = side(putS, false);
  assert.deepEqual(flat(done, "pudp_blast.verb"), ["OK", "DONE"]);
  const report = JSON.parse(flat(done, "pudp_blast.report")[0]);
  assert.equal(report.bytes, 152);
  assert.deepEqual(report.segments.received, 2);

  // GET bytes=3000: OK and 3000 pattern bytes, however TCP cut them
  assert.deepEqual(flat(side(bytesS, true), "pudp_blast.bytes"), ["3000"]);
  const pattern = flat(side(bytesS, false), "pudp_blast.pattern_length").map(Number);
  assert.equal(pattern.reduce((a, b) => a + b, 0), 3000);

  // --- UDP: one client port per run, found by the magic alone.
  const udpRows = all.filter((r) => r["udp.srcport"].length > 0);
  const clientPort = (r: Record<string, string[]>) =>
    r["udp.srcport"][0] === String(udpPort) ? r["udp.dstport"][0] : r["udp.srcport"][0];
  const runs = [...new Set(udpRows.map(clientPort))].map((p) =>
    udpRows.filter((r) => clientPort(r) === p)
  );
  assert.equal(runs.length, 3);
  const fromServer = (r: Record<string, string[]>) => r["udp.srcport"][0] === String(udpPort);
  const one = (r: Record<string, string[]>, f: string) => r[f].join("|");
  for (const run of runs) {
    // every datagram of a run carries the run id of its first REQUEST
    assert.equal(typeNames(run[0])[0], "REQUEST");
    assert.deepEqual([...new Set(run.map((r) => one(r, "pudp_blast.run")))], [
      one(run[0], "pudp_blast.run"),
    ]);
    for (const r of run) {
      const age = Number(one(r, "pudp_blast.age"));
      assert.ok(age > -1000 && age < 10_000, `capture time − send time ${age} ms`);
    }
  }
  const [echoRun, getRun, putRun] = runs;
  const named = (run: Record<string, string[]>[], name: string) =>
    run.filter((r) => typeNames(r)[0] === name);

  // echo: REQUEST "ECHO hi", answered by ECHO with the request's seq and send time
  assert.deepEqual([...new Set(echoRun.flatMap(typeNames))], ["REQUEST", "ECHO"]);
  const echoRequest = named(echoRun, "REQUEST")[0];
  const echo = named(echoRun, "ECHO")[0];
  assert.equal(one(echoRequest, "pudp_blast.request"), "ECHO hi");
  assert.equal(one(echoRequest, "pudp_blast.text"), "hi");
  assert.equal(one(echo, "pudp_blast.text"), "hi");
  assert.equal(one(echo, "pudp_blast.type"), "8");
  assert.equal(one(echo, "pudp_blast.seq"), one(echoRequest, "pudp_blast.seq"));
  assert.equal(one(echo, "pudp_blast.sent"), one(echoRequest, "pudp_blast.sent"));

  // GET: REQUEST, CHALLENGE, REQUEST with its token, ACCEPT, DATA 0..3, END, END_ACK
  const getNames = getRun.flatMap(typeNames).filter((n) => n !== "ACK");
  assert.deepEqual([...new Set(getNames)], [
    "REQUEST",
    "CHALLENGE",
    "ACCEPT",
    "DATA",
    "END",
    "END_ACK",
  ]);
  const requests = named(getRun, "REQUEST");
  assert.equal(one(requests[0], "pudp_blast.request"), "GET count=4 interval=0 size=100 rate=0");
  assert.deepEqual(requests[0]["pudp_blast.token"], []);
  const token = one(named(getRun, "CHALLENGE")[0], "pudp_blast.token");
  assert.match(token, /^[0-9a-f]{32}$/);
  const withToken = requests.find((r) => r["pudp_blast.token"].length > 0)!;
  assert.equal(one(withToken, "pudp_blast.token"), token);
  assert.equal(one(withToken, "pudp_blast.count"), "4");
  assert.ok(Number(one(withToken, "pudp_blast.seq")) > 0, "a repeated REQUEST counts up");
  const data = named(getRun, "DATA");
  assert.ok(data.every(fromServer));
  assert.deepEqual(data.map((r) => one(r, "pudp_blast.seq")), ["0", "1", "2", "3"]);
  assert.deepEqual(new Set(data.map((r) => one(r, "pudp_blast.total"))), new Set(["4"]));
  assert.deepEqual(new Set(data.map((r) => one(r, "pudp_blast.body_length"))), new Set(["76"]));
  const sent = data.map((r) => Number(one(r, "pudp_blast.sent")));
  assert.deepEqual(sent, [...sent].sort((a, b) => a - b), "send times never go back");
  const end = named(getRun, "END")[0];
  assert.equal(one(end, "pudp_blast.seq"), "4");
  assert.equal(JSON.parse(one(end, "pudp_blast.report")).segments, 4);
  const endAck = named(getRun, "END_ACK")[0];
  assert.ok(!fromServer(endAck));
  assert.deepEqual([one(endAck, "pudp_blast.seq"), one(endAck, "pudp_blast.total")], ["4", "4"]);
  assert.equal(one(endAck, "pudp_blast.body_length"), "0");

  // PUT: the client's DATA 0..2, its END, and the server's REPORT
  assert.deepEqual(
    [...new Set(putRun.flatMap(typeNames))],
    ["REQUEST", "CHALLENGE", "ACCEPT", "DATA", "END", "REPORT"],
  );
  const up = named(putRun, "DATA");
  assert.ok(up.every((r) => !fromServer(r)));
  assert.deepEqual(up.map((r) => one(r, "pudp_blast.seq")), ["0", "1", "2"]);
  const received = JSON.parse(one(named(putRun, "REPORT")[0], "pudp_blast.report"));
  assert.equal(received.bytes, 3 * 76);

  // Types by name in the tree and in display filters.
  const verbose = await capture.tshark([
    "-Y",
    'pudp_blast.type == "CHALLENGE"',
    "-O",
    "pudp_blast",
  ]);
  assert.match(verbose, /Magic: blast \(0xb1a5\)/);
  assert.match(verbose, /Type: CHALLENGE \(9\)/);
  assert.match(verbose, /Token: [0-9a-f]{32}/);
  assert.match(verbose, /\[Sent at: .* UTC\]/);
  assert.equal(verbose.match(/Type: CHALLENGE/g)!.length, 2);
});

Deno.test("wireshark: classic blast requests and answers (bare text) decode on the blast port, over UDP and TCP", async () => {
  // A stand-in classic server of the test's own: the dissector needs no server.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port });
  const client = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    await using capture = await Capture.start(`port ${port}`, ["-o", `pudp_blast.port:${port}`]);
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    const exchange = async (request: Uint8Array, answer?: string) => {
      await client.send(request, to);
      const [, from] = await server.receive(new Uint8Array(256));
      if (answer !== undefined) await server.send(encoder.encode(answer), from);
      if (answer !== undefined) await client.receive(new Uint8Array(256));
    };
    await exchange(encoder.encode("1000"), "file_prepared");
    await exchange(encoder.encode("stream-10-3-100"));
    await exchange(encoder.encode("hello world"), "HELLO WORLD");
    await exchange(Uint8Array.of(0, 1, 0xff, 0x41)); // not text, not a blast header
    for (const [request, answer] of [["12345", "file_prepared"], ["say hi", "SAY HI"]]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      const accepted = await listener.accept();
      await conn.write(encoder.encode(request));
      const buf = new Uint8Array(64);
      const n = (await accepted.read(buf))!;
      assert.equal(decoder.decode(buf.subarray(0, n)), request);
      await accepted.write(encoder.encode(answer));
      await conn.read(buf);
      accepted.close();
      conn.close();
    }
    await capture.waitFor((t) => t.includes('classic echo-reply "SAY HI"'), "the last answer");
    await capture.stop();

    const rows = await capture.fields("pudp_blast", [
      "_ws.col.Protocol",
      "udp.dstport",
      "tcp.dstport",
      "pudp_blast.classic.kind",
      "pudp_blast.classic.n",
      "pudp_blast.classic.ms",
      "pudp_blast.classic.count",
      "pudp_blast.classic.size",
      "pudp_blast.classic.text",
      "pudp_blast.type",
    ]);
    const way = (r: string[]) =>
      `${r[1] ? "udp" : "tcp"} ${(r[1] || r[2]) === String(port) ? "→" : "←"}`;
    assert.deepEqual(rows.map((r) => [way(r), ...r.slice(3)]), [
      ["udp →", "file", "1000", "", "", "", "1000", ""],
      ["udp ←", "file_prepared", "", "", "", "", "file_prepared", ""],
      ["udp →", "stream", "", "10", "3", "100", "stream-10-3-100", ""],
      ["udp →", "echo", "", "", "", "", "hello world", ""],
      ["udp ←", "echo-reply", "", "", "", "", "HELLO WORLD", ""],
      ["tcp →", "file", "12345", "", "", "", "12345", ""],
      ["tcp ←", "file_prepared", "", "", "", "", "file_prepared", ""],
      ["tcp →", "echo", "", "", "", "", "say hi", ""],
      ["tcp ←", "echo-reply", "", "", "", "", "SAY HI", ""],
    ]);
    for (const r of rows) assert.equal(r[0], "blast");
    // the probe's text on another port is not blast; nor are the 4 binary bytes
    const summary = await capture.tshark(["-Y", "pudp_blast"]);
    assert.doesNotMatch(summary, /probe/);
    assert.match(summary, /classic stream "stream-10-3-100"/);
  } finally {
    client.close();
    server.close();
    listener.close();
  }
});

Deno.test("wireshark: a real pudp blast --classic run decodes as classic requests and answers", async () => {
  const listening = (args: string[]) => startListening(["blast", "server", "--classic", ...args]);
  await using tcpServer = (await listening(["--host", "127.0.0.1", "0"])).process;
  const tcpPort = Number(tcpServer.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  await using udpServer = (await listening(["--udp", "--host", "127.0.0.1", "0"])).process;
  const udpPort = Number(udpServer.stderr.text.match(/listening on \S+:(\d+)/)![1]);
  await using capture = await Capture.start(`tcp port ${tcpPort} or udp port ${udpPort}`, [
    "-d",
    `tcp.port==${tcpPort},pudp_blast`,
    "-d",
    `udp.port==${udpPort},pudp_blast`,
  ]);
  const tcp = ["--classic", "127.0.0.1", String(tcpPort)];
  const udp = ["--classic", "127.0.0.1", String(udpPort), "--udp"];
  await blastClient([...tcp, "--echo", "hello"]);
  await blastClient([...tcp, "--bytes", "3000"]);
  await blastClient([...udp, "--count", "3", "--interval", "10", "--size", "100"]);
  await capture.waitFor((t) => (t.match(/classic fill len=100/g) ?? []).length === 3, "3 chunks");
  await capture.stop();

  const rows = await capture.fields("pudp_blast", [
    "tcp.stream",
    "pudp_blast.classic.kind",
    "pudp_blast.classic.text",
    "pudp_blast.classic.fill",
    "pudp_blast.classic.n",
    "pudp_blast.classic.count",
  ]);
  // TCP fill bytes may come in any number of segments: add them up per connection.
  const merged: string[][] = [];
  for (const r of rows) {
    const last = merged.at(-1);
    if (r[1] === "fill" && r[0] !== "" && last?.[1] === "fill" && last[0] === r[0]) {
      last[3] = String(Number(last[3]) + Number(r[3]));
    } else {
      merged.push([...r]);
    }
  }
  assert.deepEqual(merged.map((r) => r.slice(1)), [
    ["echo", "hello", "", "", ""],
    ["echo-reply", "HELLO", "", "", ""],
    ["file", "3000", "", "3000", ""],
    ["file_prepared", "file_prepared", "", "", ""],
    ["fill", "", "3000", "", ""],
    ["stream", "stream-10-3-100", "", "", "3"],
    ["fill", "", "100", "", ""],
    ["fill", "", "100", "", ""],
    ["fill", "", "100", "", ""],
  ]);
});
