// Retries: a request that got no answer is sent again with the same body; one that got
// an answer (any status) is not.
import { test } from "node:test";
import assert from "node:assert/strict";

import { retrying, makeSender } from "../../tracker/static/js/door/net.js";

const noSleep = async () => {};

test("retrying tries after each delay and stops at the first success", async () => {
  let calls = 0;
  const slept = [];
  const value = await retrying(
    async () => {
      calls += 1;
      if (calls < 3) throw new Error("network");
      return "answer";
    },
    { delays: [0, 10, 20], sleep: async (ms) => slept.push(ms), onGiveUp: () => "gave up" }
  );
  assert.equal(value, "answer");
  assert.equal(calls, 3);
  assert.deepEqual(slept, [10, 20]);
});

test("retrying gives up after the last delay", async () => {
  let calls = 0;
  const value = await retrying(
    async () => {
      calls += 1;
      throw new Error("network");
    },
    { delays: [0, 1, 1, 1], sleep: noSleep, onGiveUp: () => "gave up" }
  );
  assert.equal(value, "gave up");
  assert.equal(calls, 4);
});

test("a lost answer is sent again with the same body (the same nonce)", async () => {
  const bodies = [];
  const fetchImpl = async (url, init) => {
    bodies.push(init.body);
    if (bodies.length === 1) throw new TypeError("Failed to fetch");
    return { status: 201, json: async () => ({ result: "ok" }) };
  };
  const send = makeSender({ csrf: "t", fetchImpl, sleep: noSleep });
  const answer = await send("POST", "/api", { nonce: "n-1", code: "X" });
  assert.deepEqual(answer, { status: 201, body: { result: "ok" } });
  assert.equal(bodies.length, 2);
  assert.equal(bodies[0], bodies[1]);
  assert.equal(JSON.parse(bodies[1]).nonce, "n-1");
});

test("an answer is never sent again, whatever its status", async () => {
  let calls = 0;
  const fetchImpl = async () => {
    calls += 1;
    return { status: 500, json: async () => { throw new SyntaxError("not JSON"); } };
  };
  const send = makeSender({ fetchImpl, sleep: noSleep });
  assert.deepEqual(await send("POST", "/api", {}), { status: 500, body: {} });
  assert.equal(calls, 1);
});

test("a request whose answer does not come in time counts as lost, and is resent", async () => {
  let calls = 0;
  const fetchImpl = (url, init) => {
    calls += 1;
    if (calls === 1) {
      // Never answers: only the timeout's abort ends it.
      return new Promise((resolve, reject) => {
        init.signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
      });
    }
    return Promise.resolve({ status: 201, json: async () => ({ result: "ok" }) });
  };
  const send = makeSender({ fetchImpl, sleep: noSleep, timeoutMs: 20 });
  const answer = await send("POST", "/api", { nonce: "n" });
  assert.equal(answer.status, 201);
  assert.equal(calls, 2);
});

test("no answer at all: status 0", async () => {
  const send = makeSender({
    fetchImpl: async () => {
      throw new TypeError("Failed to fetch");
    },
    sleep: noSleep,
  });
  assert.deepEqual(await send("GET", "/api"), { status: 0, body: {} });
});
