// Choosing a known organisation from the suggestions pre-selects its usual type.
(function () {
  "use strict";
  var input = document.getElementById("organisation");
  var list = document.getElementById("organisations");
  if (!input || !list) { return; }
  function key(s) {
    return s.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").replace(/\s+/g, " ").trim().toLowerCase();
  }
  var types = {};
  Array.prototype.forEach.call(list.options, function (o) { types[key(o.value)] = o.dataset.type; });
  input.addEventListener("change", function () {
    var type = types[key(input.value)];
    if (!type) { return; }
    var radio = document.querySelector('input[name="organisation_type"][value="' + type + '"]');
    if (radio && !document.querySelector('input[name="organisation_type"]:checked')) { radio.checked = true; }
  });
}());
