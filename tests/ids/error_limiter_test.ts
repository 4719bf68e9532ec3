/**
 * The ERROR rate limiter with numeric time: the burst, the refill, the
 * total shared by all addresses, and the bounded table of addresses
 * (properties over any sequence of calls).
 */

import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { ErrorLimiter } from "../../lib/ids/error_limiter.ts";

const pure = { permissions: "none" } as const;

Deno.test("ids error limiter: a burst, then the rate; addresses apart", pure, () => {
  const l = new ErrorLimiter({ burst: 5, rate: 5, totalBurst: 100, totalRate: 100 });
  let sent = 0;
  for (let i = 0; i < 1000; i++) if (l.allow("a", i)) sent++;
  assert.equal(sent, 9, "5 at once, then one each 200 ms");
  assert.equal(l.allow("b", 1000), true, "another address has its own bucket");
  assert.equal(l.allow("a", 1000), true);
  assert.equal(l.allow("a", 1000), false);
  let later = 0;
  for (let i = 0; i < 100; i++) if (l.allow("a", 60_000)) later++;
  assert.equal(later, 5, "the bucket refills to its burst, not more");
});

Deno.test("ids error limiter: the total bounds a flood from many addresses", pure, () => {
  const l = new ErrorLimiter({ totalBurst: 10, totalRate: 10, addresses: 50 });
  let sent = 0;
  for (let i = 0; i < 10_000; i++) if (l.allow(`10.0.${i >> 8}.${i & 255}:1`, i / 10)) sent++;
  assert.ok(sent <= 20, `${sent}`);
  assert.equal(l.size, 50);
});

Deno.test("ids error limiter: property: bounded table, bounded rates", pure, () => {
  const limits = { burst: 3, rate: 2, totalBurst: 8, totalRate: 4, addresses: 16 };
  fc.assert(fc.property(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 300 })), {
      maxLength: 400,
    }),
    (calls) => {
      const l = new ErrorLimiter(limits);
      let now = 0;
      const allowed: [number, number][] = [];
      for (const [address, step] of calls) {
        now += step;
        if (l.allow(`a${address}`, now)) allowed.push([address, now]);
        assert.ok(l.size <= limits.addresses);
      }
      // in any window [t, t + T] at most burst + rate * T go out, in all and (with fewer
      // addresses than the table holds) per address
      for (const [, start] of allowed) {
        for (const T of [0, 500, 2000]) {
          const inWindow = allowed.filter(([, t]) => t >= start && t <= start + T);
          assert.ok(inWindow.length <= limits.totalBurst + limits.totalRate * T / 1000);
          if (new Set(calls.map(([a]) => a)).size <= limits.addresses) {
            for (const a of new Set(inWindow.map(([a]) => a))) {
              const mine = inWindow.filter(([x]) => x === a).length;
              assert.ok(mine <= limits.burst + limits.rate * T / 1000, `address ${a}: ${mine}`);
            }
          }
        }
      }
    },
  ));
});
