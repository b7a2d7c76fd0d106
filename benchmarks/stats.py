"""Statistics at scale: the stats API, the dashboard and the attendees XLSX export.

    .venv/bin/python benchmarks/stats.py
    .venv/bin/python benchmarks/stats.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Sets up a fresh database (a SQLite file in a temporary folder, or a scratch PostgreSQL
database created next to the one named by --database-url and dropped at the end),
applies the migrations, and writes in bulk one event with four sessions and
--registrations registrations (100,000 by default: 92% confirmed, 5% waitlisted, 3%
cancelled) from --organisations organisations of every type, each registered for one
to three sessions; --checkins of the confirmed are checked in at the entrance (80,000
by default) over three hours at four doors, and a third of those also in one of their
sessions. Then serves the app with gunicorn (2 sync workers) with the production
configuration, and times, one request at a time after a warm-up:

- GET /api/v1/events/<slug>/stats with a bearer token (target: at most 150 ms);
- GET /events/<slug>/stats, the dashboard, logged in as an organiser (at most 300 ms);
- GET /events/<slug>/stats?part=figures, what the dashboard fetches every 15 s, as its
  script asks for it: the headline figures and the small tables, read from the
  maintained counts (target: at most 100 ms and 50 KiB);
- GET /events/<slug>/stats?part=organisations, the table of every organisation, which
  the dashboard fetches only when asked (its reload link, a new sort).

Each line gives the size of the answer and the server's CPU time per request (its
gunicorn workers, which on SQLite do the database's work too): the requests go one at a
time over loopback, so on an idle machine their time is the server's, and on a busy one
the CPU time still says what a request costs.

Last, it runs `tracker export SLUG --what attendees --format xlsx` in a child process
and prints its wall time and peak memory (target: at most 15 s and 300 MiB), and checks
that the workbook has one row per registration. Exits non-zero when a request fails or
a count is wrong; never because a figure is slow.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlencode

from harness import (  # noqa: E402 - beside this script
    CpuSample,
    event_spec,
    gunicorn,
    percentile,
    scratch_database,
    spent,
)
from harness import organisations as make_organisations  # noqa: E402

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

SLUG = "bench-stats"
TARGETS_MS = {"stats API": 150, "dashboard": 300, "dashboard refresh": 100}
TARGETS_KIB = {"dashboard refresh": 50}
XLSX_TARGET_S, XLSX_TARGET_MIB = 15, 300
DOORS = ("Entrée A", "Entrée B", "Accueil", "Salle 1")
PASSWORD = secrets.token_urlsafe(16)
PEAK_OF_CHILD = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:]); "
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
    "sys.exit(done.returncode)"
)


def prepare_database(url: str, registrations: int, checkins: int, organisations: int) -> str:
    """Migrations, the event and its people. Returns an API token of the organiser."""
    from sqlalchemy import insert
    from sqlalchemy.orm import sessionmaker

    from tracker import create_app
    from tracker.auth.services import create_token, create_user
    from tracker.cli import upgrade_database
    from tracker.db import make_engine, utcnow
    from tracker.events.services import create_event
    from tracker.models import (
        CheckIn,
        Registration,
        Role,
        registration_sessions,
    )
    from tracker.registration import capacity
    from tracker.registration.identity import (
        new_checkin_code,
        new_manage_token,
        organisation_key,
        qr_png,
    )
    from tracker.reports import counts

    rng = random.Random(2012)
    engine = make_engine(url)
    try:
        upgrade_database(engine)
        now = utcnow()
        spec = event_spec(
            SLUG, ("Plénière", "Table ronde 1", "Table ronde 2", "Focus intelligence")
        )
        starts = spec.starts_at
        app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
        factory = sessionmaker(bind=engine)
        with app.app_context(), factory.begin() as db:
            event = create_event(db, spec)
            session_ids = [s.id for s in event.sessions]
            orgs = make_organisations(db, organisations)
            # Rows as large as real ones: a real QR image (the same for all, its size matters).
            image = qr_png(new_checkin_code())
            statuses = ["confirmed"] * 92 + ["waitlisted"] * 5 + ["cancelled"] * 3
            rows = []
            for n in range(registrations):
                org = orgs[rng.randrange(len(orgs))]
                email = f"attendee.{n:06d}@bench.example.org"
                rows.append(
                    {
                        "event_id": event.id,
                        "first_name": f"Prénom{n % 97}",
                        "last_name": f"Nom {n}",
                        "email": email,
                        "email_key": email,
                        "organisation_id": org.id,
                        "organisation_type": org.type,
                        "job_title": "Chargé de mission" if n % 3 else None,
                        "source": "import",
                        "search_key": organisation_key(f"Prénom Nom {n} {email} {org.name}"),
                        "status": statuses[n % len(statuses)],
                        "checkin_code": new_checkin_code(),
                        "manage_token": new_manage_token(),
                        "qr_png": image,
                        "locale": "fr",
                        "consent_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            for start in range(0, len(rows), 2000):
                db.execute(insert(Registration), rows[start : start + 2000])
            ids = db.execute(
                Registration.__table__.select()
                .with_only_columns(Registration.id, Registration.status)
                .where(Registration.event_id == event.id)
                .order_by(Registration.id)
            ).all()
            links, chosen = [], {}
            for reg_id, _status in ids:
                picked = rng.sample(session_ids, rng.randint(1, 3))
                chosen[reg_id] = picked
                links.extend({"registration_id": reg_id, "session_id": s} for s in picked)
            for start in range(0, len(links), 5000):
                db.execute(insert(registration_sessions), links[start : start + 5000])
            confirmed = [reg_id for reg_id, status in ids if status == "confirmed"]
            arrived = rng.sample(confirmed, min(checkins, len(confirmed)))
            doors_open = starts - timedelta(hours=1)
            marks = []
            for n, reg_id in enumerate(arrived):
                at = doors_open + timedelta(seconds=rng.betavariate(2, 5) * 3 * 3600)
                door = DOORS[n % len(DOORS)]
                marks.append(_checkin(event.id, reg_id, None, 0, at, door))
                if n % 3 == 0:
                    session_id = chosen[reg_id][0]
                    later = at + timedelta(minutes=30)
                    marks.append(_checkin(event.id, reg_id, session_id, session_id, later, door))
            for start in range(0, len(marks), 5000):
                db.execute(insert(CheckIn), marks[start : start + 5000])
            # The rows went in by bulk INSERTs, behind the ORM's back: the maintained
            # counters are counted once, as `tracker capacity recompute` does.
            capacity.recompute(db, event)
            counts.recompute(db, event)
            organiser = create_user(
                db, "organiser@bench.example.org", PASSWORD, Role.ORGANISER, [event]
            )
            token = create_token(db, organiser, "stats benchmark")[0]
        if engine.dialect.name == "postgresql":
            # What autovacuum does within a minute of such a load: statistics for the
            # planner, and the visibility map that index-only scans need.
            with engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "VACUUM ANALYZE"
                )
        print(
            f"data: {registrations:,} registrations, {len(orgs):,} organisations, "
            f"{len(links):,} session choices, {len(arrived):,} entrance check-ins, "
            f"{len(marks) - len(arrived):,} session check-ins"
        )
        return token
    finally:
        engine.dispose()


def _checkin(event_id, reg_id, session_id, scope, at, door):  # noqa: ANN001, ANN202
    return {
        "event_id": event_id,
        "registration_id": reg_id,
        "session_id": session_id,
        "scope": scope,
        "checked_in_at": at,
        "door": door,
        "user_id": None,
    }


class Browser:
    """One keep-alive connection with a cookie jar of one cookie (the session)."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None, headers=None):  # noqa: ANN001, ANN201
        headers = dict(headers or {})
        if self.cookie:
            headers["Cookie"] = self.cookie
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.conn.request(method, path, body=body, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def login(self) -> None:
        status, page = self.request("GET", "/login")
        match = re.search(rb'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
            rb'name="csrf_token" value="([^"]+)"', page
        )
        if status != 200 or not match:
            raise SystemExit(f"login page: {status}")
        form = urlencode(
            {
                "csrf_token": match.group(1).decode(),
                "email": "organiser@bench.example.org",
                "password": PASSWORD,
            }
        )
        status, _ = self.request("POST", "/login", form)
        if status not in (302, 303):
            raise SystemExit(f"login refused: {status}")


def timed(browser: Browser, path: str, count: int, headers=None) -> tuple[list[float], int]:  # noqa: ANN001
    """Milliseconds per request, and the size of the last answer."""
    times, size = [], 0
    for _ in range(count):
        start = time.perf_counter()
        status, body = browser.request("GET", path, headers=headers)
        times.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise SystemExit(f"GET {path}: {status}")
        size = len(body)
    return sorted(times), size


def export_xlsx(url: str, tmp: Path, expected_rows: int) -> None:
    out = tmp / "attendees.xlsx"
    env = dict(os.environ, TRACKER_DATABASE_URL=url, TRACKER_INSTANCE_PATH=str(tmp / "instance"))
    command = [
        str(Path(sys.executable).with_name("tracker")),
        "export",
        SLUG,
        "--what",
        "attendees",
        "--format",
        "xlsx",
        "-o",
        str(out),
    ]
    # A child's peak memory (ru_maxrss) starts from its parent's size at fork time, and
    # this process holds the whole data set: the export runs under a small Python that
    # reports its own child's peak.
    start = time.perf_counter()
    done = subprocess.run(  # noqa: S603 - fixed command
        [sys.executable, "-c", PEAK_OF_CHILD, *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"tracker export failed:\n{done.stdout}{done.stderr}")
    peak_mib = int(done.stderr.strip().splitlines()[-1]) / 1024  # kilobytes on Linux
    from openpyxl import load_workbook

    book = load_workbook(out, read_only=True)
    rows = book.worksheets[0].max_row - 1
    print(
        f"attendees XLSX: {seconds:.1f} s, peak memory {peak_mib:.0f} MiB, "
        f"{out.stat().st_size / 1e6:.1f} MB, {rows:,} rows "
        f"(target: at most {XLSX_TARGET_S} s and {XLSX_TARGET_MIB} MiB)"
    )
    if rows != expected_rows:
        raise SystemExit(f"the workbook has {rows} rows for {expected_rows} registrations")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url")
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--checkins", type=int, default=80_000)
    parser.add_argument("--organisations", type=int, default=1_500)
    parser.add_argument("--requests", type=int, default=30, help="timed requests per page")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tracker-stats-"))
    try:
        with scratch_database(args.database_url, tmp) as url:
            started = time.perf_counter()
            token = prepare_database(url, args.registrations, args.checkins, args.organisations)
            print(f"set-up: {time.perf_counter() - started:.0f} s ({url.split(':')[0]})")
            with gunicorn(url, tmp, 2, "sync", 1, "/") as (proc, port):
                api = Browser(port)
                bearer = {"Authorization": f"Bearer {token}"}
                status, body = api.request("GET", f"/api/v1/events/{SLUG}/stats", headers=bearer)
                figures = json.loads(body)
                if status != 200 or figures["registered"] != args.registrations:
                    raise SystemExit(f"stats API: {status} {body[:200]!r}")
                print(
                    f"figures: {figures['registered']:,} registered, "
                    f"{figures['confirmed']:,} confirmed, {figures['checked_in']:,} present"
                )
                browser = Browser(port)
                browser.login()
                pages = {
                    "stats API": (api, f"/api/v1/events/{SLUG}/stats", bearer),
                    "dashboard": (browser, f"/events/{SLUG}/stats", None),
                    # As static/js/stats.js asks for it, every 15 s.
                    "dashboard refresh": (
                        browser,
                        f"/events/{SLUG}/stats?part=figures",
                        {"Accept": "text/html"},
                    ),
                    "organisation table": (
                        browser,
                        f"/events/{SLUG}/stats?part=organisations&sort=name&order=asc",
                        None,
                    ),
                }
                for name, (client, path, headers) in pages.items():
                    timed(client, path, 3, headers)  # warm-up: both workers, caches
                    before = CpuSample.take(proc.pid, None)
                    times, size = timed(client, path, args.requests, headers)
                    after = CpuSample.take(proc.pid, None)
                    cpu_ms = spent(before.server, after.server) / args.requests * 1000
                    target, target_kib = TARGETS_MS.get(name), TARGETS_KIB.get(name)
                    print(
                        f"{name}: p50 {percentile(times, 50):.0f} ms, "
                        f"p95 {percentile(times, 95):.0f} ms, max {times[-1]:.0f} ms, "
                        f"{size / 1024:.0f} KiB, server CPU {cpu_ms:.0f} ms"
                        + (f" (target: at most {target} ms" if target else "")
                        + (f" and {target_kib} KiB" if target_kib else "")
                        + (")" if target else "")
                    )
            export_xlsx(url, tmp, args.registrations)
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
