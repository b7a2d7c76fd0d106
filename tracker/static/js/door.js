/* The door screen.
 *
 * One input does everything: typing searches (names, organisations, e-mails); a
 * keyboard-wedge scanner types a check-in code and Enter, which checks that person in
 * at once; Enter on a search with a single match checks that person in. The camera
 * button reads QR codes (the browser's BarcodeDetector when it has one, else the
 * vendored jsQR). Every result fills the screen until the next scan or a tap, and is
 * what the server answered: nothing is guessed here.
 *
 * Check-in, undo, search and the counters use the JSON API with the session cookie and
 * the page's CSRF token; walk-ins are posted to the door's own form route.
 */
(function () {
  "use strict";

  var root = document.querySelector("main.door");
  if (!root) return;

  var API = root.dataset.api;
  var SLUG = root.dataset.slug;
  var TIMEZONE = root.dataset.timezone || undefined;
  var LOCALE = root.dataset.locale || document.documentElement.lang || "fr";
  var CSRF = (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  var M = JSON.parse(document.getElementById("door-messages").textContent);

  var input = document.getElementById("door-input");
  var statusLine = document.getElementById("door-status");
  var resultsList = document.getElementById("door-results");
  var modeSelect = document.getElementById("door-mode");
  var doorInput = document.getElementById("door-name");
  var counters = document.querySelector(".counters");
  var announcer = document.getElementById("door-announce");
  var result = document.getElementById("door-result");
  var undoButton = result.querySelector(".door-undo");
  var anywayButton = result.querySelector(".door-anyway");
  var nextButton = result.querySelector(".door-next");

  var CODE_RE = /^[A-Z2-7]{26}$/;
  var SEARCH_DELAY_MS = 180;
  var COUNTER_EVERY_MS = 5000;
  var PENDING_AFTER_MS = 250;
  var MODE_KEY = "tracker.door." + SLUG + ".mode";
  var DOOR_KEY = "tracker.door.name";

  // --- small helpers -------------------------------------------------------------------

  function fmt(template, values) {
    return String(template).replace(/\{(\w+)\}/g, function (all, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
    });
  }

  function store(key, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(key);
      window.localStorage.setItem(key, value);
    } catch (e) {
      /* private browsing: the choice lasts as long as the page */
    }
    return null;
  }

  function uuid() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    // crypto.randomUUID needs a secure context; getRandomValues does not.
    var b = new Uint8Array(16);
    window.crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) {
      return (x + 0x100).toString(16).slice(1);
    }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" +
      h.slice(16, 20) + "-" + h.slice(20);
  }

  /* What a scanner (or a person) typed, as a check-in code, or null. */
  function asCode(raw) {
    var squeezed = String(raw || "").replace(/[\s-]+/g, "").toUpperCase();
    return CODE_RE.test(squeezed) ? squeezed : null;
  }

  function localTime(iso) {
    if (!iso) return "";
    var when = new Date(iso);
    if (isNaN(when.getTime())) return iso;
    var options = { hour: "2-digit", minute: "2-digit", timeZone: TIMEZONE };
    var day = { year: "numeric", month: "2-digit", day: "2-digit", timeZone: TIMEZONE };
    try {
      var sameDay = new Intl.DateTimeFormat("en", day).format(when) ===
        new Intl.DateTimeFormat("en", day).format(new Date());
      if (!sameDay) {
        options.day = "numeric";
        options.month = "short";
      }
      return new Intl.DateTimeFormat(LOCALE, options).format(when);
    } catch (e) {
      return when.toLocaleTimeString();
    }
  }

  function typeLabel(type) {
    return M["type_" + type] || type || "";
  }

  function personName(r) {
    return ((r.first_name || "") + " " + (r.last_name || "")).trim();
  }

  function orgLine(r) {
    var parts = [r.organisation, typeLabel(r.organisation_type)];
    if (r.job_title) parts.push(r.job_title);
    return parts.filter(Boolean).join(" · ");
  }

  function finePointer() {
    return window.matchMedia && window.matchMedia("(pointer: fine)").matches;
  }

  // --- this device: its door name and its mode ---------------------------------------

  function doorName() {
    return doorInput.value.trim().slice(0, 100);
  }

  function markUnnamed() {
    doorInput.classList.toggle("unnamed", !doorName());
  }

  (function restoreDoor() {
    var saved = store(DOOR_KEY);
    if (saved === null) {
      // A name that tells this device from the others until someone types a better one.
      saved = M.door + " " + uuid().slice(0, 4).toUpperCase();
      store(DOOR_KEY, saved);
    }
    doorInput.value = saved;
    markUnnamed();
  })();

  doorInput.addEventListener("change", function () {
    store(DOOR_KEY, doorName());
    markUnnamed();
  });
  doorInput.addEventListener("input", markUnnamed);
  doorInput.addEventListener("keydown", function (e) {
    if (e.key === "Enter") {
      e.preventDefault();
      store(DOOR_KEY, doorName());
      input.focus();
    }
  });

  function mode() {
    return modeSelect.value; // "" for the entrance, else a session id
  }

  function scopeText() {
    if (!mode()) return M.scope_entrance;
    var option = modeSelect.options[modeSelect.selectedIndex];
    return fmt(M.scope_session, { title: option ? option.text : "" });
  }

  function showMode() {
    var current = mode();
    Array.prototype.forEach.call(counters.querySelectorAll(".counter"), function (li) {
      var on = li.dataset.scope === current;
      li.classList.toggle("current", on);
      if (on) li.setAttribute("aria-current", "true");
      else li.removeAttribute("aria-current");
    });
  }

  (function restoreMode() {
    var saved = store(MODE_KEY);
    if (saved !== null) {
      var known = Array.prototype.some.call(modeSelect.options, function (o) {
        return o.value === saved;
      });
      if (known) modeSelect.value = saved;
    }
    showMode();
  })();

  modeSelect.addEventListener("change", function () {
    store(MODE_KEY, mode());
    showMode();
    renderResults(lastResults);
    refocus(true);
  });

  // --- talking to the server ---------------------------------------------------------

  function wait(ms) {
    return new Promise(function (resolve) {
      setTimeout(resolve, ms);
    });
  }

  /* One request, sent again (same body, so the same nonce) if the network failed.
     Resolves to {status, body}; status 0 when no answer came at all. */
  function send(method, url, body, isForm) {
    var headers = { Accept: "application/json", "X-CSRFToken": CSRF };
    if (body !== undefined && !isForm) headers["Content-Type"] = "application/json";
    var init = {
      method: method,
      headers: headers,
      credentials: "same-origin",
      body: body === undefined ? undefined : isForm ? body : JSON.stringify(body),
    };
    var delays = [0, 400, 1200];
    function attempt(i) {
      return wait(delays[i])
        .then(function () {
          return fetch(url, init);
        })
        .then(function (response) {
          return response.json().then(
            function (data) {
              return { status: response.status, body: data };
            },
            function () {
              return { status: response.status, body: {} };
            }
          );
        })
        .catch(function () {
          if (i + 1 < delays.length) return attempt(i + 1);
          return { status: 0, body: {} };
        });
    }
    return attempt(0);
  }

  // --- the full-screen result ----------------------------------------------------------

  var undoTarget = null; // {code, session} of the check-in shown
  var anywayTarget = null; // {code | registration, session} refused as not registered
  var resultSeq = 0;
  var pendingTimer = null;
  var lastVia = "keyboard"; // how the last check-in came: keyboard, pointer or camera

  function setText(selector, text) {
    result.querySelector(selector).textContent = text || "";
  }

  function announce(text) {
    // Emptied first so that the same words twice in a row are read again.
    announcer.textContent = "";
    setTimeout(function () {
      announcer.textContent = text;
    }, 30);
  }

  /* kind: ok | already | warn | bad | undone | error | pending */
  function showResult(kind, parts) {
    clearTimeout(pendingTimer);
    result.className = "door-result is-" + kind;
    result.dataset.result = parts.result || kind;
    setText(".door-result-title", parts.title);
    setText(".door-result-name", parts.name);
    setText(".door-result-org", parts.org);
    var detail = result.querySelector(".door-result-detail");
    detail.textContent = "";
    [].concat(parts.detail || []).filter(Boolean).forEach(function (line) {
      var span = document.createElement("span");
      span.textContent = line;
      detail.appendChild(span);
    });
    result.querySelector(".door-result-name").classList.toggle("is-code", !!parts.isCode);
    setText(".door-result-scope", parts.scope);
    var list = result.querySelector(".door-result-sessions");
    list.textContent = "";
    (parts.sessions || []).forEach(function (title) {
      var li = document.createElement("li");
      li.textContent = title;
      list.appendChild(li);
    });
    undoTarget = parts.undo || null;
    undoButton.hidden = !undoTarget;
    anywayTarget = parts.anyway || null;
    anywayButton.hidden = !anywayTarget;
    // Print (or reprint) the badge of the person shown: a walk-in, a lost badge.
    var badgeForm = result.querySelector(".door-badge-form");
    var badgeFor = undoTarget && undoTarget.registration;
    badgeForm.hidden = !badgeFor;
    if (badgeFor) {
      badgeForm.action = badgeForm.dataset.urlTemplate.replace(/\/0\.pdf$/, "/" + badgeFor + ".pdf");
    }
    nextButton.hidden = kind === "pending";
    result.hidden = false;
    if (kind !== "pending") {
      announce([parts.title, parts.name].concat(parts.detail || []).filter(Boolean).join(". "));
    }
  }

  function hideResult() {
    if (result.hidden) return;
    result.hidden = true;
    result.className = "door-result";
    undoTarget = null;
    anywayTarget = null;
    camera.resume();
  }

  function refocus(force) {
    if (camera.open) return;
    // On a phone, focusing would pop the on-screen keyboard up over the result: only
    // after keyboard (scanner) input, or where there is a mouse.
    if (force || lastVia === "keyboard" || finePointer()) {
      input.focus({ preventScroll: true });
    }
  }

  result.addEventListener("click", function (e) {
    if (e.target.closest(".door-undo, .door-anyway, .door-badge-form")) return;
    hideResult();
    refocus();
  });

  undoButton.addEventListener("click", function (e) {
    e.stopPropagation();
    if (undoTarget) undo(undoTarget);
  });

  anywayButton.addEventListener("click", function (e) {
    e.stopPropagation();
    if (!anywayTarget) return;
    var target = anywayTarget;
    anywayTarget = null; // one tap, one check-in
    checkIn({ code: target.code, registration: target.registration, session: target.session },
      "pointer", { anyway: true });
  });

  function checkedInHere(r) {
    if (!r) return null;
    var current = mode();
    if (!current) return r.checked_in_at || null;
    return (r.session_checkins || {})[current] || null;
  }

  function sessionsOf(r) {
    return ((r && r.sessions) || []).map(function (s) {
      return s.title;
    });
  }

  function notInSession(r) {
    var current = mode();
    if (!current || !r) return false;
    return !(r.sessions || []).some(function (s) {
      return String(s.id) === current;
    });
  }

  /* Turn the server's answer to a check-in into the full-screen result. */
  function showCheckIn(answer, target, extra) {
    var body = answer.body || {};
    var r = body.registration;
    var undo = {
      code: target.code || null,
      registration: r ? r.id : null,
      session: target.session,
    };
    var scope = scopeText();
    if (answer.status === 0) {
      showResult("error", { title: M.network, detail: M.network_detail, result: "network" });
      return;
    }
    switch (body.result) {
      case "ok":
        showResult("ok", {
          result: "ok",
          title: M.checked_in,
          name: personName(r),
          org: orgLine(r),
          detail: [
            extra && extra.walkIn ? M.walk_in_registered : "",
            extra && extra.overCapacity ? M.over_capacity : "",
            notInSession(r) ? M.not_in_session : "",
          ],
          sessions: sessionsOf(r),
          scope: scope,
          undo: undo,
        });
        return;
      case "already_checked_in":
        showResult("already", {
          result: "already_checked_in",
          title: M.already,
          name: personName(r),
          org: orgLine(r),
          detail: [
            fmt(M.already_detail, { time: localTime(body.checked_in_at), door: body.door || "?" }),
            body.by ? fmt(M.by, { who: body.by }) : "",
          ],
          sessions: sessionsOf(r),
          scope: scope,
          undo: undo,
        });
        return;
      case "not_registered":
        showResult("warn", {
          result: "not_registered",
          title: M.not_in_session,
          name: personName(r),
          org: orgLine(r),
          detail: M.not_in_session_detail,
          sessions: sessionsOf(r),
          scope: scope,
          anyway: {
            code: target.code || null,
            registration: r ? r.id : null,
            session: target.session,
          },
        });
        return;
      case "unknown":
        var other = body.reason === "other_event";
        showResult("bad", {
          result: other ? "other_event" : "unknown",
          title: other ? M.other_event : M.unknown,
          name: target.code || "",
          isCode: true,
          org: other ? M.other_event_detail : M.unknown_detail,
          detail: M.refused_advice,
          scope: scope,
        });
        return;
      case "not_confirmed":
        var cancelled = body.status === "cancelled";
        showResult("bad", {
          result: cancelled ? "cancelled" : "waitlisted",
          title: cancelled ? M.cancelled : M.waitlisted,
          name: personName(r),
          org: r ? orgLine(r) : "",
          detail: [cancelled ? M.cancelled_detail : M.waitlisted_detail, M.refused_advice],
          scope: scope,
        });
        return;
      default:
        showResult("error", {
          result: "error",
          title: M.error,
          detail: answer.status === 401 ? M.logged_out : body.message || M.network_detail,
        });
    }
  }

  /* Check a person in where this device checks in. In a session, someone who did not
     register for it is refused (an amber screen) unless `options.anyway`: the second
     request, after a tap on "Check in anyway", is a new attempt with its own nonce. */
  function checkIn(target, via, options) {
    lastVia = via || lastVia;
    var seq = ++resultSeq;
    var payload = { door: doorName(), nonce: uuid() };
    if (target.code) payload.code = target.code;
    else payload.registration = target.registration;
    // The session the refusal was about, even if the mode changed since.
    var session = options && options.anyway ? target.session : mode();
    if (session) {
      payload.session = Number(session);
      if (!(options && options.anyway)) payload.registered_only = true;
    }
    target.session = session;
    clearTimeout(pendingTimer);
    pendingTimer = setTimeout(function () {
      if (seq === resultSeq) showResult("pending", { title: M.checking, scope: scopeText() });
    }, PENDING_AFTER_MS);
    return send("POST", API + "/checkins", payload).then(function (answer) {
      if (seq !== resultSeq) return; // a newer scan is being shown
      showCheckIn(answer, target);
      refocus();
      refreshCounters();
      if (lastResults.length) rerunSearch();
    });
  }

  function undo(target) {
    var seq = ++resultSeq;
    var request;
    if (target.code) {
      request = send("DELETE", API + "/checkins/" + encodeURIComponent(target.code) + "?door=" +
        encodeURIComponent(doorName()) + (target.session ? "&session=" + target.session : ""));
    } else {
      // Checked in from the search: the badge code was never seen here.
      var form = new FormData();
      form.append("registration", target.registration);
      form.append("session", target.session || "");
      form.append("door", doorName());
      request = send("POST", root.dataset.undoUrl, form, true);
    }
    undoButton.disabled = true;
    return request.then(function (answer) {
      undoButton.disabled = false;
      if (seq !== resultSeq) return;
      var body = answer.body || {};
      var r = body.registration;
      if (body.result === "undone" || body.result === "not_checked_in") {
        showResult("undone", {
          result: body.result,
          title: body.result === "undone" ? M.undone : M.not_checked_in,
          name: personName(r),
          org: r ? orgLine(r) : "",
          scope: scopeText(),
        });
      } else {
        showResult("error", {
          title: M.error,
          detail: answer.status === 0 ? M.network_detail : body.message || "",
        });
      }
      refocus();
      refreshCounters();
    });
  }

  // --- the one input: search as you type, Enter checks in ------------------------------

  var searchTimer = null;
  var searchSeq = 0;
  var searchAbort = null;
  var lastResults = [];
  var lastQuery = "";

  function say(text) {
    statusLine.textContent = text || "";
  }

  function clearResults() {
    lastResults = [];
    lastQuery = "";
    resultsList.textContent = "";
    say("");
  }

  function renderResults(list) {
    resultsList.textContent = "";
    (list || []).forEach(function (r) {
      var li = document.createElement("li");
      li.dataset.registration = r.id;
      var person = document.createElement("span");
      person.className = "door-person";
      var name = document.createElement("span");
      name.className = "door-person-name";
      name.textContent = personName(r);
      var org = document.createElement("span");
      org.className = "door-person-org";
      org.textContent = orgLine(r);
      person.appendChild(name);
      person.appendChild(org);
      var state = null;
      var here = checkedInHere(r);
      if (r.status && r.status !== "confirmed") {
        state = document.createElement("span");
        state.className = "door-person-state bad";
        state.textContent = "✕ " + (M["status_" + r.status] || r.status);
      } else if (here) {
        state = document.createElement("span");
        state.className = "door-person-state in";
        state.textContent = "✓ " + fmt(M.checked_in_at, { time: localTime(here) });
      }
      if (state) person.appendChild(state);
      var button = document.createElement("button");
      button.type = "button";
      button.className = "door-checkin";
      button.textContent = M.check_in;
      button.setAttribute("aria-label", fmt(M.check_in_person, { name: personName(r) }));
      li.appendChild(person);
      li.appendChild(button);
      li.addEventListener("click", function () {
        pick(r, "pointer");
      });
      resultsList.appendChild(li);
    });
  }

  function pick(r, via) {
    input.value = "";
    clearResults();
    return checkIn({ registration: r.id }, via);
  }

  function runSearch(query) {
    var seq = ++searchSeq;
    if (searchAbort) searchAbort.abort();
    searchAbort = window.AbortController ? new AbortController() : null;
    say(M.searching);
    var url = API + "/registrations?q=" + encodeURIComponent(query) + "&limit=20";
    return fetch(url, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
      signal: searchAbort ? searchAbort.signal : undefined,
    })
      .then(function (response) {
        return response.json().then(function (body) {
          return { status: response.status, body: body };
        });
      })
      .then(function (answer) {
        if (seq !== searchSeq) return null;
        if (answer.status !== 200) {
          say(answer.status === 401 ? M.logged_out : answer.body.message || M.error);
          return [];
        }
        var list = Array.isArray(answer.body) ? answer.body : answer.body.registrations || [];
        lastResults = list;
        lastQuery = query;
        renderResults(list);
        say(list.length ? fmt(M.results, { n: list.length }) : M.no_results);
        return list;
      })
      .catch(function (e) {
        if (e && e.name === "AbortError") return null;
        if (seq === searchSeq) say(M.network);
        return [];
      });
  }

  function rerunSearch() {
    if (lastQuery && input.value.trim() === lastQuery) runSearch(lastQuery);
  }

  input.addEventListener("input", function () {
    lastVia = "keyboard";
    if (!result.hidden && !result.classList.contains("is-pending")) hideResult();
    clearTimeout(searchTimer);
    var query = input.value.trim();
    if (query.length < 2 || asCode(query)) {
      if (!query) clearResults();
      return;
    }
    searchTimer = setTimeout(function () {
      runSearch(query);
    }, SEARCH_DELAY_MS);
  });

  input.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      input.value = "";
      clearResults();
      hideResult();
      return;
    }
    if (e.key !== "Enter" || e.isComposing) return;
    e.preventDefault();
    lastVia = "keyboard";
    clearTimeout(searchTimer);
    var raw = input.value;
    var code = asCode(raw);
    if (code) {
      // A scanner: the code and Enter. Check in now; the input is ready for the next.
      input.value = "";
      clearResults();
      checkIn({ code: code }, "keyboard");
      return;
    }
    var query = raw.trim();
    if (!query) {
      hideResult();
      return;
    }
    var ready = query === lastQuery ? Promise.resolve(lastResults) : runSearch(query);
    ready.then(function (list) {
      if (!list || input.value.trim() !== query) return;
      if (list.length === 1) pick(list[0], "keyboard");
      else if (list.length > 1) say(M.several);
    });
  });

  // Keys typed while nothing else takes them (after a tap on a button, say) go to the
  // input, so a scanner never types into the void.
  document.addEventListener("keydown", function (e) {
    var t = e.target;
    if (t === input || e.ctrlKey || e.metaKey || e.altKey || e.key.length !== 1) return;
    if (t && t.closest && t.closest("input, select, textarea, [contenteditable]")) return;
    if (document.getElementById("walk-in").contains(t)) return;
    input.focus({ preventScroll: true });
  });

  // --- live counters -------------------------------------------------------------------

  var counterTimer = null;

  function paintCounters(figures) {
    if (!figures) return;
    var byScope = { "": { present: figures.present, expected: figures.expected } };
    (figures.sessions || []).forEach(function (s) {
      byScope[String(s.id)] = s;
    });
    Array.prototype.forEach.call(counters.querySelectorAll(".counter"), function (li) {
      var figure = byScope[li.dataset.scope];
      if (!figure) return;
      li.querySelector("[data-present]").textContent = figure.present;
      li.querySelector("[data-expected]").textContent = figure.expected;
    });
  }

  function refreshCounters() {
    return fetch(API + "/stats", { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (stats) {
        paintCounters(stats.counters);
        counters.classList.remove("stale");
      })
      .catch(function () {
        counters.classList.add("stale");
      });
  }

  function pollCounters() {
    clearInterval(counterTimer);
    counterTimer = null;
    if (document.hidden) return; // nobody is looking: no polling
    counterTimer = setInterval(refreshCounters, COUNTER_EVERY_MS);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) refreshCounters();
    pollCounters();
  });
  pollCounters();

  // --- walk-ins ------------------------------------------------------------------------

  var walkIn = document.getElementById("walk-in");
  var walkInForm = document.getElementById("walk-in-form");
  var walkInError = document.getElementById("walk-in-error");
  var organisations = {};
  Array.prototype.forEach.call(
    document.querySelectorAll("#door-organisations option"),
    function (o) {
      organisations[o.value.trim().toLowerCase()] = o.dataset.type;
    }
  );

  walkInForm.organisation.addEventListener("change", function () {
    var type = organisations[walkInForm.organisation.value.trim().toLowerCase()];
    var chosen = walkInForm.querySelector('input[name="organisation_type"]:checked');
    if (type && !chosen) {
      var radio = walkInForm.querySelector('input[name="organisation_type"][value="' + type + '"]');
      if (radio) radio.checked = true;
    }
  });

  function clearWalkInErrors() {
    walkInError.hidden = true;
    walkInError.textContent = "";
    Array.prototype.forEach.call(walkInForm.querySelectorAll(".field .error"), function (p) {
      p.remove();
    });
    Array.prototype.forEach.call(walkInForm.querySelectorAll(".has-error"), function (f) {
      f.classList.remove("has-error");
    });
    Array.prototype.forEach.call(walkInForm.querySelectorAll("[aria-invalid]"), function (f) {
      f.removeAttribute("aria-invalid");
    });
  }

  function showWalkInErrors(errors, fallback, registration) {
    var placed = false;
    var first = null;
    Object.keys(errors || {}).forEach(function (name) {
      var control = walkInForm.elements[name];
      var box = control && (control.length && !control.tagName ? control[0] : control);
      var field = box && box.closest(".field");
      if (!field || box.type === "hidden") return;
      field.classList.add("has-error");
      var p = document.createElement("p");
      p.className = "error js-error";
      p.id = "walk-in-" + name + "-error";
      p.textContent = errors[name].join(" ");
      field.appendChild(p);
      if (box.setAttribute) {
        box.setAttribute("aria-invalid", "true");
        box.setAttribute("aria-describedby", p.id);
      }
      first = first || box;
      placed = true;
    });
    if (!placed || registration) {
      walkInError.textContent = fallback || M.error;
      if (registration) {
        var button = document.createElement("button");
        button.type = "button";
        button.className = "door-checkin";
        button.textContent = fmt(M.check_in_person, { name: personName(registration) });
        button.addEventListener("click", function () {
          clearWalkInErrors();
          walkIn.open = false;
          checkIn({ registration: registration.id }, "pointer");
        });
        walkInError.appendChild(document.createTextNode(" "));
        walkInError.appendChild(button);
      }
      walkInError.hidden = false;
    }
    if (first && first.focus) first.focus();
  }

  var walkInBusy = false;
  walkInForm.addEventListener("submit", function (e) {
    e.preventDefault();
    if (walkInBusy) return;
    walkInBusy = true;
    clearWalkInErrors();
    walkInForm.elements.session.value = mode();
    walkInForm.elements.door.value = doorName();
    walkInForm.elements.nonce.value = uuid();
    var submit = walkInForm.querySelector('button[type="submit"]');
    submit.disabled = true;
    lastVia = "pointer";
    var seq = ++resultSeq;
    send("POST", walkInForm.action, new FormData(walkInForm), true).then(function (answer) {
      walkInBusy = false;
      submit.disabled = false;
      var body = answer.body || {};
      if (answer.status === 201) {
        walkInForm.reset();
        walkIn.open = false;
        if (seq === resultSeq) {
          showCheckIn(answer, { registration: body.registration.id, session: mode() }, {
            walkIn: true,
            overCapacity: body.over_capacity,
          });
        }
        refreshCounters();
        return;
      }
      if (answer.status === 0) {
        showWalkInErrors({}, M.network + ". " + M.network_detail);
      } else if (answer.status === 401) {
        showWalkInErrors({}, M.logged_out);
      } else {
        showWalkInErrors(body.errors, body.message, body.registration);
      }
    });
  });

  // --- the camera ----------------------------------------------------------------------

  var camera = (function () {
    var panel = document.getElementById("door-camera-panel");
    var video = document.getElementById("door-video");
    var message = document.getElementById("door-camera-message");
    var defaultMessage = message.textContent;
    var state = { open: false, paused: false, stream: null, detect: null, last: "", lastAt: 0 };
    var messageTimer = null;

    function loadScript(src) {
      return new Promise(function (resolve) {
        if (window.jsQR) return resolve();
        var s = document.createElement("script");
        s.src = src;
        s.onload = resolve;
        s.onerror = resolve;
        document.head.appendChild(s);
      });
    }

    function makeDetector() {
      var native = Promise.resolve(null);
      if ("BarcodeDetector" in window) {
        native = window.BarcodeDetector.getSupportedFormats()
          .then(function (formats) {
            if (formats.indexOf("qr_code") < 0) return null;
            var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
            return function (source) {
              return detector.detect(source).then(function (codes) {
                return codes.length ? codes[0].rawValue : null;
              });
            };
          })
          .catch(function () {
            return null;
          });
      }
      return native.then(function (detect) {
        if (detect) return detect;
        return loadScript(root.dataset.jsqr).then(function () {
          if (!window.jsQR) return null;
          var canvas = document.createElement("canvas");
          var ctx = canvas.getContext("2d", { willReadFrequently: true });
          return function (source) {
            var w = source.videoWidth;
            var h = source.videoHeight;
            if (!w || !h) return Promise.resolve(null);
            var scale = Math.min(1, 720 / Math.max(w, h));
            canvas.width = Math.round(w * scale);
            canvas.height = Math.round(h * scale);
            ctx.drawImage(source, 0, 0, canvas.width, canvas.height);
            var image = ctx.getImageData(0, 0, canvas.width, canvas.height);
            var found = window.jsQR(image.data, image.width, image.height, {
              inversionAttempts: "attemptBoth",
            });
            return Promise.resolve(found ? found.data : null);
          };
        });
      });
    }

    function tell(text, transient) {
      message.textContent = text;
      clearTimeout(messageTimer);
      if (transient) {
        messageTimer = setTimeout(function () {
          message.textContent = defaultMessage;
        }, 2500);
      }
    }

    function loop() {
      if (!state.open) return;
      var busy = state.paused || video.readyState < 2 || !state.detect;
      var work = busy ? Promise.resolve(null) : state.detect(video).catch(function () {
        return null;
      });
      work.then(function (value) {
        if (value && state.open && !state.paused) found(value);
        if (state.open) setTimeout(loop, 120);
      });
    }

    function found(value) {
      var code = asCode(value);
      if (!code) {
        tell(M.camera_not_a_code, true);
        return;
      }
      // The badge that was just read is probably still in front of the lens.
      if (code === state.last && Date.now() - state.lastAt < 4000) return;
      state.last = code;
      state.paused = true;
      checkIn({ code: code }, "camera");
    }

    function fail(text) {
      close();
      showResult("error", { title: M.error, detail: text, result: "camera" });
    }

    function open() {
      if (!window.isSecureContext || !navigator.mediaDevices ||
        !navigator.mediaDevices.getUserMedia) {
        fail(M.camera_insecure);
        return;
      }
      state.open = true;
      state.paused = false;
      panel.hidden = false;
      tell(defaultMessage);
      input.blur();
      navigator.mediaDevices
        .getUserMedia({ video: { facingMode: { ideal: "environment" } }, audio: false })
        .then(function (stream) {
          if (!state.open) {
            stream.getTracks().forEach(function (t) {
              t.stop();
            });
            return null;
          }
          state.stream = stream;
          video.srcObject = stream;
          return video.play().then(makeDetector);
        })
        .then(function (detect) {
          if (!state.open || !state.stream) return;
          if (!detect) {
            fail(M.camera_unsupported);
            return;
          }
          state.detect = detect;
          loop();
        })
        .catch(function () {
          fail(M.camera_denied);
        });
    }

    function close() {
      state.open = false;
      state.detect = null;
      if (state.stream) {
        state.stream.getTracks().forEach(function (t) {
          t.stop();
        });
      }
      state.stream = null;
      video.srcObject = null;
      panel.hidden = true;
    }

    return {
      get open() {
        return state.open;
      },
      openCamera: open,
      close: function () {
        close();
        refocus();
      },
      resume: function () {
        state.paused = false;
        state.lastAt = Date.now();
      },
    };
  })();

  document.getElementById("door-camera").addEventListener("click", function () {
    lastVia = "camera";
    hideResult();
    camera.openCamera();
  });
  document.getElementById("door-camera-close").addEventListener("click", function () {
    camera.close();
  });

  nextButton.addEventListener("click", function (e) {
    e.stopPropagation();
    hideResult();
    refocus();
  });

  refocus();
})();
