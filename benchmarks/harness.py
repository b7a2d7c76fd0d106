"""What the benchmarks share: a scratch database, a free port, CPU accounting from
/proc, percentiles. Not a test: the scripts beside it print figures."""

from __future__ import annotations

import http.client
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@contextmanager
def scratch_database(url: str | None, tmp: Path) -> Iterator[str]:
    """A URL to a new, empty database, removed afterwards."""
    if url is None:
        yield f"sqlite:///{tmp / 'tracker.sqlite3'}"
        return

    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        raise SystemExit("give no --database-url for SQLite: a fresh file is made in a temp dir")
    if parsed.get_backend_name() != "postgresql":
        raise SystemExit(f"unsupported database: {parsed.get_backend_name()}")

    import psycopg
    from psycopg import sql

    # Connect to the named database only to create and drop a scratch one beside it.
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"tracker_bench_{secrets.token_hex(4)}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tail(path: Path, lines: int = 30) -> str:
    with suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int) -> float:
    """utime + stime of one process, in seconds (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children(pid: int) -> list[int]:
    pids: list[int] = []
    with suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    return pids


def postgres_pids(database: str) -> list[int]:
    """The server's own processes and its backends for `database` (not other databases')."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with suppress(OSError):
                if (entry / "comm").read_text().strip() != "postgres":
                    continue
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                client = "(" in title or "[local]" in title
                if not client or f" {database} " in title:
                    pids.append(int(entry.name))
    return pids


def machine_busy() -> float:
    """Core-seconds spent not idle, machine-wide, since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLOCK_TICKS


@dataclass
class CpuSample:
    client: float
    server: dict[int, float]
    postgres: dict[int, float]
    machine: float

    @classmethod
    def take(cls, server_pid: int, postgres_database: str | None) -> CpuSample:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        server = {p: process_cpu(p) for p in [server_pid, *children(server_pid)]}
        pg = {}
        if postgres_database:
            pg = {p: process_cpu(p) for p in postgres_pids(postgres_database)}
        return cls(usage.ru_utime + usage.ru_stime, server, pg, machine_busy())


def spent(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


# --- set-up --------------------------------------------------------------------------------


# --- the server ------------------------------------------------------------------

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def gunicorn(
    url: str,
    tmp: Path,
    workers: int,
    worker_class: str,
    threads: int,
    probe: str,
    extra_env: dict[str, str] | None = None,
) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """gunicorn serving the app on a free port; with `extra_env` (TRACKER_MAIL_SERVER...),
    `tracker worker` beside it too, as in production."""
    port = free_port()
    env = dict(os.environ)
    env.update(
        TRACKER_ENV="production",
        TRACKER_SECRET_KEY=secrets.token_hex(32),  # 64 characters
        TRACKER_DATABASE_URL=url,
        TRACKER_MAIL_OUTBOX=str(tmp / "outbox"),
        TRACKER_MAIL_SERVER="",
        TRACKER_INSTANCE_PATH=str(tmp / "instance"),
        TRACKER_BASE_URL=f"http://127.0.0.1:{port}",
        TRACKER_SQL_ECHO="",
        # Every client of a benchmark is 127.0.0.1: the per-address limit of the public
        # form would refuse all but the first 20 registrations a minute. It is still
        # counted on every request, as in production, only never reached.
        TRACKER_REGISTER_LIMIT_PER_ADDRESS="1000000 per minute",
        TRACKER_QUEUE_URL=f"sqlite:///{tmp / 'queue.sqlite3'}",
    )
    env.update(extra_env or {})
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(workers),
        "--worker-class",
        worker_class,
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--timeout",
        "60",
        "tracker:create_app()",
    ]
    log = (tmp / "gunicorn.log").open("wb")
    proc = subprocess.Popen(  # noqa: S603 - fixed command
        command, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_until_up(proc, port, tmp / "gunicorn.log", probe)
        if extra_env is not None:
            tracker = Path(sys.executable).with_name("tracker")
            worker = subprocess.Popen(  # noqa: S603 - fixed command
                [str(tracker), "worker"], cwd=PROJECT_ROOT, env=env, stdout=log, stderr=log
            )
        yield proc, port
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()


def wait_until_up(proc: subprocess.Popen[bytes], port: int, log: Path, probe: str) -> None:
    """Wait until GET `probe` answers 200."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited ({proc.returncode}):\n{tail(log)}")
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            conn.request("GET", probe)
            response = conn.getresponse()
            response.read()
            if response.status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise SystemExit(f"gunicorn did not answer within 30 s:\n{tail(log)}")


FIRST_NAMES = ("Élodie", "Marc", "Zoé", "Jean-Luc", "Amélie", "Karim", "Søren", "Łucja")
LAST_NAMES = ("Lefèvre", "Martin", "N'Diaye", "Dupont-Moreau", "García", "Yılmaz")


def person(n: int, **overrides: Any) -> Any:
    """The n-th of a crowd of plausible attendees, as the registration form gives them."""
    from tracker.models import OrganisationType
    from tracker.registration.services import RegistrationData

    types = list(OrganisationType)
    data = RegistrationData(
        first_name=FIRST_NAMES[n % len(FIRST_NAMES)],
        last_name=f"{LAST_NAMES[n % len(LAST_NAMES)]} {n}",
        email=f"person.{n}@bench.example",
        organisation=f"Organisation {n % 97}",
        organisation_type=types[n % len(types)],
        job_title="Chargée de mission" if n % 3 else "",
        consent=True,
        locale="fr",
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


ORG_TYPES = ("cluster", "ministry", "region", "agency", "other")


def event_spec(slug: str, session_titles: tuple[str, ...]) -> Any:
    """The benchmarks' event: tomorrow at 08:00 UTC, at Bercy, with these sessions."""
    from datetime import timedelta

    from tracker.db import utcnow
    from tracker.events.services import EventSpec, SessionSpec

    starts = (utcnow() + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    return EventSpec(
        slug=slug,
        title="Journée des pôles de compétitivité",
        starts_at=starts,
        venue="Paris, Bercy",
        sessions=[SessionSpec(title=t) for t in session_titles],
    )


def organisations(db: Any, count: int) -> list[Any]:
    """`count` organisations "Organisation 000"... of every type in turn, flushed."""
    from tracker.models import Organisation
    from tracker.registration.identity import organisation_key

    width = len(str(max(count - 1, 0)))
    orgs = []
    for n in range(count):
        name = f"Organisation {n:0{width}d}"
        orgs.append(Organisation(name=name, name_key=organisation_key(name), type=ORG_TYPES[n % 5]))
    db.add_all(orgs)
    db.flush()
    return orgs
