/**
 * The ids family's server cases: pudp plays the clients (over UDP one
 * socket per client address; over TCP one connection each) and judges the
 * replies, the connections the server closes and, when pudp started it,
 * the lines it prints.
 *
 * How this works: each case makes {@link Asker}s (a client address: a UDP
 * socket, or a TCP connection whose local port is known, so the `OK`'s
 * `<client-port>` can be checked) and asks `HELLO <id>` with fresh random
 * ids. Where a case needs silence from a UDP server it then asks for
 * another fresh id from the same socket and takes everything that came
 * before that answer as the answer to what it sent before (the server
 * handles datagrams in order); over TCP it waits a bounded while.
 *
 * @module
 */

import { firstBytes } from "../io/terminal_text.ts";
import {
  type CaseOptions,
  type CheckCase,
  fail,
  type Outcome,
  pass,
  skip,
  type TraceSink,
} from "./case_model.ts";
import { bindAddress, Probe } from "./probe.ts";
import { StreamProbe } from "./stream_probe.ts";
import type { ServerTarget } from "./target.ts";

/** How long a reply may take on loopback (a busy machine included). */
const REPLY_MS = 3000;
/** How long a TCP server is given to say something it should not (or to close). */
const QUIET_MS = 1500;
/** How long a printed line may take to show. */
const LINE_MS = 1500;

const enc = new TextEncoder();
const dec = new TextDecoder("latin1");

/** A datagram or segment as the trace shows it: its text, escaped, and its size. */
export function describeIds(bytes: Uint8Array, length: number = bytes.length): string {
  const shown = firstBytes(bytes, 64).replace(/ \(\d+ bytes\)$/, "");
  return `${shown}${length > bytes.length && !shown.endsWith("…") ? "…" : ""} (${length} bytes)`;
}

/** A fresh 4-digit id, as the course's clients use. */
export function randomId(): string {
  return String(1000 + (crypto.getRandomValues(new Uint32Array(1))[0] % 9000));
}

/** A reply: its bytes, its text without the line ending, when it came. */
interface Reply {
  bytes: Uint8Array;
  text: string;
}

/** Its words (`OK 1234 127.0.0.1 5555` → four). */
function words(r: Reply | undefined): string[] {
  return r === undefined ? [] : r.text.trim().split(/\s+/);
}

function show(r: Reply | undefined): string {
  return r === undefined ? "nothing" : describeIds(r.bytes);
}

/** One client address of a case: a UDP socket, or one TCP connection. */
class Asker {
  #consumed = 0;
  private constructor(
    readonly target: ServerTarget,
    readonly port: number,
    readonly ip: string,
    readonly probe?: Probe,
    readonly stream?: StreamProbe,
  ) {}

  /** A new client address (over TCP, a connection; throws when it cannot connect). */
  static async open(target: ServerTarget, trace: TraceSink, tcp: boolean): Promise<Asker> {
    const bind = bindAddress(target.host);
    if (!tcp) {
      const probe = new Probe(trace, bind, 0, undefined, (b) => describeIds(b));
      return new Asker(target, probe.port, bind, probe);
    }
    const stream = await StreamProbe.connect(
      trace,
      target.host,
      target.port,
      describeIds,
      REPLY_MS,
    );
    return new Asker(target, stream.local.port, stream.local.hostname, undefined, stream);
  }

  /** Sends one message (over TCP, `line` gets `\n` unless `bare`). */
  async send(text: string | Uint8Array, bare = false): Promise<boolean> {
    const bytes = typeof text === "string" ? enc.encode(text) : text;
    if (this.probe) {
      await this.probe.send(bytes, this.target.port, this.target.host);
      return true;
    }
    const line = bare ? bytes : Uint8Array.from([...bytes, 0x0a]);
    return await this.stream!.write(line);
  }

  /** Asks `HELLO <id>` and waits for the answer. */
  async ask(id: string, ms = REPLY_MS): Promise<Reply | undefined> {
    await this.send(`HELLO ${id}`);
    return await this.reply(ms);
  }

  /**
   * The next reply within `ms`: a datagram from the server; over TCP a line
   * (or what came before the server closed, or a partial line left alone).
   */
  async reply(ms = REPLY_MS): Promise<Reply | undefined> {
    if (this.probe) {
      const end = performance.now() + ms;
      for (;;) {
        const got = await this.probe.next(Math.max(0, end - performance.now()));
        if (!got) return undefined;
        if (got.port === this.target.port) return { bytes: got.bytes, text: text(got.bytes) };
      }
    }
    const s = this.stream!;
    const line = () => s.received.subarray(this.#consumed).indexOf(0x0a);
    await s.waitFor(() => line() >= 0, ms);
    if (line() < 0 && s.receivedLength > this.#consumed && s.end === undefined) {
      await s.waitFor(() => line() >= 0, 300); // a reply without a line ending: take it once quiet
    }
    const rest = s.received.subarray(this.#consumed);
    if (rest.length === 0) return undefined;
    const at = rest.indexOf(0x0a);
    const bytes = rest.slice(0, at < 0 ? rest.length : at + 1);
    this.#consumed += bytes.length;
    return { bytes, text: text(bytes) };
  }

  /** Over TCP: how the server ended the connection within `ms` (undefined: it did not). */
  async ended(ms: number): Promise<string | undefined> {
    return await this.stream?.waitEnd(ms);
  }

  close(): void {
    this.probe?.close();
    this.stream?.close();
  }
}

function text(bytes: Uint8Array): string {
  return dec.decode(bytes).replace(/\r?\n$/, "");
}

/** The askers of one case, closed after it. */
class Clients {
  readonly all: Asker[] = [];
  constructor(readonly target: ServerTarget, readonly trace: TraceSink, readonly o: CaseOptions) {}

  readonly #used = new Set<string>();

  /** A fresh 4-digit id, not used before in this case. */
  fresh(): string {
    for (;;) {
      const id = randomId();
      if (!this.#used.has(id)) {
        this.#used.add(id);
        return id;
      }
    }
  }

  get tcp(): boolean {
    return this.o.tcp === true;
  }

  async open(): Promise<Asker> {
    const a = await Asker.open(this.target, this.trace, this.tcp);
    this.all.push(a);
    return a;
  }

  close(): void {
    for (const a of this.all) a.close();
  }
}

/** Runs `body` with the case's clients, closing them after. */
async function withClients(
  target: ServerTarget,
  trace: TraceSink,
  o: CaseOptions,
  body: (c: Clients) => Promise<Outcome | undefined>,
): Promise<Outcome> {
  const c = new Clients(target, trace, o);
  try {
    return (await body(c)) ?? pass();
  } finally {
    c.close();
  }
}

/** The address an OK names for `a`: its own, when the server is on loopback. */
function okFor(a: Asker, id: string, r: Reply | undefined, why: string): Outcome | undefined {
  const w = words(r);
  const ipOk = a.target.host.startsWith("127.") || a.target.host === "::1"
    ? w[2] === a.ip || w[2] === `::ffff:${a.ip}`
    : w[2] !== undefined;
  if (w.length === 4 && w[0] === "OK" && w[1] === id && ipOk && w[3] === String(a.port)) {
    return undefined;
  }
  return fail(`OK ${id} ${a.ip} ${a.port} (${why})`, show(r));
}

function isReset(r: Reply | undefined, id: string): boolean {
  const w = words(r);
  return w.length === 2 && w[0] === "RESET" && w[1] === id;
}

function resetFor(id: string, r: Reply | undefined, why: string): Outcome | undefined {
  return isReset(r, id) ? undefined : fail(`RESET ${id} (${why})`, show(r));
}

/**
 * UDP: everything the server sent `a` until it answered a request for a
 * fresh id asked now (undefined when that is not answered). TCP: what came
 * on `a` within {@link QUIET_MS}.
 */
async function before(c: Clients, a: Asker): Promise<Reply[] | undefined> {
  const out: Reply[] = [];
  if (a.stream) {
    const end = performance.now() + QUIET_MS;
    for (;;) {
      const r = await a.reply(Math.max(0, end - performance.now()));
      if (!r) return out;
      out.push(r);
    }
  }
  const id = c.fresh();
  await a.send(`HELLO ${id}`);
  const end = performance.now() + REPLY_MS;
  for (;;) {
    const r = await a.reply(Math.max(0, end - performance.now()));
    if (!r) return undefined;
    const w = words(r);
    if (w[1] === id && (w[0] === "OK" || w[0] === "RESET")) return out;
    out.push(r);
  }
}

/** The server still answers: a new client gets OK for a fresh id. */
async function stillAnswers(c: Clients, after: string): Promise<Outcome | undefined> {
  const a = await c.open();
  const id = c.fresh();
  return okFor(a, id, await a.ask(id), `a new client's request ${after}: the server still answers`);
}

/**
 * Sends each of `messages` (over TCP each on its own connection) and
 * collects what the server answered to them; undefined when a UDP server
 * stopped answering.
 */
async function answersTo(
  c: Clients,
  messages: (string | Uint8Array)[],
): Promise<Reply[] | undefined> {
  if (!c.tcp) {
    const a = await c.open();
    for (const m of messages) await a.send(m);
    return await before(c, a);
  }
  const got = await Promise.all(messages.map(async (m) => {
    const a = await c.open();
    await a.send(m);
    return await before(c, a);
  }));
  return got.flatMap((r) => r ?? []);
}

const needsProgram = (t: ServerTarget): Outcome | undefined =>
  t.program ? undefined : skip("needs the server started by pudp (-- CMD … {port})");

const tcpOnly = (o: CaseOptions): Outcome | undefined => o.tcp ? undefined : skip("TCP only");

/** A visible ASCII id of `n` characters (no space), random. */
function visibleId(n: number): string {
  const chars =
    "!#$%&()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~";
  const r = crypto.getRandomValues(new Uint8Array(n));
  return [...r].map((b) => chars[b % chars.length]).join("");
}

type ServerCase = CheckCase<ServerTarget>;

/** A case whose body gets the case's clients. */
function serverCase(
  head: Omit<ServerCase, "run">,
  body: (c: Clients, t: ServerTarget, o: CaseOptions) => Promise<Outcome | undefined>,
  gate?: (t: ServerTarget, o: CaseOptions) => Outcome | undefined,
): ServerCase {
  return {
    ...head,
    run: (t, trace, o) => {
      const skipped = gate?.(t, o);
      return skipped ? Promise.resolve(skipped) : withClients(t, trace, o, (c) => body(c, t, o));
    },
  };
}

/** Every ids server case, in the order they are listed and reported. */
export const IDS_SERVER_CASES: readonly CheckCase<ServerTarget>[] = [
  serverCase({
    id: "server/request/ok",
    title: "a free id gets OK <id> <client-ip> <client-port>, naming the asker's own address",
    row:
      "A client asks `HELLO <id>`; if nobody holds the id, the server holds it for the client and answers `OK <id> <client-ip> <client-port>`",
    level: "course",
  }, async (c) => {
    const a = await c.open();
    const id = c.fresh();
    return okFor(a, id, await a.ask(id), "a free id");
  }),
  serverCase({
    id: "server/request/exact",
    title: "the OK is exactly one line: no line ending over UDP, one `\\n` over TCP",
    row: "the server's TCP replies end with `\\n`; UDP datagrams carry no line ending",
    level: "strict",
  }, async (c) => {
    const a = await c.open();
    const id = c.fresh();
    const r = await a.ask(id);
    const want = `OK ${id} ${a.ip} ${a.port}${c.tcp ? "\n" : ""}`;
    return r && dec.decode(r.bytes) === want
      ? undefined
      : fail(describeIds(enc.encode(want)), show(r));
  }),
  serverCase({
    id: "server/request/reset",
    title: "an id held by another client gets RESET <id>",
    row: "if nobody holds the id … OK …, else `RESET <id>`",
    level: "course",
  }, async (c) => {
    const [a, b] = [await c.open(), await c.open()];
    const id = c.fresh();
    return okFor(a, id, await a.ask(id), "a free id") ??
      resetFor(id, await b.ask(id), "the id held by another client");
  }),
  serverCase({
    id: "server/request/repeat-holder",
    title: "the holder asking again gets OK or RESET (over TCP the server may also close)",
    row:
      "a repeat from the very address that holds the id: the handout says nothing; OK again or RESET both answer it",
    level: "course",
  }, async (c) => {
    const a = await c.open();
    const id = c.fresh();
    const first = okFor(a, id, await a.ask(id), "a free id");
    if (first) return first;
    const sent = await a.send(`HELLO ${id}`);
    const r = await a.reply();
    if (okFor(a, id, r, "") === undefined || isReset(r, id)) return undefined;
    if (c.tcp && r === undefined && (!sent || await a.ended(QUIET_MS) !== undefined)) {
      return undefined;
    }
    return fail(
      `OK ${id} ${a.ip} ${a.port} or RESET ${id}${c.tcp ? ", or the connection closed" : ""}`,
      show(r),
    );
  }),
  serverCase({
    id: "server/request/repeat-holder-ok",
    title: "the holder asking again gets OK again, and the id stays held",
    row:
      "the server answers a repeat from the very address that holds the id with OK again (it does not extend the hold), so a lost OK does not turn into a RESET",
    level: "strict",
  }, async (c) => {
    const a = await c.open();
    const id = c.fresh();
    return okFor(a, id, await a.ask(id), "a free id") ??
      okFor(a, id, await a.ask(id), "the holder's repeat") ??
      resetFor(id, await (await c.open()).ask(id), "another client, after the repeat");
  }),
  serverCase({
    id: "server/request/independent",
    title: "two ids asked by one client are both held: OK, OK, then RESET to another client",
    row: "if nobody holds the id, the server holds it for the client",
    level: "course",
  }, async (c) => {
    const a = await c.open();
    const [x, y] = [c.fresh(), c.fresh()];
    const a2 = c.tcp ? await c.open() : a;
    const b = await c.open();
    return okFor(a, x, await a.ask(x), "a free id") ??
      okFor(a2, y, await a2.ask(y), "a second free id") ??
      resetFor(x, await b.ask(x), "the first id, still held") ??
      resetFor(y, await (c.tcp ? await c.open() : b).ask(y), "the second id, still held");
  }),
  serverCase({
    id: "server/id/visible",
    title:
      "ids of 1 to 64 visible ASCII characters are ids: a 64-character one and a punctuated one get OK",
    row: "Ids are 1 to 64 visible ASCII characters (the course used 4 digits)",
    level: "strict",
  }, async (c) => {
    const long = visibleId(64);
    const odd = `~${c.fresh()}{!}`;
    const a = await c.open();
    const a2 = c.tcp ? await c.open() : a;
    return okFor(a, long, await a.ask(long), "a 64-character id") ??
      okFor(a2, odd, await a2.ask(odd), "an id with punctuation");
  }),
  serverCase({
    id: "server/id/invalid",
    title: "a 65-character id, or one with a control character, is not taken (ERROR or nothing)",
    row:
      "Ids are 1 to 64 visible ASCII characters; malformed requests get `ERROR <reason>` and change nothing: `id longer than 64 characters`",
    level: "strict",
  }, async (c) => {
    const long = visibleId(65);
    const control = `${c.fresh()}\x01${c.fresh()}`;
    const got = await answersTo(c, [`HELLO ${long}`, `HELLO ${control}`]);
    if (got === undefined) return fail("an answer to a good request after them", "none");
    const ok = got.find((r) => words(r)[0] === "OK");
    if (ok) return fail("no OK for an invalid id", show(ok));
    const prefix = long.slice(0, 64);
    const b = await c.open();
    return okFor(b, prefix, await b.ask(prefix), "its first 64 characters: still free");
  }),
  serverCase({
    id: "server/robust/malformed",
    title: "garbage, empty, binary and half requests get no OK, and the server still answers",
    row:
      "Bad input from the network never crashes a server and never costs another session anything",
    level: "course",
  }, async (c) => {
    const bad: (string | Uint8Array)[] = [
      "GARBAGE",
      c.tcp ? "" : new Uint8Array(0),
      "HELLO",
      `HELLO ${c.fresh()} ${c.fresh()}`,
      Uint8Array.of(0xff, 0x00, 0x13, 0x37, 0x80, 0xc3, 0x56),
    ];
    const got = await answersTo(c, bad);
    if (got === undefined) return fail("an answer to a good request after them", "none");
    const ok = got.find((r) => words(r)[0] === "OK");
    return ok
      ? fail("no OK to a malformed request", show(ok))
      : await stillAnswers(c, "after them");
  }),
  serverCase({
    id: "server/robust/error-reply",
    title: "a malformed request gets ERROR <reason>",
    row: "Malformed requests get `ERROR <reason>` and change nothing (`--course` sends none)",
    level: "strict",
  }, async (c) => {
    const a = await c.open();
    await a.send("GARBAGE");
    const r = await a.reply();
    return /^ERROR \S/.test(r?.text ?? "") ? undefined : fail("ERROR <reason>", show(r));
  }),
  serverCase({
    id: "server/robust/no-reply-to-replies",
    title: "a message that is itself a reply (OK, RESET, ERROR) gets nothing: no reply loops",
    row:
      "a datagram (or TCP line) that looks like a reply, whose first word is `OK`, `RESET` or `ERROR`, gets no reply at all, so two servers cannot be made to talk to each other forever",
    level: "course",
  }, async (c) => {
    const id = c.fresh();
    const got = await answersTo(c, [
      `OK ${id} 127.0.0.1 ${40000 + Number(id)}`,
      `RESET ${id}`,
      "ERROR expected 'HELLO <id>'",
    ]);
    if (got === undefined) return fail("an answer to a good request after them", "none");
    return got.length > 0
      ? fail("no reply to a reply", got.map(show).join(", "))
      : await stillAnswers(c, "after them");
  }),
  serverCase({
    id: "server/robust/error-rate",
    title: "a burst of 40 malformed requests from one address gets at most 10 ERRORs",
    row: "`ERROR` replies are rate limited: at most 5 at once to one address, then 5 a second",
    level: "strict",
  }, async (c) => {
    const a = await c.open();
    const burst = Array.from({ length: 40 }, (_, i) => `GARBAGE ${i}`);
    if (c.tcp) await a.send(enc.encode(burst.map((l) => l + "\n").join("")), true);
    else for (const m of burst) await a.send(m);
    const got = await before(c, a);
    if (got === undefined) return fail("an answer to a good request after the burst", "none");
    const errors = got.filter((r) => words(r)[0] === "ERROR").length;
    return errors <= 10
      ? await stillAnswers(c, "after the burst")
      : fail("at most 10 ERRORs for 40 malformed requests", `${errors} ERRORs`);
  }),
  {
    id: "server/ttl/released",
    title: "an id is still held halfway through --id-ttl, and free again after it",
    row: "An id is released `--id-ttl` seconds after it was taken (the course: 30 s)",
    level: "course",
    needsTimeout: true,
    run: (t, trace, o) =>
      withClients(t, trace, o, async (c) => {
        const ttl = o.timeoutMs!;
        const id = c.fresh();
        const a = await c.open();
        const taken = performance.now();
        const f = okFor(a, id, await a.ask(id), "a free id");
        if (f) return f;
        a.close();
        const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));
        await sleep(taken + ttl / 2 - performance.now());
        const held = resetFor(id, await (await c.open()).ask(id), "halfway through --id-ttl");
        if (held) return held;
        let last: Reply | undefined;
        for (const after of [1500, 3000]) {
          await sleep(taken + ttl + after - performance.now());
          const b = await c.open();
          last = await b.ask(id);
          if (okFor(b, id, last, "") === undefined) return undefined;
        }
        return fail(`OK ${id} within --id-ttl + 3 s`, show(last));
      }),
  },
  serverCase({
    id: "server/tcp/reset-closes",
    title: "over TCP the server closes the connection after a RESET",
    row: "Over TCP the server closes the connection after a RESET (and goes on serving others)",
    level: "course",
  }, async (c) => {
    const [a, b] = [await c.open(), await c.open()];
    const id = c.fresh();
    const f = okFor(a, id, await a.ask(id), "a free id") ??
      resetFor(id, await b.ask(id), "the id held by another client");
    if (f) return f;
    return await b.ended(REPLY_MS) !== undefined
      ? await stillAnswers(c, "after the RESET")
      : fail("the connection closed after the RESET", "still open");
  }, (_, o) => tcpOnly(o)),
  serverCase({
    id: "server/tcp/several",
    title:
      "over TCP a second request on one connection is answered, or the server closes after one",
    row: "Over TCP, the handout leaves open whether a connection carries one request or several",
    level: "course",
  }, async (c) => {
    const a = await c.open();
    const [x, y] = [c.fresh(), c.fresh()];
    const f = okFor(a, x, await a.ask(x), "the first request");
    if (f) return f;
    const sent = await a.send(`HELLO ${y}`);
    const r = await a.reply();
    if (okFor(a, y, r, "") === undefined) return undefined;
    if (r === undefined && (!sent || await a.ended(QUIET_MS) !== undefined)) return undefined;
    return fail(
      `OK ${y} on the same connection, or the connection closed`,
      show(r) + (r ? "" : ", the connection still open"),
    );
  }, (_, o) => tcpOnly(o)),
  serverCase({
    id: "server/tcp/several-answered",
    title: "over TCP every request line on a connection is answered",
    row: "with `--tcp` a request is a line",
    level: "strict",
  }, async (c) => {
    const a = await c.open();
    const [x, y] = [c.fresh(), c.fresh()];
    return okFor(a, x, await a.ask(x), "the first request") ??
      okFor(a, y, await a.ask(y), "a second request on the same connection");
  }, (_, o) => tcpOnly(o)),
  serverCase({
    id: "server/tcp/no-newline",
    title: "over TCP a request without a line ending (as course clients send it) is answered",
    row:
      "Course TCP clients send `HELLO 1234` without a newline and then wait for the reply: a partial line counts as a request once it has waited 200 ms alone",
    level: "strict",
  }, async (c) => {
    const a = await c.open();
    const id = c.fresh();
    await a.send(`HELLO ${id}`, true);
    return okFor(a, id, await a.reply(), "a request with no line ending");
  }, (_, o) => tcpOnly(o)),
  serverCase({
    id: "server/stdout/lines",
    title: "the server prints a line per reply: OK <id> <ip> <port>, RESET <id> …",
    row:
      "The server's stdout has one line per reply and per expiry: `OK <id> <ip> <port>`, `RESET <id> (from PEER, held by HOLDER)`",
    level: "strict",
  }, async (c, t) => {
    const [a, b] = [await c.open(), await c.open()];
    const id = c.fresh();
    const f = okFor(a, id, await a.ask(id), "a free id") ??
      resetFor(id, await b.ask(id), "the id held by another client");
    if (f) return f;
    const ok = `OK ${id} ${a.ip} ${a.port}`;
    const lines = (s: string) => s.split("\n");
    const seen = (s: string) =>
      lines(s).includes(ok) &&
      lines(s).some((l) => l === `RESET ${id}` || l.startsWith(`RESET ${id} `));
    if (await t.program!.stdout.waitFor(seen, LINE_MS)) return undefined;
    return fail(
      `stdout lines:\n${ok}\nRESET ${id} …`,
      `stdout:\n${
        t.program!.stdout.text.trimEnd().split("\n").slice(-10).join("\n") || "(nothing)"
      }`,
    );
  }, (t) => needsProgram(t)),
];
