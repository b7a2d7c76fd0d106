"""Two app instances (two gunicorns on two ports, as on two hosts behind a load
balancer) sharing one PostgreSQL database and one Redis: what one does, the other knows.

Needs PostgreSQL (TRACKER_TEST_DATABASE_URL) and Redis (TRACKER_TEST_REDIS_URL, default
redis://127.0.0.1:6379/3): skipped without them, unless TRACKER_REQUIRE_TWO_HOSTS=1 (as
in CI's PostgreSQL pass), which makes their absence a failure.
"""

from __future__ import annotations

import os
import secrets
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import timedelta
from email import message_from_bytes

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.conftest import Browser, form_data, scratch_postgresql
from tests.servers import free_port, gunicorn, server_environ, worker
from tracker import create_app
from tracker.auth.services import create_user
from tracker.cli import upgrade_database
from tracker.db import utcnow
from tracker.events.services import EventSpec, create_event
from tracker.models import Registration, Role

pytestmark = [pytest.mark.concurrency, pytest.mark.slow]
PASSWORD = "a long enough password for tests"  # noqa: S105 - tests only
WRONG = "not the password at all"  # noqa: S105


def _unavailable(reason: str) -> None:
    if os.environ.get("TRACKER_REQUIRE_TWO_HOSTS") == "1":
        pytest.fail(f"{reason} (TRACKER_REQUIRE_TWO_HOSTS=1)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def shared() -> tuple[str, str]:
    """The PostgreSQL server and the Redis both instances use."""
    url = os.environ.get("TRACKER_TEST_DATABASE_URL", "")
    if not url or make_url(url).get_backend_name() != "postgresql":
        _unavailable("two hosts share a PostgreSQL database: set TRACKER_TEST_DATABASE_URL")
    redis_url = os.environ.get("TRACKER_TEST_REDIS_URL", "redis://127.0.0.1:6379/3")
    try:
        import redis

        redis.Redis.from_url(redis_url, socket_connect_timeout=1).ping()
    except Exception as e:  # noqa: BLE001 - not installed, or no server
        _unavailable(f"no Redis at {redis_url} ({type(e).__name__})")
    return url, redis_url


@pytest.fixture
def two_hosts(tmp_path, shared):
    url, redis_url = shared
    with ExitStack() as stack:
        database = stack.enter_context(scratch_postgresql(url, "two_hosts"))
        setup = create_app({"ENV_NAME": "testing", "DATABASE_URL": database})
        upgrade_database(setup.extensions["db"].engine)
        organiser = f"orga.{secrets.token_hex(4)}@example.org"
        with setup.app_context(), setup.extensions["db"].sessionmaker.begin() as db:
            event = create_event(
                db,
                EventSpec(
                    slug="two-hosts",
                    title="Two hosts",
                    starts_at=utcnow() + timedelta(days=30),
                    capacity=20,
                    registration_opens_at=utcnow() - timedelta(days=1),
                ),
            )
            create_user(db, organiser, PASSWORD, Role.ORGANISER, [event])
        setup.extensions["db"].engine.dispose()

        first, second = free_port(), None
        second = free_port({first})
        common = {
            # One key and one public address for both, as behind one load balancer.
            "TRACKER_SECRET_KEY": secrets.token_hex(32),
            "TRACKER_BASE_URL": f"http://127.0.0.1:{first}",
            "TRACKER_RATELIMIT_STORAGE_URL": redis_url,
            "TRACKER_REGISTER_LIMIT_PER_ADDRESS": "10000 per minute",
            "TRACKER_WORKERS": "2",
            "TRACKER_QUEUE_URL": redis_url,
        }
        hosts = []
        for n, port in enumerate([first, second]):
            folder = tmp_path / f"host{n}"
            hosts.append(stack.enter_context(gunicorn(folder, database, port=port, **common)))
            # Each host runs its worker, on the one queue in Redis.
            stack.enter_context(worker(folder, server_environ(folder, database, port, **common)))
        yield hosts, database, organiser, tmp_path


def log_in(browser: Browser, email: str, password: str) -> int:
    token = browser.csrf("/login")
    response = browser.request(
        "POST", "/login", data={"email": email, "password": password, "csrf_token": token}
    )
    return response.status_code


def test_two_hosts_share_logins_limits_and_places(two_hosts):
    hosts, database, organiser, folder = two_hosts
    a, b = hosts

    # A login on one is valid on the other.
    browser = Browser(a.base)
    assert log_in(browser, organiser, PASSWORD) == 303
    browser.http.base_url = b.base
    assert browser.request("GET", "/manage").status_code == 200
    browser.request("POST", "/logout", data={"csrf_token": browser.csrf("/manage")})
    assert browser.request("GET", "/manage").status_code in (302, 401)  # logged out on both
    browser.http.base_url = a.base
    assert browser.request("GET", "/manage").status_code in (302, 401)

    # The failed-login limit (5 per account and address) is counted once for both.
    attempts = [Browser(host.base) for host in (a, b, a, b, a)]
    assert [log_in(attempt, organiser, WRONG) for attempt in attempts] == [401] * 5
    assert log_in(Browser(b.base), organiser, PASSWORD) == 429
    assert log_in(Browser(a.base), organiser, PASSWORD) == 429

    # 200 registrations at once, spread over both, for 20 places: exactly 20 confirmed.
    def register(n: int) -> int:
        person = Browser(hosts[n % 2].base)
        token = person.csrf("/events/two-hosts/register")
        data = form_data(None, email=f"racer{n}@example.org", csrf_token=token)
        return person.request("POST", "/events/two-hosts/register", data=data).status_code

    with ThreadPoolExecutor(20) as pool:
        answers = Counter(pool.map(register, range(200)))
    assert answers == {303: 200}, answers

    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": database})
    with app.extensions["db"].sessionmaker() as db:
        statuses = dict(
            db.execute(
                select(Registration.status, func.count()).group_by(Registration.status)
            ).all()
        )
    app.extensions["db"].engine.dispose()
    assert statuses == {"confirmed": 20, "waitlisted": 180}

    # Each person gets one e-mail (exactly one), sent by whichever host's worker took it.
    deadline = time.monotonic() + 300
    while True:
        sent = [
            message_from_bytes(path.read_bytes())["To"]
            for path in folder.glob("host*/outbox/*.eml")
        ]
        if len(sent) >= 200 or time.monotonic() > deadline:
            break
        time.sleep(1)
    time.sleep(3)  # any second sending of one would show now
    sent = [
        message_from_bytes(path.read_bytes())["To"] for path in folder.glob("host*/outbox/*.eml")
    ]
    assert Counter(sent) == {f"racer{n}@example.org": 1 for n in range(200)}
