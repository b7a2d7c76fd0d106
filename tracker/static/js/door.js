/* The door screen.

   One input does everything: typing searches (names, organisations, e-mails); a
   keyboard-wedge scanner types a check-in code and Enter, which checks that person in
   at once; Enter on a search with a single match checks that person in. The camera
   button reads QR codes. Every result fills the screen until the next scan or a tap.

   Online, the result is what the server answered. The door also keeps a snapshot of
   the event (door/snapshot.js), pulled by deltas every few seconds: when the server
   cannot be reached, scans and searches are answered from it with the same screens,
   and check-ins wait in a queue (door/queue.js, in IndexedDB) that drains by itself,
   in order and with the same nonces, once the server answers again.

   Check-in, undo, search, the snapshot and the counters use the JSON API with the
   session cookie and the page's CSRF token; walk-ins are posted to the door's route. */

import { fmt, store, uuid, sha256Hex } from "./door/util.js";
import { makeSender } from "./door/net.js";
import { Queue, MemoryStore } from "./door/queue.js";
import * as snap from "./door/snapshot.js";
import * as idb from "./door/idb.js";
import { makeResult, personName } from "./door/result.js";
import { makeSearch } from "./door/search.js";
import { makeWalkIn } from "./door/walkin.js";
import { makeCamera } from "./door/camera.js";

const COUNTER_EVERY_MS = 5000;
const SYNC_EVERY_MS = 4000;
const PENDING_AFTER_MS = 250;

const root = document.querySelector("main.door");
if (root) start(root);

function start(root) {
  const SLUG = root.dataset.slug;
  const MODE_KEY = `tracker.door.${SLUG}.mode`;
  const DOOR_KEY = "tracker.door.name";
  const LAYOUT_KEY = "tracker.door.badge-layout";
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const M = JSON.parse(document.getElementById("door-messages").textContent);

  const ctx = {
    root,
    M,
    api: root.dataset.api,
    timezone: root.dataset.timezone || undefined,
    locale: root.dataset.locale || document.documentElement.lang || "fr",
    input: document.getElementById("door-input"),
    statusLine: document.getElementById("door-status"),
    resultsList: document.getElementById("door-results"),
    announcer: document.getElementById("door-announce"),
    result: document.getElementById("door-result"),
    resultSeq: 0,
    lastVia: "keyboard", // how the last check-in came: keyboard, pointer or camera
  };
  ctx.send = makeSender({ csrf: csrfMeta ? csrfMeta.content : "" });

  const modeSelect = document.getElementById("door-mode");
  const doorInput = document.getElementById("door-name");
  const layoutSelect = document.getElementById("door-layout");
  const counters = document.querySelector(".counters");

  // --- this device: its door name, its mode, its badge printer ------------------------

  ctx.doorName = () => doorInput.value.trim().slice(0, 100);
  ctx.mode = () => modeSelect.value; // "" for the entrance, else a session id
  ctx.scopeText = () => {
    if (!ctx.mode()) return M.scope_entrance;
    const option = modeSelect.options[modeSelect.selectedIndex];
    return fmt(M.scope_session, { title: option ? option.text : "" });
  };

  function markUnnamed() {
    doorInput.classList.toggle("unnamed", !ctx.doorName());
  }

  let savedDoor = store(DOOR_KEY);
  if (savedDoor === null) {
    // A name that tells this device from the others until someone types a better one.
    savedDoor = `${M.door} ${uuid().slice(0, 4).toUpperCase()}`;
    store(DOOR_KEY, savedDoor);
  }
  doorInput.value = savedDoor;
  markUnnamed();
  doorInput.addEventListener("change", () => {
    store(DOOR_KEY, ctx.doorName());
    markUnnamed();
  });
  doorInput.addEventListener("input", markUnnamed);
  doorInput.addEventListener("keydown", (e) => {
    if (e.key === "Enter") {
      e.preventDefault();
      store(DOOR_KEY, ctx.doorName());
      ctx.input.focus();
    }
  });

  function showMode() {
    const current = ctx.mode();
    counters.querySelectorAll(".counter").forEach((li) => {
      const on = li.dataset.scope === current;
      li.classList.toggle("current", on);
      if (on) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    });
  }

  const savedMode = store(MODE_KEY);
  if (savedMode !== null && Array.from(modeSelect.options).some((o) => o.value === savedMode)) {
    modeSelect.value = savedMode;
  }
  showMode();

  if (layoutSelect) {
    const savedLayout = store(LAYOUT_KEY);
    if (savedLayout && Array.from(layoutSelect.options).some((o) => o.value === savedLayout)) {
      layoutSelect.value = savedLayout;
    }
    const applyLayout = () => {
      const field = root.querySelector('.door-badge-form input[name="layout"]');
      if (field) field.value = layoutSelect.value;
    };
    applyLayout();
    layoutSelect.addEventListener("change", () => {
      store(LAYOUT_KEY, layoutSelect.value);
      applyLayout();
    });
  }

  // --- the screens -----------------------------------------------------------------------

  ctx.refocus = (force) => {
    if (ctx.camera.open) return;
    // On a phone, focusing would pop the on-screen keyboard up over the result: only
    // after keyboard (scanner) input, or where there is a mouse.
    const fine = window.matchMedia && window.matchMedia("(pointer: fine)").matches;
    if (force || ctx.lastVia === "keyboard" || fine) ctx.input.focus({ preventScroll: true });
  };
  ctx.view = makeResult(ctx);
  ctx.camera = makeCamera(ctx);
  ctx.search = makeSearch(ctx);

  modeSelect.addEventListener("change", () => {
    store(MODE_KEY, ctx.mode());
    showMode();
    ctx.search.render(ctx.search.state.lastResults);
    renderNotArrived();
    ctx.refocus(true);
  });

  // --- offline: the snapshot, the queue, the status line ------------------------------

  const empty = snap.emptySnapshot(SLUG);
  const offline = { since: null, snapshot: empty, index: snap.indexOf(empty), lastSync: null };
  const canStore = typeof indexedDB !== "undefined";
  const queue = new Queue(canStore ? new idb.QueueStore(SLUG) : new MemoryStore());
  const syncLine = document.getElementById("door-sync");
  const refusedList = document.getElementById("door-refused");

  ctx.offline = () => offline.since !== null && ctx.hasSnapshot();
  ctx.hasSnapshot = () => offline.snapshot.cursor !== null;
  ctx.searchSnapshot = (query) =>
    snap.search(offline.snapshot, offline.index, query).map((p) => snap.describe(offline.snapshot, p));

  function hhmm(date) {
    return ctx.view.when(date.toISOString());
  }

  function paintSync() {
    if (!syncLine) return;
    const parts = [
      offline.since ? fmt(M.offline_since, { time: hhmm(offline.since) }) : M.online,
    ];
    const waiting = queue.waiting().length;
    if (waiting) parts.push(fmt(M.waiting, { n: waiting }));
    parts.push(offline.lastSync ? fmt(M.last_sync, { time: hhmm(offline.lastSync) }) : M.never_synced);
    syncLine.textContent = parts.join(" · ");
    syncLine.classList.toggle("is-offline", !!offline.since);
    syncLine.dataset.waiting = String(waiting);
    syncLine.dataset.state = offline.since ? "offline" : "online";
    syncLine.dataset.synced = offline.lastSync ? "true" : "false";
    paintRefused();
  }

  function paintRefused() {
    if (!refusedList) return;
    refusedList.textContent = "";
    queue.refused().forEach((item) => {
      const person = offline.snapshot.people[item.registration];
      const li = document.createElement("li");
      const body = (item.answer && item.answer.body) || {};
      li.textContent = fmt(M.refused_item, {
        name: person ? personName(person) : `#${item.registration}`,
        time: ctx.view.when(item.scanned_at),
        reason: body.message || body.result || String(item.answer ? item.answer.status : ""),
      });
      const button = document.createElement("button");
      button.type = "button";
      button.className = "door-dismiss";
      button.textContent = M.dismiss;
      button.addEventListener("click", () => queue.dismiss(item.nonce));
      li.appendChild(document.createTextNode(" "));
      li.appendChild(button);
      refusedList.appendChild(li);
    });
    refusedList.hidden = !refusedList.children.length;
  }

  queue.onChange(paintSync);

  function goneOffline() {
    if (offline.since === null) {
      offline.since = new Date();
      paintSync();
      renderNotArrived();
    }
  }

  function backOnline() {
    if (offline.since !== null) {
      offline.since = null;
      paintSync();
    }
  }

  function setSnapshot(next) {
    offline.snapshot = next;
    offline.index = snap.indexOf(next);
    renderNotArrived();
  }

  async function save() {
    if (canStore) {
      try {
        await idb.saveSnapshot(offline.snapshot);
      } catch {
        /* storage full or refused: the snapshot still serves from memory */
      }
    }
  }

  let syncing = null;
  let syncTimer = null;

  async function pull() {
    const since = offline.snapshot.cursor;
    const started = performance.now();
    const url = `${ctx.api}/door-snapshot${since ? `?since=${encodeURIComponent(since)}` : ""}`;
    let response;
    try {
      response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    } catch {
      goneOffline();
      return false;
    }
    if (response.status === 403 || response.status === 404) {
      // This account may no longer see this event: nothing of it stays here.
      if (canStore) await idb.wipeEvent(SLUG);
      setSnapshot(snap.emptySnapshot(SLUG));
      return false;
    }
    if (!response.ok) {
      if (response.status >= 500 || response.status === 0) goneOffline();
      return false;
    }
    let delta;
    try {
      delta = await response.json();
    } catch {
      goneOffline();
      return false;
    }
    backOnline();
    offline.lastSync = new Date();
    if (delta.full || (delta.people || []).length || (delta.removed || []).length || !since) {
      setSnapshot(snap.merge(offline.snapshot, delta, offline.lastSync.toISOString()));
      // How long a full pull takes to be searchable, and then kept (benchmarks read it).
      if (delta.full) performance.measure("tracker-door-snapshot-ready", { start: started });
      await save();
      if (delta.full) performance.measure("tracker-door-snapshot-kept", { start: started });
    } else {
      offline.snapshot = { ...offline.snapshot, cursor: delta.cursor, syncedAt: offline.lastSync.toISOString() };
    }
    paintSync();
    return true;
  }

  /* Pull what changed, then send what waits. */
  ctx.sync = function sync() {
    if (!syncing) {
      syncing = (async () => {
        const reached = await pull();
        if (reached && queue.waiting().length) {
          const report = await queue.drain((body) => ctx.send("POST", `${ctx.api}/checkins`, body));
          if (report.stopped) goneOffline();
          if (report.sent) {
            ctx.refreshCounters();
            await pull();
          }
        }
      })().finally(() => {
        syncing = null;
      });
    }
    return syncing;
  };

  function scheduleSync() {
    clearInterval(syncTimer);
    syncTimer = setInterval(ctx.sync, SYNC_EVERY_MS);
  }

  window.addEventListener("offline", goneOffline);
  window.addEventListener("online", () => ctx.sync());

  // --- check-in and undo ---------------------------------------------------------------

  async function personFor(target) {
    if (target.registration) return offline.snapshot.people[target.registration] || null;
    const hash = await sha256Hex(target.code);
    return snap.byHash(offline.snapshot, offline.index, hash);
  }

  /* Answer from the snapshot, and queue the check-in when it is one. */
  async function checkInOffline(target, payload, seq) {
    let person;
    try {
      person = await personFor(target);
    } catch {
      return false; // no SHA-256 here (not a secure context): nothing to answer with
    }
    const session = payload.session ? String(payload.session) : "";
    const answer = snap.answerFor(offline.snapshot, person, {
      session,
      registeredOnly: !!payload.registered_only,
      pending: person ? queue.pendingFor(person.id, session) : null,
      door: ctx.doorName(),
    });
    if (answer.body.result === "ok") {
      const item = { ...payload, registration: person.id };
      delete item.code;
      const queued = await queue.add(item);
      // In memory only: after a reload the queue itself tells who was let in here.
      offline.snapshot = snap.withCheckIn(offline.snapshot, person.id, session, queued.scanned_at, payload.door);
      renderNotArrived();
    }
    if (seq === ctx.resultSeq) ctx.view.showCheckIn(answer, target, { offline: true });
    return true;
  }

  /* Check a person in where this device checks in. In a session, someone who did not
     register for it is refused (an amber screen) unless `options.anyway`: the second
     request, after a tap on "Check in anyway", is a new attempt with its own nonce. */
  ctx.checkIn = async function checkIn(target, via, options) {
    ctx.lastVia = via || ctx.lastVia;
    const seq = ++ctx.resultSeq;
    const anyway = !!(options && options.anyway);
    const payload = { door: ctx.doorName(), nonce: uuid() };
    if (target.code) payload.code = target.code;
    else payload.registration = target.registration;
    // The session the refusal was about, even if the mode changed since.
    const session = anyway ? target.session : ctx.mode();
    if (session) {
      payload.session = Number(session);
      if (!anyway) payload.registered_only = true;
    }
    target.session = session;
    if (ctx.offline()) {
      if (await checkInOffline(target, payload, seq)) {
        ctx.refocus();
        return;
      }
    }
    ctx.view.showPendingLater(seq, PENDING_AFTER_MS);
    const answer = await ctx.send("POST", `${ctx.api}/checkins`, payload);
    if (answer.status === 0 && ctx.hasSnapshot()) {
      // No answer: perhaps recorded, perhaps not. Queued with the same nonce, it counts
      // once whatever happened.
      goneOffline();
      payload.scanned_at = new Date().toISOString();
      if (await checkInOffline(target, payload, seq)) {
        ctx.refocus();
        return;
      }
    }
    const checkedIn = answer.body && answer.body.result === "ok" && answer.body.registration;
    if (checkedIn) {
      // The snapshot knows at once (the next pull confirms): a network cut right after
      // does not make this person new again.
      offline.snapshot = snap.withCheckIn(
        offline.snapshot, checkedIn.id, session, new Date().toISOString(), payload.door
      );
      renderNotArrived();
    }
    if (seq !== ctx.resultSeq) return; // a newer scan is being shown
    ctx.view.showCheckIn(answer, target);
    ctx.refocus();
    ctx.refreshCounters();
    if (ctx.search.state.lastResults.length) ctx.search.rerun();
  };

  async function undo(target) {
    const seq = ++ctx.resultSeq;
    let request;
    if (target.code) {
      request = ctx.send(
        "DELETE",
        `${ctx.api}/checkins/${encodeURIComponent(target.code)}?door=${encodeURIComponent(ctx.doorName())}${
          target.session ? `&session=${target.session}` : ""
        }`
      );
    } else {
      // Checked in from the search: the badge code was never seen here.
      const form = new FormData();
      form.append("registration", target.registration);
      form.append("session", target.session || "");
      form.append("door", ctx.doorName());
      request = ctx.send("POST", root.dataset.undoUrl, form, true);
    }
    const undoButton = ctx.view.undoButton;
    undoButton.disabled = true;
    const answer = await request;
    undoButton.disabled = false;
    if (seq !== ctx.resultSeq) return;
    const body = answer.body || {};
    const r = body.registration;
    if (body.result === "undone" || body.result === "not_checked_in") {
      ctx.view.show("undone", {
        result: body.result,
        title: body.result === "undone" ? M.undone : M.not_checked_in,
        name: personName(r),
        org: r ? ctx.view.orgLine(r) : "",
        scope: ctx.scopeText(),
      });
    } else {
      ctx.view.show("error", {
        title: M.error,
        detail: answer.status === 0 ? M.network_detail : body.message || "",
      });
    }
    ctx.refocus();
    ctx.refreshCounters();
    ctx.sync();
  }

  ctx.result.addEventListener("click", (e) => {
    if (e.target.closest(".door-undo, .door-anyway, .door-badge-form")) return;
    ctx.view.hide();
    ctx.refocus();
  });
  ctx.view.undoButton.addEventListener("click", (e) => {
    e.stopPropagation();
    if (ctx.view.state.undoTarget) undo(ctx.view.state.undoTarget);
  });
  ctx.view.anywayButton.addEventListener("click", (e) => {
    e.stopPropagation();
    const target = ctx.view.state.anywayTarget;
    if (!target) return;
    ctx.view.state.anywayTarget = null; // one tap, one check-in
    ctx.checkIn({ code: target.code, registration: target.registration, session: target.session }, "pointer", {
      anyway: true,
    });
  });
  ctx.view.nextButton.addEventListener("click", (e) => {
    e.stopPropagation();
    ctx.view.hide();
    ctx.refocus();
  });

  // Keys typed while nothing else takes them (after a tap on a button, say) go to the
  // input, so a scanner never types into the void.
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t === ctx.input || e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;
    if (t && t.closest && t.closest("input, select, textarea, [contenteditable]")) return;
    if (document.getElementById("walk-in").contains(t)) return;
    ctx.input.focus({ preventScroll: true });
  });

  // --- "not arrived yet" -----------------------------------------------------------------

  const notArrived = document.getElementById("door-not-arrived");
  const notArrivedFilter = document.getElementById("door-not-arrived-filter");
  const notArrivedList = document.getElementById("door-not-arrived-list");
  const notArrivedCount = document.getElementById("door-not-arrived-count");
  const NOT_ARRIVED_SHOWN = 200;

  function renderNotArrived() {
    if (!notArrived || !notArrived.open) return;
    const scope = ctx.mode() || snap.ENTRANCE;
    let people = snap.notArrived(offline.snapshot, scope, (id, key) =>
      !!queue.pendingFor(id, key === snap.ENTRANCE ? "" : key)
    );
    const total = people.length;
    const query = notArrivedFilter.value.trim();
    if (query) {
      const matching = new Set(snap.search(offline.snapshot, offline.index, query, total).map((p) => p.id));
      people = people.filter((p) => matching.has(p.id));
    }
    notArrivedCount.textContent = fmt(M.not_arrived_count, { n: total });
    notArrivedList.textContent = "";
    people.slice(0, NOT_ARRIVED_SHOWN).forEach((p) => {
      const r = snap.describe(offline.snapshot, p);
      const li = document.createElement("li");
      li.dataset.registration = r.id;
      const name = document.createElement("span");
      name.className = "door-person-name";
      name.textContent = personName(r);
      const org = document.createElement("span");
      org.className = "door-person-org";
      org.textContent = ctx.view.orgLine(r);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "door-checkin";
      button.textContent = M.check_in;
      button.setAttribute("aria-label", fmt(M.check_in_person, { name: personName(r) }));
      button.addEventListener("click", () => ctx.checkIn({ registration: r.id }, "pointer"));
      const person = document.createElement("span");
      person.className = "door-person";
      person.append(name, org);
      li.append(person, button);
      notArrivedList.appendChild(li);
    });
  }

  if (notArrived) {
    notArrived.addEventListener("toggle", renderNotArrived);
    notArrivedFilter.addEventListener("input", renderNotArrived);
  }

  // --- live counters -------------------------------------------------------------------

  let counterTimer = null;

  function paintCounters(figures) {
    if (!figures) return;
    const byScope = { "": { present: figures.present, expected: figures.expected } };
    (figures.sessions || []).forEach((s) => {
      byScope[String(s.id)] = s;
    });
    counters.querySelectorAll(".counter").forEach((li) => {
      const figure = byScope[li.dataset.scope];
      if (!figure) return;
      li.querySelector("[data-present]").textContent = figure.present;
      li.querySelector("[data-expected]").textContent = figure.expected;
    });
  }

  ctx.refreshCounters = async function refreshCounters() {
    try {
      const response = await fetch(`${ctx.api}/stats`, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
      });
      if (!response.ok) throw new Error(String(response.status));
      paintCounters((await response.json()).counters);
      counters.classList.remove("stale");
    } catch {
      counters.classList.add("stale");
    }
  };

  function pollCounters() {
    clearInterval(counterTimer);
    counterTimer = null;
    if (document.hidden) return; // nobody is looking: no polling
    counterTimer = setInterval(ctx.refreshCounters, COUNTER_EVERY_MS);
  }

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      ctx.refreshCounters();
      ctx.sync();
    }
    pollCounters();
  });
  pollCounters();

  // --- walk-ins, the camera --------------------------------------------------------------

  makeWalkIn(ctx);
  document.getElementById("door-camera").addEventListener("click", () => {
    ctx.lastVia = "camera";
    ctx.view.hide();
    ctx.camera.openCamera();
  });
  document.getElementById("door-camera-close").addEventListener("click", () => ctx.camera.close());

  // --- logout wipes what this door kept ------------------------------------------------------

  document.querySelectorAll("form.logout").forEach((form) => {
    form.addEventListener("submit", async (e) => {
      if (form.dataset.wiped || !canStore) return;
      e.preventDefault();
      clearInterval(syncTimer);
      await idb.wipeAll();
      if (typeof caches !== "undefined") {
        // The door screen kept for a reload offline: it shows who was logged in.
        const kept = await caches.keys();
        await Promise.all(kept.filter((k) => k.startsWith("tracker-door-")).map((k) => caches.delete(k)));
      }
      form.dataset.wiped = "true";
      form.submit();
    });
  });

  // --- start: what was kept, then the server ----------------------------------------------

  (async () => {
    if (canStore) {
      try {
        const kept = await idb.loadSnapshot(SLUG);
        if (kept && snap.expired(kept)) {
          await idb.wipeEvent(SLUG);
        } else if (kept) {
          setSnapshot(kept);
          offline.lastSync = kept.syncedAt ? new Date(kept.syncedAt) : null;
        }
        await queue.load();
      } catch {
        /* IndexedDB refused (private browsing): memory only */
      }
    }
    if (!navigator.onLine && ctx.hasSnapshot()) goneOffline();
    paintSync();
    await ctx.sync();
    if (snap.expired(offline.snapshot)) {
      await idb.wipeEvent(SLUG);
      setSnapshot(snap.emptySnapshot(SLUG));
    }
    scheduleSync();
  })();

  if ("serviceWorker" in navigator && root.dataset.serviceWorker) {
    navigator.serviceWorker
      .register(root.dataset.serviceWorker, { scope: root.dataset.serviceWorkerScope })
      .catch(() => {
        /* no offline page: the door still works while online */
      });
  }

  ctx.refocus();
}
