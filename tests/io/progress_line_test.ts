/**
 * The progress line: its text (pure), and on a real pseudo-terminal for each
 * streaming client (pudp client, pipe client, blast client): drawn while the
 * run lasts, at most 10 times a second, erased at the end; never with
 * `--quiet`, never when stderr is not a terminal.
 */

import assert from "node:assert/strict";
import { byteText, progressText } from "../../lib/io/progress_line.ts";
import { runClient, startListening, startServer, stopServer } from "../helpers/cli.ts";
import { HAS_SCRIPT, onTerminal, pudpCommandLine } from "../helpers/terminal.ts";

Deno.test({
  name: "progress text: lines with acknowledgements and bytes; bytes as MB and Mbit/s",
  permissions: "none",
  fn() {
    assert.equal(
      progressText({ unit: "lines", sent: 1200, acked: 1180, bytes: 60_000 }, 2.5, 480),
      "1,200 lines sent, 1,180 acknowledged (60.0 kB)  480 lines/s  2.5 s",
    );
    assert.equal(
      progressText({ unit: "bytes", sent: 12_500_000 }, 1, 12_500_000),
      "12.5 MB sent  100.0 Mbit/s  1.0 s",
    );
    assert.equal(
      progressText({ unit: "bytes", sent: 999, verb: "received" }, 0.2, 4995),
      "999 B received  0.0 Mbit/s  0.2 s",
    );
    assert.deepEqual([0, 999, 1000, 999_949, 1e6, 2.5e9].map(byteText), [
      "0 B",
      "999 B",
      "1.0 kB",
      "999.9 kB",
      "1.0 MB",
      "2.50 GB",
    ]);
  },
});

const ERASE = "\r\x1b[K";

/** The progress texts drawn in `output`, in order, and whether the last one was erased. */
function draws(output: string, pattern: RegExp): { texts: string[]; erasedAtEnd: boolean } {
  const texts: string[] = [];
  for (const piece of output.split(ERASE).slice(1)) {
    const m = piece.match(pattern);
    if (m && m.index === 0) texts.push(m[0]);
  }
  const last = output.lastIndexOf(ERASE);
  return { texts, erasedAtEnd: last >= 0 && !pattern.test(output.slice(last + ERASE.length)) };
}

/** The shell words of a slow producer: `n` chunks of `printf` output, 0.1 s apart. */
function slowly(n: number, chunk: string): string {
  return `for i in $(seq ${n}); do printf "${chunk}"; sleep 0.1; done`;
}

const LINES =
  /[\d,]+ lines sent, [\d,]+ acknowledged \([\d.]+ k?B\) {2}[\d,]+ lines\/s {2}\d+\.\d s/;
const BYTES = /[\d.]+ [kMG]?B (sent|received) {2}[\d.]+ Mbit\/s {2}\d+\.\d s/;

/** Asserts that nothing was drawn: no progress text (`what`), no erase sequence. */
function assertNothingDrawn(output: string, what: string): void {
  assert.ok(!output.includes(what) && !output.includes(ERASE), JSON.stringify(output));
}

Deno.test({
  name:
    "progress: pudp client on a terminal draws sent/acknowledged, at most 10 a second, then erases it",
  ignore: !HAS_SCRIPT,
  async fn() {
    const server = await startServer();
    await using _ = server.process;
    const client = pudpCommandLine(["client", "127.0.0.1", String(server.port)]);
    const out = await onTerminal(`${slowly(15, "line $i\\n")} | ${client}`);
    assert.equal(out.code, 0, out.output);
    const { texts, erasedAtEnd } = draws(out.output, LINES);
    assert.ok(texts.length >= 3, `drawn while it ran: ${JSON.stringify(out.output)}`);
    assert.ok(
      texts.length <= out.ms / 100 + 1,
      `at most 10 a second: ${texts.length} in ${out.ms} ms`,
    );
    assert.ok(erasedAtEnd, `erased at the end: ${JSON.stringify(out.output.slice(-200))}`);
    const sent = texts.map((t) => Number(t.match(/^([\d,]+) lines/)![1].replace(/,/g, "")));
    assert.deepEqual(sent, [...sent].sort((a, b) => a - b), "the count only grows");
    assert.ok(sent.at(-1)! <= 15);
    // --quiet: nothing drawn
    const quiet = await onTerminal(
      `${slowly(5, "line $i\\n")} | ${
        pudpCommandLine(["client", "--quiet", "127.0.0.1", String(server.port)])
      }`,
    );
    assertNothingDrawn(quiet.output, "lines sent");
    const s = await stopServer(server);
    assert.equal(s.stdout.match(/\] line \d+/g)?.length, 20, "the data itself is untouched");
  },
});

Deno.test("progress: never when stderr is not a terminal", async () => {
  const server = await startServer();
  await using _ = server.process;
  const lines = Array.from({ length: 2000 }, (_, i) => `line ${i}`).join("\n") + "\n";
  const out = await runClient(server.port, lines, ["--window", "4"]);
  assert.equal(out.code, 0);
  assert.equal(out.stderr, "");
  await stopServer(server);
});

Deno.test({
  name: "progress: pipe client and blast client draw bytes on a terminal and erase them",
  ignore: !HAS_SCRIPT,
  async fn() {
    await using pipe = (await startListening(["pipe", "server", "--host", "127.0.0.1", "0"]))
      .process;
    const pipePort = Number(pipe.stderr.text.match(/listening on \S+:(\d+)/)![1]);
    const pipeOut = await onTerminal(
      `${slowly(12, "%01000d")} | ${
        pudpCommandLine(["pipe", "client", "127.0.0.1", String(pipePort)])
      }`,
    );
    assert.equal(pipeOut.code, 0, pipeOut.output);
    const p = draws(pipeOut.output, BYTES);
    assert.ok(p.texts.length >= 3 && p.erasedAtEnd, JSON.stringify(pipeOut.output));
    assert.ok(p.texts.length <= pipeOut.ms / 100 + 1);
    assert.ok(p.texts.every((t) => t.includes(" sent ")));

    await using blast = (await startListening([
      "blast",
      "server",
      "--udp",
      "--host",
      "127.0.0.1",
      "0",
    ])).process;
    const blastPort = Number(blast.stderr.text.match(/listening on \S+:(\d+)/)![1]);
    const args = ["blast", "client", "--udp", "--count", "15", "--interval", "100"];
    const blastOut = await onTerminal(
      pudpCommandLine([...args, "127.0.0.1", String(blastPort)]) + " > /dev/null",
    );
    assert.equal(blastOut.code, 0, blastOut.output);
    const b = draws(blastOut.output, BYTES);
    assert.ok(b.texts.length >= 3 && b.erasedAtEnd, JSON.stringify(blastOut.output));
    assert.ok(b.texts.every((t) => t.includes(" received ")), "a download says received");
    const quiet = await onTerminal(
      pudpCommandLine([...args, "--quiet", "127.0.0.1", String(blastPort)]) + " > /dev/null",
    );
    assert.equal(quiet.code, 0);
    assertNothingDrawn(quiet.output, "received");
  },
});
