"""Fixtures: one app per run, one rolled-back transaction per test, builders.

The database is TRACKER_TEST_DATABASE_URL (PostgreSQL in CI's second pass), or a
SQLite file in a temporary folder. Its schema is made by the Alembic migrations, so
every run also proves that they apply to an empty database.
"""

from __future__ import annotations

import csv
import email
import email.policy
import html
import io
import itertools
import json
import os
import re
import secrets
import socket
import threading
import time
import zipfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from flask import Flask
from icalendar import Calendar
from PIL import Image
from pypdf import PdfReader
from sqlalchemy import JSON as SqlJSON
from sqlalchemy import (
    Engine,
    LargeBinary,
    MetaData,
    String,
    Text,
    create_engine,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

import tracker.auth
from tracker import create_app
from tracker.auth.services import create_token, create_user
from tracker.cli import upgrade_database
from tracker.db import install_session_hooks, utcnow
from tracker.events.services import EventSpec, SessionSpec, create_event
from tracker.models import (
    AuditEntry,
    Event,
    OrganisationType,
    Registration,
    RegistrationStatus,
    Role,
    User,
)
from tracker.registration import capacity, importer
from tracker.registration.services import RegistrationData, register
from tracker.reports.exports import EXPORTS, Options


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


# --- shared by several test modules ----------------------------------------------


@pytest.fixture
def event(db: DbSession) -> Event:
    """An event with room (a module may define its own)."""
    return make_event(db)


def bearer(db, user, name="Door A"):
    token, _record = create_token(db, user, name)
    return {"Authorization": f"Bearer {token}"}


def checkins_url(event):
    return f"/api/v1/events/{event.slug}/checkins"


JSON = {"Accept": "application/json"}


def walk_in_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": "Dominique",
        "last_name": "Lefèvre",
        "organisation": "Région Pays de la Loire",
        "organisation_type": "region",
        "email": "",
        "door": "Hall A",
        "nonce": "",
    }
    data.update(overrides)
    return data


def walk_in_url(event) -> str:
    return f"/events/{event.slug}/door/walk-in"


@pytest.fixture
def account(app, db):
    def make(role=Role.DOOR, events=(), email=None):
        email = email or f"{role.value}.{time.monotonic_ns()}@example.org"
        with app.app_context():
            return create_user(db, email, PASSWORD, role, list(events))

    return make


def small_workbook(rows: int = 1) -> bytes:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(list(importer.COLUMNS))
    for n in range(rows):
        sheet.append(["Anne", "Roux", f"anne.{n}@example.org", "ADEME", "agency", None, None])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def rebuilt(workbook: bytes, parts: dict, level: int = 9) -> bytes:
    """The workbook with some parts replaced (or added) by what a generator of bytes
    yields."""
    source = zipfile.ZipFile(io.BytesIO(workbook))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as target:
        names = [info.filename for info in source.infolist()]
        for name in names + [n for n in parts if n not in names]:
            if name in parts:
                with target.open(name, "w") as stream:
                    for chunk in parts[name]():
                        stream.write(chunk)
            else:
                target.writestr(source.getinfo(name), source.read(name))
    return out.getvalue()


SHARED_STRINGS_TYPE = (
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
)


SHEET_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def with_shared_strings(workbook: bytes, items: Iterable[bytes], level: int = 9) -> bytes:
    """The workbook with a shared strings part holding `items` (<si> elements)."""
    types = zipfile.ZipFile(io.BytesIO(workbook)).read("[Content_Types].xml")
    override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SHARED_STRINGS_TYPE}"/>'
    types = types.replace(b"</Types>", override.encode() + b"</Types>")

    def strings():
        yield f'<?xml version="1.0"?><sst xmlns="{SHEET_NS}">'.encode()
        yield from items
        yield b"</sst>"

    return rebuilt(
        workbook,
        {"[Content_Types].xml": lambda: [types], "xl/sharedStrings.xml": strings},
        level=level,
    )


def saved(db: DbSession, event: Event, address: str) -> Registration | None:
    db.expire_all()
    return db.scalar(
        select(Registration).where(
            Registration.event_id == event.id, Registration.email_key == address.strip().casefold()
        )
    )


def qr_text_from_png(png: bytes) -> str:
    """What a QR reader gets from the image: a well-formed PNG holding one QR code."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.verify()  # structure and chunk checksums
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode and found.ec_level == "M"
    return found.text


def part_of_type(message: EmailMessage, content_type: str) -> EmailMessage:
    parts = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(parts) == 1, f"expected one {content_type} part, found {len(parts)}"
    return parts[0]  # type: ignore[return-value]


def check_registration_mail(message: EmailMessage, registration: Registration) -> None:
    """What every mail about a registration that is not cancelled carries: the private
    link, the calendar entry, and for a confirmed person only, the check-in code and its
    QR code (a waitlisted person gets them when a place is theirs)."""
    link = f"/r/{registration.manage_token}"
    assert message["To"] == registration.email
    confirmed = registration.status == RegistrationStatus.CONFIRMED

    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    text_body = text.get_content()
    assert link in text_body

    html = message.get_body(preferencelist=("html",))
    assert html is not None
    html_body = html.get_content()
    assert link in html_body

    images = [p for p in message.walk() if p.get_content_maintype() == "image"]
    if confirmed:
        assert registration.checkin_code in text_body
        (qr,) = images
        assert qr.get_content_disposition() == "inline"
        content_id = qr["Content-ID"]
        assert content_id.startswith("<") and content_id.endswith(">") and "@" in content_id
        assert f'src="cid:{content_id[1:-1]}"' in html_body
        png = qr.get_content()
        assert png == registration.qr_png
        assert qr_text_from_png(png) == registration.checkin_code
    else:
        assert images == []
        assert "cid:" not in html_body
        assert registration.checkin_code not in text_body + html_body
        assert "You will get your entrance code when a place is yours." in text_body

    ics = part_of_type(message, "text/calendar")
    assert ics.get_content_disposition() == "attachment"
    assert (ics.get_filename() or "").endswith(".ics")
    calendar = Calendar.from_ical(ics.get_content())
    assert str(calendar["method"]) == "PUBLISH"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["status"]) == ("CONFIRMED" if confirmed else "TENTATIVE")
    assert vevent.decoded("dtstart") == registration.event.starts_at.replace(microsecond=0)
    assert vevent.decoded("dtend") == registration.event.ends_at.replace(microsecond=0)
    # The calendar is shared: the public event page, not the private link.
    assert str(vevent["url"]) == f"http://127.0.0.1:5000/events/{registration.event.slug}"
    unfolded = ics.get_content().replace("\r\n ", "")
    assert registration.manage_token not in unfolded
    assert registration.checkin_code not in unfolded


PASSWORD = "correct horse battery staple"


def make_user(app, db, role: Role = Role.ORGANISER, events=(), email: str | None = None) -> User:
    email = email or f"{role.value}.{time.monotonic_ns()}@example.org"
    with app.app_context():
        return create_user(db, email, PASSWORD, role, list(events))


def login(client, user: User) -> None:
    """A logged-in browser session, as the login page leaves it."""
    with client.session_transaction() as s:
        s["_user_id"] = str(user.id)
        s["_fresh"] = True
        s[getattr(tracker.auth, "LAST_SEEN_KEY", "_seen")] = int(time.time())
        s[tracker.auth.VERSION_KEY] = user.session_version


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def audit_entries(db, event, action: str) -> list[AuditEntry]:
    db.expire_all()
    return list(
        db.scalars(
            select(AuditEntry)
            .where(AuditEntry.event_id == event.id, AuditEntry.action == action)
            .order_by(AuditEntry.id)
        )
    )


def event_form(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "title": "Atelier international",
        "description": "Une journée d’échanges.\nDeuxième ligne.",
        "venue": "Bercy",
        "organiser": "DGE",
        "timezone": "Europe/Paris",
        "starts_at": "2030-12-10T09:00",
        "ends_at": "2030-12-10T17:30",
        "registration_opens_at": "2030-10-01T08:00",
        "registration_closes_at": "2030-12-09T18:00",
        "edit_deadline": "2030-12-08T12:00",
        "capacity": "130",
        "quota_cluster": "60",
        "quota_ministry": "",
        "quota_region": "",
        "quota_agency": "",
        "quota_other": "",
    }
    data.update(overrides)
    return data


@pytest.fixture
def organiser(app, db, event):
    return make_user(app, db, Role.ORGANISER, [event])


@pytest.fixture
def as_organiser(client, organiser):
    login(client, organiser)
    return client


# 10 December 2030 in Paris (UTC+1): the programme of the Bercy workshop, whose two
# round tables run in parallel (the event rules' tests).
WORKSHOP_DAY = datetime(2030, 12, 10, tzinfo=UTC)


def paris(hour: int, minute: int = 0, day: datetime = WORKSHOP_DAY) -> datetime:
    return day + timedelta(hours=hour - 1, minutes=minute)


def workshop(db, **overrides):
    spec = {
        "starts_at": paris(9),
        "ends_at": paris(17),
        "registration_closes_at": paris(9),
        "sessions": [
            SessionSpec("Plénière", "plenary", "Amphithéâtre", paris(9, 30), paris(10, 45)),
            SessionSpec("Table ronde 1", "round table", "Salle 1", paris(11), paris(12, 30), 80),
            SessionSpec("Table ronde 2", "round table", "Salle 2", paris(11), paris(12, 30), 80),
            SessionSpec(
                "Focus intelligence économique", "focus", "Salle 3", paris(12, 30), paris(13, 30)
            ),
            SessionSpec("Atelier libre"),  # no times: overlaps nothing
        ],
    }
    spec.update(overrides)
    return make_event(db, **spec)


def ids(event, *titles: str) -> list[int]:
    return [s.id for s in event.sessions if s.title in titles]


def registration_count(db, event) -> int:
    db.expire_all()
    return db.scalar(select(func.count(Registration.id)).where(Registration.event_id == event.id))


@pytest.fixture
def compiled_catalogues() -> None:
    """The pages are only French if the catalogues are compiled (`make test` does it
    through `make install`); say so plainly instead of failing on a label."""
    root = Path(__file__).resolve().parent.parent
    for po in (root / "tracker" / "translations").glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            pytest.fail(f"{mo.relative_to(root)} is missing or stale: run `make translations`")


@pytest.fixture
def organiser_of(app, client, db):
    """organiser_of(event) -> the client, logged in as a new organiser of `event`."""

    def log_in(event):
        login(client, make_user(app, db, Role.ORGANISER, [event]))
        return client

    return log_in


def row_count(db, model, *where):
    db.expire_all()
    return db.scalar(select(func.count()).select_from(model).where(*where))


def render_export(db, event, what, fmt, **options):
    return EXPORTS[what].render(db, event, Options(format=fmt, **options))


def csv_tables(body: bytes, separator: str = ",") -> dict[str, list[list[str]]]:
    """Title -> rows (header first) of a CSV of several tables."""
    rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline=""), delimiter=separator))
    tables, current = {}, None
    for row in rows:
        if not row:
            current = None
        elif current is None:
            current = tables.setdefault(row[0], [])
        else:
            current.append(row)
    return tables


def csv_rows(body: bytes) -> list[dict[str, str]]:
    """The rows of a one-table CSV, by header."""
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


class Tables(HTMLParser):
    """Every <table id=...> of a page as rows of cell texts; and every <img src>."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.images: list[dict[str, str]] = []
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = attrs["id"]
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table:
            self._cell = []
        elif tag == "img":
            self.images.append(attrs)

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._table and self._cell is not None:
            self.tables[self._table][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


@dataclass
class Collector:
    """aiosmtpd handler keeping every message it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(**smtp_options: Any) -> Iterator[tuple[int, Collector]]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def use_smtp(monkeypatch: pytest.MonkeyPatch, app: Flask, port: int, **settings: Any) -> None:
    """Point the app at 127.0.0.1:port, whatever the environment configured."""
    values = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_TIMEOUT": 5.0,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        **settings,
    }
    for key, value in values.items():
        monkeypatch.setitem(app.config, key, value)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


class Browser:
    """A browser session over plain HTTP: the session cookie is Secure in production,
    which an HTTP client library would not send back, so it is kept here."""

    def __init__(self, base: str) -> None:
        self.http = httpx.Client(
            base_url=base, timeout=600, headers={"Accept-Language": "en"}, follow_redirects=False
        )
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        cookie = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, url, headers={"Cookie": cookie}, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name.strip()] = value
        return response

    def csrf(self, url: str) -> str:
        page = self.request("GET", url)
        assert page.status_code == 200, page.text[:500]
        return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)


@pytest.fixture
def own_database(tmp_path) -> Iterator[str]:
    """A database for the server alone (it commits): a SQLite file, or on PostgreSQL a
    scratch database beside the suite's."""
    url = os.environ.get("TRACKER_TEST_DATABASE_URL")
    if not url or make_url(url).get_backend_name() != "postgresql":
        yield f"sqlite:///{tmp_path / 'tracker.sqlite3'}"
        return
    with scratch_postgresql(url, "gunicorn") as scratch:
        yield scratch


def pdf_text(pdf: bytes) -> str:
    """The document's words, single-spaced and with line breaks after hyphens joined
    (wrapping is not this helper's business)."""
    return " ".join(" ".join(pdf_lines(pdf)).split()).replace("- ", "-")


def pdf_lines(pdf: bytes) -> list[str]:
    return [
        line.strip()
        for page in PdfReader(io.BytesIO(pdf)).pages
        for line in page.extract_text().splitlines()
        if line.strip()
    ]


def texts_in_database(connection) -> list[str]:
    """Every value of every text, JSON and binary column of every table, found by
    reflection (a binary value read as text, and as an e-mail with its parts decoded)."""
    meta = MetaData()
    meta.reflect(bind=connection)
    found = []
    for table in meta.sorted_tables:
        columns = [
            c
            for c in table.columns
            if isinstance(c.type, String | Text | SqlJSON | LargeBinary) or "JSON" in str(c.type)
        ]
        if not columns:
            continue
        for row in connection.execute(select(*columns)):
            for value in row:
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    found += readable(bytes(value))
                elif isinstance(value, str):
                    found.append(value)
                else:
                    found.append(json.dumps(value, ensure_ascii=False))
    return found


def leaks(texts, secrets_) -> list[str]:
    return sorted({s for s in secrets_ for t in texts if s.casefold() in t.casefold()})


def over(db, event, days=91):
    """The event took place `days` ago."""
    event.starts_at = utcnow() - timedelta(days=days, hours=8)
    event.ends_at = utcnow() - timedelta(days=days)
    db.flush()


def readable(data: bytes) -> list[str]:
    """Bytes as text, and as an e-mail: its headers and decoded text parts."""
    texts = [data.decode("utf-8", "replace")]
    message = email.message_from_bytes(data, policy=email.policy.default)
    texts += [str(v) for v in message.values()]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            texts.append(part.get_content())
    return texts


# --- concurrency: real connections racing (a SQLite file or PostgreSQL) ------------------


@pytest.fixture
def committed_event(app):
    """Build an event in its own committed transaction (make_event's overrides), removed
    afterwards: returns its id and its sessions' ids."""
    factory = app.extensions["db"].sessionmaker
    created = []

    def build(**overrides):
        with factory.begin() as db:
            event = make_event(db, **overrides)
            created.append(event.id)
            return event.id, [s.id for s in event.sessions]

    yield build
    with factory.begin() as db:
        db.execute(delete(Event).where(Event.id.in_(created)))


def race(app: Flask, n_requests: int, n_threads: int, job: Callable[[int], Any]) -> list[Any]:
    """job(0) ... job(n_requests - 1) on n_threads threads that start together, each job
    in a request context of its own; their results."""
    barrier = threading.Barrier(n_threads)

    def worker(indices: range) -> list[Any]:
        barrier.wait()
        results = []
        for i in indices:
            with app.test_request_context("/"):
                results.append(job(i))
        return results

    chunks = [range(t, n_requests, n_threads) for t in range(n_threads)]
    with ThreadPoolExecutor(n_threads) as pool:
        return [r for chunk in pool.map(worker, chunks) for r in chunk]


def assert_counters_exact(factory: sessionmaker, event_id: int) -> None:
    """The place counters moved by the concurrent transactions equal a fresh count."""
    with factory() as db:
        event = db.get(Event, event_id)
        assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)
