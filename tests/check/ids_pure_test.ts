/** The pure parts of `pudp check ids`: the case lists and the scripted ids server, in virtual time. */

import assert from "node:assert/strict";
import { selectCases } from "../../lib/check/case_model.ts";
import { IDS_CLIENT_CASES } from "../../lib/check/ids_client_cases.ts";
import { IDS_FAMILY } from "../../lib/check/ids_family.ts";
import {
  GARBAGE,
  IDS_NORMAL,
  IdsScriptedServer,
  type IdsTransmit,
  PARTIAL_LINE_MS,
} from "../../lib/check/ids_scripted_server.ts";
import { describeIds, IDS_SERVER_CASES, randomId } from "../../lib/check/ids_server_cases.ts";

const text = (s: string) => new TextEncoder().encode(s);
const shown = (t: IdsTransmit | undefined) => t && new TextDecoder().decode(t.bytes);
const A = { hostname: "127.0.0.1", port: 40000 };
const B = { hostname: "127.0.0.1", port: 40001 };

/** Everything the machine has to send now. */
function drain(s: IdsScriptedServer): IdsTransmit[] {
  const out: IdsTransmit[] = [];
  for (let t = s.pollTransmit(); t; t = s.pollTransmit()) out.push(t);
  return out;
}

Deno.test({
  name: "check ids: case ids are unique, role/section/name, each with a title, a row and a level",
  permissions: "none",
  fn() {
    const all = [...IDS_SERVER_CASES, ...IDS_CLIENT_CASES];
    assert.equal(new Set(all.map((c) => c.id)).size, all.length);
    for (const c of all) {
      assert.match(c.id, /^(server|client)\/[a-z]+\/[a-z-]+$/, c.id);
      assert.ok(c.title && c.row, c.id);
      assert.ok(c.level === "course" || c.level === "strict", c.id);
      assert.ok(!/SPEC|seed 00/.test(c.row + c.title), c.id);
    }
    assert.ok(IDS_SERVER_CASES.every((c) => c.id.startsWith("server/")));
    assert.ok(IDS_CLIENT_CASES.every((c) => c.id.startsWith("client/")));
    assert.equal(IDS_FAMILY.serverCases, IDS_SERVER_CASES);
    assert.equal(IDS_FAMILY.clientCases, IDS_CLIENT_CASES);
    const timers = IDS_SERVER_CASES.filter((c) => c.needsTimeout).map((c) => c.id);
    assert.deepEqual(timers, ["server/ttl/released"]);
    assert.ok(selectCases(IDS_SERVER_CASES, [], false).every((c) => c.level === "course"));
  },
});

Deno.test({
  name: "check ids: random ids are 4 digits; traces escape what the peer sent",
  permissions: "none",
  fn() {
    for (let i = 0; i < 100; i++) assert.match(randomId(), /^[1-9]\d{3}$/);
    assert.equal(describeIds(text("OK 1 2 3")), "'OK 1 2 3' (8 bytes)");
    assert.equal(describeIds(text("\x1b[2J")), "'\\x1b[2J' (4 bytes)");
    assert.match(describeIds(new Uint8Array(64), 100), /…\s\(100 bytes\)$/);
  },
});

Deno.test({
  name:
    "check ids scripted server: OK, its holder's repeat OK, another address RESET, malformed ERROR",
  permissions: "none",
  fn() {
    const s = new IdsScriptedServer(IDS_NORMAL);
    s.handleDatagram(text("HELLO 8877"), A, 0);
    s.handleDatagram(text("HELLO 8877"), A, 10);
    s.handleDatagram(text("HELLO 8877"), B, 20);
    s.handleDatagram(text("GARBAGE"), B, 30);
    assert.deepEqual(drain(s).map((t) => [shown(t), t.to.port, t.via, t.close]), [
      ["OK 8877 127.0.0.1 40000", 40000, "main", false],
      ["OK 8877 127.0.0.1 40000", 40000, "main", false],
      ["RESET 8877", 40001, "main", false],
      ["ERROR expected 'HELLO <id>'", 40001, "main", false],
    ]);
    assert.equal(s.answeredAt, 0);
    assert.deepEqual(s.requests.map((r) => r.text), [
      "HELLO 8877",
      "HELLO 8877",
      "HELLO 8877",
      "GARBAGE",
    ]);
  },
});

Deno.test({
  name: "check ids scripted server: reset, error, garbage, silent, and the first OK lost",
  permissions: "none",
  fn() {
    const answer = (behaviour: Partial<typeof IDS_NORMAL>) => {
      const s = new IdsScriptedServer({ ...IDS_NORMAL, ...behaviour });
      s.handleDatagram(text("HELLO 1234"), A, 0);
      return drain(s).map(shown);
    };
    assert.deepEqual(answer({ answer: "reset" }), ["RESET 1234"]);
    assert.deepEqual(answer({ answer: "error" }), ["ERROR id table full"]);
    assert.deepEqual(answer({ answer: "garbage" }), [new TextDecoder().decode(GARBAGE)]);
    assert.deepEqual(answer({ answer: "silent" }), []);

    // The first OK lost: the id is taken; the holder's repeat gets RESET, as course servers do.
    const lost = new IdsScriptedServer({ ...IDS_NORMAL, dropFirst: true });
    lost.handleDatagram(text("HELLO 1234"), A, 0);
    assert.deepEqual(drain(lost), []);
    lost.handleDatagram(text("HELLO 1234"), A, 250);
    assert.deepEqual(drain(lost).map(shown), ["RESET 1234"]);
    assert.equal(lost.answeredAt, 250);
  },
});

Deno.test({
  name: "check ids scripted server: a forged OK from another address before the delayed reply",
  permissions: "none",
  fn() {
    const s = new IdsScriptedServer({
      ...IDS_NORMAL,
      forged: true,
      answer: "reset",
      replyDelayMs: 200,
    });
    s.handleDatagram(text("HELLO 4321"), A, 1000);
    const forged = drain(s);
    assert.deepEqual(forged.map((t) => [shown(t), t.via]), [["OK 4321 127.0.0.1 40000", "other"]]);
    assert.equal(s.pollTimeout(), 1200);
    s.handleTimeout(1199);
    assert.deepEqual(drain(s), []);
    s.handleTimeout(1200);
    assert.deepEqual(drain(s).map((t) => [shown(t), t.via]), [["RESET 4321", "main"]]);
    assert.equal(s.answeredAt, 1200);
    assert.equal(s.pollTimeout(), undefined);
  },
});

Deno.test({
  name: "check ids scripted server over TCP: lines, partial lines, EOF, closes",
  permissions: "none",
  fn() {
    const s = new IdsScriptedServer(IDS_NORMAL);
    // Split across segments: one request once the line ends.
    s.handleStreamBytes(text("HEL"), A, 0);
    s.handleStreamBytes(text("LO 1111\nHELLO 2222\n"), A, 5);
    assert.deepEqual(drain(s).map((t) => [shown(t), t.close]), [
      ["OK 1111 127.0.0.1 40000\n", false],
      ["OK 2222 127.0.0.1 40000\n", false],
    ]);
    // A partial line, as course clients send it, is a request once alone for 200 ms.
    s.handleStreamBytes(text("HELLO 1111"), B, 100);
    assert.equal(s.pollTimeout(), 100 + PARTIAL_LINE_MS);
    s.handleTimeout(100 + PARTIAL_LINE_MS - 1);
    assert.deepEqual(drain(s), []);
    s.handleTimeout(100 + PARTIAL_LINE_MS);
    assert.deepEqual(drain(s).map((t) => [shown(t), t.close]), [["RESET 1111\n", true]]);
    // Or at EOF.
    const C = { hostname: "127.0.0.1", port: 40002 };
    s.handleStreamBytes(text("HELLO 3333"), C, 400);
    s.handleStreamEnd(C, 410);
    assert.deepEqual(drain(s).map(shown), ["OK 3333 127.0.0.1 40002\n"]);
    assert.equal(s.pollTimeout(), undefined);
    assert.deepEqual(s.requests.map((r) => [r.at, r.text]), [
      [5, "HELLO 1111"],
      [5, "HELLO 2222"],
      [300, "HELLO 1111"],
      [410, "HELLO 3333"],
    ]);

    const bare = new IdsScriptedServer({ ...IDS_NORMAL, newline: false });
    bare.handleStreamBytes(text("HELLO 5555\n"), A, 0);
    assert.deepEqual(drain(bare).map((t) => [shown(t), t.close]), [[
      "OK 5555 127.0.0.1 40000",
      true,
    ]]);

    const closing = new IdsScriptedServer({ ...IDS_NORMAL, answer: "close" });
    closing.handleStreamBytes(text("HELLO 5555\n"), A, 0);
    assert.deepEqual(drain(closing).map((t) => [t.bytes.length, t.close]), [[0, true]]);
  },
});
