/**
 * `pudp server --json` end to end: one JSON object per line per event, with
 * event, time (ISO 8601 UTC), peer and the PUDP fields; text stays the default.
 */

import assert from "node:assert/strict";
import { runClient, startServer } from "../helpers/cli.ts";

Deno.test("json: pudp server --json prints one object per event, payloads as text or base64", async () => {
  const server = await startServer(["--json"]);
  await using _ = server.process;
  const input = new Uint8Array([...new TextEncoder().encode("plain text\n"), 0xc3, 0x28, 0x0a]);
  const client = await runClient(server.port, input);
  assert.equal(client.code, 0, client.stderr);
  await server.process.stdout.waitFor((t) => t.includes('"closed"'), 5_000, "closed event");
  await server.process.closeStdin();
  const out = await server.process.exit();
  assert.equal(out.code, 0, out.stderr);
  const events = out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  for (const e of events) {
    assert.match(e.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.match(e.peer, /^127\.0\.0\.1:\d+$/);
    assert.match(e.session, /^0x[0-9a-f]{8}$/);
  }
  assert.deepEqual(
    events.map(({ time: _t, peer: _p, session: _s, ...rest }) => rest),
    [
      { event: "created", seq: 0 },
      { event: "data", seq: 1, text: "plain text" },
      { event: "data", seq: 2, base64: "wyg=" },
      { event: "goodbye", seq: 3 },
      { event: "closed", reason: "goodbye" },
    ],
  );
});
