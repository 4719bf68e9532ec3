import assert from "node:assert/strict";
import { DatagramSender } from "../../lib/net/datagram_sender.ts";

const pure = { permissions: "none" } as const;
const to = { hostname: "127.0.0.1", port: 9 };

Deno.test("sender: datagrams go out in order, one send at a time", pure, async () => {
  const sent: number[] = [];
  let inFlight = 0;
  const sender = new DatagramSender({
    async send(data) {
      assert.equal(++inFlight, 1);
      await new Promise((r) => setTimeout(r, data[0] % 3));
      inFlight--;
      sent.push(data[0]);
      return data.length;
    },
  }, () => assert.fail("no error expected"));
  for (let i = 0; i < 20; i++) sender.push({ data: new Uint8Array([i]), to });
  await sender.drained();
  assert.deepEqual(sent, [...Array(20).keys()]);
  // It keeps working after going idle.
  sender.push({ data: new Uint8Array([99]), to });
  await sender.drained();
  assert.equal(sent.at(-1), 99);
});

Deno.test("sender: a failed send is reported and later ones still go", pure, async () => {
  const sent: number[] = [];
  const errors: number[] = [];
  const sender = new DatagramSender({
    send(data) {
      if (data[0] === 1) return Promise.reject(new Error("Network unreachable"));
      sent.push(data[0]);
      return Promise.resolve(1);
    },
  }, (_e, t) => errors.push(t.data[0]));
  for (let i = 0; i < 3; i++) sender.push({ data: new Uint8Array([i]), to });
  await sender.drained();
  assert.deepEqual(sent, [0, 2]);
  assert.deepEqual(errors, [1]);
});

Deno.test(
  "sender: with maxInFlight N, at most N sends overlap and all complete",
  pure,
  async () => {
    let inFlight = 0;
    let peak = 0;
    const sent: number[] = [];
    const sender = new DatagramSender(
      {
        async send(data) {
          peak = Math.max(peak, ++inFlight);
          await new Promise((r) => setTimeout(r, data[0] % 3));
          inFlight--;
          sent.push(data[0]);
          return data.length;
        },
      },
      () => assert.fail("no error expected"),
      4,
    );
    for (let i = 0; i < 40; i++) sender.push({ data: new Uint8Array([i]), to });
    await sender.drained();
    assert.equal(peak, 4);
    assert.deepEqual([...sent].sort((a, b) => a - b), [...Array(40).keys()]);
  },
);

Deno.test("sender: drained() with nothing queued resolves at once", pure, async () => {
  const sender = new DatagramSender({ send: () => Promise.resolve(0) }, () => {});
  await sender.drained();
});

Deno.test(
  "sender: overlapped sends that finish out of order hand back each datagram once, errors too",
  pure,
  async () => {
    const done: number[] = [];
    const failed: number[] = [];
    const sender = new DatagramSender(
      {
        async send(data) {
          // Later datagrams finish first within each group of three.
          await new Promise((r) => setTimeout(r, 3 - (data[0] % 3)));
          if (data[0] % 5 === 0) throw new Error("Network unreachable");
          return data.length;
        },
      },
      (_e, t) => failed.push(t.data[0]),
      3,
      (t) => done.push(t.data[0]),
    );
    for (let i = 0; i < 30; i++) sender.push({ data: new Uint8Array([i]), to });
    await sender.drained();
    assert.deepEqual([...done].sort((a, b) => a - b), [...Array(30).keys()]);
    assert.deepEqual(failed.sort((a, b) => a - b), [0, 5, 10, 15, 20, 25]);
    assert.notDeepEqual(done, [...Array(30).keys()], "the sends really finished out of order");
  },
);
