/* Walk-ins: register someone who is not on the list and check them in, in one form
   posted to the door's own route. It needs the server: offline, the form says so. */

import { fmt, uuid } from "./util.js";
import { personName } from "./result.js";

export function makeWalkIn(ctx) {
  const { M } = ctx;
  const walkIn = document.getElementById("walk-in");
  const form = document.getElementById("walk-in-form");
  const error = document.getElementById("walk-in-error");
  const organisations = {};
  document.querySelectorAll("#door-organisations option").forEach((o) => {
    organisations[o.value.trim().toLowerCase()] = o.dataset.type;
  });

  form.organisation.addEventListener("change", () => {
    const type = organisations[form.organisation.value.trim().toLowerCase()];
    const chosen = form.querySelector('input[name="organisation_type"]:checked');
    if (type && !chosen) {
      const radio = form.querySelector(`input[name="organisation_type"][value="${type}"]`);
      if (radio) radio.checked = true;
    }
  });

  function clearErrors() {
    error.hidden = true;
    error.textContent = "";
    form.querySelectorAll(".field .error").forEach((p) => p.remove());
    form.querySelectorAll(".has-error").forEach((f) => f.classList.remove("has-error"));
    form.querySelectorAll("[aria-invalid]").forEach((f) => f.removeAttribute("aria-invalid"));
  }

  function showErrors(errors, fallback, registration) {
    let placed = false;
    let first = null;
    Object.keys(errors || {}).forEach((name) => {
      const control = form.elements[name];
      const box = control && (control.length && !control.tagName ? control[0] : control);
      const field = box && box.closest(".field");
      if (!field || box.type === "hidden") return;
      field.classList.add("has-error");
      const p = document.createElement("p");
      p.className = "error js-error";
      p.id = `walk-in-${name}-error`;
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
      error.textContent = fallback || M.error;
      if (registration) {
        const button = document.createElement("button");
        button.type = "button";
        button.className = "door-checkin";
        button.textContent = fmt(M.check_in_person, { name: personName(registration) });
        button.addEventListener("click", () => {
          clearErrors();
          walkIn.open = false;
          ctx.checkIn({ registration: registration.id }, "pointer");
        });
        error.appendChild(document.createTextNode(" "));
        error.appendChild(button);
      }
      error.hidden = false;
    }
    if (first && first.focus) first.focus();
  }

  let busy = false;
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (busy) return;
    clearErrors();
    if (ctx.offline()) {
      showErrors({}, M.walk_in_offline);
      return;
    }
    busy = true;
    form.elements.session.value = ctx.mode();
    form.elements.door.value = ctx.doorName();
    form.elements.nonce.value = uuid();
    const submit = form.querySelector('button[type="submit"]');
    submit.disabled = true;
    ctx.lastVia = "pointer";
    const seq = ++ctx.resultSeq;
    const answer = await ctx.send("POST", form.action, new FormData(form), true);
    busy = false;
    submit.disabled = false;
    const body = answer.body || {};
    if (answer.status === 201) {
      form.reset();
      walkIn.open = false;
      if (seq === ctx.resultSeq) {
        ctx.view.showCheckIn(answer, { registration: body.registration.id, session: ctx.mode() }, {
          walkIn: true,
          overCapacity: body.over_capacity,
        });
      }
      ctx.refreshCounters();
      ctx.sync();
      return;
    }
    if (answer.status === 0) {
      showErrors({}, `${M.network}. ${M.network_detail}`);
    } else if (answer.status === 401) {
      showErrors({}, M.logged_out);
    } else {
      showErrors(body.errors, body.message, body.registration);
    }
  });

  return { element: walkIn };
}
