/** The pure parts of `pudp check pipe`: the cases as data, the scripted server, the judges. */

import assert from "node:assert/strict";
import { PIPE_CLIENT_CASES } from "../../lib/check/pipe_client_cases.ts";
import {
  binarySample,
  contiguous,
  firstDifference,
  patternBytes,
  psTreeRss,
  StreamCompare,
  vmRss,
} from "../../lib/check/pipe_output.ts";
import { NORMAL_PIPE, PipeScriptedServer } from "../../lib/check/pipe_scripted_server.ts";
import { clientStream, PIPE_SERVER_CASES } from "../../lib/check/pipe_server_cases.ts";
import { selectCases } from "../../lib/check/case_model.ts";

const enc = new TextEncoder();

Deno.test({
  name: "check pipe: case ids are unique, role/section/name, each with a title, a row and a level",
  permissions: "none",
  fn() {
    const all = [...PIPE_SERVER_CASES, ...PIPE_CLIENT_CASES];
    assert.equal(new Set(all.map((c) => c.id)).size, all.length);
    for (const c of all) {
      assert.match(c.id, /^(server|client)\/[a-z]+\/[a-z-]+$/, c.id);
      assert.ok(c.title && c.row, c.id);
      assert.ok(c.level === "course" || c.level === "strict", c.id);
      assert.doesNotMatch(c.row + c.title, /SPEC|seed/, c.id);
    }
    assert.equal(PIPE_SERVER_CASES.filter((c) => c.level === "course").length, 8);
    assert.equal(PIPE_CLIENT_CASES.filter((c) => c.level === "course").length, 7);
    assert.deepEqual(PIPE_CLIENT_CASES.filter((c) => c.needsTimeout).map((c) => c.id), [
      "client/timeout/never-close",
    ]);
    const sections = (ids: string[]) => ids.map((id) => id.split("/")[1]);
    for (
      const ids of [
        sections(selectCases(PIPE_SERVER_CASES, [], true).map((c) => c.id)),
        sections(selectCases(PIPE_CLIENT_CASES, [], true).map((c) => c.id)),
      ]
    ) {
      assert.deepEqual(ids, ids.toSorted((a, b) => ids.indexOf(a) - ids.indexOf(b)));
    }
  },
});

Deno.test({
  name: "check pipe: the scripted server: normal, paused, never closes, closes early, FIN first",
  permissions: "none",
  fn() {
    const normal = new PipeScriptedServer(NORMAL_PIPE);
    assert.deepEqual(normal.next(0), { kind: "wait", until: Infinity });
    normal.connected(10);
    assert.deepEqual(normal.next(10), { kind: "read" });
    normal.received(100, 11);
    normal.peerEnded(12);
    assert.deepEqual(normal.next(12), { kind: "close" });
    assert.equal(normal.closedAt, 12);
    assert.deepEqual(normal.next(13), { kind: "done" });

    const paused = new PipeScriptedServer({ ...NORMAL_PIPE, pauseMs: 3000 });
    paused.connected(100);
    assert.deepEqual(paused.next(200), { kind: "wait", until: 3100 });
    assert.deepEqual(paused.next(3100), { kind: "read" });

    const delayed = new PipeScriptedServer({ ...NORMAL_PIPE, closeDelayMs: 500 });
    delayed.connected(0);
    delayed.peerEnded(100);
    assert.deepEqual(delayed.next(100), { kind: "wait", until: 600 });
    assert.deepEqual(delayed.next(600), { kind: "close" });

    const never = new PipeScriptedServer({ ...NORMAL_PIPE, afterEof: "never" });
    never.connected(0);
    never.received(5, 1);
    never.peerEnded(2);
    assert.deepEqual(never.next(2), { kind: "hold" });
    assert.deepEqual(never.next(9999), { kind: "hold" });
    assert.equal(never.closedAt, undefined);

    const early = new PipeScriptedServer({ ...NORMAL_PIPE, closeAfter: 64 });
    early.connected(0);
    early.received(63, 1);
    assert.deepEqual(early.next(1), { kind: "read" });
    early.received(10, 2);
    assert.deepEqual(early.next(2), { kind: "close" });
    assert.deepEqual(early.next(3), { kind: "done" });

    const fin = new PipeScriptedServer({ ...NORMAL_PIPE, finAfter: 1 });
    fin.connected(0);
    fin.received(4, 1);
    assert.deepEqual(fin.next(1), { kind: "fin" });
    assert.equal(fin.finAt, 1);
    assert.deepEqual(fin.next(2), { kind: "read" });
    fin.peerEnded(5);
    assert.deepEqual(fin.next(5), { kind: "close" });

    const reset = new PipeScriptedServer(NORMAL_PIPE);
    reset.connected(0);
    reset.peerReset(3);
    assert.deepEqual(reset.next(3), { kind: "done" });
  },
});

Deno.test({
  name:
    "check pipe: the pattern is the same however it is cut; the stream compare finds the first difference",
  permissions: "none",
  fn() {
    const whole = patternBytes(9, 0, 1000);
    assert.deepEqual(patternBytes(9, 333, 100), whole.subarray(333, 433));
    assert.notDeepEqual(patternBytes(10, 0, 16), whole.subarray(0, 16));

    const ok = new StreamCompare(9, 1000);
    for (let at = 0; at < 1000; at += 7) ok.add(whole.subarray(at, Math.min(1000, at + 7)));
    assert.equal(ok.verdict(), undefined);

    const short = new StreamCompare(9, 1000);
    short.add(whole.subarray(0, 600));
    assert.equal(short.verdict(), "600 bytes instead of 1000 (the first ones exact)");

    const long = new StreamCompare(9, 1000);
    long.add(whole);
    long.add(Uint8Array.of(1));
    assert.equal(long.verdict(), "1001 bytes instead of 1000 (the bytes sent, then more)");

    const bad = new StreamCompare(9, 1000);
    const changed = whole.slice();
    changed[500] ^= 0xff;
    bad.add(changed);
    assert.match(bad.verdict()!, /^1000 bytes, differing from byte 500 on: '/);
  },
});

Deno.test({
  name: "check pipe: contiguous output: any order, each whole; interleaving and loss are named",
  permissions: "none",
  fn() {
    const streams = [0, 1, 2].map((i) => clientStream(i, 3, 50));
    const cat = (...parts: Uint8Array[]) => {
      const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) {
        out.set(p, at);
        at += p.length;
      }
      return out;
    };
    assert.deepEqual(contiguous(cat(streams[2], streams[0], streams[1]), streams), {
      order: [2, 0, 1],
    });
    const mixed = cat(streams[0].subarray(0, 20), streams[1], streams[0].subarray(20), streams[2]);
    assert.match(
      contiguous(mixed, streams).error!,
      /^at byte 0: only 20 of client 1's 66 bytes, then the start of client 2's \(interleaved\)$/,
    );
    assert.match(contiguous(cat(streams[0], streams[1]), streams).error!, /client\(s\) 3 missing/);
    assert.match(
      contiguous(cat(...streams, enc.encode("\n")), streams).error!,
      /every client's bytes, then '\\x0a'/,
    );
    assert.match(
      contiguous(cat(enc.encode("?"), ...streams), streams).error!,
      /at byte 0 .*the start of no client's bytes/,
    );
    // An empty client may be anywhere (it adds nothing).
    assert.deepEqual(contiguous(cat(streams[1]), [new Uint8Array(0), streams[1]]), { order: [1] });
  },
});

Deno.test({
  name: "check pipe: first differences, the binary sample, VmRSS",
  permissions: "none",
  fn() {
    const a = enc.encode("abcdef");
    assert.equal(firstDifference(a, a), undefined);
    assert.equal(
      firstDifference(a, enc.encode("abc")),
      "3 bytes (6 sent): the first 3 exact, then nothing",
    );
    assert.equal(
      firstDifference(a, enc.encode("abXdef")),
      "6 bytes (6 sent), differing from byte 2 on: 'Xdef' (4 bytes) where 'cdef' (4 bytes) was sent",
    );
    assert.match(firstDifference(a, enc.encode("abcdef\n"))!, /the bytes sent, then '\\x0a'/);
    const sample = binarySample();
    assert.equal(new Set(sample).size, 256);
    assert.throws(() => new TextDecoder("utf-8", { fatal: true }).decode(sample));
    assert.equal(vmRss("Name:\tdeno\nVmHWM:\t  191234 kB\nVmRSS:\t   91234 kB\n"), 191234 * 1024);
    assert.equal(vmRss("VmRSS:\t   91234 kB\n"), 91234 * 1024);
    assert.equal(vmRss("Name:\tzombie\n"), 0);
    const ps =
      "    1     0 13716\n  500     1  1000\n  501   500   200\n  502   501    10\n  600     1  9999\n";
    assert.equal(psTreeRss(ps, 500), 1210 * 1024);
    assert.equal(psTreeRss(ps, 502), 10 * 1024);
    assert.equal(psTreeRss(ps, 777), undefined);
  },
});
