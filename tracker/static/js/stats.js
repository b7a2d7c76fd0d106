/* The statistics dashboard stays live: every few seconds it fetches its figures again
 * (the same page with ?part=figures) and swaps them in, without reloading. It waits while
 * the tab is hidden, and marks the figures stale when the server cannot be reached. */
(function () {
  "use strict";

  var live = document.getElementById("stats-live");
  var target = document.getElementById("figures");
  if (!live || !target) return;
  var url = live.dataset.url;
  var every = (parseInt(live.dataset.seconds, 10) || 15) * 1000;
  var busy = false;

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      })
      .then(function (html) {
        target.innerHTML = html;
        live.classList.remove("stale");
      })
      .catch(function () {
        live.classList.add("stale");
      })
      .then(function () {
        busy = false;
      });
  }

  setInterval(refresh, every);
  document.addEventListener("visibilitychange", refresh);
})();
