"""Who may use which URL, checked over the whole URL map rather than route by route.

Every endpoint is either in PUBLIC below or decorated with `tracker.auth.access.require`
(which sets `required_roles` on the view). A new route that is neither fails here, so an
unprotected organiser or door page cannot slip in. For each protected rule and method:
an anonymous request is sent to the login page (401 for the API), a logged-in account
whose role is not allowed gets 403, and an allowed one gets past the check (what the
view then answers to an empty request is its own tests' business).
"""

from __future__ import annotations

import fnmatch

import pytest
from werkzeug.routing import IntegerConverter, Rule

from tests.conftest import make_event, make_registration
from tracker.auth.ratelimit import limiter_for
from tracker.auth.services import create_token, create_user
from tracker.models import Role

# Genuinely public: attendees' pages (no account), the login itself, the API's description,
# the health answers and the metrics (which check a token of their own).
PUBLIC = (
    "static",
    "i18n.switch",
    "events.index",
    "events.show",
    "events.privacy",
    "registration.*",
    "invitations.show",  # the invitee's personal link (/i/<token>)
    "invitations.decline",
    "privacy.my_data",
    "privacy.my_data_json",
    "privacy.erase_mine",
    "auth.login",
    "auth.logout",  # logging out needs no account; it only ends one
    "api.openapi",
    "health.*",  # /healthz, /readyz: for load balancers, saying nothing secret
    "metrics.metrics",  # no account: its own token, or this machine only (test_metrics.py)
)

PASSWORD = "correct horse battery staple"
CHECKED_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def is_public(endpoint: str) -> bool:
    return any(fnmatch.fnmatchcase(endpoint, pattern) for pattern in PUBLIC)


def roles_of(app, rule: Rule):
    return getattr(app.view_functions[rule.endpoint], "required_roles", None)


def methods_of(rule: Rule) -> list[str]:
    return [m for m in CHECKED_METHODS if m in (rule.methods or ())]


def protected_rules(app) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if not is_public(r.endpoint)]


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    limiter_for(app).reset()
    yield
    limiter_for(app).reset()


@pytest.fixture
def world(app, db):
    """An event with a registration, and one account of each role allowed on it."""
    event = make_event(db)
    registration = make_registration(db, event)
    with app.app_context():
        accounts = {
            role: create_user(db, f"{role.value}@example.org", PASSWORD, role, [event])
            for role in Role
        }
        target = create_user(db, "target@example.org", PASSWORD, Role.DOOR, [event])
        tokens = {role: create_token(db, user, "test")[0] for role, user in accounts.items()}
    values = {
        "slug": event.slug,
        "registration_id": registration.id,
        "session_id": event.sessions[0].id,
        "user_id": target.id,
        "code": registration.checkin_code,
        "token": registration.manage_token,
    }
    return {"accounts": accounts, "tokens": tokens, "values": values}


def url_for_rule(app, rule: Rule, known: dict[str, object], method: str) -> str:
    """The rule's URL with plausible values: real ids and slugs where the argument's
    name is known, otherwise something of the converter's type."""
    values = {}
    for name in rule.arguments:
        if name in known:
            values[name] = known[name]
        elif isinstance(rule._converters[name], IntegerConverter):
            values[name] = 1
        else:
            values[name] = "x"
    return app.url_map.bind("localhost").build(rule.endpoint, values, method=method)


def browser(app):
    # No context is kept between requests: several clients can take turns.
    c = app.test_client()
    c.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return c


def send(client, method: str, url: str, headers=None):
    return client.open(url, method=method, headers=headers or {})


def test_every_endpoint_is_public_or_protected(app):
    unprotected = [
        f"{rule.rule} ({rule.endpoint})" for rule in protected_rules(app) if not roles_of(app, rule)
    ]
    assert unprotected == [], (
        "neither in PUBLIC nor decorated with tracker.auth.access.require: "
        + ", ".join(unprotected)
    )


def test_public_list_names_existing_endpoints(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    for pattern in PUBLIC:
        assert fnmatch.filter(endpoints, pattern), f"{pattern} matches no endpoint"


def test_anonymous_requests_are_refused(app, db, world):
    checked = 0
    for rule in protected_rules(app):
        for method in methods_of(rule):
            url = url_for_rule(app, rule, world["values"], method)
            response = send(browser(app), method, url)
            where = f"{method} {url} ({rule.endpoint})"
            if rule.rule.startswith("/api/"):
                assert response.status_code == 401, where
                assert response.is_json, where
            else:
                assert response.status_code == 302, where
                assert response.location.startswith("/login"), where
            checked += 1
    assert checked >= 10  # the map is not empty: the admin screens alone give 6


def test_a_bad_token_is_refused_like_none(app, db, world):
    for rule in protected_rules(app):
        if not rule.rule.startswith("/api/"):
            continue
        for method in methods_of(rule):
            url = url_for_rule(app, rule, world["values"], method)
            for header in ("Bearer trk_not-a-token", "Bearer ", "Basic dXNlcjpwYXNz"):
                response = send(browser(app), method, url, {"Authorization": header})
                assert response.status_code == 401, f"{method} {url} with {header!r}"


def _logged_in(app, user):
    client = browser(app)
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 303
    return client


def test_roles_are_enforced(app, db, world):
    """Pages with the logged-in session, the API with each account's bearer token."""
    clients = {role: _logged_in(app, user) for role, user in world["accounts"].items()}
    refused = allowed = 0
    for rule in protected_rules(app):
        roles = roles_of(app, rule)
        if not roles:
            continue  # test_every_endpoint_is_public_or_protected fails for it
        api = rule.rule.startswith("/api/")
        for method in methods_of(rule):
            url = url_for_rule(app, rule, world["values"], method)
            for role in Role:
                if api:
                    headers = {"Authorization": f"Bearer {world['tokens'][role]}"}
                    response = send(browser(app), method, url, headers)
                else:
                    response = send(clients[role], method, url)
                where = f"{role.value}: {method} {url} ({rule.endpoint})"
                if role in roles:
                    assert response.status_code not in (401, 403), where
                    assert not (response.location or "").startswith("/login"), where
                    allowed += 1
                else:
                    assert response.status_code == 403, where
                    refused += 1
    assert refused and allowed
