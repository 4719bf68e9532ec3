/**
 * A started server is ready when its program owns a socket on its port:
 * UDP bound, TCP listening, read from /proc directly or through `sh` (the
 * way `pudp check` reads it without every permission). The program here
 * binds only after a delay, so a readiness that did not look would answer
 * too early.
 */

import assert from "node:assert/strict";
import { waitBound } from "../../lib/check/readiness.ts";
import { freePort, Spawned } from "../../lib/check/target.ts";

/** A Python program that binds `port` (UDP or TCP) after `delay` s and waits for EOF on stdin. */
function lateBinder(transport: "udp" | "tcp", port: number, delay: number): Spawned {
  const kind = transport === "udp" ? "SOCK_DGRAM" : "SOCK_STREAM";
  const listen = transport === "tcp" ? "s.listen(4)\n" : "";
  return new Spawned([
    "python3",
    "-c",
    `import socket, sys, time\ntime.sleep(${delay})\ns = socket.socket(socket.AF_INET, socket.${kind})\n` +
    `s.bind(("127.0.0.1", ${port}))\n${listen}sys.stdin.read()\n`,
  ]);
}

for (const transport of ["udp", "tcp"] as const) {
  for (const via of ["direct", "shell"] as const) {
    Deno.test(`check readiness: a ${transport} server that binds late, /proc read ${via}`, async () => {
      const port = freePort(transport);
      const program = lateBinder(transport, port, 0.6);
      try {
        const start = performance.now();
        assert.equal(await waitBound(program, port, 15_000, transport, via), true);
        assert.ok(performance.now() - start >= 500, "ready before it bound");
      } finally {
        await program.stop();
      }
    });
  }
}

Deno.test("check readiness: a port bound by another process is not the program's", async () => {
  const port = freePort("udp");
  const other = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
  const program = new Spawned(["python3", "-c", "import sys; sys.stdin.read()"]);
  try {
    assert.equal(await waitBound(program, port, 800, "udp", "shell"), false);
  } finally {
    other.close();
    await program.stop();
  }
});
