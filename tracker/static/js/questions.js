// An event's own questions: one asked only of some types of organisation or of the
// people attending some sessions is shown only when the form's choices make it apply.
// Without this script every question shows, with its "Only for: ..." hint; the server
// checks and keeps only the answers that apply.
(function () {
  "use strict";
  function words(value) {
    return (value || "").split(" ").filter(function (w) { return w !== ""; });
  }
  document.querySelectorAll("form").forEach(function (form) {
    var limited = form.querySelectorAll(".question[data-types], .question[data-sessions]");
    if (!limited.length) { return; }
    var hasSessions = form.querySelector('input[name="sessions"]') !== null;
    function update() {
      var type = form.querySelector('input[name="organisation_type"]:checked');
      var chosen = Array.prototype.map.call(
        form.querySelectorAll('input[name="sessions"]:checked'),
        function (box) { return box.value; }
      );
      limited.forEach(function (box) {
        var types = words(box.dataset.types);
        var sessions = words(box.dataset.sessions);
        var asked = true;
        if (types.length && (!type || types.indexOf(type.value) === -1)) { asked = false; }
        if (sessions.length && hasSessions &&
            !sessions.some(function (s) { return chosen.indexOf(s) !== -1; })) { asked = false; }
        box.hidden = !asked;
      });
    }
    form.addEventListener("change", update);
    form.addEventListener("reset", function () { setTimeout(update, 0); });
    update();
  });
}());
