/**
 * Terminal safety on every command : peer-supplied text a
 * command prints on a terminal, on stdout or stderr, has its control
 * characters escaped; on a pipe it is written as received. Run on a real
 * pseudo-terminal with util-linux `script`.
 */

import assert from "node:assert/strict";
import { spawnCli, startListening } from "../helpers/cli.ts";
import { HAS_SCRIPT, onTerminal, pudpCommandLine, TerminalProcess } from "../helpers/terminal.ts";

/** Sets the terminal's title, rings the bell, clears the screen. */
const ATTACK = "\x1b]0;PWNED\x07\x1b[2J";
const SHOWN = "\\x1b]0;PWNED\\x07\\x1b[2J";
const encoder = new TextEncoder();

/** No byte of the attack reached the terminal raw. */
function assertDisarmed(text: string): void {
  for (const raw of ["\x1b]0;", "\x07", "\x1b[2J", "\u009b"]) {
    assert.ok(
      !text.includes(raw),
      `${JSON.stringify(raw)} reached the terminal:\n${JSON.stringify(text)}`,
    );
  }
}

/** Sends `line` on a new TCP connection to `port` and reads until the answer's line end. */
async function tcpExchange(port: number, line: string): Promise<string> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(encoder.encode(line));
  let answer = "";
  const buf = new Uint8Array(4096);
  const d = new TextDecoder();
  while (!answer.includes("\n")) {
    const n = await conn.read(buf);
    if (n === null) break;
    answer += d.decode(buf.subarray(0, n), { stream: true });
  }
  return answer;
}

Deno.test({
  name: "terminal safety: blast server escapes a peer's echo and refused request on its terminal",
  ignore: !HAS_SCRIPT,
  async fn() {
    await using server = new TerminalProcess(
      pudpCommandLine(["blast", "server", "--host", "127.0.0.1", "0"]),
    );
    const port = Number((await server.waitFor(/listening on \S+:(\d+)/))[1]);
    // The echo is answered with the peer's bytes, as ever; only the terminal is spared them.
    assert.equal(await tcpExchange(port, `ECHO ${ATTACK}\u009b\n`), `ECHO ${ATTACK}\u009b\n`);
    assert.match(await tcpExchange(port, `${ATTACK}\n`), /^REFUSED bad request/);
    await server.waitFor(/#2: refused \(.*\)/);
    await server.waitFor(/#1: echo .*/);
    await server.type("\x03"); // Ctrl-C
    await server.exit();
    assertDisarmed(server.text);
    assert.ok(server.text.includes(`got '${SHOWN}'`), JSON.stringify(server.text));
    // The echo line is JSON-quoted (C0 as \u001b); the C1 CSI is escaped on top.
    assert.ok(
      server.text.includes('echo "\\u001b]0;PWNED\\u0007\\u001b[2J\\xc2\\x9b"'),
      JSON.stringify(server.text),
    );
  },
});

Deno.test({
  name:
    "terminal safety: frame client escapes an answer's control bytes on a terminal, not on a pipe",
  ignore: !HAS_SCRIPT,
  async fn() {
    const server = await startListening(["frame", "server", "--host", "127.0.0.1", "0"]);
    await using _ = server.process;
    // The server answers each message without its first 10 characters.
    const message = `0123456789${ATTACK}\u009b`;
    const client = pudpCommandLine(["frame", "client", "127.0.0.1", String(server.port)]);
    const shell = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
    const out = await onTerminal(`printf '%s\\n' ${shell(message)} | ${client}`);
    assert.equal(out.code, 0, out.output);
    assertDisarmed(out.output);
    assert.ok(out.output.includes(`${SHOWN}\\xc2\\x9b\r\n`), JSON.stringify(out.output));

    await using piped = spawnCli(["frame", "client", "127.0.0.1", String(server.port)], "piped");
    await piped.write(message + "\n");
    await piped.closeStdin();
    const raw = await piped.exit(30_000);
    assert.equal(raw.code, 0, raw.stderr);
    assert.equal(raw.stdout, `${ATTACK}\u009b\n`);
  },
});

/** A fake ids server on UDP that answers every request with `reply`. */
function fakeIdsServer(reply: string): { port: number; close(): void } {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  (async () => {
    for await (const [, from] of socket) await socket.send(encoder.encode(reply), from);
  })().catch(() => {});
  return { port: (socket.addr as Deno.NetAddr).port, close: () => socket.close() };
}

Deno.test({
  name: "terminal safety: ids client never shows a reply's control bytes on a terminal",
  ignore: !HAS_SCRIPT,
  async fn() {
    // The ids wire takes printable ASCII only, so such a reply is refused unquoted; the client
    // escapes what it prints anyway (defence in depth), this pins that nothing raw gets out.
    const server = fakeIdsServer(`ERROR bad id ${ATTACK}`);
    try {
      const out = await onTerminal(
        pudpCommandLine(["ids", "client", "127.0.0.1", String(server.port), "alice"]),
      );
      assert.equal(out.code, 1, out.output);
      assertDisarmed(out.output);
      assert.match(out.output, /the reply is not text\r\n/);
    } finally {
      server.close();
    }
  },
});

Deno.test({
  name: "terminal safety: a client's error line on stderr escapes what the server sent",
  ignore: !HAS_SCRIPT,
  async fn() {
    // A fake blast server that refuses with control bytes in its reason.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const serving = (async () => {
      using conn = await listener.accept();
      await conn.read(new Uint8Array(1024));
      await conn.write(encoder.encode(`REFUSED ${ATTACK}\n`));
    })();
    try {
      const client = pudpCommandLine([
        "blast",
        "client",
        "--bytes",
        "1000",
        "127.0.0.1",
        String(listener.addr.port),
      ]);
      const out = await onTerminal(`${client} >/dev/null`); // stderr only
      assert.equal(out.code, 1, out.output);
      assertDisarmed(out.output);
      assert.ok(out.output.includes(`server refused: ${SHOWN}\r\n`), JSON.stringify(out.output));
    } finally {
      listener.close(); // first: a client that never connected leaves accept() waiting
      await serving.catch(() => {});
    }
  },
});
