"""A person who cancelled and registers again gets a new registration: a new private
link and check-in code. The old link shows only "cancelled"; the old badge never checks
the new person in."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import (
    JSON,
    PASSWORD,
    bearer,
    checkins_url,
    form_data,
    login,
    make_event,
    make_registration,
    registration_data,
    walk_in_data,
    walk_in_url,
)
from tracker.auth.services import create_user
from tracker.errors import AlreadyRegistered, InvalidChoice
from tracker.events.services import SessionSpec
from tracker.models import CheckIn, Event, Registration, RegistrationSource, Role
from tracker.registration.services import (
    add_registration,
    cancel_registration,
    edit_registration,
    register,
    restore_registration,
)

ADDRESS = "anne.moreau@example.org"


def _account(app, db, role, event, email):
    with app.app_context():
        return create_user(db, email, PASSWORD, role, [event])


def _register_by_form(client, event, **overrides):
    data = form_data(event, email=ADDRESS, **overrides)
    return client.post(f"/events/{event.slug}/register", data=data)


def _live(db, event) -> Registration:
    db.expire_all()
    return db.scalar(
        select(Registration).where(
            Registration.event_id == event.id,
            Registration.email_key == ADDRESS,
            Registration.status != "cancelled",
        )
    )


@pytest.fixture
def returning(client, db):
    """An event where ADDRESS registered, cancelled, then registered again (all through
    the public pages). Returns (event, old registration, new registration)."""
    event = make_event(db, sessions=[SessionSpec("Plénière"), SessionSpec("Table ronde Hydrogène")])
    db.commit()
    first = _register_by_form(
        client, event, first_name="Anne", last_name="Moreau", organisation="Vegepolys"
    )
    assert first.status_code == 303
    old = _live(db, event)
    client.post(f"/r/{old.manage_token}/cancel")
    again = _register_by_form(
        client,
        event,
        first_name="Mallory",
        last_name="Usurpateur",
        organisation="Ministère discret",
        organisation_type="ministry",
        sessions=[str(event.sessions[1].id)],
    )
    assert again.status_code == 303
    new = _live(db, event)
    assert again.headers["Location"] == f"/r/{new.manage_token}"
    db.refresh(old)
    return event, old, new


def test_registering_again_gives_a_new_link_code_and_qr(returning):
    _event, old, new = returning
    assert new.id != old.id
    assert old.status == "cancelled" and old.cancelled_at is not None
    assert new.status == "confirmed"
    assert new.manage_token != old.manage_token
    assert new.checkin_code != old.checkin_code
    assert new.qr_png != old.qr_png
    assert (old.first_name, old.last_name) == ("Anne", "Moreau")  # left as it was


def test_the_old_link_shows_cancelled_and_nothing_of_the_new_registration(client, returning):
    _event, old, new = returning
    page = client.get(f"/r/{old.manage_token}")
    assert page.status_code == 200
    assert 'data-status="cancelled"' in page.text
    for secret in [
        "Mallory",
        "Usurpateur",
        "Ministère discret",
        "Table ronde Hydrogène",
        new.manage_token,
        new.checkin_code,
    ]:
        assert secret not in page.text
    assert client.get(f"/r/{old.manage_token}/qr.png").data != new.qr_png
    assert client.get(f"/r/{old.manage_token}/edit").status_code == 303  # no changes

    page = client.get(f"/r/{new.manage_token}")
    assert 'data-status="confirmed"' in page.text
    assert "Mallory Usurpateur" in page.text and new.checkin_code in page.text
    assert client.get(f"/r/{new.manage_token}/qr.png").data == new.qr_png


def test_the_old_code_is_refused_at_the_door_and_the_new_one_checks_in(app, client, db, returning):
    event, old, new = returning
    door = _account(app, db, Role.DOOR, event, "door.again@example.org")
    headers = bearer(db, door)
    refused = client.post(
        checkins_url(event), json={"code": old.checkin_code, "door": "Hall"}, headers=headers
    )
    assert refused.status_code == 422
    body = refused.get_json()
    assert body["result"] == "not_confirmed" and body["status"] == "cancelled"
    assert body["registration"]["id"] == old.id
    assert "Mallory" not in refused.text
    assert db.scalar(select(func.count(CheckIn.id)).where(CheckIn.event_id == event.id)) == 0

    accepted = client.post(
        checkins_url(event), json={"code": new.checkin_code, "door": "Hall"}, headers=headers
    )
    assert accepted.status_code == 201
    assert accepted.get_json()["registration"]["id"] == new.id


def test_the_link_again_goes_to_the_live_registration_only(client, db, returning, outbox):
    event, old, new = returning
    response = _register_by_form(client, event, first_name="Eve")
    assert response.status_code == 200 and "already registered" in response.text
    [mail] = outbox.to(ADDRESS)
    text = mail.get_body(("plain",)).get_content()
    assert new.manage_token in text and old.manage_token not in text
    assert (
        db.scalar(select(func.count(Registration.id)).where(Registration.event_id == event.id)) == 2
    )


def test_a_cancelled_registration_whose_address_came_back_cannot_be_restored(
    app, client, db, returning
):
    event, old, new = returning
    with pytest.raises(InvalidChoice, match="registered again"):
        restore_registration(db, old, actor=None)

    organiser = _account(app, db, Role.ORGANISER, event, "org.again@example.org")
    login(client, organiser)
    url = f"/events/{event.slug}/registrations/{old.id}"
    response = client.post(f"{url}/restore", follow_redirects=True)
    assert response.status_code == 200
    assert "registered again since it was cancelled" in response.text
    db.refresh(old)
    assert old.status == "cancelled" and _live(db, event).id == new.id


def test_restoring_is_allowed_while_the_address_has_not_come_back(db):
    event = make_event(db)
    person = make_registration(db, event, email=ADDRESS)
    cancel_registration(db, person)
    assert restore_registration(db, person, actor=None).status == "confirmed"
    with pytest.raises(AlreadyRegistered):
        make_registration(db, event, email=ADDRESS)


def test_imports_and_organisers_still_skip_a_cancelled_address(db):
    event = make_event(db)
    person = make_registration(db, event, email=ADDRESS)
    cancel_registration(db, person)
    for source in (RegistrationSource.IMPORT, RegistrationSource.MANUAL):
        with pytest.raises(AlreadyRegistered) as caught:
            add_registration(
                db, event, registration_data(email=ADDRESS.upper()), actor=None, source=source
            )
        assert caught.value.registration.id == person.id


def test_a_walk_in_after_a_cancellation_is_a_new_registration(app, client, db):
    event = make_event(db)
    door = _account(app, db, Role.DOOR, event, "door.walk@example.org")
    login(client, door)
    person = make_registration(db, event, email=ADDRESS)
    cancel_registration(db, person)
    response = client.post(walk_in_url(event), data=walk_in_data(email=ADDRESS), headers=JSON)
    assert response.status_code == 201
    new = _live(db, event)
    assert response.get_json()["registration"]["id"] == new.id != person.id
    assert new.checkin_code != person.checkin_code and new.source == "walk_in"
    db.refresh(person)
    assert person.status == "cancelled"


def test_an_edit_may_take_a_cancelled_address_but_not_a_live_one(db):
    event = make_event(db)
    gone = make_registration(db, event, email=ADDRESS)
    cancel_registration(db, gone)
    other = make_registration(db, event, email="bruno@example.org")
    edit_registration(db, other, registration_data(email=ADDRESS), actor=None)
    assert other.email == ADDRESS
    third = make_registration(db, event, email="claire@example.org")
    with pytest.raises(InvalidChoice, match="Another registration"):
        edit_registration(db, third, registration_data(email=ADDRESS), actor=None)


# --- two re-registrations at once --------------------------------------------------------


@pytest.mark.concurrency
def test_two_simultaneous_re_registrations_give_one(app):
    factory = app.extensions["db"].sessionmaker
    with factory.begin() as db:
        event = make_event(db)
        event_id = event.id
        cancel_registration(db, register(db, event, registration_data(email=ADDRESS)))
    barrier = threading.Barrier(2)

    def attempt(_i):
        barrier.wait()
        with app.app_context(), factory.begin() as db:
            try:
                register(db, db.get(Event, event_id), registration_data(email=ADDRESS))
            except AlreadyRegistered:
                return "already"
            return "registered"

    try:
        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(attempt, range(2)))
        assert results == ["already", "registered"]
        with factory() as db:
            statuses = db.scalars(
                select(Registration.status).where(Registration.event_id == event_id)
            ).all()
        assert sorted(statuses) == ["cancelled", "confirmed"]
    finally:
        with factory.begin() as db:
            db.execute(delete(Event).where(Event.id == event_id))
