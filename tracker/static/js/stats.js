/* The statistics dashboard stays live: every few seconds it fetches its headline figures
 * and small tables again (the same page with ?part=figures) and swaps them in, without
 * reloading. It waits while the tab is hidden, and marks the figures stale when the server
 * cannot be reached. The table of every organisation, by far the largest part, is not in
 * that refresh: its reload link and its sort links fetch it alone (?part=organisations
 * with the link's sort and order), and the address follows the sort chosen. */
(function () {
  "use strict";

  var live = document.getElementById("stats-live");
  var target = document.getElementById("figures");
  if (!live || !target) return;
  var url = live.dataset.url;
  var every = (parseInt(live.dataset.seconds, 10) || 15) * 1000;
  var busy = false;

  function fetchPart(address) {
    return fetch(address, { credentials: "same-origin", headers: { Accept: "text/html" } }).then(
      function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.text();
      }
    );
  }

  function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    fetchPart(url)
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

  var organisations = document.getElementById("organisations");
  if (!organisations) return;
  organisations.addEventListener("click", function (click) {
    var link = click.target.closest("a[data-organisations]");
    if (!link || click.button !== 0 || click.ctrlKey || click.metaKey || click.shiftKey) return;
    click.preventDefault();
    var page = new URL(link.href, window.location.href);
    var part = new URL(page.href);
    part.hash = "";
    part.searchParams.set("part", "organisations");
    organisations.setAttribute("aria-busy", "true");
    fetchPart(part.href)
      .then(function (html) {
        organisations.innerHTML = html;
        window.history.replaceState(null, "", page.pathname + page.search + window.location.hash);
        // Keep the keyboard where it was: on the sorted column, or on the reload link.
        var again = organisations.querySelector(
          link.closest("th") ? "th[aria-sort] a" : ".as-of a[data-organisations]"
        );
        if (again) again.focus();
      })
      .catch(function () {
        window.location.href = page.href; // the whole page, as without the script
      })
      .then(function () {
        organisations.removeAttribute("aria-busy");
      });
  });
})();
