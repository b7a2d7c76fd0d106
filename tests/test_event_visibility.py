"""Draft, unlisted and public events, seen by anonymous visitors, another event's
organiser and the event's own organiser; closing and opening registration in one click."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import (
    audit_entries,
    event_form,
    form_data,
    login,
    make_event,
    make_registration,
    make_user,
    page_text,
)
from tracker.cli import event_create
from tracker.db import utcnow
from tracker.models import Event, Role, Visibility


@pytest.fixture
def events(db):
    return {v: make_event(db, title=f"Atelier {v.value}", visibility=v.value) for v in Visibility}


def pages(event: Event, token: str) -> list[str]:
    return [
        f"/events/{event.slug}",
        f"/events/{event.slug}/register",
        f"/r/{token}",
        f"/r/{token}/qr.png",
        f"/r/{token}/event.ics",
        f"/r/{token}/edit",
        f"/r/{token}/cancel",
    ]


def home_titles(client) -> str:
    return page_text(client.get("/"))


@pytest.mark.parametrize("who", ["anonymous", "other organiser", "door", "organiser", "admin"])
def test_what_each_account_sees_of_each_visibility(app, client, db, events, who):
    tokens = {v: make_registration(db, e).manage_token for v, e in events.items()}
    if who != "anonymous":
        role = {"admin": Role.ADMIN, "door": Role.DOOR}.get(who, Role.ORGANISER)
        mine = [] if who == "other organiser" else list(events.values())
        login(client, make_user(app, db, role, mine))
    sees_drafts = who in ("organiser", "admin")
    home = home_titles(client)
    assert "Atelier public" in home
    assert "Atelier unlisted" not in home and "Atelier draft" not in home
    for visibility, event in events.items():
        expected = 404 if visibility == Visibility.DRAFT and not sees_drafts else 200
        for url in pages(event, tokens[visibility]):
            assert client.get(url).status_code == expected, (who, url)
        posted = client.post(f"/events/{event.slug}/register", data=form_data(event))
        if expected == 404:
            assert posted.status_code == 404, who
        else:
            assert posted.status_code == 303, who


def test_a_draft_tells_its_organiser_that_others_do_not_see_it(app, client, db, events):
    login(client, make_user(app, db, Role.ORGANISER, [events[Visibility.DRAFT]]))
    page = page_text(client.get(f"/events/{events[Visibility.DRAFT].slug}"))
    assert "Draft: only the event’s organisers and administrators see this page." in page
    assert "Draft:" not in page_text(client.get(f"/events/{events[Visibility.PUBLIC].slug}"))


def test_door_and_api_keep_working_for_a_draft(app, client, db, events):
    draft = events[Visibility.DRAFT]
    registration = make_registration(db, draft)
    login(client, make_user(app, db, Role.DOOR, [draft]))
    assert client.get(f"/events/{draft.slug}/door").status_code == 200
    found = client.get(f"/api/v1/events/{draft.slug}/registrations?q={registration.last_name}")
    assert found.status_code == 200
    assert client.get(f"/api/v1/events/{draft.slug}/stats").status_code == 200


def checked(page: str, name: str) -> list[str]:
    """The values of the ticked inputs named `name`."""
    inputs = re.findall(r"<input\b[^>]*>", page)
    return [
        re.search(r'value="([^"]*)"', i).group(1)
        for i in inputs
        if f'name="{name}"' in i and re.search(r"\bchecked\b", i)
    ]


def moved_to_2030(**overrides: object) -> dict[str, object]:
    # The form's default times (10 December 2030); registration opens when it opened.
    return event_form(
        registration_opens_at="", registration_closes_at="", edit_deadline="", **overrides
    )


def test_the_organiser_sets_the_visibility_in_the_form_and_it_is_audited(app, client, db, events):
    event = events[Visibility.PUBLIC]
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    assert checked(page_text(client.get(f"/events/{event.slug}/edit")), "visibility") == ["public"]
    response = client.post(f"/events/{event.slug}/edit", data=moved_to_2030(visibility="unlisted"))
    assert response.status_code == 303, page_text(response)
    db.refresh(event)
    assert event.visibility == Visibility.UNLISTED
    changes = audit_entries(db, event, "event.update")[-1].changes
    assert changes["visibility"] == ["public", "unlisted"]
    assert checked(page_text(client.get(f"/events/{event.slug}/edit")), "visibility") == [
        "unlisted"
    ]
    bad = client.post(f"/events/{event.slug}/edit", data=moved_to_2030(visibility="secret"))
    assert bad.status_code == 422
    assert "Not a valid choice" in page_text(bad)
    db.refresh(event)
    assert event.visibility == Visibility.UNLISTED


def test_a_form_sent_without_visibility_keeps_it(app, client, db, events):
    event = events[Visibility.DRAFT]
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    response = client.post(f"/events/{event.slug}/edit", data=moved_to_2030())
    assert response.status_code == 303, page_text(response)
    db.refresh(event)
    assert event.visibility == Visibility.DRAFT


def test_a_new_event_from_the_screen_is_a_draft_until_published(app, client, db):
    login(client, make_user(app, db, Role.ORGANISER, []))
    assert checked(page_text(client.get("/events/new")), "visibility") == ["draft"]
    response = client.post("/events/new", data=event_form(slug="nouvel-atelier"))
    assert response.status_code == 303
    assert "It is a draft" in page_text(client.get(response.location))
    event = db.scalar(select(Event).where(Event.slug == "nouvel-atelier"))
    assert event.visibility == Visibility.DRAFT
    assert client.get("/events/nouvel-atelier").status_code == 200  # its organiser
    client.post("/logout")
    assert client.get("/events/nouvel-atelier").status_code == 404
    assert "nouvel-atelier" not in page_text(client.get("/"))
    login(client, make_user(app, db, Role.ORGANISER, []))
    data = event_form(slug="tout-de-suite", visibility="public")
    assert client.post("/events/new", data=data).status_code == 303
    client.post("/logout")
    assert client.get("/events/tout-de-suite").status_code == 200
    assert "/events/tout-de-suite" in client.get("/").get_data(as_text=True)


def test_event_create_on_the_command_line_is_public_unless_told(app):
    runner = app.test_cli_runner()
    try:
        for slug, extra, expected in [
            ("cli-public", [], "public"),
            ("cli-draft", ["--visibility", "draft"], "draft"),
            ("cli-unlisted", ["--visibility", "unlisted"], "unlisted"),
        ]:
            args = [slug, "--title", "Réunion", "--starts", "2030-12-10T09:00", *extra]
            result = runner.invoke(event_create, args)
            assert result.exit_code == 0, result.output
            with app.extensions["db"].sessionmaker() as db:
                event = db.scalar(select(Event).where(Event.slug == slug))
                assert event.visibility.value == expected
        bad = runner.invoke(
            event_create,
            ["cli-bad", "--title", "R", "--starts", "2030-12-10T09:00", "--visibility", "secret"],
        )
        assert bad.exit_code != 0 and "secret" in bad.output
    finally:
        with app.extensions["db"].sessionmaker.begin() as db:
            db.execute(delete(Event).where(Event.slug.like("cli-%")))


def test_the_database_refuses_an_unknown_visibility(db, events):
    # The migration's CHECK constraint, on SQLite as on PostgreSQL.
    with pytest.raises(IntegrityError), db.begin_nested():
        db.execute(
            text("UPDATE events SET visibility = 'secret' WHERE id = :id"),
            {"id": events[Visibility.PUBLIC].id},
        )


# --- closing and opening registration in one click ----------------------------------


def switch(client, event: Event, action: str, **data: str):
    return client.post(f"/events/{event.slug}/registration/{action}", data=data)


@pytest.fixture
def open_event(db):
    return make_event(db)


@pytest.fixture
def as_its_organiser(app, client, db, open_event):
    login(client, make_user(app, db, Role.ORGANISER, [open_event]))
    return client


def test_the_switch_names_its_event_for_screen_readers(db, client, as_its_organiser, open_event):
    """On /manage every row has the same button: its accessible name says which event."""
    manage = client.get("/manage").get_data(as_text=True)
    title = html.escape(open_event.title)
    assert f'aria-label="Close registration: {title}"' in manage


def test_closing_registration_in_one_click(db, client, as_its_organiser, open_event):
    before = utcnow()
    manage = page_text(client.get("/manage"))
    assert 'data-registration="open"' in manage and "Close registration" in manage
    response = switch(client, open_event, "close", next="/manage")
    assert response.status_code == 303 and response.location == "/manage"
    assert "is closed" in page_text(client.get("/manage"))
    db.refresh(open_event)
    assert before <= open_event.registration_closes_at <= utcnow()
    changes = audit_entries(db, open_event, "event.update")[-1].changes
    assert set(changes) == {"registration_closes_at"}
    client.post("/logout")
    assert "Registration closed on " in page_text(client.get(f"/events/{open_event.slug}"))
    refused = client.post(f"/events/{open_event.slug}/register", data=form_data(open_event))
    assert refused.status_code == 409


def test_opening_again_closes_at_the_start(db, client, as_its_organiser, open_event):
    switch(client, open_event, "close")
    page = page_text(client.get(f"/events/{open_event.slug}/edit"))
    assert "Open registration" in page and "Close registration" not in page
    response = switch(client, open_event, "open")
    assert response.location == f"/events/{open_event.slug}/edit"
    assert "is open until" in page_text(client.get(response.location))
    db.refresh(open_event)
    assert open_event.registration_closes_at == open_event.starts_at
    client.post("/logout")
    posted = client.post(f"/events/{open_event.slug}/register", data=form_data(open_event))
    assert posted.status_code == 303


def test_opening_before_its_time_opens_now(app, client, db):
    now = utcnow()
    event = make_event(db, registration_opens_at=now + timedelta(days=3))
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    switch(client, event, "open")
    db.refresh(event)
    assert now <= event.registration_opens_at <= utcnow()
    assert event.registration_closes_at == event.starts_at


def test_opening_during_the_event_closes_at_its_end(app, client, db):
    now = utcnow()
    event = make_event(
        db,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=5),
        registration_opens_at=now - timedelta(days=5),
        edit_deadline=now - timedelta(hours=2),
    )
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    switch(client, event, "open")
    db.refresh(event)
    assert event.registration_closes_at == event.ends_at
    assert event.edit_deadline == event.ends_at  # attendees may change it again


def test_an_event_that_is_over_cannot_be_opened(app, client, db):
    now = utcnow()
    event = make_event(
        db,
        starts_at=now - timedelta(days=2),
        registration_opens_at=now - timedelta(days=9),
    )
    login(client, make_user(app, db, Role.ORGANISER, [event]))
    closes = event.registration_closes_at
    response = switch(client, event, "open")
    assert response.status_code == 303
    assert "The event is over" in page_text(client.get(response.location))
    db.refresh(event)
    assert event.registration_closes_at == closes


def test_closing_what_is_not_open_changes_nothing(app, client, db, open_event):
    login(client, make_user(app, db, Role.ORGANISER, [open_event]))
    switch(client, open_event, "close")
    db.refresh(open_event)
    closed_at = open_event.registration_closes_at
    switch(client, open_event, "close")
    db.refresh(open_event)
    assert open_event.registration_closes_at == closed_at
    assert len(audit_entries(db, open_event, "event.update")) == 1


def test_only_the_events_organisers_may_switch_registration(app, client, db, open_event):
    closes = open_event.registration_closes_at
    for account in (
        make_user(app, db, Role.ORGANISER, []),
        make_user(app, db, Role.DOOR, [open_event]),
    ):
        login(client, account)
        for action in ("close", "open"):
            assert switch(client, open_event, action).status_code == 403
    client.post("/logout")
    assert switch(client, open_event, "close").status_code == 302  # to the login page
    db.refresh(open_event)
    assert open_event.registration_closes_at == closes


def test_an_unsafe_next_goes_back_to_the_settings(client, as_its_organiser, open_event):
    for target in ("//evil.example/", "https://evil.example/", "/\t/evil.example"):
        response = switch(client, open_event, "close", next=target)
        assert response.location == f"/events/{open_event.slug}/edit"


def test_the_switch_is_said_in_french(client, as_its_organiser, open_event):
    client.set_cookie("lang", "fr")
    response = switch(client, open_event, "close")
    page = page_text(client.get(response.location))
    assert "Ouvrir les inscriptions" in page
    assert "sont closes" in page


def test_the_demo_event_is_public(db, app_ctx):
    from tracker.demo import seed_demo

    event, _added = seed_demo(db)
    assert event.visibility == Visibility.PUBLIC
