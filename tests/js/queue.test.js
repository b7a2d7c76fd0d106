// The queue of check-ins made offline: order, nonces, what the server's answers mean.
import { test } from "node:test";
import assert from "node:assert/strict";

import { Queue, MemoryStore, classify, WAITING, REFUSED } from "../../tracker/static/js/door/queue.js";

function clock(start = "2026-05-04T08:00:00Z") {
  let t = new Date(start).getTime();
  return () => new Date((t += 1000));
}

const ok = { status: 201, body: { result: "ok" } };

test("items are sent in the order they were queued, each with its own nonce, once", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  for (let i = 1; i <= 5; i += 1) {
    await queue.add({ nonce: `n${i}`, registration: i, door: "North" });
  }
  const sent = [];
  const report = await queue.drain(async (body) => {
    sent.push(body);
    return ok;
  });
  assert.deepEqual(sent.map((b) => b.nonce), ["n1", "n2", "n3", "n4", "n5"]);
  assert.deepEqual(sent[0], {
    registration: 1,
    door: "North",
    nonce: "n1",
    scanned_at: "2026-05-04T08:00:01.000Z",
  });
  assert.equal(report.sent, 5);
  assert.equal(queue.waiting().length, 0);
  assert.deepEqual(await queue.store.all(), []);
});

test("no answer stops the drain; the next drain resends the same item with the same nonce", async () => {
  const store = new MemoryStore();
  const queue = await new Queue(store, { now: clock() }).load();
  await queue.add({ nonce: "a", registration: 1, door: "D" });
  await queue.add({ nonce: "b", registration: 2, door: "D" });
  const first = await queue.drain(async () => ({ status: 0, body: {} }));
  assert.equal(first.stopped, true);
  assert.equal(queue.waiting().length, 2);
  // A page reloaded meanwhile finds the queue as it was, in order.
  const again = await new Queue(store).load();
  const nonces = [];
  await again.drain(async (body) => {
    nonces.push(body.nonce);
    return ok;
  });
  assert.deepEqual(nonces, ["a", "b"]);
});

test("a refused item stays, shown with the server's answer, and does not block the rest", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  await queue.add({ nonce: "a", registration: 1, door: "D" });
  await queue.add({ nonce: "b", registration: 2, door: "D" });
  const report = await queue.drain(async (body) =>
    body.nonce === "a"
      ? { status: 422, body: { result: "not_confirmed", status: "cancelled" } }
      : ok
  );
  assert.equal(report.refused, 1);
  assert.equal(report.sent, 1);
  const refused = queue.refused();
  assert.equal(refused.length, 1);
  assert.equal(refused[0].state, REFUSED);
  assert.equal(refused[0].answer.body.status, "cancelled");
  // Not sent again by the next drain; gone once dismissed.
  const sent = [];
  await queue.drain(async (body) => {
    sent.push(body);
    return ok;
  });
  assert.deepEqual(sent, []);
  await queue.dismiss("a");
  assert.equal(queue.items.length, 0);
});

test("already checked in elsewhere is a duplicate, counted once, not a refusal", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  await queue.add({ nonce: "a", registration: 1, door: "D" });
  const report = await queue.drain(async () => ({ status: 409, body: { result: "already_checked_in" } }));
  assert.equal(report.duplicates, 1);
  assert.equal(queue.items.length, 0);
});

test("answers are classified", () => {
  assert.equal(classify({ status: 201, body: {} }), "done");
  assert.equal(classify({ status: 200, body: {} }), "done");
  assert.equal(classify({ status: 409, body: { result: "already_checked_in" } }), "duplicate");
  assert.equal(classify({ status: 409, body: { result: "not_registered" } }), "refused");
  assert.equal(classify({ status: 0, body: {} }), "stop");
  assert.equal(classify({ status: 503, body: {} }), "stop");
  assert.equal(classify({ status: 401, body: {} }), "stop");
  assert.equal(classify({ status: 403, body: {} }), "stop");
  assert.equal(classify({ status: 422, body: { error: "invalid" } }), "refused");
});

test("one drain at a time: a second call waits for the first and sends nothing twice", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  await queue.add({ nonce: "a", registration: 1, door: "D" });
  await queue.add({ nonce: "b", registration: 2, door: "D" });
  const sent = [];
  const send = async (body) => {
    sent.push(body.nonce);
    await new Promise((r) => setTimeout(r, 5));
    return ok;
  };
  await Promise.all([queue.drain(send), queue.drain(send)]);
  assert.deepEqual(sent, ["a", "b"]);
});

test("pendingFor finds a waiting check-in by registration and scope", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  await queue.add({ nonce: "a", registration: 7, door: "D" });
  await queue.add({ nonce: "b", registration: 7, session: 3, door: "D" });
  assert.equal(queue.pendingFor(7, "").nonce, "a");
  assert.equal(queue.pendingFor(7, "3").nonce, "b");
  assert.equal(queue.pendingFor(7, "4"), null);
  assert.equal(queue.pendingFor(8, ""), null);
  assert.equal(queue.items[0].state, WAITING);
});

test("only the fields of a check-in are sent (no field of the queue's own)", async () => {
  const store = new MemoryStore();
  const queue = await new Queue(store, { now: clock() }).load();
  await queue.add({ nonce: "a", registration: 1, session: 2, registered_only: true, door: "D" });
  // As IndexedDB gives it back: with the event's slug.
  store.items.get("a").slug = "bercy";
  const reloaded = await new Queue(store).load();
  let body = null;
  await reloaded.drain(async (b) => {
    body = b;
    return ok;
  });
  assert.deepEqual(Object.keys(body).sort(), ["door", "nonce", "registered_only", "registration", "scanned_at", "session"]);
});

test("a few requests are on their way at once, started in the queue's order", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  for (let i = 1; i <= 10; i += 1) await queue.add({ nonce: `n${i}`, registration: i, door: "D" });
  const started = [];
  let open = 0;
  let most = 0;
  const report = await queue.drain(
    async (body) => {
      started.push(body.nonce);
      open += 1;
      most = Math.max(most, open);
      await new Promise((r) => setTimeout(r, 10 - Number(body.nonce.slice(1)))); // later ones answer sooner
      open -= 1;
      return ok;
    },
    { window: 3 }
  );
  assert.deepEqual(started, ["n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8", "n9", "n10"]);
  assert.equal(most, 3);
  assert.equal(report.sent, 10);
  assert.equal(queue.items.length, 0);
});

test("no answer for one: the ones on their way are still taken, nothing more is sent", async () => {
  const queue = await new Queue(new MemoryStore(), { now: clock() }).load();
  for (let i = 1; i <= 8; i += 1) await queue.add({ nonce: `n${i}`, registration: i, door: "D" });
  const started = [];
  const report = await queue.drain(
    async (body) => {
      started.push(body.nonce);
      return body.nonce === "n2" ? { status: 0, body: {} } : ok;
    },
    { window: 3 }
  );
  assert.equal(report.stopped, true);
  // n4 had started when n1's answer came, before n2's (none) was known.
  assert.deepEqual(started, ["n1", "n2", "n3", "n4"]);
  assert.deepEqual(queue.waiting().map((i) => i.nonce), ["n2", "n5", "n6", "n7", "n8"]);
  // The next drain sends n2 again, with its nonce, then the rest.
  const again = [];
  await queue.drain(async (body) => {
    again.push(body.nonce);
    return ok;
  });
  assert.deepEqual(again, ["n2", "n5", "n6", "n7", "n8"]);
});
