"""Badge batch speed: 1000 badges on A4 sheets of 8, naive versus the project's way.

    .venv/bin/python benchmarks/badges.py [--count 1000] [--layout a4-8]

Makes a scratch SQLite database in a temporary folder (migrations applied), one event
and --count registrations through the real registration service (which stores each
QR code as PNG bytes), then times, in the same run:

- naive: the QR image generated during rendering, one document, one process;
- project, one process: stored QR PNGs, one document;
- project, split: stored QR PNGs, the batch split in two halves rendered by two worker
  processes (fork) and merged with pypdf;
- a single badge (one registration, a6 layout).

Prints each time, the ratio naive / best, and the peak resident memory of this process
and of its worker processes (resource.getrusage). Targets on the 2-core reference
machine: 1000 badges in at most 3 s, peak memory at most 300 MiB, one badge < 0.3 s.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import resource
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from pypdf import PdfReader, PdfWriter  # noqa: E402
from sqlalchemy.orm import Session as DbSession  # noqa: E402

from benchmarks.harness import person  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.badges.services import render_badges, select_registrations  # noqa: E402
from tracker.cli import upgrade_database  # noqa: E402
from tracker.db import utcnow  # noqa: E402
from tracker.events.services import EventSpec, create_event  # noqa: E402
from tracker.registration.services import register  # noqa: E402

_app = None
_event = None
_halves: list = []


def _render_half(index: int) -> bytes:
    """Runs in a forked worker: the app, the event and the registrations are inherited."""
    with _app.test_request_context():
        return render_badges(_event, _halves[index], LAYOUT)


LAYOUT = "a4-8"


def split_render(registrations: list, processes: int) -> bytes:
    global _halves
    per_page = 8
    pages = (len(registrations) + per_page - 1) // per_page
    cut = (pages + processes - 1) // processes * per_page
    _halves = [registrations[i : i + cut] for i in range(0, len(registrations), cut)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        parts = pool.map(_render_half, range(len(_halves)))
    writer = PdfWriter()
    for part in parts:
        writer.append(PdfReader(io.BytesIO(part)))
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def timed(label: str, function, *args) -> tuple[float, bytes]:
    started = time.perf_counter()
    pdf = function(*args)
    elapsed = time.perf_counter() - started
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{label:<40} {elapsed:7.2f} s  {pages:4d} pages  {len(pdf) / 1e6:6.1f} MB")
    return elapsed, pdf


def main() -> int:
    global _app, _event, LAYOUT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--layout", default="a4-8")
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    LAYOUT = args.layout

    folder = Path(tempfile.mkdtemp(prefix="tracker-badges-bench-"))
    app = create_app(
        {
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "MAIL_OUTBOX": str(folder / "outbox"),
            "SERVER_NAME": None,
        }
    )
    _app = app
    upgrade_database(app.extensions["db"].engine)
    with app.test_request_context():
        db = DbSession(app.extensions["db"].engine, expire_on_commit=False)
        now = utcnow()
        event = create_event(
            db,
            EventSpec(
                slug="bench-badges",
                title="Journée nationale des pôles de compétitivité",
                starts_at=now + timedelta(days=30),
                venue="Bercy, Paris",
                capacity=args.count + 10,
                registration_opens_at=now - timedelta(days=1),
            ),
        )
        started = time.perf_counter()
        for n in range(args.count):
            register(
                db,
                event,
                person(n),
                now=now,
            )
        db.commit()
        print(f"{args.count} registrations made in {time.perf_counter() - started:.1f} s")
        registrations = select_registrations(db, event)
        _event = event

        render_badges(event, registrations[:8], LAYOUT)  # warm-up: fonts, stylesheet

        stored = {r.id: r.qr_png for r in registrations}
        for registration in registrations:
            registration.qr_png = b""  # naive: the QR is made while rendering
        naive, _ = timed("naive (QR at render, 1 process)", render_badges, event, registrations)
        for registration in registrations:
            registration.qr_png = stored[registration.id]
        db.expunge_all()

        single, _ = timed(
            "project, stored QR, 1 process", render_badges, event, registrations, LAYOUT
        )
        split, _ = timed(
            f"project, stored QR, {args.processes} processes + merge",
            split_render,
            registrations,
            args.processes,
        )
        one, _ = timed("one badge (a6)", render_badges, event, registrations[:1], "a6")

    best = min(single, split)
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"ratio naive / best: {naive / best:.1f}x (best {best:.2f} s, target <= 3 s)")
    print(f"one badge: {one:.3f} s (target < 0.3 s)")
    print(f"peak memory: this process {own:.0f} MiB, largest worker {children:.0f} MiB")
    print(f"CPU count seen: {multiprocessing.cpu_count()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
