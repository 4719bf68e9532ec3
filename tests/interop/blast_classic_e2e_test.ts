/**
 * `pudp blast --classic` against a model of the seed's 2015 pair
 * (tests/interop/blast_2015_model.py, written from its README: see its
 * header), both ways, over TCP and UDP, on 127.0.0.1; and what pudp says
 * when the two protocols meet without `--classic`.
 */

import assert from "node:assert/strict";
import { ROOT_DIR, spawnCli } from "../helpers/cli.ts";
import { withBlastServer } from "../helpers/blast.ts";

const MODEL = `${ROOT_DIR}tests/interop/blast_2015_model.py`;

/** Runs the model client once (bounded); returns its one stdout line. */
async function modelClient(port: number, request: string, udp: boolean): Promise<string> {
  const child = new Deno.Command("python3", {
    args: [
      MODEL,
      "client",
      "127.0.0.1",
      String(port),
      request,
      ...(udp ? ["--udp", "--silence", "0.5"] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
  const out = await child.output();
  clearTimeout(timer);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).trim();
}

/** Runs `body` against the model server (TCP or UDP), stopped by its pid at the end. */
async function withModelServer(udp: boolean, body: (port: number) => Promise<void>) {
  const child = new Deno.Command("python3", {
    args: [MODEL, "server", "0", ...(udp ? ["--udp"] : [])],
    stdin: "piped",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    const reader = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
    let err = "";
    for (let i = 0; i < 50 && !/listening on \S+:\d+\n/.test(err); i++) {
      const { value, done } = await reader.read();
      assert.ok(!done, `model server did not start: ${err}`);
      err += value;
    }
    reader.releaseLock();
    await child.stderr.cancel().catch(() => {});
    await body(Number(err.match(/listening on \S+:(\d+)\n/)![1]));
  } finally {
    await child.stdin.close().catch(() => {});
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await child.status;
    clearTimeout(timer);
  }
}

/** Runs `pudp blast client` to completion. */
async function pudpClient(args: string[]) {
  await using client = spawnCli(["blast", "client", ...args]);
  return await client.exit(30_000);
}

for (const udp of [false, true]) {
  const t = udp ? "udp" : "tcp";
  const transport = udp ? ["--udp"] : [];

  Deno.test(`classic ${t}: the 2015 client's echo, file and stream from pudp blast server --classic`, async () => {
    await withBlastServer([...transport, "--classic", "--json"], async (s) => {
      assert.equal(await modelClient(s.port, "hello world", udp), "echo HELLO WORLD");
      assert.equal(await modelClient(s.port, "50000", udp), "file OK bytes=50000");
      assert.equal(await modelClient(s.port, "0", udp), "file OK bytes=0");
      assert.equal(await modelClient(s.port, "stream-5-10-300", udp), "stream OK bytes=3000");
      // Over the limit: no answer at all (the protocol has no refusal).
      assert.equal(await modelClient(s.port, "123456790", udp), "file BAD bytes=0");
      await s.process.stdout.waitFor((text) => /"refused"/.test(text), 5_000, "refused event");
      const events = s.process.stdout.text.trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(events.map((e) => e.event), [
        "echo",
        ...(udp ? [] : ["closed"]), // TCP: the echo's connection
        "request",
        "closed",
        "request",
        "closed",
        "request",
        "closed",
        "refused",
      ]);
      const closed = events.filter((e) => e.event === "closed" && e.sent);
      assert.deepEqual(closed.map((e) => [e.reason, e.sent.bytes]), [
        ["complete", 50000],
        ["complete", 0],
        ["complete", 3000],
      ]);
    });
  });

  Deno.test(`classic ${t}: pudp blast client --classic against the 2015 server`, async () => {
    await withModelServer(udp, async (port) => {
      const where = ["127.0.0.1", String(port), "--classic", ...transport, "--timeout", "2"];
      const echo = await pudpClient([...where, "--echo", "hello", "--json"]);
      assert.equal(echo.code, 0, echo.stderr);
      const e = JSON.parse(echo.stdout);
      assert.equal(e.echo.answered, 1);
      assert.equal(e.complete, true);

      const file = await pudpClient([...where, "--bytes", "64k", "--json"]);
      assert.equal(file.code, 0, file.stderr);
      const f = JSON.parse(file.stdout);
      assert.equal(f.receiver.bytes, 64_000);
      assert.equal(f.receiver.missing_bytes, 0);
      assert.equal(f.classic.notice, true);
      assert.equal(f.classic.end, udp ? "every byte asked for arrived" : "server closed");

      const stream = await pudpClient([
        ...where,
        "--count",
        "8",
        "--interval",
        "10",
        "--size",
        "500",
      ]);
      assert.equal(stream.code, 0, stream.stderr);
      assert.match(stream.stdout, /received 4000 of 4000 bytes/);
      assert.match(stream.stdout, /classic: 'stream-10-8-500'/);
    });
  });
}

Deno.test("classic udp: missing bytes end on silence, exit 1, and the report says the end was inferred", async () => {
  // A stand-in server that sends file_prepared and 3 of the 5 datagrams asked for, then nothing.
  const server = Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport: "udp" });
  const port = (server.addr as Deno.NetAddr).port;
  const serving = (async () => {
    const [request, from] = await server.receive();
    assert.equal(new TextDecoder().decode(request), "5000");
    await server.send(new TextEncoder().encode("file_prepared"), from);
    for (let i = 0; i < 3; i++) await server.send(new Uint8Array(1024).fill(0x41), from);
  })();
  try {
    const out = await pudpClient([
      "127.0.0.1",
      String(port),
      "--classic",
      "--udp",
      "--bytes",
      "5000",
      "--timeout",
      "0.5",
      "--json",
    ]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /1928 of 5000 bytes missing/);
    const report = JSON.parse(out.stdout);
    assert.equal(report.complete, false);
    assert.equal(report.receiver.bytes, 3072);
    assert.equal(report.receiver.missing_bytes, 1928);
    assert.equal(report.classic.end, "inferred from 0.500 s of silence");
  } finally {
    await serving;
    server.close();
  }
});

Deno.test("classic: a request over --max-bytes gets no answer; the client says so and exits 1", async () => {
  await withBlastServer(["--udp", "--classic", "--max-bytes", "1000"], async (s) => {
    const out = await pudpClient([
      "127.0.0.1",
      String(s.port),
      "--classic",
      "--udp",
      "--bytes",
      "5000",
      "--timeout",
      "0.5",
    ]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /no answer from 127\.0\.0\.1:\d+ within 0\.5 s/);
  });
});

Deno.test("classic: without --classic, pudp says why (server --verbose hints, client shows the answer)", async () => {
  // The 2015 client's datagram to a normal UDP server: dropped, said once, with the hint.
  await withBlastServer(["--udp", "--verbose", "--json"], async (s) => {
    const child = new Deno.Command("python3", {
      args: [MODEL, "client", "127.0.0.1", String(s.port), "hello", "--udp", "--silence", "0.3"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    await child.status;
    await s.process.stderr.waitFor((t) => /try --classic/.test(t), 5_000, "hint");
    assert.match(s.process.stderr.text, /dropped \(not blast\): 'hello' \(looks like a classic/);
    await s.process.stdout.waitFor((t) => /"dropped"/.test(t), 5_000, "dropped event");
    const dropped = JSON.parse(s.process.stdout.text.trim().split("\n")[0]);
    assert.equal(dropped.reason, "not blast");
    assert.equal(dropped.first_bytes, "hello");
  });
  // The 2015 client's TCP request (no newline) to a normal server: said after a quiet pause.
  await withBlastServer(["--verbose"], async (s) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.port });
    await conn.write(new TextEncoder().encode("1000"));
    await s.process.stderr.waitFor((t) => /no newline/.test(t), 5_000, "no newline line");
    conn.close();
    assert.match(s.process.stderr.text, /no newline after 1 s: '1000' \(looks like a classic/);
  });
  // pudp's normal client against the 2015 server: the answer is shown, with the hint.
  await withModelServer(false, async (port) => {
    const out = await pudpClient(["127.0.0.1", String(port), "--echo", "hello"]);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /came back different: 'ECHO HELLO' \(the request upper-cased/);
  });
});
