/* The door's copy of the event, to answer scans and searches when the network is gone.

   The server sends people as GET .../door-snapshot returns them: what the door shows
   and the SHA-256 of the check-in code, never the code nor an e-mail address. A pull
   without a cursor gives everyone ("full"); a pull with the last cursor gives only who
   changed since, merged here person by person. */

import { fold } from "./util.js";

export const ENTRANCE = "0";

export function emptySnapshot(slug) {
  return { slug, cursor: null, syncedAt: null, sessions: [], people: {} };
}

/* The snapshot after `delta` (an answer of the server); pure: `snapshot` is unchanged. */
export function merge(snapshot, delta, syncedAt = new Date().toISOString()) {
  const people = delta.full ? {} : { ...snapshot.people };
  (delta.people || []).forEach((p) => {
    people[p.id] = p;
  });
  (delta.removed || []).forEach((id) => {
    delete people[id];
  });
  return {
    slug: snapshot.slug,
    cursor: delta.cursor,
    syncedAt,
    sessions: delta.sessions || snapshot.sessions,
    endsAt: delta.ends_at || snapshot.endsAt || null,
    people,
  };
}

/* An index for scans and searches, built once per snapshot from the server: by code
   hash and by folded name, to ids (a check-in made here changes no name: no new index). */
export function indexOf(snapshot) {
  const byHash = new Map();
  const keys = [];
  Object.values(snapshot.people).forEach((p) => {
    if (p.code_sha256) byHash.set(p.code_sha256, p.id);
    keys.push([fold(`${p.first_name} ${p.last_name} ${p.organisation || ""}`), p.id]);
  });
  return { byHash, keys };
}

/* The person whose code has this SHA-256, or null. */
export function byHash(snapshot, index, hash) {
  const id = index.byHash.get(hash);
  return id === undefined ? null : snapshot.people[id] || null;
}

/* People whose name or organisation holds every word typed, at most `limit`, by name. */
export function search(snapshot, index, query, limit = 20) {
  const words = fold(query).split(" ").filter(Boolean).slice(0, 6);
  if (!words.length) return [];
  const found = [];
  for (const [key, id] of index.keys) {
    if (words.every((w) => key.includes(w)) && snapshot.people[id]) found.push(snapshot.people[id]);
  }
  found.sort(byName);
  return found.slice(0, limit);
}

export function byName(a, b) {
  return (
    fold(a.last_name).localeCompare(fold(b.last_name)) ||
    fold(a.first_name).localeCompare(fold(b.first_name)) ||
    a.id - b.id
  );
}

/* Confirmed people not checked in yet in `scope` (the entrance, or a session id). */
export function notArrived(snapshot, scope = ENTRANCE, isPending = () => false) {
  const key = String(scope || ENTRANCE);
  return Object.values(snapshot.people)
    .filter((p) => p.status === "confirmed")
    .filter((p) => key === ENTRANCE || (p.sessions || []).map(String).includes(key))
    .filter((p) => !(p.checkins || {})[key] && !isPending(p.id, key))
    .sort(byName);
}

/* A snapshot person as the door's screens show a registration (as the API describes
   one): sessions with their titles, check-in times at the entrance and per session. */
export function describe(snapshot, p) {
  const titles = {};
  (snapshot.sessions || []).forEach((s) => {
    titles[s.id] = s.title;
  });
  const checkins = p.checkins || {};
  const sessionCheckins = {};
  Object.keys(checkins).forEach((scope) => {
    if (scope !== ENTRANCE) sessionCheckins[scope] = checkins[scope].at;
  });
  return {
    id: p.id,
    first_name: p.first_name,
    last_name: p.last_name,
    organisation: p.organisation,
    organisation_type: p.organisation_type,
    job_title: p.job_title,
    status: p.status,
    sessions: (p.sessions || []).map((id) => ({ id, title: titles[id] || "" })),
    checked_in_at: checkins[ENTRANCE] ? checkins[ENTRANCE].at : null,
    session_checkins: sessionCheckins,
    answers: p.answers || [],
  };
}

/* The answer the server would give to a check-in of `person` (null: unknown code) in
   `session` ("" for the entrance), in the API's words, as the screens read it. A check-
   in made here and still queued counts as made. */
export function answerFor(snapshot, person, { session = "", registeredOnly = false, pending = null, door = "" } = {}) {
  if (!person) return { status: 404, body: { result: "unknown", reason: "unknown_code" } };
  const registration = describe(snapshot, person);
  if (person.status !== "confirmed") {
    return {
      status: 422,
      body: { result: "not_confirmed", status: person.status, registration },
    };
  }
  const scope = String(session || ENTRANCE);
  const known = (person.checkins || {})[scope];
  if (known || pending) {
    return {
      status: 409,
      body: {
        result: "already_checked_in",
        checked_in_at: known ? known.at : pending.scanned_at,
        door: known ? known.door : pending.door || door,
        by: null,
        registration,
      },
    };
  }
  if (registeredOnly && scope !== ENTRANCE && !(person.sessions || []).map(String).includes(scope)) {
    const title = (snapshot.sessions.find((s) => String(s.id) === scope) || {}).title || "";
    return {
      status: 409,
      body: { result: "not_registered", session: { id: Number(scope), title }, registration },
    };
  }
  return { status: 201, body: { result: "ok", registration } };
}

/* The snapshot with a check-in made here recorded in it (until the server's copy of
   that person comes back in a delta). */
export function withCheckIn(snapshot, personId, scope, at, door) {
  const person = snapshot.people[personId];
  if (!person) return snapshot;
  const checkins = { ...(person.checkins || {}), [String(scope || ENTRANCE)]: { at, door } };
  return { ...snapshot, people: { ...snapshot.people, [personId]: { ...person, checkins } } };
}

/* Whether a snapshot is to be wiped: the event ended more than a day ago. */
export function expired(snapshot, now = new Date()) {
  if (!snapshot || !snapshot.endsAt) return false;
  return now.getTime() - new Date(snapshot.endsAt).getTime() > 24 * 3600 * 1000;
}
