"""Headers that keep what is shown where it belongs: HSTS and a Secure language cookie
in production, and `Cache-Control: no-store` on every answer to a logged-in account
(organiser, door and admin pages, downloads, badges, the API), checked over the whole
URL map."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from flask import Flask

from tests import test_access as access
from tracker import create_app
from tracker.models import Role

HTTPS = "https://tracker.example"
world = access.world  # the fixtures: an event, a registration, one account of each role
fresh_limiter = access.fresh_limiter


@pytest.fixture
def production(app: Flask) -> Iterator[Flask]:
    prod = create_app(
        {
            "ENV_NAME": "production",
            "SECRET_KEY": "p" * 40,
            "DATABASE_URL": app.config["DATABASE_URL"],
            "BASE_URL": HTTPS,
        }
    )
    yield prod
    prod.extensions["db"].engine.dispose()
    gc.unfreeze()


def max_age(hsts: str) -> int:
    directives = [d.strip() for d in hsts.split(";")]
    (age,) = [d for d in directives if d.lower().startswith("max-age=")]
    return int(age.split("=", 1)[1])


def test_production_sends_hsts_for_a_year_with_subdomains(production):
    with production.test_client() as c:
        for path in ("/", "/login", "/events/no-such-event", "/static/css/app.css"):
            hsts = c.get(path, base_url=HTTPS).headers.get("Strict-Transport-Security", "")
            assert max_age(hsts) >= 365 * 24 * 3600, path
            assert "includesubdomains" in hsts.lower().replace(" ", ""), path


def test_development_sends_no_hsts(client):
    assert "Strict-Transport-Security" not in client.get("/").headers


def lang_cookie(response) -> str:  # type: ignore[no-untyped-def]
    (cookie,) = [c for c in response.headers.getlist("Set-Cookie") if c.startswith("lang=")]
    return cookie


def test_the_language_cookie_is_secure_in_production(production):
    with production.test_client() as c:
        cookie = lang_cookie(c.get("/lang/en", base_url=HTTPS))
    attributes = [a.strip().lower() for a in cookie.split(";")]
    assert "secure" in attributes and "httponly" in attributes and "samesite=lax" in attributes


def test_the_language_cookie_works_over_http_in_development(client):
    cookie = lang_cookie(client.get("/lang/fr"))
    assert "secure" not in [a.strip().lower() for a in cookie.split(";")]


def _logged_in_as_admin(app, world):  # type: ignore[no-untyped-def]
    client = access.browser(app)
    admin = world["accounts"][Role.ADMIN]
    response = client.post("/login", data={"email": admin.email, "password": access.PASSWORD})
    assert response.status_code == 303
    return client


def test_every_answer_to_an_account_is_no_store(app, db, world):
    """Every protected URL and method, whatever it answers (a page, a PDF, a CSV, a
    redirect, a form sent back with errors): with the session, and the API with a token."""
    client = _logged_in_as_admin(app, world)
    token = {"Authorization": f"Bearer {world['tokens'][Role.ADMIN]}"}
    seen = set()
    for rule in access.protected_rules(app):
        api = rule.rule.startswith("/api/")
        for method in [m for m in access.CHECKED_METHODS if m in (rule.methods or ())]:
            url = access.url_for_rule(app, rule, world["values"], method)
            response = (
                access.send(access.browser(app), method, url, token)
                if api
                else access.send(client, method, url)
            )
            where = f"{method} {url} ({rule.endpoint}): {response.status_code}"
            assert response.status_code not in (401, 403), where
            assert response.headers.get("Cache-Control") == "no-store", where
            seen.add(rule.endpoint)
    # The pages named by the finding are among them.
    for endpoint in (
        "organiser.registrations_list",
        "organiser.registration",
        "organiser.import_upload",
        "door.door",
        "users.index",
        "reports.dashboard",
        "reports.download",
        "badges.preview",
        "badges.registration_badge",
        "api.search",
    ):
        assert endpoint in seen, endpoint


def test_downloads_and_public_pages_seen_by_an_account_are_no_store(app, db, world):
    client = _logged_in_as_admin(app, world)
    slug = world["values"]["slug"]
    for url in (
        f"/events/{slug}/export?what=attendees&format=csv",
        f"/events/{slug}/export?what=attendees&format=xlsx",
        f"/events/{slug}/badges/preview.pdf",
        f"/events/{slug}/stats?part=figures",
        "/",  # shows who is logged in
        f"/events/{slug}",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert response.headers["Cache-Control"] == "no-store", url


def test_what_anonymous_people_see_stays_cacheable(app, db, world, client):
    slug = world["values"]["slug"]
    for url in ("/", f"/events/{slug}", "/login"):
        assert "no-store" not in client.get(url).headers.get("Cache-Control", ""), url


def test_static_files_keep_their_own_cache_control(app, db, world):
    client = _logged_in_as_admin(app, world)
    anonymous = access.browser(app).get("/static/css/app.css")
    logged_in = client.get("/static/css/app.css")
    assert logged_in.status_code == 200
    assert logged_in.headers.get("Cache-Control") == anonymous.headers.get("Cache-Control")
