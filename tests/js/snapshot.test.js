// The door's snapshot: full pulls, deltas, and the answers given from it offline.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";

import * as snap from "../../tracker/static/js/door/snapshot.js";
import { sha256Hex } from "../../tracker/static/js/door/util.js";

const hash = (code) => createHash("sha256").update(code).digest("hex");

function person(id, extra = {}) {
  return {
    id,
    first_name: `First${id}`,
    last_name: `Last${id}`,
    organisation: "Ministère de l’Intérieur",
    organisation_type: "ministry",
    job_title: null,
    status: "confirmed",
    sessions: [],
    checkins: {},
    code_sha256: hash(`CODE${id}`),
    ...extra,
  };
}

const full = {
  full: true,
  cursor: "c1",
  sessions: [{ id: 3, title: "Round table" }],
  ends_at: "2026-05-04T18:00:00+00:00",
  people: [person(1), person(2), person(3, { sessions: [3] })],
};

test("a full pull replaces everything; a delta changes only the people it names", () => {
  let s = snap.merge(snap.emptySnapshot("bercy"), full);
  assert.equal(s.cursor, "c1");
  assert.deepEqual(Object.keys(s.people), ["1", "2", "3"]);
  const before = s;
  s = snap.merge(s, { full: false, cursor: "c2", people: [person(2, { status: "cancelled" }), person(4)] });
  assert.equal(s.cursor, "c2");
  assert.equal(s.people[2].status, "cancelled");
  assert.equal(s.people[1].status, "confirmed");
  assert.ok(s.people[4]);
  assert.equal(before.people[2].status, "confirmed", "merge does not change its input");
  assert.deepEqual(s.sessions, full.sessions, "sessions kept when a delta does not send them");
  s = snap.merge(s, { full: false, cursor: "c3", people: [], removed: [1] });
  assert.equal(s.people[1], undefined);
  s = snap.merge(s, { full: true, cursor: "c4", people: [person(9)] });
  assert.deepEqual(Object.keys(s.people), ["9"]);
});

test("a delta applied twice gives the same snapshot (pulls may overlap)", () => {
  const s = snap.merge(snap.emptySnapshot("bercy"), full);
  const delta = { cursor: "c2", people: [person(2, { checkins: { 0: { at: "t", door: "N" } } })] };
  const once = snap.merge(s, delta, "x");
  const twice = snap.merge(once, delta, "x");
  assert.deepEqual(twice, once);
});

test("a scanned code is found by the SHA-256 of the code, as the browser computes it", async () => {
  const s = snap.merge(snap.emptySnapshot("bercy"), full);
  const index = snap.indexOf(s);
  const h = await sha256Hex("CODE2");
  assert.equal(h, hash("CODE2"));
  assert.equal(snap.byHash(s, index, h).id, 2);
  assert.equal(snap.byHash(s, index, hash("NOSUCHCODE")), null);
});

test("answers from the snapshot use the API's words", () => {
  let s = snap.merge(snap.emptySnapshot("bercy"), full);
  s = snap.merge(s, { cursor: "c2", people: [person(2, { status: "cancelled" })] });
  assert.equal(snap.answerFor(s, null).body.result, "unknown");
  const cancelled = snap.answerFor(s, s.people[2]);
  assert.equal(cancelled.body.result, "not_confirmed");
  assert.equal(cancelled.body.status, "cancelled");
  const ok = snap.answerFor(s, s.people[1]);
  assert.equal(ok.status, 201);
  assert.equal(ok.body.result, "ok");
  assert.equal(ok.body.registration.first_name, "First1");
  const notThere = snap.answerFor(s, s.people[1], { session: "3", registeredOnly: true });
  assert.equal(notThere.body.result, "not_registered");
  assert.equal(notThere.body.session.title, "Round table");
  assert.equal(snap.answerFor(s, s.people[3], { session: "3", registeredOnly: true }).body.result, "ok");
  const here = snap.withCheckIn(s, 1, "", "2026-05-04T08:00:00Z", "North");
  const again = snap.answerFor(here, here.people[1]);
  assert.equal(again.body.result, "already_checked_in");
  assert.equal(again.body.door, "North");
  const queued = snap.answerFor(s, s.people[1], { pending: { scanned_at: "t", door: "South" } });
  assert.equal(queued.body.result, "already_checked_in");
  assert.equal(queued.body.door, "South");
});

test("search folds accents and case; not arrived lists confirmed people not checked in", () => {
  let s = snap.merge(snap.emptySnapshot("bercy"), {
    ...full,
    people: [
      person(1, { first_name: "Hélène", last_name: "Dupré" }),
      person(2, { first_name: "Jean", last_name: "Martin", status: "waitlisted" }),
      person(3, { first_name: "Zoé", last_name: "Abel", checkins: { 0: { at: "t", door: "N" } } }),
    ],
  });
  const index = snap.indexOf(s);
  assert.deepEqual(snap.search(s, index, "helene dupre").map((p) => p.id), [1]);
  assert.deepEqual(snap.search(s, index, "interieur").map((p) => p.id), [3, 1, 2]);
  assert.deepEqual(snap.search(s, index, "  "), []);
  assert.deepEqual(snap.notArrived(s).map((p) => p.id), [1]);
  assert.deepEqual(snap.notArrived(s, "0", (id) => id === 1), []);
  s = snap.withCheckIn(s, 1, "", "t", "N");
  assert.deepEqual(snap.notArrived(s), []);
});

test("a snapshot expires a day after the event ended", () => {
  const s = snap.merge(snap.emptySnapshot("bercy"), full);
  assert.equal(snap.expired(s, new Date("2026-05-05T17:00:00Z")), false);
  assert.equal(snap.expired(s, new Date("2026-05-05T18:00:01Z")), true);
});

test("a person's answers shown at the door come with the description, none when absent", () => {
  const snapshot = snap.merge(snap.emptySnapshot("ev"), {
    ...full,
    people: [person(1, { answers: [{ label: "Diet", value: "Vegetarian" }] }), person(2)],
  });
  assert.deepEqual(snap.describe(snapshot, snapshot.people[1]).answers, [
    { label: "Diet", value: "Vegetarian" },
  ]);
  assert.deepEqual(snap.describe(snapshot, snapshot.people[2]).answers, []);
  const offline = snap.answerFor(snapshot, snapshot.people[1]);
  assert.deepEqual(offline.body.registration.answers, [{ label: "Diet", value: "Vegetarian" }]);
});
