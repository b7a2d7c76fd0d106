"""Organiser screens: the registrations list, one registration and its history, and
adding someone by hand."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import login, make_event, make_registration, make_user, page_text
from tracker.checkin.services import check_in, undo_check_in
from tracker.db import utcnow
from tracker.errors import AlreadyRegistered, InvalidChoice
from tracker.models import AuditEntry, OrganisationType, Registration, RegistrationSource, Role
from tracker.registration import services
from tracker.registration.services import CANCELLED, CONFIRMED, WAITLISTED


@pytest.fixture
def event(db):
    return make_event(db, capacity=2)


@pytest.fixture
def organiser(app, db, event):
    return make_user(app, db, Role.ORGANISER, [event], email="orga@example.org")


@pytest.fixture
def as_organiser(client, organiser):
    login(client, organiser)
    return client


def url(event, registration=None, action: str = "") -> str:
    base = f"/events/{event.slug}/registrations"
    if registration is not None:
        base += f"/{registration.id}"
    return f"{base}/{action}" if action else base


def fresh(db, registration) -> Registration:
    db.expire_all()
    return db.get(Registration, registration.id)


def listed_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-registration="(\d+)"', page)]


def edit_form(registration, **overrides) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "email": registration.email,
        "organisation": registration.organisation.name,
        "organisation_type": registration.organisation_type.value,
        "job_title": registration.job_title or "",
        "sessions": [str(s.id) for s in registration.sessions],
    }
    data.update(overrides)
    return data


# --- the list ----------------------------------------------------------------------------------


def test_search_and_filters(client, db, event, as_organiser):
    plenary, table = event.sessions[0], event.sessions[1]
    helene = make_registration(
        db,
        event,
        first_name="Hélène",
        last_name="Lefèvre",
        organisation="Région Bretagne",
        organisation_type=OrganisationType.REGION,
        session_ids=[table.id],
    )
    karim = make_registration(
        db,
        event,
        first_name="Karim",
        last_name="Ben Ahmed",
        organisation="Business France",
        organisation_type=OrganisationType.AGENCY,
        session_ids=[plenary.id],
    )
    waiting = make_registration(db, event, first_name="Zoé", session_ids=[plenary.id])
    door = make_user(client.application, db, Role.DOOR, [event])
    check_in(db, event, actor=door, door="A", registration_id=karim.id)
    db.flush()

    def ids(**args) -> list[int]:
        response = as_organiser.get(url(event), query_string=args)
        assert response.status_code == 200
        return listed_ids(response.get_data(as_text=True))

    assert sorted(ids()) == sorted([helene.id, karim.id, waiting.id])
    assert ids(q="helene lefevre") == [helene.id]  # accents and case ignored
    assert ids(q="BUSINESS") == [karim.id]
    assert ids(type="region") == [helene.id]
    assert ids(status="waitlisted") == [waiting.id]
    assert sorted(ids(session=str(plenary.id))) == sorted([karim.id, waiting.id])
    assert ids(checked_in="yes") == [karim.id]
    assert sorted(ids(checked_in="no")) == sorted([helene.id, waiting.id])
    assert ids(source="online", type="agency", checked_in="yes") == [karim.id]
    assert ids(source="import") == []
    page = page_text(as_organiser.get(url(event), query_string={"q": "karim"}))
    row = re.search(r"<tr data-registration=.*?</tr>", page, re.S).group(0)
    for shown in ["Ben Ahmed", "Business France", "Agency", "Confirmed", "Plénière", "Online"]:
        assert shown in row


@pytest.mark.parametrize(
    "args",
    [
        {"status": "bogus"},
        {"type": "<script>"},
        {"session": "99999999999999999999"},
        {"page": "abc"},
        {"page": "99999999999"},
        {"checked_in": "maybe"},
        {"q": "a\x00b"},
        {"q": "%_\\"},
    ],
)
def test_odd_filters_are_ignored_not_errors(client, db, event, as_organiser, args):
    make_registration(db, event)
    response = as_organiser.get(url(event), query_string=args)
    assert response.status_code == 200


def test_pages_of_fifty_keep_the_filters(client, db, as_organiser, organiser):
    event = make_event(db)
    organiser.events.append(event)
    for n in range(53):
        make_registration(db, event, last_name=f"Durand {n:02d}")
    make_registration(db, event, last_name="Other", organisation_type=OrganisationType.MINISTRY)
    first = as_organiser.get(url(event), query_string={"type": "cluster"}).get_data(as_text=True)
    assert len(listed_ids(first)) == 50
    assert 'data-total="53"' in first
    link = re.search(r'href="([^"]*page=2[^"]*)"', first).group(1).replace("&amp;", "&")
    assert "type=cluster" in link
    second = as_organiser.get(link).get_data(as_text=True)
    assert len(listed_ids(second)) == 3
    assert not set(listed_ids(first)) & set(listed_ids(second))


# --- one registration --------------------------------------------------------------------------


def test_edit_all_fields_and_see_it_in_the_history(client, db, event, organiser, as_organiser):
    person = make_registration(db, event, session_ids=[event.sessions[0].id])
    data = edit_form(
        person,
        first_name="Camille-Anne",
        organisation="Ministère de l’Économie",
        organisation_type="ministry",
        sessions=[str(event.sessions[1].id), str(event.sessions[2].id)],
    )
    response = as_organiser.post(url(event, person), data=data)
    assert response.status_code == 303
    person = fresh(db, person)
    assert person.first_name == "Camille-Anne"
    assert person.organisation.name == "Ministère de l’Économie"
    assert person.organisation_type == OrganisationType.MINISTRY
    assert [s.title for s in person.sessions] == ["Table ronde 1", "Table ronde 2"]
    assert person.locale == "en"  # the person's language for e-mails is kept
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "registration.update"))
    assert entry.user_id == organiser.id and entry.registration_id == person.id
    assert entry.changes["first_name"] == ["Camille", "Camille-Anne"]
    assert entry.changes["sessions"] == [["Plénière"], ["Table ronde 1", "Table ronde 2"]]
    page = page_text(as_organiser.get(url(event, person)))
    history = page[page.index('id="history"') :]
    assert "orga@example.org" in history and "Changed" in history
    assert "Camille → Camille-Anne" in history
    assert "Plénière → Table ronde 1, Table ronde 2" in history


def test_edit_with_errors_saves_nothing(client, db, event, as_organiser):
    person = make_registration(db, event)
    other = make_registration(db, event)
    bad = as_organiser.post(url(event, person), data=edit_form(person, email="not-an-address"))
    assert bad.status_code == 422 and "Enter a valid e-mail address." in page_text(bad)
    clash = as_organiser.post(url(event, person), data=edit_form(person, email=other.email))
    assert clash.status_code == 422
    assert "Another registration already uses this e-mail address." in page_text(clash)
    assert fresh(db, person).email == person.email
    assert db.scalar(select(AuditEntry).where(AuditEntry.action == "registration.update")) is None


def test_a_full_session_needs_the_override(client, db, as_organiser, organiser):
    event = make_event(db)
    organiser.events.append(event)
    table = event.sessions[1]
    table.capacity = 1
    make_registration(db, event, session_ids=[table.id])
    person = make_registration(db, event)
    data = edit_form(person, sessions=[str(table.id)])
    refused = as_organiser.post(url(event, person), data=data)
    assert refused.status_code == 422 and "is full" in page_text(refused)
    assert fresh(db, person).sessions == []
    data["override"] = "y"
    assert as_organiser.post(url(event, person), data=data).status_code == 303
    assert [s.id for s in fresh(db, person).sessions] == [table.id]


def test_cancel_promotes_the_waitlist_and_restore_comes_back(
    client, db, event, organiser, as_organiser, outbox
):
    first = make_registration(db, event)
    make_registration(db, event)
    waiting = make_registration(db, event)
    event.edit_deadline = utcnow() - timedelta(days=1)  # organisers are not bound by it
    db.flush()
    response = as_organiser.post(url(event, first, "cancel"), follow_redirects=True)
    assert "The registration has been cancelled." in page_text(response)
    assert fresh(db, first).status == CANCELLED
    assert fresh(db, waiting).status == CONFIRMED
    # The cancellation to the person cancelled, the place to the first one waiting.
    assert sorted((m["To"], m["Subject"]) for m in outbox.messages) == sorted(
        [
            (first.email, f"Registration cancelled: {event.title}"),
            (waiting.email, f"A place is yours: {event.title}"),
        ]
    )

    response = as_organiser.post(url(event, first, "restore"), follow_redirects=True)
    assert "restored, on the waitlist" in page_text(response)  # the place was given away
    assert fresh(db, first).status == WAITLISTED
    as_organiser.post(url(event, waiting, "cancel"))
    assert fresh(db, first).status == CONFIRMED  # first in the queue again
    as_organiser.post(url(event, waiting, "restore"))
    assert fresh(db, waiting).status == WAITLISTED

    page = page_text(as_organiser.get(url(event, first)))
    history = page[page.index('id="history"') :]
    for label in ["Cancelled", "Restored", "Confirmed from the waitlist"]:
        assert label in history
    again = as_organiser.post(url(event, waiting, "restore"), follow_redirects=True)
    assert "Only a cancelled registration can be restored." in page_text(again)


def test_restore_confirms_when_there_is_room(client, db, event, as_organiser):
    person = make_registration(db, event)
    as_organiser.post(url(event, person, "cancel"))
    response = as_organiser.post(url(event, person, "restore"), follow_redirects=True)
    assert "The registration has been restored: confirmed." in page_text(response)
    assert fresh(db, person).status == CONFIRMED


def test_confirming_over_capacity_needs_an_explicit_override(
    client, db, event, organiser, as_organiser, outbox
):
    make_registration(db, event)
    make_registration(db, event)
    waiting = make_registration(db, event)
    refused = as_organiser.post(url(event, waiting, "confirm"), follow_redirects=True)
    assert "The event is full (2 confirmed for 2 places)" in page_text(refused)
    assert fresh(db, waiting).status == WAITLISTED
    response = as_organiser.post(
        url(event, waiting, "confirm"), data={"override": "y"}, follow_redirects=True
    )
    assert "The registration is confirmed" in page_text(response)
    assert fresh(db, waiting).status == CONFIRMED
    assert [m["To"] for m in outbox.messages] == [waiting.email]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "registration.confirm"))
    assert entry.changes == {"status": ["waitlisted", "confirmed"], "override": True}
    assert entry.user_id == organiser.id


def test_moving_to_the_waitlist_gives_the_place_to_the_next_one(client, db, event, as_organiser):
    first = make_registration(db, event)
    make_registration(db, event)
    waiting = make_registration(db, event)
    response = as_organiser.post(url(event, first, "waitlist"), follow_redirects=True)
    assert "moved to the end of the waitlist" in page_text(response)
    assert fresh(db, first).status == WAITLISTED
    assert fresh(db, waiting).status == CONFIRMED
    # With nobody else waiting, the freed place stays free: not straight back to them.
    lone = make_event(db, capacity=1)
    person = make_registration(db, lone)
    assert services.waitlist_registration(db, person, actor=None) == []
    assert person.status == WAITLISTED


def test_resend_the_email(client, db, event, organiser, as_organiser, outbox):
    person = make_registration(db, event)
    response = as_organiser.post(url(event, person, "resend"), follow_redirects=True)
    assert (
        f"The e-mail to {person.email} is queued: it will be sent again in a moment."
        in page_text(response)
    )
    (message,) = outbox.messages
    assert message["To"] == person.email and "Your registration" in message["Subject"]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "registration.resend"))
    assert entry.user_id == organiser.id
    as_organiser.post(url(event, person, "cancel"))  # e-mails the cancellation
    refused = as_organiser.post(url(event, person, "resend"), follow_redirects=True)
    assert "A cancelled registration is sent no e-mail." in page_text(refused)
    assert sorted(m["Subject"] for m in outbox.messages) == [
        f"Registration cancelled: {event.title}",
        f"Your registration: {event.title}",
    ]


def test_history_shows_check_ins_and_scans(app, client, db, event, as_organiser):
    person = make_registration(db, event)
    door = make_user(app, db, Role.DOOR, [event], email="porte@example.org")
    check_in(db, event, actor=door, door="Porte A", code=person.checkin_code)
    check_in(db, event, actor=door, door="Porte B", code=person.checkin_code)
    check_in(
        db,
        event,
        actor=door,
        door="Salle 2",
        code=person.checkin_code,
        session_id=event.sessions[1].id,
    )
    db.flush()
    page = page_text(as_organiser.get(url(event, person)))
    history = page[page.index('id="history"') :]
    assert history.count('class="history-checkin"') == 2
    assert "Scan: already checked in" in history and "Door: Porte B" in history
    assert "porte@example.org" in history and "Table ronde 1" in history
    assert "Porte A" in page[: page.index('id="history"')]  # checked in at, up top
    # Each scan once, named: no second "Check-in recorded" from the audit log.
    assert history.count('class="history-scan"') == 3
    assert history.count('class="history-audit"') == 0

    undo_check_in(db, event, actor=door, door="Porte A", code=person.checkin_code)
    db.flush()
    history = page_text(as_organiser.get(url(event, person)))
    history = history[history.index('id="history"') :]
    assert history.count('class="history-checkin"') == 1
    assert "Check-in undone" in history and "checkin.undo" not in history


def test_another_events_registration_is_404(client, db, event, as_organiser):
    stranger = make_registration(db, make_event(db))
    assert as_organiser.get(url(event, stranger)).status_code == 404
    assert as_organiser.post(url(event, stranger, "cancel")).status_code == 404
    assert fresh(db, stranger).status == CONFIRMED
    assert as_organiser.get(f"{url(event)}/99999999999").status_code == 404


def test_a_door_account_cannot_touch_registrations(app, client, db, event):
    person = make_registration(db, event)
    login(client, make_user(app, db, Role.DOOR, [event]))
    assert client.get(url(event)).status_code == 403
    assert client.get(url(event, person)).status_code == 403
    assert client.post(url(event, person, "cancel")).status_code == 403
    assert (
        client.post(url(event, person), data=edit_form(person, first_name="X")).status_code == 403
    )
    assert fresh(db, person).status == CONFIRMED and fresh(db, person).first_name != "X"


# --- adding someone by hand -----------------------------------------------------------------------


def new_person(event, **overrides) -> dict[str, object]:
    data: dict[str, object] = {
        "first_name": "Yannick",
        "last_name": "Le Goff",
        "email": "yannick.legoff@bretagne.example",
        "organisation": "Région Bretagne",
        "organisation_type": "region",
        "job_title": "",
        "sessions": [str(event.sessions[0].id)],
        "consent": "y",
        "send_email": "y",
    }
    data.update(overrides)
    return data


def test_add_someone_by_hand(client, db, event, organiser, as_organiser, outbox):
    event.registration_closes_at = utcnow() - timedelta(hours=1)  # closed to the public
    db.flush()
    response = as_organiser.post(f"{url(event)}/new", data=new_person(event))
    assert response.status_code == 303
    person = db.scalar(select(Registration).where(Registration.last_name == "Le Goff"))
    assert person.source == RegistrationSource.MANUAL and person.status == CONFIRMED
    assert person.consent_at is not None
    assert response.headers["Location"].endswith(url(event, person))
    assert [m["To"] for m in outbox.messages] == [person.email]
    entry = db.scalar(select(AuditEntry).where(AuditEntry.action == "registration.add"))
    assert entry.user_id == organiser.id and entry.changes["source"] == "manual"
    page = page_text(as_organiser.get(url(event, person)))
    assert "Registered by an organiser" in page and "By hand" in page


def test_adding_by_hand_needs_consent_and_a_new_address(client, db, event, as_organiser, outbox):
    existing = make_registration(db, event)
    no_consent = new_person(event)
    del no_consent["consent"]
    response = as_organiser.post(f"{url(event)}/new", data=no_consent)
    assert response.status_code == 422
    assert "Confirm that this person agreed to the processing of their data." in page_text(response)
    twice = as_organiser.post(f"{url(event)}/new", data=new_person(event, email=existing.email))
    assert twice.status_code == 422
    assert "already registered for this event" in page_text(twice)
    assert f'href="{url(event, existing)}"' in twice.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(Registration).where(Registration.last_name == "Le Goff")) is None
    assert outbox.messages == []


def test_adding_when_full_waitlists_unless_overridden(client, db, event, as_organiser, outbox):
    make_registration(db, event)
    make_registration(db, event)
    data = new_person(event, send_email="")
    del data["send_email"]
    as_organiser.post(f"{url(event)}/new", data=data)
    waiting = db.scalar(select(Registration).where(Registration.last_name == "Le Goff"))
    assert waiting.status == WAITLISTED
    forced = new_person(event, email="autre@example.org", last_name="Forced", override="y")
    as_organiser.post(f"{url(event)}/new", data=forced)
    assert db.scalar(select(Registration).where(Registration.last_name == "Forced")).status == (
        CONFIRMED
    )
    assert [m["To"] for m in outbox.messages] == ["autre@example.org"]  # only when asked


# --- the services, directly -----------------------------------------------------------


def test_add_registration_service(db, app_ctx):
    event = make_event(db, capacity=1)
    data = services.RegistrationData(
        first_name="Anne",
        last_name="Roux",
        email="Anne.Roux@example.org",
        organisation="ADEME",
        organisation_type=OrganisationType.AGENCY,
        consent=True,
    )
    person = services.add_registration(
        db, event, data, actor=None, source=RegistrationSource.IMPORT
    )
    assert person.status == CONFIRMED and person.source == RegistrationSource.IMPORT
    services.cancel_by_organiser(db, person, actor=None)
    with pytest.raises(AlreadyRegistered):  # a cancelled one is not silently brought back
        services.add_registration(db, event, data, actor=None, source=RegistrationSource.IMPORT)
    data.consent = False
    data.email = "x@example.org"
    with pytest.raises(InvalidChoice):
        services.add_registration(db, event, data, actor=None, source=RegistrationSource.MANUAL)


def test_confirm_and_waitlist_refuse_the_wrong_status(db, app_ctx):
    event = make_event(db)
    person = make_registration(db, event)
    with pytest.raises(InvalidChoice):
        services.confirm_registration(db, person, actor=None)
    services.cancel_by_organiser(db, person, actor=None)
    with pytest.raises(InvalidChoice):
        services.waitlist_registration(db, person, actor=None)
    with pytest.raises(InvalidChoice):
        services.cancel_by_organiser(db, person, actor=None)


def test_confirm_respects_type_quotas_and_sessions(db, app_ctx):
    event = make_event(db, type_quotas={"cluster": 1})
    make_registration(db, event)
    waiting = make_registration(db, event)
    assert waiting.status == WAITLISTED
    with pytest.raises(services.NoRoom):
        services.confirm_registration(db, waiting, actor=None)
    services.confirm_registration(db, waiting, actor=None, override=True)
    assert waiting.status == CONFIRMED

    other = make_event(db, capacity=1)
    table = other.sessions[1]
    table.capacity = 0
    services.lock_event(db, other)
    first = make_registration(db, other)
    queued = make_registration(db, other, session_ids=[table.id])
    services.cancel_by_organiser(db, first, actor=None)
    queued = db.get(Registration, queued.id)
    assert queued.status == CONFIRMED and queued.sessions == []  # promotion drops it
    services.edit_registration(
        db, queued, registration_data_of(queued, [table.id]), actor=None, override=True
    )
    services.waitlist_registration(db, queued, actor=None)
    with pytest.raises(services.NoRoom, match="Table ronde 1"):
        services.confirm_registration(db, queued, actor=None)


def registration_data_of(registration, session_ids):
    return services.RegistrationData(
        first_name=registration.first_name,
        last_name=registration.last_name,
        email=registration.email,
        organisation=registration.organisation.name,
        organisation_type=registration.organisation_type,
        session_ids=session_ids,
    )


def test_an_empty_edit_is_refused_not_a_crash(as_organiser, db, event):
    registration = make_registration(db, event, first_name="Anne")
    db.commit()
    response = as_organiser.post(url(event, registration))
    assert response.status_code == 422
    assert fresh(db, registration).first_name == "Anne"
