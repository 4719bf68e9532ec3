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
