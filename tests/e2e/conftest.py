"""Fixtures for the real-browser tests: Debian's chromium, the app served over HTTP.

The server is a second app object on the same test database as the session's `app`
(whose fixture has already migrated it), with CSRF protection on as in production.
Browser tests cannot use the rolled-back `db` fixture: the server commits for real,
so the event they use is created here, committed, and deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select
from werkzeug.serving import make_server

from tracker import create_app
from tracker.db import utcnow
from tracker.events.services import EventSpec, SessionSpec, create_event
from tracker.models import Event, Organisation, OrganisationType
from tracker.registration.organisations import find_or_create_organisation

CHROMIUM = Path("/usr/bin/chromium")
TIMEOUT_MS = 20_000
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]


def _browser_required() -> bool:
    return os.environ.get("TRACKER_REQUIRE_BROWSER") == "1"


def _unavailable(reason: str) -> None:
    """Skip, or fail where a browser is required (CI sets TRACKER_REQUIRE_BROWSER=1)."""
    if _browser_required():
        pytest.fail(f"{reason} (TRACKER_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _unavailable("playwright is not installed: pip install -e '.[test]'")
    # Generous waits: a loaded 2-core machine can take seconds to paint a page; a passing
    # test never waits this long.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class LiveServer:
    app: Flask
    url: str
    outbox: Path

    def __call__(self, path: str) -> str:
        return self.url + path


@pytest.fixture(scope="module")
def live_server(
    app: Flask, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """The app served on 127.0.0.1 (a port the system picks) from a background thread.
    Making it points the process's one job queue at it (tracker.jobs.init_app): the
    queue is given back to the tests' app when the module is done, or jobs queued by
    later tests would run in this app, on its engine, once disposed."""
    from tracker import jobs

    kept = (jobs.huey.storage, jobs.huey.immediate, jobs._app)
    outbox = tmp_path_factory.mktemp("e2e-outbox")
    server_app = create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": database_url,
            "WTF_CSRF_ENABLED": True,
            "MAIL_OUTBOX": str(outbox),
        }
    )
    server = make_server("127.0.0.1", 0, server_app, threaded=True)
    # The links of the e-mails lead back to this server, as TRACKER_BASE_URL would.
    server_app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, name="e2e-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(server_app, f"http://127.0.0.1:{server.server_port}", outbox)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        server_app.extensions["db"].engine.dispose()
        jobs.huey.storage, jobs.huey.immediate, jobs._app = kept


@dataclass
class LiveEvent:
    id: int
    slug: str
    title: str
    session_titles: list[str]


@pytest.fixture(scope="module")
def live_event(live_server: LiveServer) -> Iterator[LiveEvent]:
    """A committed event open for registration, and a known organisation ("Vegepolys").
    Both are removed afterwards, with whatever registrations and organisations the
    browser created, so the database is left as found."""
    database = live_server.app.extensions["db"]
    now = utcnow()
    spec = EventSpec(
        slug=f"e2e-{secrets.token_hex(6)}",
        title="Atelier international des pôles de compétitivité",
        starts_at=now + timedelta(days=30),
        venue="Centre Pierre Mendès France, Bercy, Paris",
        organiser="Direction générale des entreprises",
        sessions=[
            SessionSpec("Plénière", "plenary"),
            SessionSpec("Table ronde 1 : l'international", "round table"),
            SessionSpec("Table ronde 2 : le financement", "round table"),
        ],
        registration_opens_at=now - timedelta(days=1),
    )
    with database.sessionmaker.begin() as dbs:
        organisations_before = set(dbs.scalars(select(Organisation.id)))
        # Known as an organiser entered it: suggested on the form.
        find_or_create_organisation(dbs, "Vegepolys", OrganisationType.CLUSTER, listed=True)
        event = create_event(dbs, spec)
        live = LiveEvent(event.id, event.slug, event.title, [s.title for s in event.sessions])
    try:
        yield live
    finally:
        with database.sessionmaker.begin() as dbs:
            # Sessions, registrations and their session choices go by ON DELETE CASCADE.
            dbs.execute(delete(Event).where(Event.id == live.id))
            dbs.execute(delete(Organisation).where(Organisation.id.not_in(organisations_before)))


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) whose language is English."""
    context = browser.new_context(locale="en-GB", viewport={"width": 1000, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture(scope="session")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where pages are photographed (TRACKER_E2E_SCREENSHOTS, else a temporary folder)."""
    folder = os.environ.get("TRACKER_E2E_SCREENSHOTS")
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        return path
    return tmp_path_factory.mktemp("screenshots")
