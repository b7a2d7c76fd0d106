"""Fixtures: one app per run, one rolled-back transaction per test, builders.

The database is TRACKER_TEST_DATABASE_URL (PostgreSQL in CI's second pass), or a
SQLite file in a temporary folder. Its schema is made by the Alembic migrations, so
every run also proves that they apply to an empty database.
"""

from __future__ import annotations

import email
import email.policy
import itertools
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Engine, MetaData, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from tracker import create_app
from tracker.cli import upgrade_database
from tracker.db import install_session_hooks, utcnow
from tracker.events.services import EventSpec, SessionSpec, create_event
from tracker.models import Event, OrganisationType, Registration, RegistrationStatus
from tracker.registration.services import RegistrationData, register


def wipe(engine: Engine) -> None:
    """Drop every table (ours and Alembic's) so the run starts from an empty database."""
    meta = MetaData()
    meta.reflect(bind=engine)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            for table in meta.sorted_tables:
                conn.execute(text(f'DROP TABLE IF EXISTS "{table.name}" CASCADE'))
        else:
            meta.drop_all(conn)


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """SQLite: a file of this run. PostgreSQL: a scratch database of this run, made
    beside the one TRACKER_TEST_DATABASE_URL names (and dropped afterwards), so that
    two runs at once on one server never wipe each other's tables."""
    url = os.environ.get("TRACKER_TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield url
        return
    with scratch_postgresql(url, "run") as scratch:
        yield scratch


@contextmanager
def scratch_postgresql(url: str, label: str) -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database beside the one `url` names, dropped
    on leaving: for a run, a migration test or a server that needs its own."""
    parsed = make_url(url)
    scratch = f"{parsed.database}_{label}_{secrets.token_hex(4)}"
    admin = create_engine(parsed, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{scratch}"'))
    try:
        yield parsed.set(database=scratch).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    app = create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": database_url,
            "MAIL_OUTBOX": str(tmp_path_factory.mktemp("outbox")),
            "SERVER_NAME": None,
        }
    )
    engine = app.extensions["db"].engine
    wipe(engine)
    upgrade_database(engine)
    return app


@pytest.fixture(autouse=True)
def _jobs_queue() -> Iterator[None]:
    """The queue of background jobs is one per process (tracker.jobs): a test that
    makes an app of its own, or points the queue elsewhere, leaves it as it found it."""
    from tracker import jobs, mail

    kept = (jobs.huey.storage, jobs.huey.immediate, jobs._app)
    yield
    mail._unreachable_until = None
    storage, immediate, jobs._app = kept
    jobs.huey.immediate = immediate
    jobs.huey.storage = storage


@pytest.fixture
def queued(app: Flask) -> Iterator[None]:
    """Jobs (e-mails...) wait in the queue until the test runs them with
    tracker.jobs.run_pending(), instead of running once their transaction commits."""
    from tracker import jobs

    jobs.configure("memory://", app.instance_path)
    yield


@pytest.fixture
def redis_url() -> str:
    """A Redis database for the rate limits' tests (each test uses a key prefix of its
    own and deletes its keys), or the test is skipped when none answers."""
    url = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
    pytest.importorskip("redis")
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip(f"no Redis server at {url}")
    return url


@pytest.fixture
def engine(app: Flask) -> Engine:
    return app.extensions["db"].engine


@pytest.fixture
def db(app: Flask) -> Iterator[DbSession]:
    """A session inside a transaction that is rolled back after the test; the app's
    requests during the test use the same connection (their commits are savepoints)."""
    database = app.extensions["db"]
    connection = database.engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    install_session_hooks(factory)
    original, database.sessionmaker = database.sessionmaker, factory
    session = factory()
    try:
        yield session
    finally:
        session.close()
        database.sessionmaker = original
        transaction.rollback()
        connection.close()


@pytest.fixture
def client(app: Flask, db: DbSession):  # type: ignore[no-untyped-def]
    with app.test_client() as c:
        c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
        yield c


class Outbox:
    """The e-mails written by the app during one test."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @property
    def messages(self) -> list[EmailMessage]:
        return [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)  # type: ignore[misc]
            for p in sorted(self.path.glob("*.eml"))
        ]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]

    def clear(self) -> None:
        """Forget what was sent so far (the confirmations of a test's set-up)."""
        for path in self.path.glob("*.eml"):
            path.unlink()


@pytest.fixture
def outbox(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Outbox:
    folder = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(folder))
    return Outbox(folder)


@pytest.fixture
def app_ctx(app: Flask) -> Iterator[None]:
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        yield


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> Iterable[str]:
    """Every URL the PDF helper's fetchers were asked for during the test: in this
    process and, as reported back to it, in the rendering processes."""
    from tracker.pdf import SafeFetcher

    fetchers: list[SafeFetcher] = []
    original = SafeFetcher.__init__

    def init(self: SafeFetcher) -> None:
        original(self)
        fetchers.append(self)

    monkeypatch.setattr(SafeFetcher, "__init__", init)

    class Asked:
        def __iter__(self) -> Iterator[str]:
            return (url for fetcher in fetchers for url in fetcher.asked)

        def __eq__(self, other: object) -> bool:
            return list(self) == other

        def __repr__(self) -> str:
            return repr(list(self))

    return Asked()


# --- builders -----------------------------------------------------------------

_counter = itertools.count(1)


def make_event(db: DbSession, **overrides: object) -> Event:
    n = next(_counter)
    now = utcnow()
    spec = EventSpec(
        slug=f"event-{n}",
        title=f"Workshop {n}",
        starts_at=now + timedelta(days=30),
        venue="Centre Pierre Mendès France, Bercy, Paris",
        sessions=[
            SessionSpec("Plénière", "plenary"),
            SessionSpec("Table ronde 1", "round table"),
            SessionSpec("Table ronde 2", "round table"),
        ],
        registration_opens_at=now - timedelta(days=1),
    )
    for key, value in overrides.items():
        setattr(spec, key, value)
    return create_event(db, spec)


def registration_data(**overrides: object) -> RegistrationData:
    n = next(_counter)
    data = RegistrationData(
        first_name="Camille",
        last_name=f"Martin {n}",
        email=f"camille.martin.{n}@vegepolys.example",
        organisation="Vegepolys",
        organisation_type=OrganisationType.CLUSTER,
        job_title="Chargée de mission international",
        consent=True,
        locale="en",
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


def make_registration(
    db: DbSession,
    event: Event,
    *,
    now: datetime | None = None,
    send_email: bool = False,
    **overrides: object,
) -> Registration:
    """A registration made by the service; its confirmation e-mail only if asked (the
    suite's people are set-up, and writing their e-mails would only slow it down)."""
    return register(db, event, registration_data(**overrides), now=now, send_email=send_email)


def form_data(event: Event | None = None, **overrides: object) -> dict[str, object]:
    """What a person sends through the registration form."""
    n = next(_counter)
    data: dict[str, object] = {
        "first_name": "Camille",
        "last_name": f"Martin {n}",
        "email": f"camille.{n}@vegepolys.example",
        "organisation": "Vegepolys",
        "organisation_type": "cluster",
        "job_title": "",
        "consent": "y",
    }
    if event is not None and event.sessions:
        data["sessions"] = [str(event.sessions[0].id)]
    data.update(overrides)
    return data


# --- an event with known attendance figures ------------------------------------------------

DAY = datetime(2026, 12, 10, tzinfo=UTC)  # the event's day; Paris is UTC+1 in December


def at(hour: int, minute: int) -> datetime:
    """A time on the event's day, Paris time."""
    return DAY + timedelta(hours=hour - 1, minutes=minute)


def attendance_event(db: DbSession) -> Event:
    """Eight people whose figures are known (tests/test_reports_services.py spells them out):

    cluster   A plenary+RT1, at the door 09:02 (door A) and in RT1; B plenary, 09:14 (door B);
              C RT1, never came; D RT1, cancelled
    ministry  E plenary, checked in then undone; F plenary, waitlisted
    region    G walk-in at 09:25 (door A)
    agency    H checked in to RT2 only (not registered for it), never at the entrance
    """
    from tracker.checkin.services import check_in, undo_check_in
    from tracker.door.services import WalkInData, register_walk_in
    from tracker.registration.services import cancel_registration

    event = make_event(db, slug="attendance", title="Atelier interministériel")
    plenary, rt1, rt2 = (s.id for s in event.sessions)

    def person(name: str, kind: OrganisationType, organisation: str, sessions: list[int]):
        return make_registration(
            db,
            event,
            first_name=name,
            last_name=f"Person {name}",
            email=f"{name.lower()}@example.org",
            organisation=organisation,
            organisation_type=kind,
            session_ids=sessions,
        )

    cluster, ministry = OrganisationType.CLUSTER, OrganisationType.MINISTRY
    a = person("A", cluster, "Vegepolys", [plenary, rt1])
    b = person("B", cluster, "Aerospace Valley", [plenary])
    person("C", cluster, "Vegepolys", [rt1])
    d = person("D", cluster, "Minalogic", [rt1])
    e = person("E", ministry, "DGE", [plenary])
    f = person("F", ministry, "DGE", [plenary])
    h = person("H", OrganisationType.AGENCY, "Bpifrance", [])
    cancel_registration(db, d)
    f.status = RegistrationStatus.WAITLISTED
    db.flush()

    check_in(db, event, actor=None, door="A", code=a.checkin_code, now=at(9, 2))
    check_in(db, event, actor=None, door="A", code=a.checkin_code, session_id=rt1, now=at(10, 1))
    check_in(db, event, actor=None, door="B", code=b.checkin_code, now=at(9, 14))
    check_in(db, event, actor=None, door="B", code=e.checkin_code, now=at(9, 15))
    undo_check_in(db, event, actor=None, door="B", code=e.checkin_code, now=at(9, 16))
    check_in(db, event, actor=None, door="B", code=h.checkin_code, session_id=rt2, now=at(11, 0))
    register_walk_in(
        db,
        event,
        WalkInData("G", "Person G", "Région Pays de la Loire", OrganisationType.REGION),
        actor=None,
        door="A",
        now=at(9, 25),
    )
    check_in(db, event, actor=None, door="A", code="NOSUCHCODE", now=at(9, 30))  # refused
    # Under way whatever the day the tests run, so that C is a no-show, not someone who
    # has not arrived yet (tracker.reports.services.has_started).
    event.starts_at, event.ends_at = utcnow() - timedelta(hours=1), utcnow() + timedelta(hours=7)
    db.flush()
    return event
