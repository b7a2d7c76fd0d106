"""Logging in and out: the answers, the cookie, the idle timeout, the rate limits."""

from __future__ import annotations

import gc
import re
import threading
import time
import uuid

import pytest
from werkzeug.security import check_password_hash as real_check_password_hash

import config
from tracker import create_app
from tracker.auth import LAST_SEEN_KEY, services
from tracker.auth.ratelimit import limiter_for
from tracker.auth.services import authenticate, create_user, hash_password, set_active
from tracker.models import Role

PASSWORD = "correct horse battery staple"
WRONG = "incorrect horse battery"


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    """Failed logins counted by one test never lock another test out."""
    limiter_for(app).reset()
    yield
    limiter_for(app).reset()


LOGIN_LIMITS = (
    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS",
    "LOGIN_LIMIT_PER_ACCOUNT",
    "LOGIN_LIMIT_PER_ADDRESS",
)


@pytest.fixture
def real_limits(app, monkeypatch):
    """The shipped limits (the test configuration raises them for the rest of the suite)."""
    for name in LOGIN_LIMITS:
        monkeypatch.setitem(app.config, name, getattr(config.Config, name))


@pytest.fixture
def admin(app, db):
    with app.app_context():
        return create_user(db, "Admin@Example.org", PASSWORD, Role.ADMIN)


@pytest.fixture
def organiser(app, db):
    with app.app_context():
        return create_user(db, "organiser@example.org", PASSWORD, Role.ORGANISER)


def login(client, email, password=PASSWORD, *, next=None, address=None, **extra):
    url = "/login" if next is None else f"/login?next={next}"
    environ = {"REMOTE_ADDR": address} if address else None
    return client.post(
        url, data={"email": email, "password": password, **extra}, environ_overrides=environ
    )


def refusal(response, typed_email):
    """The page without what the person typed: what must be alike for every refusal."""
    return response.get_data(as_text=True).replace(typed_email, "EMAIL")


# --- logging in and out --------------------------------------------------------------


def test_login_form_has_the_contract_fields(client):
    page = client.get("/login").get_data(as_text=True)
    assert re.search(r'<input[^>]*name="email"', page)
    assert re.search(r'<input[^>]*name="password"[^>]*type="password"', page) or re.search(
        r'<input[^>]*type="password"[^>]*name="password"', page
    )


def test_login_then_logout(client, admin):
    response = login(client, "admin@example.org")  # case and spaces do not matter
    assert response.status_code == 303
    assert response.location == "/manage"

    page = client.get("/users")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Admin@Example.org" in html  # the header names who is logged in
    assert 'action="/logout"' in html and 'href="/manage"' in html

    assert client.get("/logout").status_code == 405  # POST only
    response = client.post("/logout")
    assert response.status_code == 303 and response.location == "/login"
    assert "You are logged out." in client.get("/login").get_data(as_text=True)
    assert client.get("/users").status_code == 302


def test_successful_login_records_the_time(client, admin, db):
    assert admin.last_login_at is None
    login(client, "admin@example.org")
    db.refresh(admin)
    assert admin.last_login_at is not None


def test_anonymous_page_request_goes_to_login_and_back(client, admin):
    response = client.get("/users?x=1")
    assert response.status_code == 302
    assert response.location == "/login?next=/users?x%3D1"
    page = client.get(response.location).get_data(as_text=True)
    assert "Please log in to see this page." in page
    assert 'name="next" value="/users?x=1"' in page

    response = login(client, "admin@example.org", next="/users")
    assert response.status_code == 303 and response.location == "/users"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "javascript:alert(1)",
        "evil.example",
    ],
)
def test_login_never_redirects_off_site(client, admin, target):
    response = client.post(
        "/login", query_string={"next": target}, data={"email": admin.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    assert response.location == "/manage"


def test_login_form_carries_a_safe_next_only(client):
    assert 'name="next"' not in client.get("/login?next=//evil.example").get_data(as_text=True)


def test_already_logged_in_goes_to_next(client, admin):
    login(client, admin.email)
    response = client.get("/login?next=/users")
    assert response.status_code == 302 and response.location == "/users"


def test_wrong_password_and_unknown_address_get_the_same_answer(client, admin):
    wrong = login(client, admin.email, WRONG)
    unknown = login(client, "nobody@example.org", WRONG)
    disabled_like = login(client, "nobody-else@example.org", PASSWORD)
    assert wrong.status_code == unknown.status_code == disabled_like.status_code == 401
    assert refusal(wrong, admin.email) == refusal(unknown, "nobody@example.org")
    assert refusal(unknown, "nobody@example.org") == refusal(
        disabled_like, "nobody-else@example.org"
    )
    assert "do not match an active account" in wrong.get_data(as_text=True)
    assert client.get("/users").status_code == 302  # still anonymous


def test_unknown_address_costs_one_hash_check_like_a_wrong_password(
    db, app_ctx, admin, organiser, monkeypatch
):
    """Tests do not time things: they check that the same work is done either way."""
    checked: list[str] = []

    def spy(stored, password):
        checked.append(stored.split("$", 1)[0])
        return real_check_password_hash(stored, password)

    monkeypatch.setattr(services, "check_password_hash", spy)
    assert authenticate(db, "nobody@example.org", WRONG) is None
    assert authenticate(db, admin.email, WRONG) is None
    set_active(db, organiser, False, actor=admin)
    assert authenticate(db, organiser.email, PASSWORD) is None
    assert authenticate(db, "x\x00@example.org", WRONG) is None
    assert authenticate(db, "x" * 300 + "@example.org", WRONG) is None
    method = admin.password_hash.split("$", 1)[0]
    assert checked == [method] * 5


def test_disabled_account_cannot_log_in_and_its_session_ends(client, admin, organiser, db):
    assert login(client, organiser.email).status_code == 303
    set_active(db, organiser, False, actor=admin)
    db.flush()
    # The open session stops working at its next request...
    assert client.get("/users").status_code == 302
    # ...and logging in again is refused like a wrong password.
    response = login(client, organiser.email)
    assert response.status_code == 401
    assert "do not match an active account" in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"email": "", "password": ""},
        {"email": "admin@example.org"},
        {"password": PASSWORD},
        {"email": "a\x00b@example.org", "password": PASSWORD},
        {"email": "x" * 5000, "password": PASSWORD},
        {"email": "admin@example.org", "password": "p" * 5000},
        {"email": ["a@example.org", "b@example.org"], "password": PASSWORD},
    ],
)
def test_bad_login_input_is_refused_cleanly(client, admin, data):
    response = client.post("/login", data=data)
    assert response.status_code in (401, 422)
    assert "<h1>Log in</h1>" in response.get_data(as_text=True)


# --- cookie, CSRF, idle timeout ---------------------------------------------------


def test_session_cookie_is_httponly_lax_and_permanent(client, admin):
    response = login(client, admin.email)
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Expires=" in cookie  # pushed back on every request: the idle timeout
    assert "Secure" not in cookie  # plain http in tests and development


@pytest.fixture
def unfrozen():
    """A production app freezes what the process holds (gc.freeze): let the test
    process's objects be collected again afterwards."""
    yield
    gc.unfreeze()


def test_production_freezes_what_the_process_has_built(database_url, unfrozen):
    gc.unfreeze()
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "p" * 40,
            "DATABASE_URL": database_url,
            "BASE_URL": "http://localhost",
        }
    )
    assert gc.get_freeze_count() > 0
    app.extensions["db"].engine.dispose()
    gc.unfreeze()
    testing = create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url})
    assert gc.get_freeze_count() == 0
    testing.extensions["db"].engine.dispose()


def test_production_session_cookie_is_secure(database_url, unfrozen):
    app = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "p" * 40,
            "DATABASE_URL": database_url,
            "BASE_URL": "http://localhost",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    with app.test_client() as c:
        response = c.get("/login")  # the CSRF token goes into the session
        cookie = next(x for x in response.headers.getlist("Set-Cookie") if "session=" in x)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    app.extensions["db"].engine.dispose()


def _csrf(page):
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def test_login_and_logout_need_the_csrf_token(client, admin, monkeypatch, app):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = login(client, admin.email)
    assert response.status_code == 400
    assert "The form has expired" in response.get_data(as_text=True)
    assert client.get("/users").status_code == 302

    token = _csrf(client.get("/login").get_data(as_text=True))
    assert login(client, admin.email, csrf_token=token).status_code == 303

    page = client.get("/users").get_data(as_text=True)
    assert client.post("/logout").status_code == 400  # a forged logout does nothing
    assert client.get("/users").status_code == 200
    response = client.post("/logout", data={"csrf_token": _csrf(page)})
    assert response.status_code == 303
    assert client.get("/users").status_code == 302


def _age_session(client, seconds):
    with client.session_transaction() as session:
        session[LAST_SEEN_KEY] = int(time.time()) - seconds


def test_idle_session_expires(client, admin, app):
    login(client, admin.email)
    idle = app.config["SESSION_IDLE_MINUTES"] * 60
    assert idle == 60 * 60  # the default

    _age_session(client, idle - 60)
    assert client.get("/users").status_code == 200  # active again: the clock restarts
    with client.session_transaction() as session:
        assert abs(session[LAST_SEEN_KEY] - time.time()) < 5

    _age_session(client, idle + 60)
    response = client.get("/users")
    assert response.status_code == 302 and response.location.startswith("/login")
    assert "Your session has expired" in client.get(response.location).get_data(as_text=True)
    assert client.get("/users").status_code == 302  # and it stays logged out


def test_idle_timeout_is_configurable(client, admin, app, monkeypatch):
    monkeypatch.setitem(app.config, "SESSION_IDLE_MINUTES", 5)
    login(client, admin.email)
    _age_session(client, 6 * 60)
    assert client.get("/users").status_code == 302


def test_session_without_a_last_seen_time_is_refused(client, admin):
    login(client, admin.email)
    with client.session_transaction() as session:
        del session[LAST_SEEN_KEY]
    assert client.get("/users").status_code == 302


@pytest.mark.parametrize("value", ["abc", "0", "-5"])
def test_bad_idle_timeout_refuses_to_start(database_url, value):
    with pytest.raises(RuntimeError, match="SESSION_IDLE_MINUTES"):
        create_app(
            {"ENV_NAME": "testing", "DATABASE_URL": database_url, "SESSION_IDLE_MINUTES": value}
        )


@pytest.mark.parametrize(
    "name",
    [
        "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS",
        "LOGIN_LIMIT_PER_ACCOUNT",
        "LOGIN_LIMIT_PER_ADDRESS",
        "REGISTER_LIMIT_PER_ADDRESS",
    ],
)
def test_bad_rate_limit_refuses_to_start(database_url, name):
    with pytest.raises(RuntimeError, match=f"TRACKER_{name} must be a rate"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, name: "x"})


def test_unknown_rate_limit_storage_refuses_to_start(database_url):
    with pytest.raises(RuntimeError, match="TRACKER_RATELIMIT_STORAGE_URL must be"):
        create_app(
            {
                "ENV_NAME": "testing",
                "DATABASE_URL": database_url,
                "RATELIMIT_STORAGE_URI": "nosuch://x",
            }
        )


def test_production_warns_that_memory_counters_are_per_worker(database_url, caplog, unfrozen):
    settings = {
        "ENV_NAME": "production",
        "SECRET_KEY": "p" * 40,
        "DATABASE_URL": database_url,
        "BASE_URL": "http://localhost",
    }
    app = create_app(settings)
    app.extensions["db"].engine.dispose()
    assert "TRACKER_RATELIMIT_STORAGE_URL is memory://" in caplog.text
    assert "several workers" in caplog.text


# --- password hashing -------------------------------------------------------------


def _iterations(stored: str) -> int:
    method = stored.split("$", 1)[0]
    algorithm, digest, iterations = method.split(":")
    assert (algorithm, digest) == ("pbkdf2", "sha256")
    return int(iterations)


def test_shipped_configuration_hashes_at_owasp_strength(app, monkeypatch):
    assert config.ProductionConfig.PASSWORD_HASH_METHOD == config.Config.PASSWORD_HASH_METHOD
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", config.Config.PASSWORD_HASH_METHOD)
    with app.app_context():
        stored = hash_password(PASSWORD)  # one hash at full strength: about 0.3 s
    assert _iterations(stored) >= 600_000


def test_weak_hash_is_upgraded_at_login(client, db, app, admin, monkeypatch):
    assert _iterations(admin.password_hash) == 1000  # the test configuration's
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:2000")
    assert login(client, admin.email, WRONG).status_code == 401
    db.refresh(admin)
    assert _iterations(admin.password_hash) == 1000  # a wrong password changes nothing
    assert login(client, admin.email).status_code == 303
    db.refresh(admin)
    assert _iterations(admin.password_hash) == 2000
    assert real_check_password_hash(admin.password_hash, PASSWORD)


def test_stronger_hash_is_kept(db, app, app_ctx, admin, monkeypatch):
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:2000")
    admin.password_hash = hash_password(PASSWORD)
    before = admin.password_hash
    monkeypatch.setitem(app.config, "PASSWORD_HASH_METHOD", "pbkdf2:sha256:1000")
    assert authenticate(db, admin.email, PASSWORD) is admin
    assert admin.password_hash == before


# --- rate limits --------------------------------------------------------------------


def test_shipped_login_limits():
    assert config.Config.LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS == "5 per 15 minutes"
    assert config.Config.LOGIN_LIMIT_PER_ADDRESS == "20 per 15 minutes"
    assert config.Config.LOGIN_LIMIT_PER_ACCOUNT == "100 per hour"
    assert config.Config.RATELIMIT_STORAGE_URI == "memory://"


def test_failed_logins_lock_the_account_from_that_address_even_for_the_right_password(
    client, admin, organiser, real_limits
):
    # (Five failures from anywhere used to lock the account for everybody: anyone
    # could lock the door staff out. They now lock it from the failing address only.)
    attacker = "198.51.100.7"
    for _ in range(5):
        assert login(client, admin.email, WRONG, address=attacker).status_code == 401
    response = login(client, admin.email, address=attacker)
    assert response.status_code == 429
    html = response.get_data(as_text=True)
    assert "Too many failed log-in attempts" in html and "wait 15 minutes" in html
    assert 800 < int(response.headers["Retry-After"]) <= 901
    assert client.get("/users").status_code == 302  # not logged in
    # Another account from that address is not affected...
    assert login(client, organiser.email, address=attacker).status_code == 303
    client.post("/logout")
    # ...nor the owner from their own address.
    assert login(client, admin.email, address="192.0.2.10").status_code == 303


def test_an_attacker_from_many_addresses_does_not_lock_the_owner_out(client, admin, real_limits):
    for i in range(40):  # 8 addresses, each up to its limit on this account
        address = f"198.51.100.{i // 5}"
        assert login(client, admin.email, WRONG, address=address).status_code in (401, 429)
    assert login(client, admin.email, address="192.0.2.10").status_code == 303


def test_an_attacked_account_makes_failing_addresses_wait_longer_and_longer(
    client, admin, real_limits
):
    for i in range(5):  # as many failures as one address may make: no wait yet
        assert login(client, admin.email, WRONG, address=f"198.51.100.{i}").status_code == 401
    waits = []
    for i in range(5, 9):
        address = f"198.51.100.{i}"
        assert login(client, admin.email, WRONG, address=address).status_code == 401
        refused = login(client, admin.email, WRONG, address=address)
        assert refused.status_code == 429
        waits.append(int(refused.headers["Retry-After"]))
        assert "second" in refused.get_data(as_text=True)
    assert waits == [1, 2, 4, 8]
    # An address that has not failed on the account does not wait.
    assert login(client, admin.email, address="192.0.2.10").status_code == 303


def test_the_account_ceiling_holds_for_every_address(client, admin, app, monkeypatch):
    for name in LOGIN_LIMITS:
        monkeypatch.setitem(app.config, name, getattr(config.Config, name))
    monkeypatch.setitem(app.config, "LOGIN_LIMIT_PER_ACCOUNT", "12 per hour")
    for i in range(12):
        assert login(client, admin.email, WRONG, address=f"198.51.100.{i}").status_code == 401
    response = login(client, admin.email, address="192.0.2.10")
    assert response.status_code == 429
    assert 3500 < int(response.headers["Retry-After"]) <= 3601


def test_unlock_lifts_every_lock_of_the_account(client, admin, organiser, app, real_limits):
    for _ in range(5):
        assert login(client, admin.email, WRONG, address="198.51.100.7").status_code == 401
    for i in range(3):
        assert login(client, admin.email, WRONG, address=f"198.51.100.1{i}").status_code == 401
    for _ in range(5):
        login(client, organiser.email, WRONG, address="198.51.100.7")
    assert login(client, admin.email, address="198.51.100.7").status_code == 429
    assert login(client, admin.email, WRONG, address="198.51.100.12").status_code == 429  # waits

    result = app.test_cli_runner().invoke(args=["user", "unlock", " ADMIN@example.org"])
    assert result.exit_code == 0, result.output
    assert "login locks of ADMIN@example.org lifted, from every address" in result.output
    assert "(8 failed logins forgotten)" in result.output
    assert "memory://" in result.output  # said: the app's processes keep their own

    assert login(client, admin.email, WRONG, address="198.51.100.12").status_code == 401
    assert login(client, admin.email, address="198.51.100.7").status_code == 303
    client.post("/logout")
    # Only that account.
    assert login(client, organiser.email, address="198.51.100.7").status_code == 429


def test_lock_holds_for_unknown_addresses_too(client, real_limits):
    for _ in range(5):
        assert login(client, "nobody@example.org", WRONG).status_code == 401
    assert login(client, "nobody@example.org", WRONG).status_code == 429
    assert login(client, " NOBODY@example.org", WRONG).status_code == 429  # same account


def test_successful_logins_are_not_counted(client, admin, real_limits):
    for _ in range(8):
        assert login(client, admin.email).status_code == 303
        client.post("/logout")
    for _ in range(4):
        assert login(client, admin.email, WRONG).status_code == 401
    assert login(client, admin.email).status_code == 303


def test_form_errors_are_not_counted(client, admin, real_limits):
    for _ in range(10):
        assert client.post("/login", data={"email": admin.email}).status_code == 422
    assert login(client, admin.email).status_code == 303


def test_failed_logins_lock_the_client_address(client, admin, real_limits):
    for i in range(20):  # one address, twenty accounts
        assert (
            login(client, f"guess{i}@example.org", WRONG, address="203.0.113.7").status_code == 401
        )
    assert login(client, admin.email, address="203.0.113.7").status_code == 429
    assert login(client, admin.email, address="203.0.113.8").status_code == 303


def test_behind_a_proxy_the_forwarded_address_is_counted(database_url):
    settings = {"ENV_NAME": "testing", "DATABASE_URL": database_url}
    limits = {
        "LOGIN_LIMIT_PER_ACCOUNT": "100 per 15 minutes",
        "LOGIN_LIMIT_PER_ADDRESS": "2 per 15 minutes",
    }
    proxied = create_app({**settings, **limits, "PROXY_COUNT": "1"})
    try:
        c = proxied.test_client()
        for _ in range(2):
            response = c.post(
                "/login",
                data={"email": "a@example.org", "password": WRONG},
                headers={"X-Forwarded-For": "192.0.2.1"},
            )
            assert response.status_code == 401
        locked = {"X-Forwarded-For": "192.0.2.1"}
        other = {"X-Forwarded-For": "192.0.2.2"}
        data = {"email": "b@example.org", "password": WRONG}
        assert c.post("/login", data=data, headers=locked).status_code == 429
        assert c.post("/login", data=data, headers=other).status_code == 401
    finally:
        proxied.extensions["db"].engine.dispose()
    with pytest.raises(RuntimeError, match="PROXY_COUNT"):
        create_app({**settings, "PROXY_COUNT": "many"})


def test_scripts_get_401_rather_than_the_login_page(client, admin):
    response = client.get("/users", headers={"Accept": "application/json"})
    assert response.status_code == 401 and response.is_json


def test_only_the_login_is_limited(client, admin, real_limits):
    for _ in range(5):
        login(client, admin.email, WRONG)
    assert client.get("/login").status_code == 200  # the form itself still shows
    assert client.get("/").status_code == 200


def _apps(database_url, count, **settings):
    """`count` apps (gunicorn workers, say) with the shipped login limits and a slower
    password hash, so that concurrent attempts overlap."""
    settings = {
        "ENV_NAME": "testing",
        "DATABASE_URL": database_url,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:200000",
        **{name: getattr(config.Config, name) for name in LOGIN_LIMITS},
        **settings,
    }
    return [create_app(settings) for _ in range(count)]


def _concurrent_failures(apps, count):
    """`count` wrong passwords for one account from one address, all at once, spread
    over the apps; the status codes."""
    barrier = threading.Barrier(count)
    statuses = []

    def attempt(i):
        c = apps[i % len(apps)].test_client()
        barrier.wait()
        statuses.append(login(c, "door@example.org", WRONG, address="203.0.113.9").status_code)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(statuses)


def test_concurrent_failures_get_exactly_the_limit(app, database_url):
    """Counted before the password is checked: ten at once, five get through."""
    (one,) = _apps(database_url, 1)
    try:
        assert _concurrent_failures([one], 10) == [401] * 5 + [429] * 5
    finally:
        one.extensions["db"].engine.dispose()


def test_redis_storage_is_shared_by_several_processes_exactly(app, database_url, redis_url):
    """Two apps (two gunicorn workers, say) count the same failures through Redis,
    exactly even when the attempts come at once."""
    options = {"key_prefix": f"tracker-test-{uuid.uuid4().hex}"}
    apps = _apps(
        database_url, 2, RATELIMIT_STORAGE_URI=redis_url, RATELIMIT_STORAGE_OPTIONS=options
    )
    try:
        for one in apps:
            assert limiter_for(one).shared and limiter_for(one).storage.check()
        assert _concurrent_failures(apps, 10) == [401] * 5 + [429] * 5
        clients = [one.test_client() for one in apps]
        assert (
            login(clients[0], "door@example.org", WRONG, address="203.0.113.9").status_code == 429
        )
        assert (
            login(clients[1], "door@example.org", WRONG, address="203.0.113.10").status_code == 401
        )
        # `tracker user unlock` reaches the workers' counters through Redis.
        result = apps[1].test_cli_runner().invoke(args=["user", "unlock", "door@example.org"])
        assert "(6 failed logins forgotten)" in result.output
        assert "memory://" not in result.output
        assert (
            login(clients[0], "door@example.org", WRONG, address="203.0.113.9").status_code == 401
        )
    finally:
        limiter_for(apps[0]).reset()  # only this test's keys: they carry its prefix
        for one in apps:
            one.extensions["db"].engine.dispose()


def test_memory_storage_falls_back_when_redis_is_down(database_url):
    """An unreachable Redis still limits (per process) instead of failing every login."""
    pytest.importorskip("redis")
    app = create_app(
        {
            "ENV_NAME": "testing",
            "DATABASE_URL": database_url,
            "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9",  # nothing listens there
            "LOGIN_LIMIT_PER_ACCOUNT": "2 per 15 minutes",
        }
    )
    try:
        c = app.test_client()
        assert login(c, "nobody@example.org", WRONG).status_code == 401
        assert login(c, "nobody@example.org", WRONG).status_code == 401
        assert login(c, "nobody@example.org", WRONG).status_code == 429
    finally:
        app.extensions["db"].engine.dispose()
