"""Badge batch speed: `tracker badges SLUG --layout a4-8` for 1000 people, as a user runs it.

    .venv/bin/python benchmarks/badges.py [--count 1000] [--layout a4-8] [--runs 3] [--naive]

Makes a scratch SQLite database in a temporary folder (migrations applied), one event
and --count registrations through the real registration service (which stores each
QR code as PNG bytes), then times, in the same run:

- the whole command, cold: `tracker badges SLUG -o FILE --layout L` in a new process
  (start-up, imports, query, rendering, imposition, writing, recording the printing)
  with no badge kept, so that every badge is rendered (and kept);
- the whole command, warm: the same with every badge kept, as the worker leaves them
  (`--runs` times): the batch is the imposition of kept pages;
- in this process, the warm batch's parts: digests, loading the kept pages, imposition;
- one badge (a6), kept and not;
- with --naive: each QR image made while rendering, the project's template, one
  WeasyPrint document in this process (what a batch cost before anything was kept).

Then reads every QR code of the warm command's PDF back (pdftoppm at 200 dpi and
zxing-cpp) and prints how many decode to their registration's check-in code. Target on
the 2-core reference machine: the whole warm command in at most 3 s, every code decoding.
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from pypdf import PdfReader  # noqa: E402
from sqlalchemy import delete  # noqa: E402
from sqlalchemy.orm import Session as DbSession  # noqa: E402

from benchmarks.harness import event_spec, person  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.badges import ahead  # noqa: E402
from tracker.badges import services as badges  # noqa: E402
from tracker.cli import upgrade_database  # noqa: E402
from tracker.events.services import create_event, get_event  # noqa: E402
from tracker.models import BadgePage, BadgeRender  # noqa: E402
from tracker.registration.identity import qr_png  # noqa: E402
from tracker.registration.services import register  # noqa: E402

TRACKER = PROJECT_ROOT / ".venv" / "bin" / "tracker"


def command(env: dict[str, str], slug: str, layout: str, output: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [str(TRACKER), "badges", slug, "-o", str(output), "--layout", layout],
        env=env,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def describe(label: str, seconds: float, pdf: bytes) -> None:
    pages = len(PdfReader(io.BytesIO(pdf)).pages)
    print(f"{label:<52} {seconds:7.2f} s  {pages:4d} pages  {len(pdf) / 1e6:6.1f} MB")


def naive(event, registrations, layout_name: str) -> bytes:
    """The project's template, the QR made while rendering, one document, this process."""
    from flask import render_template
    from weasyprint import CSS, HTML

    from tracker.pdf import STATIC_BASE_URL, SafeFetcher

    layout = badges.layout_for(layout_name)
    items = []
    for r in registrations:
        png = qr_png(r.checkin_code)
        view = badges.badge_view(r, layout)
        view["qr"] = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        items.append(view)
    pages = [items[i : i + layout.per_page] for i in range(0, len(items), layout.per_page)]
    html = render_template("pdf/badges.html", event=event, layout=layout, pages=pages)
    css = CSS(string=badges.badge_stylesheet(event, layout))
    document = HTML(string=html, base_url=STATIC_BASE_URL, url_fetcher=SafeFetcher())
    return document.write_pdf(stylesheets=[css])


def decoded(pdf: Path, folder: Path) -> set[str] | None:
    """Every code read from the PDF's pages at 200 dpi; None without the tools."""
    if shutil.which("pdftoppm") is None:
        return None
    try:
        import zxingcpp
        from PIL import Image
    except ImportError:
        return None
    pages = folder / "pages"
    pages.mkdir(exist_ok=True)
    subprocess.run(["pdftoppm", "-png", "-r", "200", str(pdf), str(pages / "p")], check=True)
    return {
        code.text
        for image in sorted(pages.glob("p*.png"))
        for code in zxingcpp.read_barcodes(Image.open(image))
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--layout", default="a4-8")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--naive", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="tracker-badges-bench-"))
    url = f"sqlite:///{folder / 'bench.sqlite3'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "MAIL_OUTBOX": str(folder / "outbox"),
            "SERVER_NAME": None,
            "QUEUE_URL": "memory://",
            "BADGES_AHEAD": False,  # cold and warm are made here, not by a worker
        }
    )
    engine = app.extensions["db"].engine
    upgrade_database(engine)
    env = {
        **os.environ,
        "TRACKER_DATABASE_URL": url,
        "TRACKER_MAIL_OUTBOX": str(folder / "outbox"),
        "TRACKER_QUEUE_URL": "memory://",
        "TRACKER_BADGES_AHEAD": "0",
        "LANG": "fr_FR.UTF-8",
        "LANGUAGE": "fr",
    }
    slug = "bench-badges"
    with app.test_request_context():
        db = DbSession(engine, expire_on_commit=False)
        event = create_event(db, event_spec(slug, ()))
        started = time.perf_counter()
        for n in range(args.count):
            register(db, event, person(n))
        db.commit()
        print(f"{args.count} registrations made in {time.perf_counter() - started:.1f} s")

    output = folder / "badges.pdf"
    cold = command(env, slug, args.layout, output)
    describe("whole command, cold (every badge rendered, kept)", cold, output.read_bytes())
    warm = []
    for run in range(args.runs):
        warm.append(command(env, slug, args.layout, output))
        describe(
            f"whole command, warm (every badge kept), run {run + 1}", warm[-1], output.read_bytes()
        )

    codes = decoded(output, folder)

    from flask_babel import force_locale

    with app.test_request_context(), force_locale("fr"):
        db = DbSession(engine, expire_on_commit=False)
        event = get_event(db, slug)
        registrations = badges.select_registrations(db, event)
        layout = badges.layout_for(args.layout)
        started = time.perf_counter()
        found = ahead.digests(event, registrations, layout)
        digests = time.perf_counter() - started
        started = time.perf_counter()
        placed, pdfs = ahead.place(db, event, registrations, layout)
        place = time.perf_counter() - started
        started = time.perf_counter()
        pdf = ahead.impose(layout, placed, pdfs, title=event.title)
        impose = time.perf_counter() - started
        assert len(found) == len(placed)
        print(
            f"in process, warm: digests {digests:.2f} s, digests and kept pages loaded "
            f"{place:.2f} s, imposition {impose:.2f} s ({len(pdfs)} render(s) kept, "
            f"{len(pdf) / 1e6:.1f} MB)"
        )
        one = registrations[:1]
        started = time.perf_counter()
        badges.render_badges(db, event, one, "a6")
        first = time.perf_counter() - started
        started = time.perf_counter()
        badges.render_badges(db, event, one, "a6")
        kept_one = time.perf_counter() - started
        print(f"one badge (a6): rendered {first:.3f} s, kept {kept_one:.3f} s")
        db.rollback()
        if args.naive:
            db.expunge_all()
            started = time.perf_counter()
            body = naive(event, registrations, args.layout)
            describe(
                "naive (QR made while rendering, 1 process)", time.perf_counter() - started, body
            )
        if not args.keep:
            db.execute(delete(BadgePage))
            db.execute(delete(BadgeRender))
            db.commit()

    best = min(warm)
    print(
        f"tracker badges {slug} --layout {args.layout}, {args.count} people: cold {cold:.2f} s, "
        f"warm {best:.2f} s best of {len(warm)} ({', '.join(f'{w:.2f}' for w in warm)}; "
        "target <= 3 s)"
    )
    if codes is None:
        print("QR codes: not read (pdftoppm or zxing-cpp missing)")
    else:
        expected = {r.checkin_code for r in registrations}
        print(
            f"QR codes read back from the warm PDF: {len(codes & expected)} of {len(expected)}"
            f" decode to their check-in code, {len(codes - expected)} other"
        )
    print(f"CPU count seen: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    if args.keep:
        print(f"kept: {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
