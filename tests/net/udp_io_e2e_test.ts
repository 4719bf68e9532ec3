/**
 * The main UDP scenario of each command on Deno's own sockets
 * (`--udp-io deno`): the rest of the suite runs with `--allow-ffi`, so there
 * every UDP command uses pudp's batched socket (`auto`). Also: `--verbose`
 * says which socket each end opened, and `--udp-io ffi` without
 * `--allow-ffi` is a one-line error, exit 1.
 */

import assert from "node:assert/strict";
import {
  createdSessions,
  runClient,
  sessionLines,
  sourceCommand,
  spawnCli,
  startListening,
  startServer,
  stopServer,
} from "../helpers/cli.ts";
import { withBlastServer } from "../helpers/blast.ts";
import { libcUdpSupport } from "../../lib/net/libc_udp.ts";

const DENO = ["--udp-io", "deno"];
const lines = (n: number) => Array.from({ length: n }, (_, i) => `line ${i + 1}`);

Deno.test("udp io deno: pudp server and client move 5,000 lines complete and in order", async () => {
  const server = await startServer([...DENO, "--verbose"]);
  await using _ = server.process;
  assert.match(server.process.stderr.text, /udp io: deno \(Deno\.listenDatagram\)\n/);
  const client = await runClient(server.port, lines(5000).join("\n") + "\n", [
    ...DENO,
    "--verbose",
  ]);
  assert.equal(client.code, 0, client.stderr);
  assert.match(client.stderr, /^pudp client: udp io: deno \(Deno\.listenDatagram\)\n/);
  const out = await stopServer(server);
  const [session] = createdSessions(out.stdout);
  assert.deepEqual(sessionLines(out.stdout, session).slice(1, 5001), [
    ...lines(5000).map((l, i) => `[${i + 1}] ${l}`),
  ]);
});

Deno.test("udp io deno: pudp impair relays a transfer with seeded loss, lines lost = DATA dropped", async () => {
  const server = await startServer(DENO);
  await using _s = server.process;
  const relay = await startListening([
    "impair",
    ...DENO,
    "--host",
    "127.0.0.1",
    "--loss",
    "0.05",
    "--direction",
    "up",
    "--seed",
    "7",
    "0",
    "127.0.0.1",
    String(server.port),
  ]);
  await using _r = relay.process;
  const client = await runClient(relay.port, lines(1000).join("\n") + "\n", DENO);
  assert.equal(client.code, 0, client.stderr);
  relay.process.kill("SIGTERM");
  const r = await relay.process.exit();
  assert.equal(r.code, 0, r.stderr);
  const dropped = Number(r.stderr.match(/(\d+) dropped/)?.[1] ?? NaN);
  const out = await stopServer(server);
  const [session] = createdSessions(out.stdout);
  const got = sessionLines(out.stdout, session).filter((l) => / line \d+$/.test(l)).length;
  assert.ok(dropped > 0, r.stderr);
  assert.ok(got >= 1000 - dropped && got < 1000, `${got} lines, ${dropped} dropped: ${r.stderr}`);
});

Deno.test("udp io deno: blast UDP upload and download, both ends on Deno's sockets", async () => {
  await withBlastServer(["--udp", ...DENO], async (server) => {
    for (const dir of [["--upload"], []]) {
      await using client = spawnCli([
        "blast",
        "client",
        "--udp",
        ...DENO,
        "--json",
        ...dir,
        "--rate",
        "100M",
        "--bytes",
        "2MB",
        "127.0.0.1",
        String(server.port),
      ]);
      const out = await client.exit(30_000);
      assert.equal(out.code, 0, out.stderr);
      const report = JSON.parse(out.stdout);
      assert.equal(report.receiver.expected_bytes, 2_000_000);
      assert.equal(report.receiver.corrupt_bytes, 0);
      const s = report.receiver.segments;
      assert.equal(s.received + s.lost, s.sent);
      assert.ok(s.received > 0);
    }
  });
  // --classic over UDP.
  await withBlastServer(["--udp", "--classic", ...DENO], async (server) => {
    await using client = spawnCli([
      "blast",
      "client",
      "--udp",
      "--classic",
      ...DENO,
      "--echo",
      "hello",
      "127.0.0.1",
      String(server.port),
    ]);
    const out = await client.exit(15_000);
    assert.equal(out.code, 0, out.stderr);
  });
});

Deno.test("udp io deno: ids over UDP: OK, then RESET for the same id", async () => {
  const server = await startListening(["ids", "server", ...DENO, "--host", "127.0.0.1", "0"]);
  await using _ = server.process;
  const ask = async () => {
    await using c = spawnCli(["ids", "client", ...DENO, "127.0.0.1", String(server.port), "u1"]);
    return await c.exit(15_000);
  };
  const first = await ask();
  assert.equal(first.code, 0, first.stderr);
  assert.match(first.stdout, /^OK u1 127\.0\.0\.1 \d+\n$/);
  const second = await ask();
  assert.equal(second.code, 1);
  assert.equal(second.stdout, "RESET u1\n");
  server.process.kill("SIGTERM");
  assert.equal((await server.process.exit()).code, 0);
});

Deno.test({
  name:
    "udp io: --verbose says the batched socket; --udp-io ffi without --allow-ffi is one line, exit 1",
  ignore: libcUdpSupport() !== undefined,
  async fn() {
    const server = await startServer(["--udp-io", "ffi", "--verbose"]);
    await using _ = server.process;
    assert.match(
      server.process.stderr.text,
      /udp io: ffi \(recvmmsg\/sendmmsg, 64 datagrams a call\), receive buffer \d+ [KM]iB, send buffer \d+ [KM]iB/,
    );
    await stopServer(server);
    const noFfi = sourceCommand().filter((a) => a !== "--allow-ffi");
    await using c = spawnCli(
      ["ids", "client", "--udp-io", "ffi", "127.0.0.1", "9", "x"],
      "null",
      noFfi,
    );
    const out = await c.exit(15_000);
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      "pudp ids client: --udp-io ffi is not possible here: no --allow-ffi\n",
    );
    // auto without --allow-ffi: Deno's socket, silently.
    await using d = spawnCli(
      ["ids", "client", "--verbose", "--timeout", "0.2", "127.0.0.1", "9", "x"],
      "null",
      noFfi,
    );
    const auto = await d.exit(15_000);
    assert.match(auto.stderr, /udp io: deno \(Deno\.listenDatagram\): no --allow-ffi\n/);
  },
});
