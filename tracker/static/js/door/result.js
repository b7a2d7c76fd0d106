/* The full-screen result of a scan: green, amber, red, and what the server (or, offline,
   the snapshot) answered. Fills the screen until the next scan or a tap. */

import { answerLines, fmt, localTime } from "./util.js";

export function personName(r) {
  return `${(r && r.first_name) || ""} ${(r && r.last_name) || ""}`.trim();
}

export function makeResult(ctx) {
  const { M, result } = ctx;
  const undoButton = result.querySelector(".door-undo");
  const anywayButton = result.querySelector(".door-anyway");
  const nextButton = result.querySelector(".door-next");
  const state = { undoTarget: null, anywayTarget: null, pendingTimer: null };

  function typeLabel(type) {
    return M[`type_${type}`] || type || "";
  }

  function orgLine(r) {
    const parts = [r.organisation, typeLabel(r.organisation_type)];
    if (r.job_title) parts.push(r.job_title);
    return parts.filter(Boolean).join(" · ");
  }

  function when(iso) {
    return localTime(iso, { timeZone: ctx.timezone, locale: ctx.locale });
  }

  function setText(selector, text) {
    result.querySelector(selector).textContent = text || "";
  }

  function announce(text) {
    // Emptied first so that the same words twice in a row are read again.
    ctx.announcer.textContent = "";
    setTimeout(() => {
      ctx.announcer.textContent = text;
    }, 30);
  }

  /* kind: ok | already | warn | bad | undone | error | pending */
  function show(kind, parts) {
    clearTimeout(state.pendingTimer);
    result.className = `door-result is-${kind}`;
    result.dataset.result = parts.result || kind;
    result.dataset.offline = parts.offline ? "true" : "false";
    setText(".door-result-title", parts.title);
    setText(".door-result-name", parts.name);
    setText(".door-result-org", parts.org);
    const detail = result.querySelector(".door-result-detail");
    detail.textContent = "";
    [].concat(parts.detail || []).filter(Boolean).forEach((line) => {
      const span = document.createElement("span");
      span.textContent = line;
      detail.appendChild(span);
    });
    const answers = result.querySelector(".door-result-answers");
    answers.textContent = "";
    (parts.answers || []).forEach((line) => {
      const li = document.createElement("li");
      li.textContent = line;
      answers.appendChild(li);
    });
    answers.hidden = !answers.childElementCount;
    result.querySelector(".door-result-name").classList.toggle("is-code", !!parts.isCode);
    setText(".door-result-scope", parts.scope);
    const list = result.querySelector(".door-result-sessions");
    list.textContent = "";
    (parts.sessions || []).forEach((title) => {
      const li = document.createElement("li");
      li.textContent = title;
      list.appendChild(li);
    });
    state.undoTarget = parts.undo || null;
    undoButton.hidden = !state.undoTarget;
    state.anywayTarget = parts.anyway || null;
    anywayButton.hidden = !state.anywayTarget;
    // Print (or reprint) the badge of the person shown: a walk-in, a lost badge.
    const badgeForm = result.querySelector(".door-badge-form");
    const badgeFor = state.undoTarget && state.undoTarget.registration;
    badgeForm.hidden = !badgeFor || !!parts.offline;
    if (badgeFor) {
      badgeForm.action = badgeForm.dataset.urlTemplate.replace(/\/0\.pdf$/, `/${badgeFor}.pdf`);
    }
    nextButton.hidden = kind === "pending";
    result.hidden = false;
    if (kind !== "pending") {
      announce(
        [parts.title, parts.name]
          .concat(parts.answers || [], parts.detail || [])
          .filter(Boolean)
          .join(". ")
      );
    }
  }

  function hide() {
    if (result.hidden) return;
    result.hidden = true;
    result.className = "door-result";
    state.undoTarget = null;
    state.anywayTarget = null;
    ctx.camera.resume();
  }

  function sessionsOf(r) {
    return ((r && r.sessions) || []).map((s) => s.title);
  }

  function notInSession(r) {
    const current = ctx.mode();
    if (!current || !r) return false;
    return !(r.sessions || []).some((s) => String(s.id) === current);
  }

  /* Turn an answer to a check-in (the server's, or the snapshot's offline) into the
     full-screen result. */
  function showCheckIn(answer, target, extra) {
    const body = answer.body || {};
    const r = body.registration;
    const offline = !!(extra && extra.offline);
    const undo = offline
      ? null
      : { code: target.code || null, registration: r ? r.id : null, session: target.session };
    const scope = ctx.scopeText();
    const queued = offline ? M.offline_queued : "";
    if (answer.status === 0) {
      show("error", { title: M.network, detail: M.network_detail, result: "network" });
      return;
    }
    switch (body.result) {
      case "ok":
        show("ok", {
          result: "ok",
          offline,
          title: M.checked_in,
          name: personName(r),
          org: orgLine(r),
          answers: answerLines(r, M.answer),
          detail: [
            extra && extra.walkIn ? M.walk_in_registered : "",
            extra && extra.overCapacity ? M.over_capacity : "",
            notInSession(r) ? M.not_in_session : "",
            queued,
          ],
          sessions: sessionsOf(r),
          scope,
          undo,
        });
        return;
      case "already_checked_in":
        show("already", {
          result: "already_checked_in",
          offline,
          title: M.already,
          name: personName(r),
          org: orgLine(r),
          answers: answerLines(r, M.answer),
          detail: [
            fmt(M.already_detail, { time: when(body.checked_in_at), door: body.door || "?" }),
            body.by ? fmt(M.by, { who: body.by }) : "",
          ],
          sessions: sessionsOf(r),
          scope,
          undo,
        });
        return;
      case "not_registered":
        show("warn", {
          result: "not_registered",
          offline,
          title: M.not_in_session,
          name: personName(r),
          org: orgLine(r),
          answers: answerLines(r, M.answer),
          detail: M.not_in_session_detail,
          sessions: sessionsOf(r),
          scope,
          anyway: { code: target.code || null, registration: r ? r.id : null, session: target.session },
        });
        return;
      case "unknown": {
        const other = body.reason === "other_event";
        show("bad", {
          result: other ? "other_event" : "unknown",
          offline,
          title: other ? M.other_event : M.unknown,
          name: target.code || "",
          isCode: true,
          org: other ? M.other_event_detail : M.unknown_detail,
          detail: M.refused_advice,
          scope,
        });
        return;
      }
      case "not_confirmed": {
        const cancelled = body.status === "cancelled";
        show("bad", {
          result: cancelled ? "cancelled" : "waitlisted",
          offline,
          title: cancelled ? M.cancelled : M.waitlisted,
          name: personName(r),
          org: r ? orgLine(r) : "",
          answers: answerLines(r, M.answer),
          detail: [cancelled ? M.cancelled_detail : M.waitlisted_detail, M.refused_advice],
          scope,
        });
        return;
      }
      default:
        show("error", {
          result: "error",
          title: M.error,
          detail: answer.status === 401 ? M.logged_out : body.message || M.network_detail,
        });
    }
  }

  function pending() {
    clearTimeout(state.pendingTimer);
  }

  function showPendingLater(seq, ms) {
    clearTimeout(state.pendingTimer);
    state.pendingTimer = setTimeout(() => {
      if (seq === ctx.resultSeq) show("pending", { title: M.checking, scope: ctx.scopeText() });
    }, ms);
  }

  return {
    show,
    hide,
    showCheckIn,
    pending,
    showPendingLater,
    orgLine,
    when,
    state,
    undoButton,
    anywayButton,
    nextButton,
  };
}
