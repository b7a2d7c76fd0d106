/* The check-ins this door made that the server has not acknowledged yet.

   Each item is what will be POSTed, nonce included, plus the device's time of the scan
   (`scanned_at`): it is sent as it was queued, in the order of the queue, so a retry
   never counts twice. Items are kept by a store (IndexedDB in the page, a Map in the
   tests) and never hold a check-in code: a scan offline is queued by registration id.

   An item the server refuses stays, marked "refused" with the server's answer, until
   someone looks at it and dismisses it; nothing disappears silently. */

export const WAITING = "waiting";
// What a queued item sends: the fields of POST .../checkins, as queued.
export const SENT_FIELDS = ["registration", "session", "door", "nonce", "registered_only", "scanned_at"];
export const REFUSED = "refused";

/* What the server's answer to a queued check-in means for the queue. */
export function classify(answer) {
  const status = answer.status;
  const result = (answer.body || {}).result;
  if (status >= 200 && status < 300) return "done";
  if (status === 409 && result === "already_checked_in") return "duplicate"; // counted once
  if (status === 0 || status >= 500 || status === 401 || status === 403 || status === 429) {
    return "stop"; // no answer, or not now (logged out, token expired): try again later
  }
  return "refused";
}

/* A store kept in memory (for tests, and when IndexedDB is not available). */
export class MemoryStore {
  constructor() {
    this.items = new Map();
  }
  async all() {
    return Array.from(this.items.values());
  }
  async put(item) {
    this.items.set(item.nonce, { ...item });
  }
  async remove(nonce) {
    this.items.delete(nonce);
  }
  async clear() {
    this.items.clear();
  }
}

/* What a queued item sends: the fields of POST .../checkins, as queued. */
export function bodyOf(item) {
  const body = {};
  SENT_FIELDS.forEach((key) => {
    if (item[key] !== undefined && item[key] !== null) body[key] = item[key];
  });
  return body;
}

export class Queue {
  constructor(store, { now = () => new Date() } = {}) {
    this.store = store;
    this.now = now;
    this.items = [];
    this.seq = 0;
    this.draining = null;
    this.listeners = [];
  }

  async load() {
    this.items = (await this.store.all()).sort((a, b) => a.seq - b.seq);
    this.seq = this.items.reduce((m, i) => Math.max(m, i.seq), 0);
    this.changed();
    return this;
  }

  onChange(listener) {
    this.listeners.push(listener);
  }

  changed() {
    this.listeners.forEach((listener) => listener(this));
  }

  waiting() {
    return this.items.filter((i) => i.state === WAITING);
  }

  refused() {
    return this.items.filter((i) => i.state === REFUSED);
  }

  /* Queue a check-in: {nonce, registration, session?, door, registered_only?}. */
  async add(payload) {
    this.seq += 1;
    const item = {
      seq: this.seq,
      state: WAITING,
      scanned_at: this.now().toISOString(),
      ...payload,
    };
    this.items.push(item);
    await this.store.put(item);
    this.changed();
    return item;
  }

  /* Whether a check-in of `registration` in `scope` ("" or 0 for the entrance) waits. */
  pendingFor(registration, scope) {
    const wanted = String(scope || "");
    return (
      this.items.find(
        (i) =>
          i.state === WAITING &&
          i.registration === registration &&
          String(i.session || "") === wanted
      ) || null
    );
  }

  /* Send the waiting items in the order they were queued, each with its own nonce,
     until the queue is empty or the server cannot be reached. send(body) resolves to
     {status, body}. Up to `window` requests are on their way at once (started in
     order, their answers taken in order): the server's answer does not depend on the
     order of arrival (the first scan by time stands), and a long queue drains several
     times faster than one request after the other. Resolves to {sent, duplicates,
     refused, stopped}. One drain at a time: a second call waits for the one running. */
  drain(send, { window = 4 } = {}) {
    if (!this.draining) {
      this.draining = this.drainNow(send, Math.max(1, window)).finally(() => {
        this.draining = null;
      });
    }
    return this.draining;
  }

  async drainNow(send, window) {
    const report = { sent: 0, duplicates: 0, refused: 0, stopped: false };
    const items = this.waiting();
    const inFlight = [];
    let next = 0;
    while (next < items.length || inFlight.length) {
      while (!report.stopped && next < items.length && inFlight.length < window) {
        const item = items[next];
        next += 1;
        inFlight.push(send(bodyOf(item)).then((answer) => [item, answer]));
      }
      if (!inFlight.length) break;
      const [item, answer] = await inFlight.shift();
      const verdict = classify(answer);
      if (verdict === "stop") {
        report.stopped = true; // what is on its way is still taken; nothing more is sent
        continue;
      }
      if (verdict === "refused") {
        item.state = REFUSED;
        item.answer = { status: answer.status, body: answer.body };
        await this.store.put(item);
        report.refused += 1;
      } else {
        this.items = this.items.filter((i) => i !== item);
        await this.store.remove(item.nonce);
        report.sent += 1;
        if (verdict === "duplicate") report.duplicates += 1;
      }
      this.changed();
    }
    return report;
  }

  async dismiss(nonce) {
    this.items = this.items.filter((i) => i.nonce !== nonce);
    await this.store.remove(nonce);
    this.changed();
  }

  async clear() {
    this.items = [];
    await this.store.clear();
    this.changed();
  }
}
