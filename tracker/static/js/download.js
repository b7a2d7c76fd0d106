// A download made by the worker: ask how far it is every second, move the bar, and
// offer the file once it is ready (or say why it failed).
const root = document.getElementById("download");
if (root) {
  const bar = document.getElementById("download-progress");
  const count = document.getElementById("download-count");
  const ready = document.getElementById("download-ready");
  const link = document.getElementById("download-file");
  const failed = document.getElementById("download-failed");
  const error = document.getElementById("download-error");
  const heading = document.getElementById("download-heading");

  const show = (state) => {
    bar.max = state.total || 1;
    bar.value = state.done;
    count.textContent = count.dataset.of
      .replace("{done}", state.done)
      .replace("{total}", state.total)
      .replace("{unit}", count.dataset[state.unit] || state.unit);
    if (heading.dataset[state.state]) heading.textContent = heading.dataset[state.state];
    if (state.state === "done") {
      link.href = state.file;
      ready.hidden = false;
      return true;
    }
    if (state.state === "failed") {
      error.textContent = state.error || "";
      failed.hidden = false;
      return true;
    }
    return false;
  };

  const poll = async () => {
    try {
      const answer = await fetch(root.dataset.stateUrl, { headers: { Accept: "application/json" } });
      if (answer.ok && show(await answer.json())) return;
    } catch {
      // the network came and went: ask again
    }
    setTimeout(poll, 1000);
  };
  setTimeout(poll, 500);
}
