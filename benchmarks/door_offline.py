"""The offline door in headless Chromium, at the scale of a large event.

    .venv/bin/python benchmarks/door_offline.py

Sets up a fresh SQLite database as benchmarks/checkin_load.py does (10,000 confirmed
registrations written in bulk) with a door account, serves the app with gunicorn (2 sync
workers, production settings) on 127.0.0.1, and measures:

1. the snapshot on the wire: GET /api/v1/events/<slug>/door-snapshot, gzipped and not,
   and the server's time for it (--pulls requests);
2. in Debian's chromium (headless, through Playwright), after logging in to the door
   screen: the time from the start of the full pull to the snapshot searchable (fetched,
   parsed, merged and indexed; the page's own performance measure), then kept in
   IndexedDB;
3. offline (the browser context set offline): --scans scans answered from the snapshot,
   each timed in the page from the Enter key to the next animation frame after the
   result is on screen;
4. the queue: --queue check-ins made offline in all (the scans above included), then the
   network back: the time from the browser's "online" event to the queue empty, and
   the check-ins in the database, which must be exactly --queue.

Prints the figures and exits non-zero when something went wrong (never because a figure
is slow). Everything is bounded; only the loopback interface is used.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import shutil
import sys
import tempfile
import time
from pathlib import Path

from checkin_load import SLUG, prepare_database  # noqa: E402 - beside this script
from harness import gunicorn, percentile, scratch_database  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EMAIL, PASSWORD = "door.browser@bench.example.org", "door bench password 2026"
TARGETS = {"wire_kib": 1024, "ready_ms": 2000, "scan_ms": 50, "drain_s": 30}


def add_door_account(url: str) -> None:
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from tracker import create_app
    from tracker.auth.services import create_user
    from tracker.db import make_engine
    from tracker.models import Event, Role

    engine = make_engine(url)
    try:
        app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
        with app.app_context(), sessionmaker(bind=engine).begin() as db:
            event = db.scalar(select(Event).where(Event.slug == SLUG))
            create_user(db, EMAIL, PASSWORD, Role.DOOR, [event])
    finally:
        engine.dispose()


def entrance_checkins(url: str) -> int:
    from sqlalchemy import func, select

    from tracker.db import make_engine
    from tracker.models import CheckIn

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(CheckIn).where(CheckIn.scope == 0))
    finally:
        engine.dispose()


def pull(port: int, token: str, gzipped: bool) -> tuple[int, int, float]:
    """(bytes on the wire, bytes of JSON, seconds) of one full snapshot."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if gzipped:
        headers["Accept-Encoding"] = "gzip"
    started = time.perf_counter()
    conn.request("GET", f"/api/v1/events/{SLUG}/door-snapshot", headers=headers)
    response = conn.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - started
    conn.close()
    if response.status != 200:
        raise SystemExit(f"snapshot: {response.status} {body[:200]!r}")
    raw = gzip.decompress(body) if response.getheader("Content-Encoding") == "gzip" else body
    return len(body), len(raw), elapsed


SCAN_IN_PAGE = """async (codes) => {
  const input = document.getElementById("door-input");
  const result = document.getElementById("door-result");
  const times = [];
  for (const code of codes) {
    const shown = new Promise((resolve) => {
      const observer = new MutationObserver(() => {
        observer.disconnect();
        requestAnimationFrame(() => resolve(performance.now()));
      });
      observer.observe(result, { attributes: true });
    });
    input.value = code;
    const started = performance.now();
    input.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    times.push((await shown) - started);
    if (result.dataset.result !== "ok") throw new Error("not green: " + result.dataset.result);
  }
  return times;
}"""

WATCH_DRAIN = """() => {
  const line = document.getElementById("door-sync");
  window.__drain = new Promise((resolve) => {
    let online = null;
    window.addEventListener("online", () => { online = performance.now(); }, { once: true });
    const observer = new MutationObserver(() => {
      if (online !== null && line.dataset.waiting === "0") {
        observer.disconnect();
        resolve(performance.now() - online);
      }
    });
    observer.observe(line, { attributes: true });
  });
}"""


def browser_figures(port: int, codes: list[str], scans: int, queue: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{port}"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(locale="en-GB")
            context.set_default_timeout(120_000)
            page = context.new_page()
            page.goto(f"{base}/login?next=/events/{SLUG}/door")
            page.locator("input[name=email]").fill(EMAIL)
            page.locator("input[name=password]").fill(PASSWORD)
            page.locator("form.login button[type=submit]").click()
            page.wait_for_url(f"**/events/{SLUG}/door")
            page.wait_for_selector('#door-sync[data-synced="true"]')
            page.wait_for_function(
                "() => performance.getEntriesByName('tracker-door-snapshot-kept').length > 0"
            )
            ready, kept = page.evaluate(
                """() => ['tracker-door-snapshot-ready', 'tracker-door-snapshot-kept']
                     .map((n) => performance.getEntriesByName(n)[0].duration)"""
            )
            context.set_offline(True)
            page.wait_for_selector('#door-sync[data-state="offline"]')
            times = page.evaluate(SCAN_IN_PAGE, codes[:scans])
            page.evaluate(SCAN_IN_PAGE, codes[scans:queue])
            page.wait_for_selector(f'#door-sync[data-waiting="{queue}"]')
            page.evaluate(WATCH_DRAIN)
            context.set_offline(False)
            drain_ms = page.evaluate("window.__drain")
            context.close()
        finally:
            browser.close()
    ordered = sorted(times)
    return {
        "ready_ms": ready,
        "kept_ms": kept,
        "scan_p50": percentile(ordered, 50),
        "scan_p95": percentile(ordered, 95),
        "scan_max": ordered[-1],
        "drain_s": drain_ms / 1000,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=10_000)
    parser.add_argument("--pulls", type=int, default=5)
    parser.add_argument("--scans", type=int, default=200)
    parser.add_argument("--queue", type=int, default=1000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args(argv)
    if args.queue < args.scans or args.queue > args.registrations:
        raise SystemExit("--scans <= --queue <= --registrations")
    tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-door-offline-"))
    try:
        with scratch_database(None, tmp) as url:
            started = time.perf_counter()
            _event_id, codes, tokens = prepare_database(url, args.registrations, 1)
            add_door_account(url)
            print(
                f"setup       {args.registrations} registrations, SQLite, "
                f"{time.perf_counter() - started:.1f} s"
            )
            with gunicorn(url, tmp, 2, "sync", 1, "/api/v1/openapi.json") as (_proc, port):
                pulls = [pull(port, tokens[0], True) for _ in range(args.pulls)]
                plain = pull(port, tokens[0], False)
                wire, raw = pulls[0][0], pulls[0][1]
                seconds = sorted(p[2] * 1000 for p in pulls)
                print(
                    f"snapshot    {wire / 1024:.0f} KiB gzipped on the wire "
                    f"({raw / 1024:.0f} KiB of JSON, {plain[0] / 1024:.0f} KiB sent plain), "
                    f"server p50 {percentile(seconds, 50):.0f} ms "
                    f"(target {TARGETS['wire_kib']} KiB)"
                )
                figures = browser_figures(port, codes, args.scans, args.queue)
            print(
                f"browser     snapshot searchable {figures['ready_ms']:.0f} ms after the "
                f"pull started, kept in IndexedDB at {figures['kept_ms']:.0f} ms "
                f"(target {TARGETS['ready_ms']} ms)"
            )
            print(
                f"scan        offline, Enter to result on screen: p50 "
                f"{figures['scan_p50']:.1f} ms, p95 {figures['scan_p95']:.1f} ms, max "
                f"{figures['scan_max']:.1f} ms over {args.scans} (target {TARGETS['scan_ms']} ms)"
            )
            print(
                f"queue       {args.queue} check-ins drained in {figures['drain_s']:.1f} s "
                f"(target {TARGETS['drain_s']} s)"
            )
            stored = entrance_checkins(url)
            print(f"database    {stored} entrance check-ins (expected {args.queue})")
            return 0 if stored == args.queue else 1
    finally:
        if args.keep:
            print(f"kept        {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
