/**
 * The ids client with numeric time: the reply decides the exit status; UDP
 * requests are repeated within the timeout; silence ends it at the timeout.
 */

import assert from "node:assert/strict";
import { IdsClientMachine, UDP_TRIES } from "../../lib/ids/client_machine.ts";

const pure = { permissions: "none" } as const;
const enc = (s: string) => new TextEncoder().encode(s);

function client(transport: "udp" | "tcp") {
  const c = new IdsClientMachine({ id: "42", timeoutMs: 4000, transport, serverLabel: "h:9" });
  const sent = () => {
    const out: string[] = [];
    for (let d = c.pollTransmit(); d; d = c.pollTransmit()) out.push(new TextDecoder().decode(d));
    return out;
  };
  return { c, sent };
}

Deno.test(
  "ids client: OK exits 0, RESET and ERROR exit 1, each with the reply to print",
  pure,
  () => {
    for (
      const [reply, code] of [["OK 42 1.2.3.4 5", 0], ["RESET 42", 1], [
        "ERROR empty request",
        1,
      ]] as const
    ) {
      const { c, sent } = client("tcp");
      c.start(0);
      assert.deepEqual(sent(), ["HELLO 42\n"]);
      c.handleReply(enc(reply + "\n"), 1);
      assert.deepEqual(c.result, { code, reply });
      assert.equal(c.pollTimeout(), undefined);
    }
    const { c } = client("udp");
    c.start(0);
    c.handleReply(enc("what"), 1);
    assert.deepEqual(c.result, { code: 1, message: "h:9: unexpected reply 'what'" });
  },
);

Deno.test("ids client: UDP repeats the request within the timeout, then gives up", pure, () => {
  const { c, sent } = client("udp");
  c.start(0);
  assert.deepEqual(sent(), ["HELLO 42"]);
  for (let i = 1; i < UDP_TRIES; i++) {
    c.handleTimeout(i * 1000);
    assert.deepEqual(sent(), ["HELLO 42"], `try ${i + 1}`);
  }
  assert.equal(c.pollTimeout(), 4000);
  c.handleTimeout(4000);
  assert.deepEqual(sent(), []);
  assert.deepEqual(c.result, { code: 1, message: "no answer from h:9" });
});

Deno.test("ids client: a TCP server that closes without answering is a failure", pure, () => {
  const { c } = client("tcp");
  c.start(0);
  c.handleEnd("closed the connection");
  assert.deepEqual(c.result, { code: 1, message: "h:9 closed the connection without answering" });
});

Deno.test(
  "ids client: a RESET after a repeat says the id may be ours (exit 1); --verbose notes each send",
  pure,
  () => {
    const { c, sent } = client("udp");
    c.start(0);
    assert.deepEqual(sent(), ["HELLO 42"]);
    c.handleTimeout(1000); // the OK was lost: sent again
    assert.deepEqual(sent(), ["HELLO 42"]);
    c.handleReply(enc("RESET 42"), 1010);
    assert.equal(c.result?.code, 1);
    assert.equal(c.result?.reply, "RESET 42");
    assert.match(c.result?.message ?? "", /sent 2 times: the id may be this client's own/);
    const notes: string[] = [];
    for (let n = c.pollNote(); n !== undefined; n = c.pollNote()) notes.push(n);
    assert.deepEqual(notes, [
      "0.00 s: sent 'HELLO 42' to h:9 (udp) (try 1 of 4)",
      "1.00 s: sent 'HELLO 42' again: no reply 1.00 s after the first (try 2 of 4)",
      "1.01 s: reply 'RESET 42' (8 bytes)",
    ]);
  },
);

Deno.test(
  "ids client: a RESET to the only request is a plain RESET; junk is shown escaped",
  pure,
  () => {
    const first = client("udp");
    first.c.start(0);
    first.c.handleReply(enc("RESET 42"), 5);
    assert.deepEqual(first.c.result, { code: 1, reply: "RESET 42" });
    const junk = client("tcp");
    junk.c.start(0);
    junk.c.handleReply(enc("\x1b[2Jhello"), 5);
    assert.equal(junk.c.result?.code, 1);
    const notes: string[] = [];
    for (let n = junk.c.pollNote(); n !== undefined; n = junk.c.pollNote()) notes.push(n);
    assert.equal(notes[1], "0.01 s: reply '\\x1b[2Jhello' (9 bytes)");
  },
);
