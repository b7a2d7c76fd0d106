"""Badge batch speed: 1000 badges on A4 sheets of 8, naive versus the project's way.

    .venv/bin/python benchmarks/badges.py [--count 1000] [--layout a4-8]

Makes a scratch SQLite database in a temporary folder (migrations applied), one event
and --count registrations through the real registration service (which stores each
QR code as PNG bytes), then times, in the same run:

- project: `render_badges`, exactly as the badge pages and `tracker badges` call it (QR
  images stored at registration, one document per process, the batch split over
  PDF_PROCESSES rendering processes and merged). Its first call also starts the PDF
  fork server, which a running app does once; the second call is the steady state.
- one badge (a6), the same way;
- naive: each QR image made (qr_png, at full size) while rendering, the project's
  template, one WeasyPrint document in this process.

Prints each time, the ratio naive / project, and peak resident memory: this process
before the naive run (the naive run renders here and would inflate it) and each
rendering process (reported back by tracker.pdf). Targets on the 2-core reference
machine: 1000 badges in at most 3 s, peak memory at most 300 MiB, one badge < 0.3 s.
"""

from __future__ import annotations

import argparse
import base64
import io
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from flask import render_template  # noqa: E402
from pypdf import PdfReader  # noqa: E402
from sqlalchemy.orm import Session as DbSession  # noqa: E402
from weasyprint import CSS, HTML  # noqa: E402

from benchmarks.harness import event_spec, person  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.badges import services as badges  # noqa: E402
from tracker.cli import upgrade_database  # noqa: E402
from tracker.events.services import create_event  # noqa: E402
from tracker.pdf import STATIC_BASE_URL, SafeFetcher  # noqa: E402
from tracker.registration.services import qr_png, register  # noqa: E402


class Peaks(logging.Handler):
    """The rendering processes' peak memory, from tracker.pdf's record of each PDF."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.last: list[int] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.last = getattr(record, "pdf_peaks_mib", self.last)


def naive(event, registrations, layout_name: str) -> bytes:
    """The project's template, the QR made while rendering, one document, this process."""
    layout = badges.layout_for(layout_name)
    items = []
    for r in registrations:
        png = qr_png(r.checkin_code)
        items.append(
            {
                "registration": r,
                "name_step": round(badges.name_size(r.full_name, layout) / badges.NAME_STEP),
                "type": r.organisation_type.value,
                "type_label": badges.TYPE_SHORT_LABELS[r.organisation_type],
                "qr": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
            }
        )
    pages = [items[i : i + layout.per_page] for i in range(0, len(items), layout.per_page)]
    html = render_template("pdf/badges.html", event=event, layout=layout, pages=pages)
    css = CSS(string=badges.badge_stylesheet(event, layout))
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=SafeFetcher())
    return document.write_pdf(stylesheets=[css])


def timed(label: str, function: Callable[..., bytes], *args: object) -> float:
    started = time.perf_counter()
    pdf = function(*args)
    elapsed = time.perf_counter() - started
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{label:<44} {elapsed:7.2f} s  {pages:4d} pages  {len(pdf) / 1e6:6.1f} MB")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--layout", default="a4-8")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="tracker-badges-bench-"))
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "MAIL_OUTBOX": str(folder / "outbox"),
            "SERVER_NAME": None,
        }
    )
    upgrade_database(app.extensions["db"].engine)
    peaks = Peaks()
    logging.getLogger("tracker.pdf").addHandler(peaks)
    logging.getLogger("tracker.pdf").setLevel(logging.INFO)
    with app.test_request_context():
        db = DbSession(app.extensions["db"].engine, expire_on_commit=False)
        event = create_event(db, event_spec("bench-badges", ()))
        started = time.perf_counter()
        for n in range(args.count):
            register(db, event, person(n))
        db.commit()
        print(f"{args.count} registrations made in {time.perf_counter() - started:.1f} s")
        registrations = badges.select_registrations(db, event)
        db.expunge_all()

        render = badges.render_badges
        first = timed(
            "project, first call (starts the fork server)",
            render,
            event,
            registrations,
            args.layout,
        )
        project = timed("project, steady state", render, event, registrations, args.layout)
        workers = list(peaks.last)
        one = timed("one badge (a6)", render, event, registrations[:1], "a6")
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        slow = timed(
            "naive (QR made while rendering, 1 process)", naive, event, registrations, args.layout
        )

    print(
        f"ratio naive / project: {slow / project:.1f}x (project {project:.2f} s, target <= 3 s;"
        f" first call {first:.2f} s)"
    )
    print(f"one badge: {one:.3f} s (target < 0.3 s)")
    print(
        f"peak memory: this process {own:.0f} MiB before the naive run, rendering processes "
        f"{', '.join(f'{p} MiB' for p in workers)} (target 300 MiB)"
    )
    print(f"CPU count seen: {multiprocessing.cpu_count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
