/**
 * The `--json` contract: every family's table of JSON fields (one entry per
 * event) must say exactly what docs/events.md says, event by event and field
 * by field, in order, so the document cannot drift from the output. The
 * lines themselves start with event, time and peer.
 */

import assert from "node:assert/strict";
import { type EventNamed, jsonLine, type JsonTable } from "../../lib/events/json_lines.ts";
import type { BaseEvent } from "../../lib/events/sink.ts";
import { blastJsonFields, type BlastServerEvent } from "../../lib/blast/events.ts";
import { type FrameEvent, frameJsonFields } from "../../lib/frame/events.ts";
import { type IdsEvent, idsJsonFields } from "../../lib/ids/events.ts";
import { relayJsonFields, type RelayLogRecord } from "../../lib/impair/relay_machine.ts";
import { type PipeEvent, pipeJsonFields } from "../../lib/pipe/events.ts";
import { type ServerEvent, serverJsonFields } from "../../lib/pudp/events.ts";

const peer = { hostname: "127.0.0.1", port: 4000 };
const bytes = new TextEncoder().encode("hi");

/** One event of each name of a family, to call its table with. */
type Samples<E extends BaseEvent> = { [K in E["event"]]: EventNamed<E, K> };

interface Family<E extends BaseEvent> {
  table: JsonTable<E>;
  samples: Samples<E>;
}

const pudp: Family<ServerEvent> = {
  table: serverJsonFields,
  samples: {
    created: { event: "created", peer, session: "0x00000001", seq: 0 },
    data: { event: "data", peer, session: "0x00000001", seq: 1, data: bytes, offset: 0 },
    lost: { event: "lost", peer, session: "0x00000001", first: 2, last: 3, itemized: true },
    duplicate: { event: "duplicate", peer, session: "0x00000001", seq: 1 },
    goodbye: { event: "goodbye", peer, session: "0x00000001", seq: 4 },
    goodbye_repeated: { event: "goodbye_repeated", peer, session: "0x00000001", seq: 4 },
    closed: { event: "closed", peer, session: "0x00000001", reason: "goodbye" },
    dropped: { event: "dropped", peer, reason: "not PUDP" },
    table_full: { event: "table_full", peer, limit: 2, action: "dropping" },
  },
};

const ids: Family<IdsEvent> = {
  table: idsJsonFields,
  samples: {
    ok: { event: "ok", peer, id: "a", transport: "udp", repeat: false },
    reset: { event: "reset", peer, id: "a", transport: "tcp", holder: "127.0.0.1:1" },
    error: { event: "error", peer, reason: "bad", transport: "udp" },
    expired: { event: "expired", peer, id: "a" },
    dropped: { event: "dropped", peer, reason: "reply", transport: "udp" },
    table_full: { event: "table_full", peer, limit: 3 },
    connected: { event: "connected", peer, connection: 1 },
    closed: { event: "closed", peer, connection: 1, reason: "peer closed" },
  },
};

const frame: Family<FrameEvent> = {
  table: frameJsonFields,
  samples: {
    connected: { event: "connected", peer, connection: 1 },
    message: { event: "message", peer, connection: 1, payload: bytes, answerBytes: 2 },
    closed: {
      event: "closed",
      peer,
      connection: 1,
      messages: 1,
      reason: "peer closed",
      buffered: 0,
    },
  },
};

const pipe: Family<PipeEvent> = {
  table: pipeJsonFields,
  samples: {
    connected: { event: "connected", peer, connection: 1 },
    live: { event: "live", peer, connection: 1, held: 0 },
    closed: {
      event: "closed",
      peer,
      connection: 1,
      bytes: 5,
      memory: 5,
      disk: 0,
      reason: "peer closed",
    },
    waiting: { event: "waiting", peer, connection: 2, memory: 1, disk: 1 },
    failed: { event: "failed", peer, connection: 1, bytes: 5, reason: "cut: x", told: true },
  },
};

const blast: Family<BlastServerEvent> = {
  table: blastJsonFields,
  samples: {
    request: { event: "request", peer, run: "#1", request: "GET bytes=1" },
    refused: { event: "refused", peer, run: "#1", reason: "busy" },
    echo: { event: "echo", peer, run: "#1", text: "hi" },
    closed: {
      event: "closed",
      peer,
      run: "#1",
      reason: "complete",
      sent: { segments: 1, bytes: 1, seconds: 0 },
    },
    dropped: {
      event: "dropped",
      peer,
      reason: "not blast",
      first_bytes: "hello",
      hint: "looks like a classic blast request: try --classic",
    },
  },
};

const record = { peer, direction: "up", datagram: 0, bytes: 12 } as const;
const impair: Family<RelayLogRecord> = {
  table: relayJsonFields,
  samples: {
    passed: { event: "passed", ...record },
    dropped: { event: "dropped", ...record },
    duplicated: { event: "duplicated", ...record },
    reordered: { event: "reordered", ...record },
    released: { event: "released", ...record, overtakenBy: null },
    refused: { event: "refused", ...record, datagram: undefined },
  },
};

/** The families by the name docs/events.md gives them. */
const FAMILIES: Record<string, Family<BaseEvent>> = {
  "pudp server": pudp as unknown as Family<BaseEvent>,
  "ids server": ids as unknown as Family<BaseEvent>,
  "frame server": frame as unknown as Family<BaseEvent>,
  "pipe server": pipe as unknown as Family<BaseEvent>,
  "blast server": blast as unknown as Family<BaseEvent>,
  "impair --log": impair as unknown as Family<BaseEvent>,
};

/** The names in backquotes in a cell. */
function names(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]);
}

/** docs/events.md's table: family → event → its fields, in order. */
function documented(): Map<string, Map<string, string[]>> {
  const text = Deno.readTextFileSync(new URL("../../docs/events.md", import.meta.url));
  const rows = text.split("\n").filter((l) => l.startsWith("|")).map((l) =>
    l.slice(1, -1).split("|").map((c) => c.trim())
  );
  const header = rows.findIndex((r) => r[0] === "family");
  assert.ok(header >= 0, "docs/events.md has a table headed family | event | fields | meaning");
  assert.deepEqual(rows[header], ["family", "event", "fields", "meaning"]);
  const table = new Map<string, Map<string, string[]>>();
  for (const row of rows.slice(header + 2)) {
    const [family] = names(row[0]);
    const [event] = names(row[1]);
    const events = table.get(family) ?? new Map<string, string[]>();
    assert.ok(!events.has(event), `${family} ${event} is listed once`);
    events.set(event, names(row[2]));
    table.set(family, events);
  }
  return table;
}

Deno.test("events contract: docs/events.md lists the families there are", () => {
  assert.deepEqual([...documented().keys()].sort(), Object.keys(FAMILIES).sort());
});

for (const [name, family] of Object.entries(FAMILIES)) {
  Deno.test(`events contract: ${name}: every event's JSON fields are the documented ones`, () => {
    const doc = documented().get(name)!;
    const table = family.table as unknown as Record<string, (e: BaseEvent) => object>;
    assert.deepEqual(Object.keys(table).sort(), [...doc.keys()].sort(), "the events");
    const samples = family.samples as unknown as Record<string, BaseEvent>;
    for (const [event, fields] of doc) {
      const declared = Object.keys(table[event](samples[event]));
      assert.deepEqual(declared, fields, `${name} ${event}`);
      for (const common of ["event", "time", "peer"]) {
        assert.ok(!declared.includes(common), `${name} ${event} redeclares ${common}`);
      }
      const line = jsonLine(family.table, samples[event], new Date(0));
      const parsed = JSON.parse(line);
      assert.deepEqual(Object.keys(parsed).slice(0, 3), ["event", "time", "peer"]);
      assert.deepEqual(parsed.event, event);
      assert.equal(parsed.time, "1970-01-01T00:00:00.000Z");
      assert.equal(parsed.peer, "127.0.0.1:4000");
      assert.ok(line.endsWith("}\n"));
      for (const key of Object.keys(parsed).slice(3)) {
        assert.ok(fields.includes(key), `${name} ${event}: ${key} is documented`);
      }
    }
  });
}

Deno.test("events contract: a payload is text when it is UTF-8, else base64, never both", () => {
  const line = (data: Uint8Array) =>
    JSON.parse(
      jsonLine(
        serverJsonFields,
        { event: "data", peer, session: "0x00000001", seq: 1, data, offset: 0 },
        new Date(0),
      ),
    );
  const text = line(new TextEncoder().encode("héllo"));
  assert.equal(text.text, "héllo");
  assert.ok(!("base64" in text));
  const binary = line(new Uint8Array([0xff, 0x00]));
  assert.equal(binary.base64, "/wA=");
  assert.ok(!("text" in binary));
});
