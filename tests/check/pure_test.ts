/** The pure parts of `pudp check`: case selection, the scripted server, traces, reports. */

import assert from "node:assert/strict";
import { type CaseResult, selectCases } from "../../lib/check/case_model.ts";
import { jsonReport, junitReport, textReport } from "../../lib/check/report.ts";
import { NORMAL, ScriptedServer } from "../../lib/check/scripted_server.ts";
import { procPortInodes } from "../../lib/check/readiness.ts";
import { fillTemplate } from "../../lib/check/target.ts";
import { formatTrace } from "../../lib/check/trace.ts";
import { Command, decode, encode } from "../../lib/pudp/wire.ts";
import { PUDP_CLIENT_CASES } from "../../lib/check/pudp_client_cases.ts";
import { PUDP_SERVER_CASES } from "../../lib/check/pudp_server_cases.ts";

const msg = (command: number, seq: number, sessionId = 7, text = "") =>
  encode({ command, seq, sessionId, payload: new TextEncoder().encode(text) });

Deno.test({
  name: "check: case ids are unique, role/section/name, each with a title, a row and a level",
  permissions: "none",
  fn() {
    const all = [...PUDP_SERVER_CASES, ...PUDP_CLIENT_CASES];
    assert.equal(new Set(all.map((c) => c.id)).size, all.length);
    for (const c of all) {
      assert.match(c.id, /^(server|client)\/[a-z]+\/[a-z-]+$/, c.id);
      assert.ok(c.title && c.row, c.id);
      assert.ok(c.level === "course" || c.level === "strict", c.id);
    }
    // Sections stay together in the report, whatever the declaration order.
    const ids = selectCases(PUDP_CLIENT_CASES, [], true).map((c) => c.id.split("/")[1]);
    assert.deepEqual(ids, ids.toSorted((a, b) => ids.indexOf(a) - ids.indexOf(b)));
  },
});

Deno.test({
  name: "check: the scripted server: silent, duplicate replies, an unasked GOODBYE, impostors",
  permissions: "none",
  fn() {
    const silent = new ScriptedServer({ ...NORMAL, answerHello: false });
    silent.handleDatagram(msg(Command.HELLO, 0), 0);
    silent.handleDatagram(msg(Command.GOODBYE, 1), 1);
    assert.equal(silent.pollTransmit(), undefined);
    assert.equal(silent.received.length, 2);

    const twice = new ScriptedServer({ ...NORMAL, duplicate: true, goodbyeAfterData: 1 });
    twice.handleDatagram(msg(Command.HELLO, 0), 0);
    twice.handleDatagram(msg(Command.DATA, 1, 7, "a"), 5);
    const sent: number[] = [];
    for (let t = twice.pollTransmit(); t; t = twice.pollTransmit()) {
      sent.push(decode(t.bytes).command);
    }
    assert.deepEqual(sent, [
      Command.HELLO,
      Command.HELLO,
      Command.ALIVE,
      Command.ALIVE,
      Command.GOODBYE,
      Command.GOODBYE,
    ]);
    assert.equal(twice.goodbyeSentAt, 5);

    const other = new ScriptedServer({ ...NORMAL, impostor: "other-address" });
    other.handleDatagram(msg(Command.HELLO, 0), 0);
    assert.equal(other.pollTransmit()?.via, "main");
    const impostor = other.pollTransmit()!;
    assert.equal(impostor.via, "other");
    assert.equal(decode(impostor.bytes).command, Command.GOODBYE);

    const short = new ScriptedServer({ ...NORMAL, impostor: "short" });
    short.handleDatagram(msg(Command.HELLO, 0), 0);
    short.pollTransmit();
    assert.deepEqual([short.pollTransmit()!.bytes.length, short.pollTransmit()!.bytes.length], [
      5,
      0,
    ]);

    const foreign = new ScriptedServer(NORMAL);
    foreign.handleDatagram(Uint8Array.of(1, 2, 3), 0);
    assert.equal(foreign.received[0].message, undefined);
    assert.equal(foreign.pollTransmit(), undefined);
    foreign.handleDatagram(msg(Command.DATA, 1, 99), 1); // no session yet: nothing
    assert.equal(foreign.pollTransmit(), undefined);
  },
});

Deno.test({
  name: "check: traces and reports escape what the peer sent",
  permissions: "none",
  fn() {
    const bytes = msg(Command.DATA, 1, 7, "\x1b[2Jboom");
    const [line] = formatTrace([{ at: 0, dir: "received", port: 1, bytes }]);
    assert.ok(!line.includes("\x1b"), line);
    assert.match(line, /'\\x1b\[2Jboom'/);
    const result: CaseResult = {
      id: "client/data/one-per-line",
      title: "t",
      row: "r",
      level: "course",
      ms: 2,
      trace: [{ at: 0, dir: "received", port: 1, bytes }],
      outcome: { status: "fail", expected: "a", observed: "\x1b[31mred" },
      program: "stderr:\n\x1b]0;title\x07",
    };
    for (
      const text of [textReport("h", [result], 1), jsonReport([result]), junitReport("h", [result])]
    ) {
      assert.ok(!text.includes("\x1b"), text);
    }
    assert.deepEqual(fillTemplate(["x{port}y", "{host}"], { host: "::1", port: 5 }), [
      "x5y",
      "::1",
    ]);
  },
});

Deno.test("check target: the inodes of the sockets bound to a port, from /proc/net/udp", () => {
  const table =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n" +
    "  1: 0100007F:2328 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4242 2\n" +
    "  2: 0100007F:2329 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 4343 2\n";
  assert.deepEqual(procPortInodes(table, 9000), ["4242"]);
  assert.deepEqual(procPortInodes(table, 9002), []);
});
