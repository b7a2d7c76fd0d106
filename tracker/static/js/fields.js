/* A field's error goes as soon as it is fixed: when a field marked in error (a ".field" or
 * a fieldset with "has-error", as templates/_macros/forms.html draws it) changes and every
 * control in it satisfies its own HTML constraints (required, type=email, maxlength,
 * pattern), its message, its aria-invalid and its red border go. Only the message goes:
 * the server still judges the form when it is sent, and says again what is wrong. */
(function () {
  "use strict";

  function controls(field) {
    return Array.prototype.slice.call(field.querySelectorAll("input, select, textarea"));
  }

  function fixed(event) {
    var target = event.target;
    if (!target || !target.closest) return;
    var field = target.closest(".has-error");
    if (!field) return;
    var all = controls(field);
    if (!all.every(function (control) { return control.checkValidity(); })) return;
    var errors = field.querySelectorAll(".error");
    var ids = Array.prototype.map.call(errors, function (error) { return error.id; });
    Array.prototype.forEach.call(errors, function (error) { error.remove(); });
    all.forEach(function (control) {
      control.removeAttribute("aria-invalid");
      var described = (control.getAttribute("aria-describedby") || "")
        .split(/\s+/)
        .filter(function (id) { return id && ids.indexOf(id) < 0; });
      if (described.length) control.setAttribute("aria-describedby", described.join(" "));
      else control.removeAttribute("aria-describedby");
    });
    field.classList.remove("has-error");
  }

  document.addEventListener("input", fixed);
  document.addEventListener("change", fixed);
})();
