/* The door's storage in IndexedDB: the event's snapshot (one record per event) and the
   queue of check-ins to send (one record per check-in, by nonce). Neither holds a
   check-in code or an e-mail address. */

export const DB_NAME = "tracker-door";
const VERSION = 1;

function request(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

let opened = null;

export function openDb() {
  if (!opened) {
    const r = indexedDB.open(DB_NAME, VERSION);
    r.onupgradeneeded = () => {
      const db = r.result;
      db.createObjectStore("snapshots", { keyPath: "slug" });
      const queue = db.createObjectStore("queue", { keyPath: "nonce" });
      queue.createIndex("slug", "slug");
    };
    opened = request(r);
  }
  return opened;
}

async function tx(storeName, mode, work) {
  const db = await openDb();
  const t = db.transaction(storeName, mode);
  const result = await work(t.objectStore(storeName));
  await new Promise((resolve, reject) => {
    t.oncomplete = resolve;
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
  return result;
}

export function loadSnapshot(slug) {
  return tx("snapshots", "readonly", (s) => request(s.get(slug)));
}

export function saveSnapshot(snapshot) {
  return tx("snapshots", "readwrite", (s) => request(s.put(snapshot)));
}

/* The queue's store for one event (see queue.js): items carry the event's slug. */
export class QueueStore {
  constructor(slug) {
    this.slug = slug;
  }
  all() {
    return tx("queue", "readonly", (s) => request(s.index("slug").getAll(this.slug)));
  }
  put(item) {
    return tx("queue", "readwrite", (s) => {
      const record = { ...item, slug: this.slug };
      return request(s.put(record));
    });
  }
  remove(nonce) {
    return tx("queue", "readwrite", (s) => request(s.delete(nonce)));
  }
  clear() {
    return tx("queue", "readwrite", async (s) => {
      const keys = await request(s.index("slug").getAllKeys(this.slug));
      await Promise.all(keys.map((k) => request(s.delete(k))));
    });
  }
}

/* Everything this door kept, for every event: at logout. */
export async function wipeAll() {
  if (opened) {
    (await opened).close();
    opened = null;
  }
  await new Promise((resolve) => {
    const r = indexedDB.deleteDatabase(DB_NAME);
    r.onsuccess = resolve;
    r.onerror = resolve;
    r.onblocked = resolve;
  });
}

/* One event's snapshot and queue (its event ended more than a day ago, or this account
   may no longer see it). */
export async function wipeEvent(slug) {
  await tx("snapshots", "readwrite", (s) => request(s.delete(slug)));
  await new QueueStore(slug).clear();
}
