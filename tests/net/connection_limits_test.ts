/**
 * The decisions behind `--max-connections` and `--idle-timeout`, on a
 * numeric clock: the cap admits up to N and refuses the rest until one is
 * released, refusals are counted and said the first time and then at most
 * once a minute; a connection is idle only after a whole timeout of waiting
 * for a byte, each read starts the wait again, a connection the server is
 * not reading is never idle, and 0 means no timeout.
 */

import assert from "node:assert/strict";
import {
  ConnectionLimits,
  idleReason,
  REFUSED_NOTICE_MS,
} from "../../lib/net/connection_limits.ts";
import { IDLE_TIMEOUT_FLAG, MAX_CONNECTIONS_FLAG, tcpLimits } from "../../lib/cli/flags.ts";

Deno.test({
  name:
    "limits: the cap admits N, refuses the N+1th at once, and admits again once one is released",
  permissions: "none",
  fn() {
    const limits = new ConnectionLimits<string>({ maxConnections: 2, idleTimeoutMs: 0 });
    assert.equal(limits.admit(0), true);
    assert.equal(limits.admit(0), true);
    assert.equal(limits.open, 2);
    assert.equal(limits.admit(1), false);
    assert.equal(limits.admit(2), false);
    assert.equal(limits.refused, 2);
    assert.equal(limits.open, 2);
    limits.release(limits.timer("a"));
    assert.equal(limits.open, 1);
    assert.equal(limits.admit(3), true);
    assert.equal(limits.admit(3), false);
    assert.equal(limits.refused, 3);
  },
});

Deno.test({
  name: "limits: refusals are said the first time, then at most once a minute, with the counts",
  permissions: "none",
  fn() {
    const limits = new ConnectionLimits<string>({ maxConnections: 1, idleTimeoutMs: 0 });
    limits.admit(0);
    assert.equal(limits.pollNotice(), undefined);
    limits.admit(1000);
    const first = limits.pollNotice();
    assert.match(first!, /--max-connections 1\b/);
    assert.match(first!, /refused 1 new connection/);
    assert.equal(limits.pollNotice(), undefined, "a notice is polled once");
    for (let t = 2000; t < 1000 + REFUSED_NOTICE_MS; t += 1000) {
      limits.admit(t);
      assert.equal(limits.pollNotice(), undefined, `no second notice within the minute (at ${t})`);
    }
    limits.admit(1000 + REFUSED_NOTICE_MS);
    const second = limits.pollNotice();
    assert.match(second!, /refused 60 new connection\(s\) in the last minute or more, 61 in all/);
  },
});

Deno.test({
  name: "limits: idle means a whole timeout of waiting for a byte; each read starts it again",
  permissions: "none",
  fn() {
    const limits = new ConnectionLimits<string>({ maxConnections: 10, idleTimeoutMs: 1000 });
    const a = limits.timer("a"), b = limits.timer("b");
    limits.admit(0);
    limits.admit(0);
    limits.reading(a, 0);
    limits.reading(b, 500);
    assert.equal(limits.nextAt, 1000);
    assert.equal(limits.popIdle(999), undefined);
    // Bytes came on a at 900 (the wait ends), and the next read waits from 950.
    limits.notReading(a);
    limits.reading(a, 950);
    assert.equal(limits.popIdle(1000), undefined);
    assert.equal(limits.popIdle(1500), "b");
    assert.equal(limits.popIdle(1500), undefined);
    assert.equal(limits.popIdle(1950), "a");
    assert.equal(limits.nextAt, undefined);
    assert.equal(idleReason(1000), "idle for 1 s");
    assert.equal(limits.idleReason, "idle for 1 s");
  },
});

Deno.test({
  name:
    "limits: a connection the server is not reading is never idle, and a released one is forgotten",
  permissions: "none",
  fn() {
    const limits = new ConnectionLimits<string>({ maxConnections: 10, idleTimeoutMs: 1000 });
    const paused = limits.timer("paused"), gone = limits.timer("gone");
    limits.admit(0);
    limits.admit(0);
    limits.reading(paused, 0);
    limits.notReading(paused); // e.g. waiting for stdout or for its replies to be written
    limits.reading(gone, 0);
    limits.release(gone);
    assert.equal(limits.popIdle(1_000_000), undefined);
    assert.equal(limits.nextAt, undefined);
    assert.equal(limits.open, 1);
  },
});

Deno.test({
  name:
    "limits: --idle-timeout 0 sets no deadline; the flags parse to the limits (defaults 1024, 60 s)",
  permissions: "none",
  fn() {
    const limits = new ConnectionLimits<string>({ maxConnections: 10, idleTimeoutMs: 0 });
    limits.reading(limits.timer("a"), 0);
    assert.equal(limits.nextAt, undefined);
    assert.deepEqual(
      tcpLimits({
        "max-connections": MAX_CONNECTIONS_FLAG.fallback,
        "idle-timeout": IDLE_TIMEOUT_FLAG.fallback,
      }),
      { maxConnections: 1024, idleTimeoutMs: 60_000 },
    );
    assert.equal(IDLE_TIMEOUT_FLAG.parse("0", "idle-timeout"), 0);
    assert.equal(IDLE_TIMEOUT_FLAG.parse("1.5", "idle-timeout"), 1500);
    assert.throws(() => MAX_CONNECTIONS_FLAG.parse("0", "max-connections"), /max-connections/);
  },
});
