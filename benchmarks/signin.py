"""Sign-in sheet speed: one event of --count confirmed people, half of them checked in.

    .venv/bin/python benchmarks/signin.py [--count 1000] [--database-url URL]

Makes a scratch database (a SQLite file in a temporary folder, or a scratch PostgreSQL
database beside --database-url, dropped at the end), applies the migrations, registers
--count people through the real registration service (five organisation types, 97
organisations, every one also registered for the first session), checks every second
one in at the entrance and to that session, then times the whole-event sheet with
check-in times and the session's sheet, each rendered twice (the first render of a
process also loads the fonts), and prints the time, the pages and the SQL statements
of each.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

from pypdf import PdfReader  # noqa: E402
from sqlalchemy import event as sa_event  # noqa: E402
from sqlalchemy.orm import Session as DbSession  # noqa: E402

from benchmarks.harness import person, scratch_database  # noqa: E402
from tracker import create_app  # noqa: E402
from tracker.checkin.services import check_in  # noqa: E402
from tracker.cli import upgrade_database  # noqa: E402
from tracker.db import utcnow  # noqa: E402
from tracker.events.services import EventSpec, SessionSpec, create_event  # noqa: E402
from tracker.registration.services import register  # noqa: E402
from tracker.reports.signin import render_signin  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--database-url")
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="tracker-signin-bench-") as tmp,
        scratch_database(args.database_url, Path(tmp)) as url,
    ):
        app = create_app(
            {"DATABASE_URL": url, "MAIL_OUTBOX": str(Path(tmp) / "outbox"), "SERVER_NAME": None}
        )
        engine = app.extensions["db"].engine
        upgrade_database(engine)
        with app.test_request_context("/", headers={"Accept-Language": "fr"}):
            db = DbSession(engine, expire_on_commit=False)
            now = utcnow()
            event = create_event(
                db,
                EventSpec(
                    slug="bench-signin",
                    title="Journée nationale des pôles de compétitivité",
                    starts_at=now + timedelta(days=30),
                    venue="Bercy, Paris",
                    capacity=args.count + 10,
                    registration_opens_at=now - timedelta(days=1),
                    sessions=[SessionSpec("Plénière", "plenary")],
                ),
            )
            session_id = event.sessions[0].id
            started = time.perf_counter()
            for n in range(args.count):
                registration = register(
                    db,
                    event,
                    person(n, session_ids=[session_id]),
                    now=now,
                )
                if n % 2 == 0:
                    for scope in (None, session_id):
                        check_in(
                            db,
                            event,
                            actor=None,
                            door="A",
                            registration_id=registration.id,
                            session_id=scope,
                            now=now,
                        )
            db.commit()
            made = time.perf_counter() - started
            print(f"{args.count} people made in {made:.1f} s ({engine.dialect.name})")

            statements: list[str] = []
            sa_event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
            for label, sid in [("whole event", None), ("session", session_id)]:
                for attempt in ("first", "again"):
                    db.expire_all()
                    statements.clear()
                    started = time.perf_counter()
                    pdf = render_signin(db, event, sid)
                    elapsed = time.perf_counter() - started
                    pages = len(PdfReader(io.BytesIO(pdf)).pages)
                    print(
                        f"{label:<12} {attempt:<6} {elapsed:6.2f} s  {pages:3d} pages  "
                        f"{len(pdf) / 1e6:5.2f} MB  {len(statements)} SQL statements"
                    )
            db.close()
        engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
