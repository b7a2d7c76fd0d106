"""Registration throughput: the real form, over HTTP, against the app under gunicorn.

    .venv/bin/python benchmarks/registration.py
    .venv/bin/python benchmarks/registration.py \
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/test
    .venv/bin/python benchmarks/registration.py --mail smtp        # a mail server
    .venv/bin/python benchmarks/registration.py --mail black-hole  # a silent one

Sets up a fresh database (a SQLite file in a temporary folder, or a scratch PostgreSQL
database created next to the one named by --database-url and dropped at the end),
applies the migrations, creates one event with a large capacity and a few sessions,
then serves the app with gunicorn on 127.0.0.1 and a free port, with the production
configuration (CSRF on, a random 64-character secret key), and `tracker worker` beside
it, which sends the e-mails: to an outbox folder (--mail outbox, the default), to a mail
server (aiosmtpd, --mail smtp), or to a black hole that accepts connections and never
answers (--mail black-hole; once the load is over it answers, and the run waits for
every e-mail to be sent). The registrations' figures with a black hole must stay within
10% of those with a mail server: no request waits on SMTP.

With --existing N, the event already holds N confirmed registrations (inserted in bulk,
each with a session, and the place counters counted from them): a registration decides
from the counters, so its cost should not grow with the event.

Each client GETs the form once, keeping its session cookie and CSRF token, then POSTs
distinct registrations one after the other without following the redirect; every
answer must be a 303 to /r/<token>. After a warm-up, a fixed number of registrations
is timed. Prints the rate, latency percentiles, errors, the CPU used by the client,
the server and the whole machine, and checks the count of registrations in the
database against the successes, and the e-mails sent (each registration's confirmation,
once). Exits non-zero on any error.

The production configuration marks the session cookie Secure, which a browser would
not send back over plain http. The client here replays cookies itself (as a browser
does behind a TLS-terminating proxy), so the production settings are kept as they are.
The cookie re-sent with each POST is the one from the GET: a browser would follow the
redirect to /r/<token>, whose page consumes the flashed message that the POST added
to the session; not following it and keeping the POST's cookie would instead grow the
cookie by one message per registration.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness import (  # noqa: E402 - beside this script
    CpuSample,
    children,
    free_port,
    gunicorn,
    percentile,
    scratch_database,
    spent,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-day"
SESSION_TITLES = ("Plenary", "Round table: funding", "Focus: export", "Workshop: data")
FIRST_NAMES = ("Élodie", "Marc", "Zoé", "Jean-Luc", "Amélie", "Karim", "Søren", "Inès")
LAST_NAMES = ("Lefèvre", "Martin", "N'Diaye", "Dupont-Moreau", "García", "Bernard")
JOB_TITLES = ("Chargée de mission", "Director", "", "Project manager", "Ingénieur R&D")
ORG_TYPES = ("cluster", "ministry", "region", "agency", "other")
TARGET_RATE, TARGET_P95_MS = 150, 150  # on the 2-core reference machine

CSRF_RE = re.compile(r'<input[^>]*name="csrf_token"[^>]*value="([^"]+)"')
SESSION_INPUT_RE = re.compile(r'<input[^>]*name="sessions"[^>]*>')
VALUE_RE = re.compile(r'value="(\d+)"')


# --- database ------------------------------------------------------------------


def prepare_database(url: str, existing: int = 0) -> int:
    """Apply the migrations, create the event and its `existing` registrations;
    returns the event id."""
    from sqlalchemy.orm import sessionmaker

    from tracker.cli import upgrade_database
    from tracker.db import make_engine, utcnow
    from tracker.events.services import EventSpec, SessionSpec, create_event

    engine = make_engine(url)
    try:
        upgrade_database(engine)
        starts = (utcnow() + timedelta(days=30)).replace(hour=8, minute=0, second=0, microsecond=0)
        spec = EventSpec(
            slug=SLUG,
            title="Journée des pôles de compétitivité",
            starts_at=starts,
            venue="Paris, Bercy",
            organiser="Direction générale des entreprises",
            capacity=1_000_000,
            sessions=[SessionSpec(title=t, capacity=500_000) for t in SESSION_TITLES],
        )
        with sessionmaker(bind=engine).begin() as db:
            event = create_event(db, spec)
            add_existing(db, event, existing)
            return event.id
    finally:
        engine.dispose()


def add_existing(db: Any, event: Any, n: int) -> None:
    """`n` confirmed registrations, inserted in bulk (a registration through the
    service would take minutes for 20,000), then the place counters counted from them
    as `tracker capacity recompute` does."""
    from sqlalchemy import insert

    from tracker.db import utcnow
    from tracker.models import Organisation, OrganisationType, Registration, registration_sessions
    from tracker.registration.capacity import recompute
    from tracker.registration.identity import new_checkin_code, new_manage_token

    if n <= 0:
        return
    organisation = Organisation(
        name="Existing", name_key="existing", type=OrganisationType.CLUSTER, listed=True
    )
    db.add(organisation)
    db.flush()
    now = utcnow()
    batch = 2000
    for start in range(0, n, batch):
        rows = [
            {
                "event_id": event.id,
                "first_name": FIRST_NAMES[i % len(FIRST_NAMES)],
                "last_name": f"{LAST_NAMES[i % len(LAST_NAMES)]} {i}",
                "email": f"existing{i}@example.org",
                "email_key": f"existing{i}@example.org",
                "organisation_id": organisation.id,
                "organisation_type": ORG_TYPES[i % len(ORG_TYPES)],
                "source": "import",
                "search_key": f"existing {i}",
                "status": "confirmed",
                "checkin_code": new_checkin_code(),
                "manage_token": new_manage_token(),
                "qr_png": b"",
                "locale": "fr",
                "consent_at": now,
                "created_at": now,
                "updated_at": now,
                "badge_print_count": 0,
                "calendar_sequence": 0,
            }
            for i in range(start, min(start + batch, n))
        ]
        ids = db.scalars(insert(Registration).returning(Registration.id), rows).all()
        db.execute(
            insert(registration_sessions),
            [
                {"registration_id": id_, "session_id": event.sessions[k % 4].id}
                for k, id_ in enumerate(ids)
            ],
        )
    recompute(db, event)


def mail_states(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from tracker.db import make_engine
    from tracker.models import OutgoingMail

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)
            return {str(state): n for state, n in conn.execute(query)}
    finally:
        engine.dispose()


class BlackHole(threading.Thread):
    """Accepts connections on `port` and never answers (until closed)."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.listener = socket.create_server(("127.0.0.1", port))
        self.held: list[socket.socket] = []

    def run(self) -> None:
        while True:
            try:
                self.held.append(self.listener.accept()[0])
            except OSError:
                return

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


MAIL_SERVERS: list[subprocess.Popen[bytes]] = []  # stopped however the run ends


def mail_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """aiosmtpd on `port`, taking every message (and dropping it)."""
    command = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    server = subprocess.Popen(  # noqa: S603 - fixed command
        [*command, "-l", f"127.0.0.1:{port}"], stdout=log.open("ab"), stderr=subprocess.STDOUT
    )
    MAIL_SERVERS.append(server)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return server
        time.sleep(0.1)
    raise SystemExit("the mail server did not start")


def wait_for_mail(url: str, expected: int, seconds: float) -> tuple[dict[str, int], float]:
    """Wait until `expected` e-mails are sent (or `seconds` passed)."""
    started = time.monotonic()
    while True:
        states = mail_states(url)
        if states.get("sent", 0) >= expected or time.monotonic() - started > seconds:
            return states, time.monotonic() - started
        time.sleep(1)


def count_registrations(url: str, event_id: int) -> int:
    from sqlalchemy import func, select

    from tracker.db import make_engine
    from tracker.models import Registration

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            query = select(func.count()).where(Registration.event_id == event_id)
            return conn.scalar(query.select_from(Registration)) or 0
    finally:
        engine.dispose()


# --- server ----------------------------------------------------------------------


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)  # measured phase only, seconds
    successes: int = 0  # warm-up included
    errors: int = 0
    samples: list[str] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, what: str) -> None:
        with self.lock:
            self.errors += 1
            if len(self.samples) < 5:
                self.samples.append(what)


class Jobs:
    """Registration numbers handed out to the clients, phase by phase."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.next = 0
        self.end = 0

    def set_phase(self, size: int) -> None:
        self.end = self.next + size

    def take(self) -> int | None:
        with self.lock:
            if self.next >= self.end:
                return None
            self.next += 1
            return self.next - 1


def registration_form(number: int, csrf: str, session_ids: list[str], orgs: int) -> bytes:
    org = number % orgs
    fields = [
        ("csrf_token", csrf),
        ("first_name", FIRST_NAMES[number % len(FIRST_NAMES)]),
        ("last_name", f"{LAST_NAMES[number % len(LAST_NAMES)]} {number}"),
        ("email", f"attendee.{number:06d}@bench.example.org"),
        ("organisation", f"Organisation {org:04d}"),
        ("organisation_type", ORG_TYPES[org % len(ORG_TYPES)]),
        ("job_title", JOB_TITLES[number % len(JOB_TITLES)]),
    ]
    # Two sessions out of the offered ones, varying with the number.
    if session_ids:
        n = len(session_ids)
        picked = {session_ids[number % n], session_ids[(number + 1) % n]}
        fields += [("sessions", s) for s in sorted(picked)]
    fields += [("consent", "y"), ("website", "")]
    return urlencode(fields).encode()


class Client(threading.Thread):
    def __init__(
        self,
        port: int,
        jobs: Jobs,
        results: Results,
        barrier: threading.Barrier,
        deadline: float,
        orgs: int,
    ) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.jobs = jobs
        self.results = results
        self.barrier = barrier
        self.deadline = deadline
        self.orgs = orgs
        self.path = f"/events/{SLUG}/register"
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.latencies: list[float] = []
        self.failed: str | None = None

    def run(self) -> None:
        try:
            cookie, csrf, session_ids = self.open_form()
        except (OSError, http.client.HTTPException, ValueError) as e:
            self.failed = f"GET form: {e!r}"
            self.results.error(self.failed)
            cookie = csrf = ""
            session_ids = []
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": cookie,
            "Origin": f"http://127.0.0.1:{self.port}",
            "Referer": f"http://127.0.0.1:{self.port}{self.path}",
            "Accept": "text/html",
            "Accept-Language": "fr-FR,fr;q=0.9,en;q=0.8",
        }
        for measured in (False, True):
            self.barrier.wait()  # warm-up, then the measured phase, start together
            self.barrier.wait()  # (the main thread sets each phase up in between)
            while self.failed is None and time.monotonic() < self.deadline:
                number = self.jobs.take()
                if number is None:
                    break
                body = registration_form(number, csrf, session_ids, self.orgs)
                started = time.perf_counter()
                outcome = self.post(body, headers)
                elapsed = time.perf_counter() - started
                if outcome is None:
                    continue
                if measured:
                    self.latencies.append(elapsed)
                with self.results.lock:
                    self.results.successes += 1
                    self.results.tokens.add(outcome)
        self.conn.close()

    def open_form(self) -> tuple[str, str, list[str]]:
        self.conn.request("GET", self.path, headers={"Accept": "text/html"})
        response = self.conn.getresponse()
        page = response.read().decode()
        if response.status != 200:
            raise ValueError(f"form answered {response.status}")
        jar: SimpleCookie = SimpleCookie()
        for header in response.headers.get_all("Set-Cookie") or []:
            jar.load(header)
        if "session" not in jar:
            raise ValueError("no session cookie on the form")
        match = CSRF_RE.search(page)
        if match is None:
            raise ValueError("no csrf_token in the form")
        session_ids = []
        for tag in SESSION_INPUT_RE.findall(page):
            value = VALUE_RE.search(tag)
            if value and "disabled" not in tag:
                session_ids.append(value.group(1))
        return f"session={jar['session'].value}", match.group(1), session_ids

    def post(self, body: bytes, headers: dict[str, str]) -> str | None:
        """The manage token redirected to, or None (and an error counted)."""
        try:
            self.conn.request("POST", self.path, body=body, headers=headers)
            response = self.conn.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.results.error(f"POST: {e!r}")
            return None
        location = urlsplit(response.headers.get("Location") or "").path
        if response.status != 303 or not location.startswith("/r/"):
            snippet = re.sub(r"\s+", " ", content.decode(errors="replace"))[:200]
            self.results.error(f"POST answered {response.status} {location!r}: {snippet}")
            return None
        return location.removeprefix("/r/")


# --- the run ---------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL server to use (default: SQLite)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--count", type=int, default=2000, help="measured registrations (2000)")
    parser.add_argument("--warmup", type=int, help="registrations before measuring (10 per client)")
    parser.add_argument(
        "--existing",
        type=int,
        default=0,
        help="confirmed registrations already in the event before the load (0)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument(
        "--worker-class", default="sync", choices=("sync", "gthread"), help="(sync)"
    )
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker (1)")
    parser.add_argument(
        "--organisations", type=int, default=300, help="distinct organisation names (300)"
    )
    parser.add_argument(
        "--max-seconds", type=float, default=600, help="hard cap on the whole load (600)"
    )
    parser.add_argument(
        "--mail",
        default="outbox",
        choices=("outbox", "smtp", "black-hole"),
        help="where the worker sends the e-mails (outbox: .eml files)",
    )
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=600,
        help="how long to wait for every e-mail after the load (600)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, outbox)")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="after setting up, print the server address and wait for Enter before loading "
        "(to attach a profiler to a worker)",
    )
    args = parser.parse_args(argv)
    if args.warmup is None:
        args.warmup = 10 * args.clients
    for name in ("clients", "count", "workers", "threads", "organisations"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup cannot be negative")
    if args.existing < 0:
        parser.error("--existing cannot be negative")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="tracker-bench-"))
    try:
        with scratch_database(args.database_url, tmp) as url:
            return run(args, url, tmp)
    finally:
        for server in MAIL_SERVERS:
            server.terminate()
            server.wait()
        if args.keep:
            print(f"kept        {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, url: str, tmp: Path) -> int:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    is_postgres = parsed.get_backend_name() == "postgresql"
    pg_database = parsed.database if is_postgres else None
    event_id = prepare_database(url, args.existing)

    probe = f"/events/{SLUG}/register"
    smtp_port = free_port()
    mail_env = {"TRACKER_MAIL_SERVER": ""}
    hole: BlackHole | None = None
    if args.mail != "outbox":
        mail_env = {
            "TRACKER_MAIL_SERVER": "127.0.0.1",
            "TRACKER_MAIL_PORT": str(smtp_port),
            "TRACKER_MAIL_TIMEOUT": "5",
        }
    if args.mail == "smtp":
        mail_server(smtp_port, tmp / "smtp.log")
    elif args.mail == "black-hole":
        hole = BlackHole(smtp_port)
        hole.start()
    server = gunicorn(url, tmp, args.workers, args.worker_class, args.threads, probe, mail_env)
    with server as (proc, port):
        workers = children(proc.pid)
        print(f"database    {parsed.render_as_string(hide_password=True)}")
        print(
            f"server      gunicorn {args.workers} {args.worker_class} workers"
            + (f" x {args.threads} threads" if args.worker_class == "gthread" else "")
            + f", TRACKER_ENV=production, http://127.0.0.1:{port} (worker pids "
            + " ".join(map(str, workers))
            + ")"
        )
        print(f"mail        {args.mail}, sent by `tracker worker`")
        print(
            f"load        {args.clients} clients (threads, http.client), "
            f"warm-up {args.warmup}, measured {args.count}, {args.organisations} organisations, "
            f"{args.existing} registrations already in the event"
        )
        if args.hold:
            input("ready: press Enter to start the load ")
        sys.stdout.flush()

        jobs, results = Jobs(), Results()
        barrier = threading.Barrier(args.clients + 1, timeout=args.max_seconds + 60)
        deadline = time.monotonic() + args.max_seconds
        clients = [
            Client(port, jobs, results, barrier, deadline, args.organisations)
            for _ in range(args.clients)
        ]
        for c in clients:
            c.start()

        def phase(size: int) -> None:
            barrier.wait()  # every client is done with the previous phase
            jobs.set_phase(size)
            barrier.wait()

        phase(args.warmup)
        phase(args.count)
        before = CpuSample.take(proc.pid, pg_database)
        started = time.perf_counter()
        for c in clients:
            c.join(timeout=max(0.0, deadline - time.monotonic()) + 35)
        elapsed = time.perf_counter() - started
        after = CpuSample.take(proc.pid, pg_database)
        timed_out = time.monotonic() >= deadline or any(c.is_alive() for c in clients)
        in_database = count_registrations(url, event_id) - args.existing
        at_the_end = mail_states(url)
        if hole is not None:  # the server answers again
            hole.close()
            mail_server(smtp_port, tmp / "smtp.log")
        states, drained = wait_for_mail(url, in_database, args.drain_seconds)
    outbox = states.get("sent", 0)
    if args.mail == "outbox":
        outbox = min(outbox, len(list((tmp / "outbox").glob("*.eml"))))
    latencies = sorted(x for c in clients for x in c.latencies)
    measured = len(latencies)
    ms = [x * 1000 for x in latencies]

    print(f"registrations/s  {measured / elapsed:.1f}  ({measured} in {elapsed:.2f} s)")
    print(
        f"latency ms       p50 {percentile(ms, 50):.1f}  p95 {percentile(ms, 95):.1f}  "
        f"p99 {percentile(ms, 99):.1f}  max {(ms[-1] if ms else float('nan')):.1f}"
    )
    print(f"errors           {results.errors}")
    print(
        "e-mails          at the end of the load: "
        + (", ".join(f"{n} {s}" for s, n in sorted(at_the_end.items())) or "none")
        + f"; all sent {drained:.0f} s later"
        + (" (the server answering again)" if hole is not None else "")
        + ": "
        + ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
    )
    for sample in results.samples:
        print(f"  {sample}")
    consistent = in_database == results.successes == len(results.tokens)
    print(
        f"in database      {in_database} new registrations; {results.successes} successful POSTs "
        f"(warm-up included), {len(results.tokens)} distinct /r/ links, {outbox} e-mails: "
        + ("OK" if consistent and outbox == in_database else "MISMATCH")
    )
    client_cpu = after.client - before.client
    server_cpu = spent(before.server, after.server)
    postgres_cpu = spent(before.postgres, after.postgres)
    machine = max(after.machine - before.machine, 1e-9)
    others = max(machine - client_cpu - server_cpu - postgres_cpu, 0.0)
    cores = os.cpu_count() or 1
    print(
        f"CPU s            client {client_cpu:.1f} ({100 * client_cpu / elapsed:.0f}% of one core, "
        f"{100 * client_cpu / machine:.0f}% of the busy CPU), gunicorn {server_cpu:.1f}"
        + (f", postgres {postgres_cpu:.1f}" if is_postgres else "")
        + f", other processes {others:.1f}; machine busy {machine:.1f} of {cores * elapsed:.1f}"
    )
    if measured:
        per = {"gunicorn": server_cpu, "postgres": postgres_cpu, "client": client_cpu}
        print(
            "CPU per reg. ms  "
            + ", ".join(
                f"{name} {1000 * cpu / measured:.1f}"
                for name, cpu in per.items()
                if is_postgres or name != "postgres"
            )
        )
    if ms:
        met = measured / elapsed >= TARGET_RATE and percentile(ms, 95) < TARGET_P95_MS
        print(
            f"target           >= {TARGET_RATE}/s with p95 < {TARGET_P95_MS} ms: "
            + ("met" if met else "missed")
        )
    if timed_out:
        print(f"stopped          hit the --max-seconds cap ({args.max_seconds:.0f} s)")
    ok = results.errors == 0 and consistent and outbox == in_database and not timed_out
    ok = ok and measured == args.count
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
