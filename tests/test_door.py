"""The door screen (/events/<slug>/door) and its walk-ins."""

from __future__ import annotations

import html
import json
import re
from datetime import timedelta

import pytest
from flask import Flask
from flask_babel import force_locale, gettext
from sqlalchemy import func, select

from tests.conftest import JSON, login, make_event, make_registration, walk_in_data, walk_in_url
from tracker.db import utcnow
from tracker.door import services as door_services
from tracker.models import (
    AuditEntry,
    CheckIn,
    OrganisationType,
    Registration,
    RegistrationSource,
    RegistrationStatus,
    Role,
    ScanLog,
)
from tracker.registration.forms import REQUIRED
from tracker.registration.services import cancel_registration


@pytest.fixture
def door(client, event, account):
    """A door account of the event, logged in."""
    user = account(Role.DOOR, [event], email="door@example.org")
    login(client, user)
    return user


def translated(app: Flask, locale: str, message: object) -> str:
    with app.test_request_context("/"), force_locale(locale):
        return gettext(message) if isinstance(message, str) else str(message)


def registrations(db, event) -> list[Registration]:
    db.expire_all()
    return list(
        db.scalars(
            select(Registration).where(Registration.event_id == event.id).order_by(Registration.id)
        )
    )


def checkins(db, registration) -> dict[int, CheckIn]:
    db.expire_all()
    rows = db.scalars(select(CheckIn).where(CheckIn.registration_id == registration.id))
    return {c.scope: c for c in rows}


# --- who may open the door screen ----------------------------------------------------


def test_anonymous_is_sent_to_the_login_page_and_back(client, event):
    response = client.get(f"/events/{event.slug}/door")
    assert response.status_code == 302
    assert response.location.startswith("/login")
    assert f"/events/{event.slug}/door" in response.location.replace("%2F", "/")


def test_door_account_of_another_event_is_refused(client, db, event, account):
    other = make_event(db)
    login(client, account(Role.DOOR, [other]))
    assert client.get(f"/events/{event.slug}/door").status_code == 403
    response = client.post(walk_in_url(event), data=walk_in_data(), headers=JSON)
    assert response.status_code == 403
    assert registrations(db, event) == []


def test_organiser_of_another_event_is_refused_and_admin_allowed(client, db, event, account):
    login(client, account(Role.ORGANISER, [make_event(db)]))
    assert client.get(f"/events/{event.slug}/door").status_code == 403
    login(client, account(Role.ADMIN))
    assert client.get(f"/events/{event.slug}/door").status_code == 200


def test_anonymous_walk_in_saves_nothing(client, db, event):
    response = client.post(walk_in_url(event), data=walk_in_data())
    assert response.status_code == 302 and response.location.startswith("/login")
    assert registrations(db, event) == []


def test_unknown_event_is_not_found(client, door):
    assert client.get("/events/no-such-event/door").status_code == 404


# --- the page ------------------------------------------------------------------------


def test_door_page_has_the_input_the_modes_the_counters_and_the_walk_in_form(
    client, db, event, door
):
    present = make_registration(db, event, session_ids=[event.sessions[1].id])
    make_registration(db, event, session_ids=[event.sessions[1].id])
    make_registration(db, event)  # a third, confirmed
    waiting = make_registration(db, event)
    waiting.status = RegistrationStatus.WAITLISTED
    from tracker.checkin.services import check_in

    check_in(db, event, actor=door, door="Hall", code=present.checkin_code)
    db.flush()

    response = client.get(f"/events/{event.slug}/door")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    page = html.unescape(response.get_data(as_text=True))
    assert re.search(r'<input id="door-input" type="search"[^>]*autofocus', page)
    assert 'id="door-camera"' in page
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', page)
    assert "/static/js/door.js" in page and "/static/css/door.css" in page
    assert f'data-api="/api/v1/events/{event.slug}"' in page
    assert 'aria-live="assertive"' in page

    mode = re.search(r'<select id="door-mode".*?</select>', page, re.S).group(0)
    options = re.findall(r'<option value="([^"]*)">([^<]*)</option>', mode)
    assert options == [("", "Event entrance")] + [(str(s.id), s.title) for s in event.sessions]

    # present / expected: 1 of the 3 confirmed at the entrance, 0 of 2 at the round table
    entrance = re.search(r'data-scope="".*?</li>', page, re.S).group(0)
    assert re.search(r"<b data-present>1</b>.*<span data-expected>3</span>", entrance, re.S)
    table = re.search(rf'data-scope="{event.sessions[1].id}".*?</li>', page, re.S).group(0)
    assert re.search(r"<b data-present>0</b>.*<span data-expected>2</span>", table, re.S)

    form = re.search(
        r'<form method="post" action="([^"]+)" id="walk-in-form".*?</form>', page, re.S
    )
    assert form.group(1) == walk_in_url(event)
    for name in ["first_name", "last_name", "organisation", "email", "override"]:
        assert f'name="{name}"' in form.group(0)
    for value in ["cluster", "ministry", "region", "agency", "other"]:
        assert re.search(
            rf'name="organisation_type"[^>]*type="radio" value="{value}"', form.group(0)
        )
    assert "Register although the event is full" in form.group(0)


def test_door_page_speaks_french(client, event, door):
    page = html.unescape(
        client.get(f"/events/{event.slug}/door", headers={"Accept-Language": "fr"}).get_data(
            as_text=True
        )
    )
    assert '<html lang="fr">' in page
    assert 'data-locale="fr"' in page
    assert "Prénom" in page and "First name" not in page


@pytest.mark.parametrize(
    ("language", "undo", "anyway", "not_registered"),
    [
        ("en", "Undo check-in", "Check in anyway", "Not registered for this session"),
        (
            "fr",
            "Annuler l’arrivée",
            "Enregistrer l’arrivée quand même",
            "Pas d’inscription à cette session",
        ),
    ],
)
def test_the_result_says_undo_check_in_and_check_in_anyway(
    client, event, door, language, undo, anyway, not_registered
):
    page = html.unescape(
        client.get(f"/events/{event.slug}/door", headers={"Accept-Language": language}).get_data(
            as_text=True
        )
    )
    actions = re.search(r'<div class="door-result-actions">.*?</div>', page, re.S).group(0)
    buttons = [b.strip() for b in re.findall(r"<button[^>]*>([^<]*)</button>", actions)]
    assert buttons[:2] == [anyway, undo]
    messages = json.loads(
        re.search(
            r'<script type="application/json" id="door-messages">(.*?)</script>', page, re.S
        ).group(1)
    )
    assert messages["not_in_session"] == not_registered
    assert messages["not_in_session_detail"]


# --- walk-ins ------------------------------------------------------------------------


def test_walk_in_is_registered_confirmed_and_checked_in_at_once(client, db, event, door, outbox):
    response = client.post(walk_in_url(event), data=walk_in_data(), headers=JSON)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["result"] == "ok" and body["walk_in"] is True
    assert body["over_capacity"] is False
    shown = body["registration"]
    assert (shown["first_name"], shown["last_name"]) == ("Dominique", "Lefèvre")
    assert shown["organisation"] == "Région Pays de la Loire"
    assert shown["organisation_type"] == "region"
    assert shown["status"] == "confirmed" and shown["source"] == "walk_in"
    assert "email" not in shown  # the door needs no address (README, "Minimal data")
    assert shown["checked_in_at"]

    [person] = registrations(db, event)
    assert person.id == shown["id"]
    assert person.status == RegistrationStatus.CONFIRMED
    assert person.source == RegistrationSource.WALK_IN
    assert person.email_key.endswith("@walk-in.invalid")
    assert not door_services.has_email(person)
    assert re.fullmatch(r"[A-Z2-7]{26}", person.checkin_code)
    entrance = checkins(db, person)[0]
    assert entrance.door == "Hall A" and entrance.user_id == door.id

    audit = db.scalars(
        select(AuditEntry).where(
            AuditEntry.registration_id == person.id, AuditEntry.action == "walk_in"
        )
    ).one()
    assert audit.user_id == door.id
    assert audit.changes["consent"] == door_services.CONSENT_NOTE
    assert audit.changes["email"] is False and audit.changes["over_capacity"] is False
    assert outbox.messages == []  # nobody to write to


def test_two_walk_ins_without_e_mail_are_two_people(client, db, event, door):
    for _ in range(2):
        response = client.post(walk_in_url(event), data=walk_in_data(), headers=JSON)
        assert response.status_code == 201
    people = registrations(db, event)
    assert len(people) == 2 and people[0].email_key != people[1].email_key


def test_walk_in_with_e_mail_gets_the_confirmation(client, db, event, door, outbox):
    response = client.post(
        walk_in_url(event), data=walk_in_data(email="d.lefevre@paysdelaloire.example"), headers=JSON
    )
    assert response.status_code == 201
    assert "paysdelaloire" not in response.get_data(as_text=True)  # kept, not shown back
    [person] = registrations(db, event)
    assert person.email == "d.lefevre@paysdelaloire.example"
    assert len(outbox.to("d.lefevre@paysdelaloire.example")) == 1


def test_walk_in_at_a_session_door_is_checked_in_to_that_session(client, db, event, door):
    table = event.sessions[2]
    response = client.post(
        walk_in_url(event), data=walk_in_data(session=str(table.id)), headers=JSON
    )
    assert response.status_code == 201
    body = response.get_json()
    assert body["registration"]["checked_in_at"] is None  # not at the entrance
    assert str(table.id) in body["registration"]["session_checkins"]
    [person] = registrations(db, event)
    assert [s.id for s in person.sessions] == [table.id]
    assert set(checkins(db, person)) == {table.id}


def test_walk_in_is_possible_after_registration_closed(client, db, door, account):
    now = utcnow()
    started = make_event(
        db,
        starts_at=now - timedelta(hours=1),
        registration_opens_at=now - timedelta(days=10),
        registration_closes_at=now - timedelta(hours=1),
        edit_deadline=now - timedelta(hours=1),
    )
    login(client, account(Role.DOOR, [started]))
    response = client.post(walk_in_url(started), data=walk_in_data(), headers=JSON)
    assert response.status_code == 201, response.get_data(as_text=True)


@pytest.fixture
def full_event(db):
    event = make_event(db, capacity=1)
    make_registration(db, event)
    return event


def test_full_event_refuses_a_walk_in_without_the_override(client, db, full_event, account):
    login(client, account(Role.DOOR, [full_event]))
    response = client.post(walk_in_url(full_event), data=walk_in_data(), headers=JSON)
    assert response.status_code == 409
    body = response.get_json()
    assert body["result"] == "event_full"
    assert "The event is full" in body["message"]
    assert "Register although the event is full" in body["errors"]["override"][0]
    people = registrations(db, full_event)
    assert len(people) == 1  # nobody added, nobody waitlisted
    assert db.scalar(select(func.count()).select_from(CheckIn)) == 0


def test_full_event_takes_a_walk_in_with_the_override_over_capacity(
    client, db, full_event, account
):
    login(client, account(Role.DOOR, [full_event]))
    response = client.post(walk_in_url(full_event), data=walk_in_data(override="y"), headers=JSON)
    assert response.status_code == 201
    body = response.get_json()
    assert body["over_capacity"] is True
    assert body["registration"]["status"] == "confirmed"
    people = registrations(db, full_event)
    assert [p.status for p in people] == [RegistrationStatus.CONFIRMED] * 2  # 2 for 1 place
    audit = db.scalars(select(AuditEntry).where(AuditEntry.action == "walk_in")).one()
    assert audit.changes["over_capacity"] is True


def test_full_type_quota_refuses_without_the_override(client, db, account):
    event = make_event(db, type_quotas={"region": 1})
    make_registration(db, event, organisation_type=OrganisationType.REGION)
    login(client, account(Role.DOOR, [event]))
    refused = client.post(walk_in_url(event), data=walk_in_data(), headers=JSON)
    assert refused.status_code == 409
    assert "type of organisation" in refused.get_json()["message"]
    other_type = client.post(
        walk_in_url(event), data=walk_in_data(organisation_type="ministry"), headers=JSON
    )
    assert other_type.status_code == 201


def test_an_address_already_registered_points_to_that_person(client, db, event, door):
    person = make_registration(db, event, email="camille@vegepolys.example")
    response = client.post(
        walk_in_url(event), data=walk_in_data(email="Camille@Vegepolys.example "), headers=JSON
    )
    assert response.status_code == 409
    body = response.get_json()
    assert body["result"] == "already_registered"
    assert body["registration"]["id"] == person.id
    assert "check this person in instead" in body["errors"]["email"][0]
    assert len(registrations(db, event)) == 1


def test_a_cancelled_address_comes_back_as_a_new_walk_in(client, db, event, door):
    person = make_registration(db, event, email="camille@vegepolys.example")
    cancel_registration(db, person)
    response = client.post(
        walk_in_url(event), data=walk_in_data(email="camille@vegepolys.example"), headers=JSON
    )
    assert response.status_code == 201
    assert response.get_json()["registration"]["id"] != person.id
    [again] = [r for r in registrations(db, event) if r.id != person.id]
    assert again.status == RegistrationStatus.CONFIRMED
    assert again.source == RegistrationSource.WALK_IN
    assert again.first_name == "Dominique"
    assert 0 in checkins(db, again)


def test_a_retried_walk_in_counts_once(client, db, event, door):
    data = walk_in_data(nonce="7d3c9a1e-0c57-4f5b-9b0e-2f7a7f0e6a11")
    first = client.post(walk_in_url(event), data=data, headers=JSON)
    second = client.post(walk_in_url(event), data=data, headers=JSON)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["registration"]["id"] == second.get_json()["registration"]["id"]
    assert len(registrations(db, event)) == 1


def test_a_session_of_another_event_is_refused(client, db, event, door):
    elsewhere = make_event(db).sessions[0]
    response = client.post(
        walk_in_url(event), data=walk_in_data(session=str(elsewhere.id)), headers=JSON
    )
    assert response.status_code == 422
    assert response.get_json()["message"] == "This session is not part of the event."
    assert registrations(db, event) == []


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_walk_in_errors_are_given_per_field_in_the_readers_language(
    app, client, db, event, door, locale
):
    response = client.post(
        walk_in_url(event),
        data=walk_in_data(first_name="  ", email="not an address", organisation_type="planet"),
        headers={**JSON, "Accept-Language": locale},
    )
    assert response.status_code == 422
    errors = response.get_json()["errors"]
    required = translated(app, locale, REQUIRED)
    assert errors["first_name"] == [required]
    assert errors["email"] == [translated(app, locale, "Enter a valid e-mail address.")]
    assert errors["organisation_type"] == [
        translated(app, locale, "Choose the type of your organisation.")
    ]
    assert set(errors) == {"first_name", "email", "organisation_type"}
    if locale == "fr":
        assert required != translated(app, "en", REQUIRED)
    assert registrations(db, event) == []


@pytest.mark.parametrize("locale", ["en", "fr"])
def test_walk_in_form_without_javascript_shows_errors_next_to_the_fields(
    app, client, db, event, door, locale
):
    response = client.post(
        walk_in_url(event),
        data=walk_in_data(last_name=""),
        headers={"Accept-Language": locale},
    )
    assert response.status_code == 422
    page = html.unescape(response.get_data(as_text=True))
    assert f'<p class="error" id="last_name-error">{translated(app, locale, REQUIRED)}</p>' in page
    assert '<details class="walk-in" id="walk-in" open>' in page
    assert 'value="Dominique"' in page  # what was typed is kept
    assert registrations(db, event) == []


def test_walk_in_form_without_javascript_registers_and_says_so(client, db, event, door):
    response = client.post(walk_in_url(event), data=walk_in_data())
    assert response.status_code == 303
    assert response.location == f"/events/{event.slug}/door"
    page = html.unescape(client.get(response.location).get_data(as_text=True))
    assert "Dominique Lefèvre is registered and checked in." in page
    [person] = registrations(db, event)
    assert 0 in checkins(db, person)


# --- undo of a check-in made from the search -----------------------------------------


def undo_url(event) -> str:
    return f"/events/{event.slug}/door/undo"


def test_undo_by_registration_takes_back_that_check_in_only(client, db, event, door):
    from tracker.checkin.services import check_in

    person = make_registration(db, event)
    table = event.sessions[1].id
    check_in(db, event, actor=door, door="Hall", registration_id=person.id)
    check_in(db, event, actor=door, door="Room 2", registration_id=person.id, session_id=table)
    db.flush()

    response = client.post(
        undo_url(event), data={"registration": person.id, "session": table, "door": "Room 2"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["result"] == "undone"
    assert body["registration"]["id"] == person.id
    assert body["registration"]["checked_in_at"]  # the entrance stays
    assert set(checkins(db, person)) == {0}

    response = client.post(undo_url(event), data={"registration": person.id, "session": ""})
    assert response.get_json()["result"] == "undone"
    assert checkins(db, person) == {}
    again = client.post(undo_url(event), data={"registration": person.id})
    assert again.status_code == 404 and again.get_json()["result"] == "not_checked_in"
    # Answered 404, kept all the same: a refusal is a result, in the scan log.
    (refused,) = db.scalars(
        select(ScanLog).where(
            ScanLog.registration_id == person.id, ScanLog.result == "not_checked_in"
        )
    ).all()
    assert (refused.status_code, refused.response) == (404, again.get_json())
    undone = db.scalars(
        select(ScanLog).where(ScanLog.registration_id == person.id, ScanLog.result == "undone")
    ).all()
    assert len(undone) == 2 and {a.user_id for a in undone} == {door.id}


def test_undo_refuses_another_events_registration_and_bad_input(client, db, event, door):
    from tracker.checkin.services import check_in

    elsewhere = make_event(db)
    stranger = make_registration(db, elsewhere)
    check_in(db, elsewhere, actor=None, door="Hall", registration_id=stranger.id)
    db.flush()
    response = client.post(undo_url(event), data={"registration": stranger.id})
    assert response.status_code == 404
    assert response.get_json() == {"result": "unknown", "reason": "other_event"}
    assert set(checkins(db, stranger)) == {0}
    for bad in [{}, {"registration": "x"}, {"registration": "1", "session": "-3"}]:
        response = client.post(undo_url(event), data=bad)
        assert response.status_code == 422
        assert response.get_json()["message"] == "This request could not be completed."


def test_undo_needs_a_door_account_of_the_event(client, db, event, account):
    from tracker.checkin.services import check_in

    person = make_registration(db, event)
    check_in(db, event, actor=None, door="Hall", registration_id=person.id)
    db.flush()
    anonymous = client.post(undo_url(event), data={"registration": person.id})
    assert anonymous.status_code == 302 and anonymous.location.startswith("/login")
    login(client, account(Role.DOOR, [make_event(db)]))
    assert client.post(undo_url(event), data={"registration": person.id}).status_code == 403
    assert set(checkins(db, person)) == {0}


# --- only what the door needs ----------------------------------------------------------


def test_no_door_answer_or_page_holds_the_e_mail_address(client, db, event, door, account):
    """The door's screens and its answers (check-in, again, undo, search, walk-ins, the
    counters) say who the person is, not how to write to them; the organisers' screens
    keep everything."""
    address = "minimal.data@ministere.example"
    person = make_registration(
        db, event, first_name="Inès", last_name="Minimale", email=address, job_title="Cheffe"
    )
    db.flush()
    api = f"/api/v1/events/{event.slug}"
    answers = [
        client.get(f"/events/{event.slug}/door"),
        client.get("/door"),
        client.get(f"{api}/registrations", query_string={"q": "Minimale"}),
        client.get(f"{api}/registrations", query_string={"q": "ministere"}),
        client.post(f"{api}/checkins", json={"code": person.checkin_code, "nonce": "n-1"}),
        client.post(f"{api}/checkins", json={"code": person.checkin_code, "nonce": "n-1"}),
        client.post(f"{api}/checkins", json={"registration": person.id}),
        client.delete(f"{api}/checkins/{person.checkin_code}"),
        client.post(undo_url(event), data={"registration": person.id}),
        client.get(f"{api}/stats"),
        client.post(walk_in_url(event), data=walk_in_data(email=address), headers=JSON),
        client.post(
            walk_in_url(event), data=walk_in_data(email="walk.in@region.example"), headers=JSON
        ),
    ]
    found = client.get(f"{api}/registrations", query_string={"q": "Minimale"}).get_json()
    assert found["registrations"][0]["id"] == person.id  # the search still finds them
    assert answers[10].status_code == 409  # the address is already registered
    assert "registration" in answers[10].get_json()  # who it is, to check them in
    for response in answers:
        body = response.get_data(as_text=True)
        assert response.status_code < 500, body
        assert "ministere.example" not in body and "region.example" not in body, response.request
    # The organisers' page of the registration shows the address.
    organiser = account(Role.ORGANISER, [event])
    login(client, organiser)
    page = client.get(f"/events/{event.slug}/registrations/{person.id}").get_data(as_text=True)
    assert address in page


def test_a_walk_in_form_sent_back_shows_only_the_address_just_typed(client, db, event, door):
    address = "typed.again@ministere.example"
    make_registration(db, event, email=address)
    db.flush()
    refused = client.post(walk_in_url(event), data=walk_in_data(email=address))
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert page.count(address) == 1
    assert re.search(rf'<input[^>]*name="email"[^>]*value="{re.escape(address)}"', page)


def test_the_door_shows_the_job_title_only_if_badges_print_it(client, db, event, door):
    person = make_registration(db, event, last_name="Titrée", job_title="Cheffe de bureau")
    db.flush()
    url = f"/api/v1/events/{event.slug}/registrations"

    def shown() -> object:
        (found,) = client.get(url, query_string={"q": "Titrée"}).get_json()["registrations"]
        return found["job_title"]

    assert event.badge_job_title is True and shown() == "Cheffe de bureau"
    event.badge_job_title = False
    db.flush()
    assert shown() is None
    checked = client.post(f"/api/v1/events/{event.slug}/checkins", json={"registration": person.id})
    assert checked.status_code == 201
    assert "Cheffe" not in checked.get_data(as_text=True)
