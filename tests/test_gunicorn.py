"""The production command: gunicorn with the repository's gunicorn.conf.py. Its worker
timeout stays above the app's own limits, and the documented maximums work through it."""

from __future__ import annotations

import os
import re
import runpy
import threading
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from gunicorn.config import Config as GunicornConfig
from sqlalchemy import func, select

from tests.conftest import Browser, small_workbook, with_shared_strings
from tests.servers import gunicorn, workers
from tracker import create_app
from tracker.auth.services import create_user
from tracker.cli import upgrade_database
from tracker.db import utcnow
from tracker.events.services import EventSpec, create_event
from tracker.models import Registration, Role
from tracker.registration import importer

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "gunicorn.conf.py"
PASSWORD = "a long enough password for tests"  # noqa: S105 - tests only


def load_conf(monkeypatch, **env: str) -> dict:
    for name in list(os.environ):
        if name.startswith("TRACKER_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # The file sets the metrics' folder in the environment: put back as it was after.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    conf = runpy.run_path(str(CONF))
    conf["on_exit"](None)  # removes the folder it made
    return conf


@pytest.mark.parametrize(
    "env",
    [
        {},
        {"TRACKER_PDF_TIMEOUT": "600"},
        {"TRACKER_IMPORT_TIMEOUT": "900.5", "TRACKER_PDF_TIMEOUT": "5"},
        {"TRACKER_PDF_TIMEOUT": "0.5", "TRACKER_IMPORT_TIMEOUT": "0.5"},
    ],
)
def test_the_worker_timeout_is_above_the_apps_limits(monkeypatch, env):
    conf = load_conf(monkeypatch, **env)
    pdf = float(env.get("TRACKER_PDF_TIMEOUT", "120"))
    reading = float(env.get("TRACKER_IMPORT_TIMEOUT", "30"))
    assert conf["timeout"] > max(pdf, reading) + 60  # room for the rest of the request
    assert conf["graceful_timeout"] >= conf["timeout"]
    # Every name is one of gunicorn's settings, with a value it accepts.
    settings = GunicornConfig()
    for name, value in conf.items():
        if name.startswith("_") or not name.islower() or callable(value):
            continue
        if isinstance(value, type(os)):
            continue
        assert name in settings.settings, name
        settings.set(name, value)
    assert settings.timeout == conf["timeout"]
    assert settings.forwarded_allow_ips == []  # the app decides (TRACKER_PROXY_COUNT)


def test_bind_and_workers_come_from_the_environment(monkeypatch):
    conf = load_conf(monkeypatch)
    assert conf["bind"] == ["127.0.0.1:8000"] and conf["workers"] == 2
    conf = load_conf(monkeypatch, TRACKER_BIND="0.0.0.0:8080", TRACKER_WORKERS="4")
    assert conf["bind"] == ["0.0.0.0:8080"] and conf["workers"] == 4


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRACKER_WORKERS", "two"),
        ("TRACKER_WORKERS", "0"),
        ("TRACKER_IMPORT_TIMEOUT", "soon"),
        ("TRACKER_PDF_TIMEOUT", "-1"),
        ("TRACKER_IMPORT_MEMORY_LIMIT", "1.5"),
    ],
)
def test_a_bad_setting_stops_gunicorn_with_its_name(monkeypatch, name, value):
    with pytest.raises(RuntimeError, match=name):
        load_conf(monkeypatch, **{name: value})


@pytest.mark.parametrize(
    ("name", "value"),
    [("IMPORT_TIMEOUT", "nan"), ("IMPORT_MAX_UNZIPPED_MB", "0"), ("PDF_MEMORY_LIMIT", "x")],
)
def test_a_bad_limit_stops_the_app_with_its_name(database_url, name, value):
    with pytest.raises(RuntimeError, match=f"TRACKER_{name}"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, name: value})


# --- the real server ---------------------------------------------------------------


def peak_rss_mib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) // 1024


@pytest.fixture
def server(tmp_path, own_database):
    """gunicorn started as the README says, on a database of its own with an event of
    10,000 places and its organiser."""
    database = own_database
    setup = create_app(
        {"ENV_NAME": "testing", "DATABASE_URL": database, "MAIL_OUTBOX": str(tmp_path)}
    )
    upgrade_database(setup.extensions["db"].engine)
    with setup.app_context(), setup.extensions["db"].sessionmaker.begin() as db:
        starts = utcnow() + timedelta(days=30)
        event = create_event(
            db,
            EventSpec(
                slug="big-day",
                title="Big day",
                starts_at=starts,
                capacity=20_000,
                registration_opens_at=utcnow() - timedelta(days=1),
            ),
        )
        create_user(db, "orga@example.org", PASSWORD, Role.ORGANISER, [event])
    setup.extensions["db"].engine.dispose()
    with gunicorn(tmp_path, database) as running:
        yield running.process, running.base, running.log, database


def logged_in(base: str) -> Browser:
    browser = Browser(base)
    token = browser.csrf("/login")
    response = browser.request(
        "POST",
        "/login",
        data={"email": "orga@example.org", "password": PASSWORD, "csrf_token": token},
    )
    assert response.status_code == 303, response.text[:500]
    return browser


def upload(browser: Browser, content: bytes, name: str) -> httpx.Response:
    token = browser.csrf("/events/big-day/import")
    return browser.request(
        "POST",
        "/events/big-day/import",
        data={"csrf_token": token},
        files={"file": (name, content, "application/octet-stream")},
    )


@pytest.mark.slow
def test_a_list_of_the_documented_maximum_is_imported_through_gunicorn(server):
    """10,000 rows: the preview then the import, each a request of about 45 s of CPU here
    (more than gunicorn's default 30 s worker timeout), each answered with its page."""
    process, base, log, database = server
    browser = logged_in(base)
    header = ",".join(importer.COLUMNS)
    rows = [
        f"Camille,Martin {n},camille.{n}@vegepolys.example,Végépolys {n % 300},cluster,,"
        for n in range(importer.MAX_ROWS)
    ]
    content = ("\n".join([header, *rows]) + "\n").encode()
    assert len(content) < 2 * 1024 * 1024

    preview = upload(browser, content, "invites.csv")
    assert preview.status_code == 200, preview.text[:500]
    assert 'data-count="imported">10000' in preview.text
    token = re.search(r'name="token" value="([^"]+)"', preview.text).group(1)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', preview.text).group(1)
    done = browser.request(
        "POST", "/events/big-day/import/confirm", data={"token": token, "csrf_token": csrf}
    )
    assert done.status_code == 200, done.text[:500]
    assert "Import done" in done.text and 'data-count="imported">10000' in done.text
    assert "WORKER TIMEOUT" not in log.read_text()

    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": database})
    with app.app_context(), app.extensions["db"].sessionmaker() as db:
        assert db.scalar(select(func.count(Registration.id))) == importer.MAX_ROWS
    app.extensions["db"].engine.dispose()


def test_hostile_lists_neither_stop_nor_swell_the_workers(server):
    """Two spreadsheet bombs at once: both refused with their message, by workers that
    neither die nor grow, while the app keeps answering."""
    process, base, log, _database = server
    bomb = with_shared_strings(small_workbook(), [b"<si><t>x</t></si>" * 5_000_000])
    before = {pid: peak_rss_mib(pid) for pid in workers(process.pid)}
    answers: list[httpx.Response] = []

    def send() -> None:
        answers.append(upload(logged_in(base), bomb, "invites.xlsx"))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [a.status_code for a in answers] == [422, 422]
    assert all("This workbook holds more than 50 MB once unpacked" in a.text for a in answers)
    assert httpx.get(f"{base}/login", timeout=10).status_code == 200
    assert workers(process.pid) == sorted(before)  # none killed and replaced
    for pid, peak in before.items():
        assert peak_rss_mib(pid) - peak < 30
    assert "WORKER TIMEOUT" not in log.read_text()


def test_the_request_limits_said_in_the_file_hold(server):
    _process, base, _log, _database = server
    assert httpx.get(f"{base}/login", timeout=10).status_code == 200
    assert httpx.get(f"{base}/{'x' * 5000}", timeout=10).status_code == 414
    many = {f"X-Header-{n}": "1" for n in range(101)}
    assert httpx.get(f"{base}/login", headers=many, timeout=10).status_code == 431
    long = {"X-Long": "x" * 9000}
    assert httpx.get(f"{base}/login", headers=long, timeout=10).status_code == 431
