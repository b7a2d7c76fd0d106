"""Where each account lands after logging in, and the links it is shown there: every
link of the header and of the landing page opens (no 403, no 5xx)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from tests.conftest import PASSWORD, make_event, make_registration, make_user
from tracker.auth.ratelimit import limiter_for
from tracker.db import utcnow
from tracker.models import Role

HREF = re.compile(r'<a\b[^>]*\bhref="([^"]*)"')
TOPBAR = re.compile(r'<header class="topbar">(.*?)</header>', re.S)


@pytest.fixture(autouse=True)
def fresh_limiter(app):
    limiter_for(app).reset()
    yield
    limiter_for(app).reset()


def log_in(client, user, **params):
    return client.post(
        "/login", data={"email": user.email, "password": PASSWORD}, query_string=params
    )


def links(page: str) -> list[str]:
    return [html.unescape(h) for h in HREF.findall(page) if h.startswith("/")]


def header_links(page: str) -> list[str]:
    found = TOPBAR.search(page)
    assert found, "no header"
    return links(found.group(1))


def follow_every_link(client, landing: str) -> dict[str, int]:
    """Opens every link of the landing page, and every header link of the pages it
    leads to; returns {url: status}."""
    response = client.get(landing)
    assert response.status_code == 200, landing
    statuses = {landing: 200}
    queue = links(response.get_data(as_text=True))
    while queue:
        url = queue.pop(0)
        if url in statuses:
            continue
        answer = client.get(url)
        statuses[url] = answer.status_code
        if answer.status_code == 200 and answer.mimetype == "text/html":
            queue.extend(header_links(answer.get_data(as_text=True)))
    return statuses


def assert_no_dead_link(client, landing: str) -> dict[str, int]:
    statuses = follow_every_link(client, landing)
    bad = {url: status for url, status in statuses.items() if status == 403 or status >= 500}
    assert bad == {}
    return statuses


@pytest.fixture
def events(db):
    return [make_event(db), make_event(db)]


def test_a_door_account_with_one_event_lands_on_its_door_screen(app, client, db, events):
    door = make_user(app, db, Role.DOOR, [events[0]])
    response = log_in(client, door)
    assert response.status_code == 303
    assert response.location == f"/events/{events[0].slug}/door"
    statuses = assert_no_dead_link(client, response.location)
    assert "/manage" not in statuses  # a link that would answer 403
    page = client.get(response.location).get_data(as_text=True)
    assert "/door" in header_links(page)


def test_a_door_account_with_several_events_lands_on_their_door_screens(app, client, db, events):
    door = make_user(app, db, Role.DOOR, events)
    response = log_in(client, door)
    assert response.location == "/door"
    statuses = assert_no_dead_link(client, "/door")
    for event in events:
        assert statuses[f"/events/{event.slug}/door"] == 200
    assert "/manage" not in statuses and "/users" not in statuses


def test_the_door_screens_list_soonest_first_and_past_last(app, client, db):
    now = utcnow()
    later = make_event(db, title="Later", starts_at=now + timedelta(days=60))
    past = make_event(
        db,
        title="Past",
        starts_at=now - timedelta(days=10),
        registration_opens_at=now - timedelta(days=20),
    )
    sooner = make_event(db, title="Sooner", starts_at=now + timedelta(days=5))
    other = make_event(db, title="Not theirs")
    door = make_user(app, db, Role.DOOR, [later, past, sooner])
    log_in(client, door)
    page = client.get("/door").get_data(as_text=True)
    assert re.findall(r'data-slug="([^"]+)"', page) == [sooner.slug, later.slug, past.slug]
    assert other.title not in page


def test_a_door_account_without_event_lands_on_a_page_that_says_so(app, client, db, events):
    door = make_user(app, db, Role.DOOR, [])
    response = log_in(client, door)
    assert response.location == "/door"
    page = client.get("/door")
    assert page.status_code == 200
    assert "No event is assigned to this account yet" in page.get_data(as_text=True)
    assert_no_dead_link(client, "/door")


@pytest.mark.parametrize("role", [Role.ADMIN, Role.ORGANISER])
def test_organisers_and_admins_land_on_their_events(app, client, db, events, role):
    registration = make_registration(db, events[0])
    user = make_user(app, db, role, [events[0]])
    response = log_in(client, user)
    assert response.location == "/manage"
    statuses = assert_no_dead_link(client, "/manage")
    assert statuses[f"/events/{events[0].slug}/door"] == 200
    assert statuses[f"/events/{events[0].slug}/edit"] == 200
    assert ("/users" in statuses) == (role == Role.ADMIN)
    assert "/door" not in statuses  # one home link: the events'
    assert registration.id  # the event's pages show someone


def test_an_organiser_of_no_event_lands_on_an_empty_list_with_working_links(
    app, client, db, events
):
    organiser = make_user(app, db, Role.ORGANISER, [])
    assert log_in(client, organiser).location == "/manage"
    statuses = assert_no_dead_link(client, "/manage")
    assert statuses["/events/new"] == 200
    assert "You manage no event yet." in client.get("/manage").get_data(as_text=True)


def test_a_safe_next_still_wins_and_an_unsafe_one_is_ignored(app, client, db, events):
    door = make_user(app, db, Role.DOOR, events)
    target = f"/events/{events[1].slug}/door"
    assert log_in(client, door, next=target).location == target
    client.post("/logout")
    assert log_in(client, door, next="//evil.example/door").location == "/door"


def test_already_logged_in_on_the_login_page_goes_to_the_landing(app, client, db, events):
    door = make_user(app, db, Role.DOOR, [events[1]])
    log_in(client, door)
    response = client.get("/login")
    assert response.status_code == 302
    assert response.location == f"/events/{events[1].slug}/door"
