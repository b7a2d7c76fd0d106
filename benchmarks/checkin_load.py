"""Door check-in throughput: the JSON API under gunicorn, several doors at once.

    .venv/bin/python benchmarks/checkin_load.py
    .venv/bin/python benchmarks/checkin_load.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test

Sets up a fresh database (a SQLite file in a temporary folder, or a scratch PostgreSQL
database created next to the one named by --database-url and dropped at the end),
applies the migrations, creates one event with its sessions, --registrations confirmed
registrations (10,000 by default, written in bulk) and one door account with a bearer
token per door. Then serves the app with gunicorn (2 sync workers by default) on
127.0.0.1 and a free port, with the production configuration.

Each door (a thread with its own connection) checks in distinct codes one after the
other: POST /api/v1/events/<slug>/checkins with {"code", "door", "nonce"}; every answer
must be a 201 "ok". After a warm-up, a fixed number of check-ins is timed. Then one
client times the door's search (GET .../registrations?q=...) over the 10,000 people.
Prints check-ins per second, latency percentiles, errors, the CPU used by the client,
the server (and PostgreSQL) and the whole machine, and checks the check-ins and scan log
entries in the database against the successes. Exits non-zero on any error.

Everything is bounded: --count check-ins, --searches searches, and --max-seconds for
the load as a whole. Only the loopback interface is used.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from harness import (  # noqa: E402 - beside this script
    CpuSample,
    children,
    event_spec,
    gunicorn,
    organisations,
    percentile,
    scratch_database,
    spent,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT))

SLUG = "bench-door"
TARGET_RATE, TARGET_P95_MS = 400, 30  # on the 2-core reference machine

FIRST_NAMES = ("Élodie", "Marc", "Zoé", "Jean-Luc", "Amélie", "Karim", "Søren", "Inès", "Hélène")
LAST_NAMES = ("Lefèvre", "Martin", "N'Diaye", "Dupont-Moreau", "García", "Bernard", "Rousseau")
SEARCHES = ("mar", "lefevre", "helene", "dupont moreau", "organisation 01", "zoe bernard", "x")


# --- database, server and CPU plumbing (as in registration.py) ---------------------------


def prepare_database(url: str, registrations: int, doors: int) -> tuple[int, list[str], list[str]]:
    """Migrations, the event, the registrations and the door tokens.
    Returns the event id, the check-in codes and the tokens."""
    from sqlalchemy import insert
    from sqlalchemy.orm import sessionmaker

    from tracker import create_app
    from tracker.auth.services import create_token, create_user
    from tracker.cli import upgrade_database
    from tracker.db import make_engine, utcnow
    from tracker.events.services import create_event
    from tracker.models import Registration, Role
    from tracker.registration.identity import new_checkin_code, new_manage_token, organisation_key

    engine = make_engine(url)
    try:
        upgrade_database(engine)
        now = utcnow()
        spec = event_spec(SLUG, ("Plénière", "Table ronde 1", "Table ronde 2"))
        app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
        factory = sessionmaker(bind=engine)
        with app.app_context(), factory.begin() as db:
            event = create_event(db, spec)
            orgs = organisations(db, 300)
            codes = [new_checkin_code() for _ in range(registrations)]
            rows = []
            for n, code in enumerate(codes):
                org = orgs[n % len(orgs)]
                first = FIRST_NAMES[n % len(FIRST_NAMES)]
                last = f"{LAST_NAMES[(n // 7) % len(LAST_NAMES)]} {n}"
                email = f"attendee.{n:06d}@bench.example.org"
                rows.append(
                    {
                        "event_id": event.id,
                        "first_name": first,
                        "last_name": last,
                        "email": email,
                        "email_key": email,
                        "organisation_id": org.id,
                        "organisation_type": org.type,
                        "job_title": None,
                        "source": "import",
                        "search_key": organisation_key(f"{first} {last} {email} {org.name}"),
                        "status": "confirmed",
                        "checkin_code": code,
                        "manage_token": new_manage_token(),
                        "qr_png": b"",  # not read by the check-in
                        "locale": "fr",
                        "consent_at": now,
                        "created_at": now,
                        "updated_at": now,
                    }
                )
            for start in range(0, len(rows), 2000):
                db.execute(insert(Registration), rows[start : start + 2000])
            staff = create_user(
                db, "door@bench.example.org", secrets.token_urlsafe(16), Role.DOOR, [event]
            )
            tokens = [create_token(db, staff, f"Door {n + 1}")[0] for n in range(doors)]
            event_id = event.id
        return event_id, codes, tokens
    finally:
        engine.dispose()


def count_rows(url: str, event_id: int) -> tuple[int, int]:
    from sqlalchemy import func, select

    from tracker.db import make_engine
    from tracker.models import CheckIn, ScanLog

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            checkins = conn.scalar(select(func.count()).where(CheckIn.event_id == event_id))
            scans = conn.scalar(select(func.count()).where(ScanLog.event_id == event_id))
            return checkins or 0, scans or 0
    finally:
        engine.dispose()


# --- clients ---------------------------------------------------------------------------------


@dataclass
class Results:
    successes: int = 0  # warm-up included
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.samples) < 5:
                self.samples.append(what)


class Codes:
    """Distinct codes handed out to the doors, phase by phase."""

    def __init__(self, codes: list[str]) -> None:
        self.codes = codes
        self.lock = threading.Lock()
        self.next = 0
        self.end = 0

    def set_phase(self, size: int) -> None:
        self.end = min(self.next + size, len(self.codes))

    def take(self) -> str | None:
        with self.lock:
            if self.next >= self.end:
                return None
            self.next += 1
            return self.codes[self.next - 1]


class Door(threading.Thread):
    def __init__(
        self,
        number: int,
        port: int,
        token: str,
        codes: Codes,
        results: Results,
        barrier: threading.Barrier,
        deadline: float,
    ) -> None:
        super().__init__(daemon=True)
        self.name_ = f"Door {number}"
        self.codes = codes
        self.results = results
        self.barrier = barrier
        self.deadline = deadline
        self.path = f"/api/v1/events/{SLUG}/checkins"
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Content-Type": "application/json",
            "Accept-Language": "fr",
        }
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.latencies: list[float] = []
        self.scans = 0

    def run(self) -> None:
        for measured in (False, True):
            self.barrier.wait()  # warm-up, then the measured phase, start together
            self.barrier.wait()  # (the main thread sets each phase up in between)
            while time.monotonic() < self.deadline:
                code = self.codes.take()
                if code is None:
                    break
                self.scans += 1
                body = json.dumps(
                    {"code": code, "door": self.name_, "nonce": f"{self.name_}:{self.scans}"}
                ).encode()
                started = time.perf_counter()
                ok = self.post(body)
                elapsed = time.perf_counter() - started
                if not ok:
                    continue
                if measured:
                    self.latencies.append(elapsed)
                with self.results.lock:
                    self.results.successes += 1
        self.conn.close()

    def post(self, body: bytes) -> bool:
        try:
            self.conn.request("POST", self.path, body=body, headers=self.headers)
            response = self.conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.results.error(f"POST: {e!r}")
            return False
        if response.status != 201 or b'"result":"ok"' not in content.replace(b" ", b""):
            self.results.error(f"POST answered {response.status}: {content[:200]!r}")
            return False
        return True


def time_searches(port: int, token: str, count: int) -> tuple[list[float], int]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Bearer {token}", "Accept-Language": "fr"}
    latencies, errors = [], 0
    for n in range(count):
        query = SEARCHES[n % len(SEARCHES)].replace(" ", "+")
        started = time.perf_counter()
        try:
            conn.request(
                "GET", f"/api/v1/events/{SLUG}/registrations?q={query}&limit=20", headers=headers
            )
            response = conn.getresponse()
            response.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            errors += 1
            continue
        if response.status != 200:
            errors += 1
            continue
        latencies.append(time.perf_counter() - started)
    conn.close()
    return latencies, errors


# --- the run -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--doors", type=int, default=10, help="concurrent doors (10)")
    parser.add_argument("--count", type=int, default=4000, help="measured check-ins (4000)")
    parser.add_argument("--warmup", type=int, help="check-ins before measuring (20 per door)")
    parser.add_argument(
        "--registrations", type=int, default=10_000, help="registrations in the event (10000)"
    )
    parser.add_argument("--searches", type=int, default=200, help="timed searches (200)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="(sync)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker (1)")
    parser.add_argument("--max-seconds", type=float, default=300, help="hard cap on the load (300)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after setting up, wait for Enter before loading (to attach a profiler)",
    )
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = 20 * args.doors
    for name in ("doors", "count", "workers", "threads", "registrations"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0 or args.searches < 0:
        parser.error("--warmup and --searches cannot be negative")
    if args.warmup + args.count > args.registrations:
        parser.error("--warmup + --count must not exceed --registrations (codes are distinct)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-checkin-"))
    try:
        with scratch_database(args.database_url, tmp) as url:
            return run(args, url, tmp)
    finally:
        if args.keep:
            print(f"kept        {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, url: str, tmp: Path) -> int:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    is_postgres = parsed.get_backend_name() == "postgresql"
    pg_database = parsed.database if is_postgres else None
    started_setup = time.perf_counter()
    event_id, codes, tokens = prepare_database(url, args.registrations, args.doors)
    setup_seconds = time.perf_counter() - started_setup

    probe = "/api/v1/openapi.json"
    with gunicorn(url, tmp, args.workers, args.worker_class, args.threads, probe) as (proc, port):
        workers = children(proc.pid)
        print(f"database    {parsed.render_as_string(hide_password=True)}")
        print(
            f"server      gunicorn {args.workers} {args.worker_class} workers"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            + f", TRACKER_ENV=production, http://127.0.0.1:{port} (worker pids "
            + " ".join(map(str, workers))
            + ")"
        )
        print(
            f"load        {args.doors} doors (threads, http.client, one bearer token each), "
            f"{args.registrations} registrations (set up in {setup_seconds:.1f} s), "
            f"warm-up {args.warmup}, measured {args.count} distinct codes"
        )
        if args.hold:
            input("ready: press Enter to start the load ")
        sys.stdout.flush()

        pool, results = Codes(codes), Results()
        barrier = threading.Barrier(args.doors + 1, timeout=args.max_seconds + 60)
        deadline = time.monotonic() + args.max_seconds
        doors = [
            Door(n + 1, port, tokens[n], pool, results, barrier, deadline)
            for n in range(args.doors)
        ]
        for d in doors:
            d.start()

        def phase(size: int) -> None:
            barrier.wait()  # every door is done with the previous phase
            pool.set_phase(size)
            barrier.wait()

        phase(args.warmup)
        phase(args.count)
        before = CpuSample.take(proc.pid, pg_database)
        started = time.perf_counter()
        for d in doors:
            d.join(timeout=max(0.0, deadline - time.monotonic()) + 35)
        elapsed = time.perf_counter() - started
        after = CpuSample.take(proc.pid, pg_database)
        timed_out = time.monotonic() >= deadline or any(d.is_alive() for d in doors)

        search_latencies, search_errors = time_searches(port, tokens[0], args.searches)

    checkins, scans = count_rows(url, event_id)
    latencies = sorted(x for d in doors for x in d.latencies)
    measured = len(latencies)
    ms = [x * 1000 for x in latencies]

    print(f"check-ins/s      {measured / elapsed:.1f}  ({measured} in {elapsed:.2f} s)")
    print(
        f"latency ms       p50 {percentile(ms, 50):.1f}  p95 {percentile(ms, 95):.1f}  "
        f"p99 {percentile(ms, 99):.1f}  max {(ms[-1] if ms else float('nan')):.1f}"
    )
    rate = measured / elapsed if elapsed else 0.0
    met = rate >= TARGET_RATE and percentile(ms, 95) < TARGET_P95_MS
    print(
        f"target           {TARGET_RATE}/s with p95 < {TARGET_P95_MS} ms (2 cores): "
        + ("met" if met else "missed")
    )
    print(f"errors           {results.errors}")
    for sample in results.samples:
        print(f"  {sample}")
    consistent = checkins == results.successes and scans >= checkins
    print(
        f"in database      {checkins} check-ins, {scans} scan log entries; "
        f"{results.successes} successful POSTs (warm-up included): "
        + ("OK" if consistent else "MISMATCH")
    )
    client_cpu = after.client - before.client
    server_cpu = spent(before.server, after.server)
    machine = after.machine - before.machine
    cores = os.cpu_count() or 1
    line = (
        f"CPU s            client {client_cpu:.1f} ({100 * client_cpu / elapsed:.0f}% of a core), "
        f"gunicorn {server_cpu:.1f}"
    )
    others = machine - client_cpu - server_cpu
    if is_postgres:
        postgres_cpu = spent(before.postgres, after.postgres)
        line += f", postgres {postgres_cpu:.1f}"
        others -= postgres_cpu
    print(
        f"{line}, other processes {max(others, 0.0):.1f}; "
        f"machine busy {machine:.1f} of {cores * elapsed:.1f} core-seconds"
    )
    if measured:
        print(f"server CPU       {1000 * server_cpu / measured:.2f} ms per check-in (gunicorn)")
    if args.searches:
        sms = sorted(x * 1000 for x in search_latencies)
        print(
            f"search ms        p50 {percentile(sms, 50):.1f}  p95 {percentile(sms, 95):.1f}  "
            f"max {(sms[-1] if sms else float('nan')):.1f}  over {args.registrations} "
            f"registrations, {len(sms)} searches, {search_errors} errors"
        )
    if timed_out:
        print(f"stopped          hit the --max-seconds cap ({args.max_seconds:.0f} s)")
    ok = results.errors == 0 and search_errors == 0 and consistent and not timed_out
    ok = ok and measured == args.count
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
