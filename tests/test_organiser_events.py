"""Organiser screens: the home page, events and their sessions, and who may see them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import (
    audit_entries,
    event_form,
    login,
    make_event,
    make_registration,
    make_user,
    page_text,
)
from tracker.checkin.services import check_in
from tracker.db import utcnow
from tracker.events import services as event_services
from tracker.events.services import EventSpec, SessionSpec
from tracker.models import AuditEntry, Event, Registration, Role, User
from tracker.organiser import services
from tracker.registration.services import CONFIRMED, WAITLISTED


@pytest.fixture
def event(db):
    # 10 December 2030, 09:00 to 17:00 in Paris: the day the sessions below are typed in.
    return make_event(db, capacity=2, starts_at=datetime(2030, 12, 10, 8, 0, tzinfo=UTC))


# --- who may see what -------------------------------------------------------------------


def organiser_urls(app, event: Event, registration: Registration) -> list[tuple[str, str]]:
    """Every organiser route of the URL map, with real values for its arguments."""
    values = {
        "slug": event.slug,
        "session_id": event.sessions[0].id,
        "registration_id": registration.id,
        "question_id": 1,  # refused before it is looked for
    }
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("organiser."):
            continue
        path = rule.rule
        for name in rule.arguments:
            path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(values[name]), path)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            urls.append((method, path))
    return urls


def test_every_organiser_route_requires_the_manage_role(app):
    from tracker.auth.access import MANAGE

    endpoints = [e for e in app.view_functions if e.startswith("organiser.")]
    assert len(endpoints) >= 15
    for endpoint in endpoints:
        assert getattr(app.view_functions[endpoint], "required_roles", None) == MANAGE, endpoint


def test_a_door_account_gets_403_on_every_organiser_page(app, client, db, event):
    registration = make_registration(db, event)
    door = make_user(app, db, Role.DOOR, [event])
    login(client, door)
    urls = organiser_urls(app, event, registration)
    assert ("GET", "/manage") in urls and ("POST", f"/events/{event.slug}/import") in urls
    for method, path in urls:
        response = client.open(path, method=method, data={"title": "x"})
        assert response.status_code == 403, (method, path)
    db.expire_all()
    assert db.get(Registration, registration.id).status == CONFIRMED


def test_an_organiser_of_another_event_gets_403(app, client, db, event):
    registration = make_registration(db, event)
    other = make_user(app, db, Role.ORGANISER, [make_event(db)])
    login(client, other)
    for method, path in organiser_urls(app, event, registration):
        if path in {"/manage", "/events/new"}:
            continue
        response = client.open(path, method=method, data={"title": "x"})
        assert response.status_code == 403, (method, path)
    page = page_text(client.get("/manage"))
    assert event.title not in page


def test_anonymous_visitors_are_sent_to_the_login_page(client, db, event):
    response = client.get(f"/events/{event.slug}/registrations")
    assert response.status_code in {302, 303}
    assert "/login" in response.headers["Location"]


# --- the home page ----------------------------------------------------------------------------


def test_home_lists_the_managed_events_with_their_counts(client, db, event, as_organiser):
    for _ in range(3):
        make_registration(db, event)  # capacity 2: two confirmed, one waitlisted
    not_mine = make_event(db, title="Réunion d’un autre service")
    page = page_text(as_organiser.get("/manage"))
    assert event.title in page and not_mine.title not in page
    row = re.search(rf'<tr data-slug="{event.slug}".*?</tr>', page, re.S).group(0)
    assert 'data-count="confirmed">2<' in row
    assert 'data-count="waitlisted">1<' in row
    assert 'data-count="capacity">2<' in row
    assert 'href="/events/new"' in page


def test_an_admin_sees_every_event(app, client, db, event):
    other = make_event(db)
    admin = make_user(app, db, Role.ADMIN)
    login(client, admin)
    page = page_text(client.get("/manage"))
    assert event.title in page and other.title in page


# --- creating and editing an event ----------------------------------------------------------


def test_create_an_event_in_its_time_zone(client, db, organiser, as_organiser):
    response = as_organiser.post("/events/new", data=event_form(slug="atelier-2030"))
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/events/atelier-2030/edit")
    db.expire_all()
    event = db.scalar(select(Event).where(Event.slug == "atelier-2030"))
    assert event.title == "Atelier international"
    assert event.starts_at == datetime(2030, 12, 10, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert event.ends_at == datetime(2030, 12, 10, 16, 30, tzinfo=UTC)
    assert event.registration_opens_at == datetime(2030, 10, 1, 6, 0, tzinfo=UTC)  # summer time
    assert event.edit_deadline == datetime(2030, 12, 8, 11, 0, tzinfo=UTC)
    assert event.capacity == 130 and event.type_quotas == {"cluster": 60}
    assert event in db.get(User, organiser.id).events  # the creator manages it
    (entry,) = audit_entries(db, event, "event.create")
    assert entry.user_id == organiser.id and entry.changes["title"] == [None, event.title]
    page = page_text(as_organiser.get("/events/atelier-2030/edit"))
    assert 'value="10/12/2030 09:00"' in page  # shown back in local time, day first


DATE_FORMAT = (
    "Write the date and time as DD/MM/YYYY HH:MM (24-hour clock), for example 04/01/2027 09:00."
)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "Choose a time zone such as Europe/Paris."),
        ({"timezone": "Europe"}, "Choose a time zone such as Europe/Paris."),
        ({"ends_at": "2030-12-10T08:00"}, "The event must end after it starts."),
        ({"slug": "new"}, "The slug may hold only lower-case letters"),
        ({"slug": "Atelier 2030"}, "The slug may hold only lower-case letters"),
        ({"capacity": "-1"}, "A whole number from 0 to 1000000, please."),
        ({"capacity": "99999999999999999999"}, "A whole number from 0 to 1000000, please."),
        ({"quota_region": "-3"}, "A whole number from 0 to 1000000, please."),
        ({"starts_at": "0001-01-01T00:00"}, "Choose a date between 2000 and 2100."),
        ({"starts_at": "tomorrow"}, DATE_FORMAT),
        ({"starts_at": "31/02/2030 10:00"}, DATE_FORMAT),  # no such day
        ({"starts_at": "10/12/2030 24:00"}, DATE_FORMAT),  # no such hour
        ({"starts_at": "12/10/2030 9:00 PM"}, DATE_FORMAT),  # a 12-hour clock is ambiguous
        ({"starts_at": "10/12/30 09:00"}, DATE_FORMAT),  # which century?
        ({"starts_at": "10/12/0001 09:00"}, "Choose a date between 2000 and 2100."),
        ({"title": "Atelier\x00"}, "Control characters and line breaks are not allowed here."),
        ({"description": "a\x00b"}, "Control characters are not allowed here."),
        ({"title": "x" * 301}, "At most 300 characters, please."),
        (
            {"registration_opens_at": "2030-12-09T18:00", "registration_closes_at": ""},
            "Registration must close after it opens.",
        ),
    ],
)
def test_create_refuses_bad_input_and_saves_nothing(client, db, as_organiser, overrides, message):
    data = event_form(slug="refused-event")
    data.update(overrides)
    if "registration_closes_at" in overrides and not overrides["registration_closes_at"]:
        data["starts_at"] = "2030-12-09T18:00"
        data["ends_at"] = "2030-12-09T20:00"
    response = as_organiser.post("/events/new", data=data)
    assert response.status_code == 422
    assert message in page_text(response)
    slug = data["slug"]
    db.expire_all()
    assert db.scalar(select(func.count(Event.id)).where(Event.slug == slug)) == 0


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_dates_are_typed_and_shown_day_first_on_24_hours_in_both_languages(
    client, db, as_organiser, lang
):
    """A browser's date picker follows the browser's language, not the page's: the fields
    are text in one explicit format (day first, 24-hour clock), the ISO form still taken."""
    as_organiser.set_cookie("lang", lang)
    page = page_text(as_organiser.get("/events/new"))
    placeholder = {"fr": "JJ/MM/AAAA HH:MM", "en": "DD/MM/YYYY HH:MM"}[lang]
    assert 'name="starts_at" pattern=' in page
    assert f'placeholder="{placeholder}"' in page
    assert 'type="datetime-local"' not in page
    data = event_form(
        slug=f"jour-{lang}",
        starts_at="04/01/2031 09:00",
        ends_at="4/1/2031 17h30",  # as French is written by hand
        registration_opens_at="2030-10-01 08:00",  # the ISO form
        registration_closes_at=" 03/01/2031 18:00 ",
        edit_deadline="02/01/2031 12:00",
    )
    response = as_organiser.post("/events/new", data=data)
    assert response.status_code == 303, page_text(response)
    db.expire_all()
    event = db.scalar(select(Event).where(Event.slug == f"jour-{lang}"))
    assert event.starts_at == datetime(2031, 1, 4, 8, 0, tzinfo=UTC)  # 09:00 in Paris
    assert event.ends_at == datetime(2031, 1, 4, 16, 30, tzinfo=UTC)
    assert event.registration_opens_at == datetime(2030, 10, 1, 6, 0, tzinfo=UTC)
    assert event.registration_closes_at == datetime(2031, 1, 3, 17, 0, tzinfo=UTC)
    page = page_text(as_organiser.get(f"/events/jour-{lang}/edit"))
    assert 'value="04/01/2031 09:00"' in page and 'value="04/01/2031 17:30"' in page


def test_a_date_in_the_wrong_format_is_refused_in_french(client, db, as_organiser):
    as_organiser.set_cookie("lang", "fr")
    response = as_organiser.post("/events/new", data=event_form(starts_at="2030/12/10 9am"))
    assert response.status_code == 422
    page = html.unescape(page_text(response))
    assert (
        "Écrivez la date et l’heure sous la forme JJ/MM/AAAA HH:MM (sur 24\u00a0heures), "
        "par exemple 04/01/2027 09:00." in page
    )
    assert 'value="2030/12/10 9am"' in page  # given back as typed, to be corrected


def test_create_refuses_a_slug_already_taken(client, db, event, as_organiser):
    response = as_organiser.post("/events/new", data=event_form(slug=event.slug))
    assert response.status_code == 422
    assert f"An event with the slug {event.slug} already exists." in page_text(response)


def test_edit_an_event_and_the_change_is_recorded(client, db, event, organiser, as_organiser):
    old_title = event.title
    data = event_form(title="Atelier renommé", timezone="America/Martinique", capacity="10")
    response = as_organiser.post(f"/events/{event.slug}/edit", data=data)
    assert response.status_code == 303
    db.expire_all()
    event = db.get(Event, event.id)
    assert event.title == "Atelier renommé" and event.timezone == "America/Martinique"
    assert event.starts_at == datetime(2030, 12, 10, 13, 0, tzinfo=UTC)  # 09:00 at UTC-4
    (entry,) = audit_entries(db, event, "event.update")
    assert entry.user_id == organiser.id
    assert entry.changes["title"] == [old_title, "Atelier renommé"]
    assert entry.changes["capacity"] == [2, 10]
    assert entry.changes["type_quotas"] == [{}, {"cluster": 60}]
    page = page_text(as_organiser.get(response.headers["Location"]))
    assert "The event has been saved." in page


def test_edit_with_errors_changes_nothing(client, db, event, as_organiser):
    data = event_form(timezone="Nowhere/Else", title="Changed")
    response = as_organiser.post(f"/events/{event.slug}/edit", data=data)
    assert response.status_code == 422
    db.expire_all()
    assert db.get(Event, event.id).title != "Changed"


def test_lowering_the_capacity_bumps_nobody_and_says_so(client, db, event, as_organiser):
    first, second = make_registration(db, event), make_registration(db, event)
    data = event_form(capacity="1", quota_cluster="")
    response = as_organiser.post(f"/events/{event.slug}/edit", data=data, follow_redirects=True)
    page = page_text(response)
    assert "The capacity (1) is below the 2 people already confirmed: nobody loses their place" in (
        page
    )
    db.expire_all()
    assert {db.get(Registration, r.id).status for r in (first, second)} == {CONFIRMED}
    # New registrations go to the waitlist until enough people cancel.
    db.get(Event, event.id).registration_opens_at = utcnow() - timedelta(days=1)
    db.get(Event, event.id).registration_closes_at = utcnow() + timedelta(days=1)
    db.flush()
    assert make_registration(db, db.get(Event, event.id)).status == WAITLISTED


def test_raising_the_capacity_confirms_the_waitlist_and_emails_them(
    client, db, event, organiser, as_organiser, outbox
):
    make_registration(db, event)
    make_registration(db, event)
    first_waiting = make_registration(db, event)
    second_waiting = make_registration(db, event)
    assert first_waiting.status == second_waiting.status == WAITLISTED
    data = event_form(
        capacity="3",
        quota_cluster="",
        starts_at=(utcnow() + timedelta(days=30)).strftime("%Y-%m-%dT%H:%M"),
        ends_at="",
        registration_opens_at="",
        registration_closes_at="",
        edit_deadline="",
    )
    response = as_organiser.post(f"/events/{event.slug}/edit", data=data, follow_redirects=True)
    assert "1 person was confirmed from the waitlist and e-mailed." in page_text(response)
    db.expire_all()
    assert db.get(Registration, first_waiting.id).status == CONFIRMED
    assert db.get(Registration, second_waiting.id).status == WAITLISTED
    assert [m["To"] for m in outbox.messages] == [first_waiting.email]
    promoted = db.scalars(
        select(AuditEntry).where(AuditEntry.action == "registration.promote")
    ).all()
    assert [(e.registration_id, e.user_id) for e in promoted] == [(first_waiting.id, organiser.id)]


def test_post_without_the_csrf_token_is_refused(app, client, db, event, as_organiser, monkeypatch):
    monkeypatch.setitem(app.config, "WTF_CSRF_ENABLED", True)
    response = as_organiser.post(f"/events/{event.slug}/edit", data=event_form(title="Forged"))
    assert response.status_code == 400
    db.expire_all()
    assert db.get(Event, event.id).title != "Forged"
    page = as_organiser.get(f"/events/{event.slug}/edit").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    data = event_form(title="Genuine", csrf_token=token)
    assert as_organiser.post(f"/events/{event.slug}/edit", data=data).status_code == 303


# --- sessions ------------------------------------------------------------------------------------


def test_add_edit_reorder_and_delete_sessions(client, db, event, organiser, as_organiser):
    base = f"/events/{event.slug}/sessions"
    response = as_organiser.post(
        f"{base}/new",
        data={
            "title": "Focus Europe",
            "kind": "focus",
            "room": "Salle 2",
            "starts_at": "10/12/2030 14:00",  # as the form shows dates: day first
            "ends_at": "2030-12-10T15:30",
            "capacity": "25",
        },
    )
    assert response.status_code == 303
    db.expire_all()
    event = db.get(Event, event.id)
    focus = event.sessions[-1]
    assert (focus.title, focus.kind, focus.room, focus.capacity) == (
        "Focus Europe",
        "focus",
        "Salle 2",
        25,
    )
    assert focus.starts_at == datetime(2030, 12, 10, 13, 0, tzinfo=UTC)
    page = page_text(as_organiser.get(f"{base}/{focus.id}/edit"))
    assert 'value="10/12/2030 14:00"' in page and 'value="10/12/2030 15:30"' in page

    response = as_organiser.post(
        f"{base}/{focus.id}/edit", data={"title": "Focus Asie", "capacity": "30"}
    )
    assert response.status_code == 303
    db.expire_all()
    focus = db.get(event_services.Session, focus.id)
    assert focus.title == "Focus Asie" and focus.capacity == 30 and focus.room is None

    as_organiser.post(f"{base}/{focus.id}/move", data={"direction": "up"})
    db.expire_all()
    titles = [s.title for s in db.get(Event, event.id).sessions]
    assert titles == ["Plénière", "Table ronde 1", "Focus Asie", "Table ronde 2"]
    page = page_text(as_organiser.get(f"/events/{event.slug}"))
    assert page.index("Focus Asie") < page.index("Table ronde 2")  # the public programme too

    response = as_organiser.post(f"{base}/{focus.id}/delete", follow_redirects=True)
    assert "The session “Focus Asie” has been deleted." in page_text(response)
    db.expire_all()
    assert "Focus Asie" not in [s.title for s in db.get(Event, event.id).sessions]
    actions = [e.action for e in audit_entries(db, event, "session.create")]
    actions += [e.action for e in audit_entries(db, event, "session.update")]
    actions += [e.action for e in audit_entries(db, event, "session.move")]
    actions += [e.action for e in audit_entries(db, event, "session.delete")]
    assert actions == ["session.create", "session.update", "session.move", "session.delete"]
    (update,) = audit_entries(db, event, "session.update")
    assert update.changes["title"] == ["Focus Europe", "Focus Asie"]
    assert update.user_id == organiser.id


def test_a_session_with_seats_or_check_ins_is_not_deleted(app, client, db, event, as_organiser):
    plenary, round_table = event.sessions[0], event.sessions[1]
    make_registration(db, event, session_ids=[plenary.id])
    walk_in = make_registration(db, event, session_ids=[])
    door = make_user(app, db, Role.DOOR, [event])
    check_in(db, event, actor=door, door="A", registration_id=walk_in.id, session_id=round_table.id)
    db.flush()
    for session in (plenary, round_table):
        response = as_organiser.post(
            f"/events/{event.slug}/sessions/{session.id}/delete", follow_redirects=True
        )
        assert f"“{session.title}” cannot be deleted" in page_text(response)
    db.expire_all()
    assert len(db.get(Event, event.id).sessions) == 3


def test_session_of_another_event_is_404(client, db, event, as_organiser):
    other = make_event(db)
    response = as_organiser.get(f"/events/{event.slug}/sessions/{other.sessions[0].id}/edit")
    assert response.status_code == 404
    huge = as_organiser.get(f"/events/{event.slug}/sessions/99999999999999999999/edit")
    assert huge.status_code == 404


def test_session_form_refuses_bad_input(client, db, event, as_organiser):
    response = as_organiser.post(
        f"/events/{event.slug}/sessions/new",
        data={"title": "Table", "starts_at": "2030-12-10T15:00", "ends_at": "2030-12-10T14:00"},
    )
    assert response.status_code == 422
    assert "The session must end after it starts." in page_text(response)
    db.expire_all()
    assert len(db.get(Event, event.id).sessions) == 3


# --- the services, directly -----------------------------------------------------------


def test_save_event_promotes_only_when_places_appear(db, app_ctx):
    event = make_event(db, capacity=1)
    make_registration(db, event)
    waiting = make_registration(db, event)
    spec = EventSpec(
        slug=event.slug,
        title=event.title,
        starts_at=event.starts_at,
        registration_opens_at=event.registration_opens_at,
        capacity=1,
    )
    assert services.save_event(db, event, spec, actor=None).promoted == []
    spec.capacity = 0
    saved = services.save_event(db, event, spec, actor=None)
    assert saved.promoted == [] and saved.confirmed_over_capacity == 1
    spec.capacity = None
    saved = services.save_event(db, event, spec, actor=None)
    assert saved.promoted == [waiting] and saved.confirmed_over_capacity is None


def test_update_event_checks_the_registration_window(db, app_ctx):
    event = make_event(db)
    spec = EventSpec(
        slug=event.slug,
        title="T",
        starts_at=event.starts_at,
        registration_opens_at=event.starts_at + timedelta(days=1),
    )
    with pytest.raises(event_services.DomainError) as refused:
        event_services.update_event(db, event, spec)
    assert refused.value.field == "registration_closes_at"


def test_delete_session_refuses_a_session_in_use(db, app_ctx):
    event = make_event(db)
    make_registration(db, event, session_ids=[event.sessions[0].id])
    with pytest.raises(event_services.SessionInUse):
        event_services.delete_session(db, event.sessions[0])
    cancelled_only = event.sessions[2]
    person = make_registration(db, event, session_ids=[cancelled_only.id])
    from tracker.registration.services import cancel_registration

    cancel_registration(db, person)
    event_services.delete_session(db, cancelled_only)  # a cancelled choice does not hold it
    assert [s.title for s in event.sessions] == ["Plénière", "Table ronde 1"]


def test_move_session_stops_at_the_ends(db, app_ctx):
    event = make_event(db)
    first = event.sessions[0]
    assert event_services.move_session(db, event, first, -1) is False
    assert event_services.move_session(db, event, first, 1) is True
    assert [s.title for s in event.sessions] == ["Table ronde 1", "Plénière", "Table ronde 2"]


def test_add_session_and_update_session_refuse_negative_capacity(db, app_ctx):
    event = make_event(db)
    with pytest.raises(event_services.DomainError):
        event_services.add_session(db, event, SessionSpec("X", capacity=-1))
    with pytest.raises(event_services.DomainError):
        event_services.update_session(db, event.sessions[0], SessionSpec("  "))


def form_values(page: str) -> dict[str, str]:
    """What a browser sends back for the page's main form, untouched."""
    start = page.index('<form method="post" class="organiser-form"')
    form = page[start : page.index("</form>", start)]
    values = {}
    for tag in re.findall(r"<input [^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        value = re.search(r'value="([^"]*)"', tag)
        unchecked_radio = 'type="radio"' in tag and "checked" not in tag
        if name and 'type="checkbox"' not in tag and not unchecked_radio:
            values[name.group(1)] = html.unescape(value.group(1)) if value else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        values[name] = html.unescape(body).strip("\n")
    return values


def test_saving_an_untouched_form_changes_nothing(client, db, event, as_organiser):
    page = as_organiser.get(f"/events/{event.slug}/edit").get_data(as_text=True)
    data = form_values(page)
    assert data["timezone"] == "Europe/Paris" and data["capacity"] == "2"
    response = as_organiser.post(f"/events/{event.slug}/edit", data=data, follow_redirects=True)
    assert "Nothing was changed." in page_text(response)
    assert audit_entries(db, event, "event.update") == []


def test_organiser_pages_lead_to_the_door_screen(app, client, db):
    event = make_event(db)
    user = make_user(app, db, Role.ORGANISER, [event])
    login(client, user)
    assert f'href="/events/{event.slug}/door"' in client.get("/manage").text
    assert f'href="/events/{event.slug}/door"' in client.get(f"/events/{event.slug}/edit").text
