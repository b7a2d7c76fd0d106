// The delegation form: "More rows" adds one empty person row here, without sending the
// form (without this script the button sends it and the page comes back with more rows).
(function () {
  "use strict";
  var rows = document.querySelector(".person-rows");
  var button = document.querySelector("[data-add-row]");
  if (!rows || !button) { return; }
  var max = parseInt(rows.dataset.max, 10) || 20;
  function renumber(node, index) {
    ["name", "id", "for", "aria-describedby"].forEach(function (attr) {
      node.querySelectorAll("[" + attr + "]").forEach(function (el) {
        el.setAttribute(attr, el.getAttribute(attr).replace(/people-\d+-/g, "people-" + index + "-"));
      });
    });
  }
  button.addEventListener("click", function (e) {
    var all = rows.querySelectorAll(".person-row");
    if (all.length >= max) { return; }
    e.preventDefault();
    var last = all[all.length - 1];
    var copy = last.cloneNode(true);
    var index = all.length;
    copy.dataset.row = String(index);
    renumber(copy, index);
    copy.querySelectorAll("input").forEach(function (input) {
      if (input.type === "checkbox") { input.checked = false; } else { input.value = ""; }
      input.removeAttribute("aria-invalid");
    });
    copy.querySelectorAll(".errors, .error").forEach(function (el) { el.remove(); });
    copy.querySelectorAll(".has-error").forEach(function (el) { el.classList.remove("has-error"); });
    var legend = copy.querySelector("legend");
    if (legend) { legend.textContent = legend.textContent.replace(/\d+/, String(index + 1)); }
    rows.appendChild(copy);
    var first = copy.querySelector("input");
    if (first) { first.focus(); }
    if (index + 1 >= max) { button.hidden = true; }
  });
}());
