/* The one input: search as you type (the server, or offline the snapshot), Enter on a
   code checks in at once, Enter on a single match checks that person in. */

import { asCode, fmt } from "./util.js";
import { personName } from "./result.js";

const SEARCH_DELAY_MS = 180;

export function makeSearch(ctx) {
  const { M, input, statusLine, resultsList } = ctx;
  const state = { timer: null, seq: 0, abort: null, lastResults: [], lastQuery: "" };

  function say(text) {
    statusLine.textContent = text || "";
  }

  function clear() {
    state.lastResults = [];
    state.lastQuery = "";
    resultsList.textContent = "";
    say("");
  }

  function checkedInHere(r) {
    if (!r) return null;
    const current = ctx.mode();
    if (!current) return r.checked_in_at || null;
    return (r.session_checkins || {})[current] || null;
  }

  function render(list) {
    resultsList.textContent = "";
    (list || []).forEach((r) => {
      const li = document.createElement("li");
      li.dataset.registration = r.id;
      const person = document.createElement("span");
      person.className = "door-person";
      const name = document.createElement("span");
      name.className = "door-person-name";
      name.textContent = personName(r);
      const org = document.createElement("span");
      org.className = "door-person-org";
      org.textContent = ctx.view.orgLine(r);
      person.appendChild(name);
      person.appendChild(org);
      let mark = null;
      const here = checkedInHere(r);
      if (r.status && r.status !== "confirmed") {
        mark = document.createElement("span");
        mark.className = "door-person-state bad";
        mark.textContent = `✕ ${M[`status_${r.status}`] || r.status}`;
      } else if (here) {
        mark = document.createElement("span");
        mark.className = "door-person-state in";
        mark.textContent = `✓ ${fmt(M.checked_in_at, { time: ctx.view.when(here) })}`;
      }
      if (mark) person.appendChild(mark);
      const button = document.createElement("button");
      button.type = "button";
      button.className = "door-checkin";
      button.textContent = M.check_in;
      button.setAttribute("aria-label", fmt(M.check_in_person, { name: personName(r) }));
      li.appendChild(person);
      li.appendChild(button);
      li.addEventListener("click", () => pick(r, "pointer"));
      resultsList.appendChild(li);
    });
  }

  function pick(r, via) {
    input.value = "";
    clear();
    return ctx.checkIn({ registration: r.id }, via);
  }

  function shown(query, list) {
    state.lastResults = list;
    state.lastQuery = query;
    render(list);
    say(list.length ? fmt(M.results, { n: list.length }) : M.no_results);
    return list;
  }

  async function run(query) {
    const seq = ++state.seq;
    if (state.abort) state.abort.abort();
    state.abort = null;
    if (ctx.offline()) return shown(query, ctx.searchSnapshot(query));
    state.abort = new AbortController();
    say(M.searching);
    const url = `${ctx.api}/registrations?q=${encodeURIComponent(query)}&limit=20`;
    try {
      const response = await fetch(url, {
        headers: { Accept: "application/json" },
        credentials: "same-origin",
        signal: state.abort.signal,
      });
      const body = await response.json();
      if (seq !== state.seq) return null;
      if (response.status !== 200) {
        say(response.status === 401 ? M.logged_out : body.message || M.error);
        return [];
      }
      return shown(query, Array.isArray(body) ? body : body.registrations || []);
    } catch (e) {
      if (e && e.name === "AbortError") return null;
      if (seq !== state.seq) return null;
      // No answer: the snapshot answers instead.
      if (ctx.hasSnapshot()) return shown(query, ctx.searchSnapshot(query));
      say(M.network);
      return [];
    }
  }

  function rerun() {
    if (state.lastQuery && input.value.trim() === state.lastQuery) run(state.lastQuery);
  }

  input.addEventListener("input", () => {
    ctx.lastVia = "keyboard";
    if (!ctx.result.hidden && !ctx.result.classList.contains("is-pending")) ctx.view.hide();
    clearTimeout(state.timer);
    const query = input.value.trim();
    if (query.length < 2 || asCode(query)) {
      if (!query) clear();
      return;
    }
    state.timer = setTimeout(() => run(query), ctx.offline() ? 0 : SEARCH_DELAY_MS);
  });

  input.addEventListener("keydown", (e) => {
    if (e.key === "Escape") {
      input.value = "";
      clear();
      ctx.view.hide();
      return;
    }
    if (e.key !== "Enter" || e.isComposing) return;
    e.preventDefault();
    ctx.lastVia = "keyboard";
    clearTimeout(state.timer);
    const raw = input.value;
    const code = asCode(raw);
    if (code) {
      // A scanner: the code and Enter. Check in now; the input is ready for the next.
      input.value = "";
      clear();
      ctx.checkIn({ code }, "keyboard");
      return;
    }
    const query = raw.trim();
    if (!query) {
      ctx.view.hide();
      return;
    }
    const ready = query === state.lastQuery ? Promise.resolve(state.lastResults) : run(query);
    ready.then((list) => {
      if (!list || input.value.trim() !== query) return;
      if (list.length === 1) pick(list[0], "keyboard");
      else if (list.length > 1) say(M.several);
    });
  });

  return { clear, render, rerun, say, state };
}
