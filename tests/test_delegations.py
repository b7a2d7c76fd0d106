"""Delegations: one contact registers several people of one organisation in one form
(/events/<slug>/register/group), each person registered as the public form registers
one, all or nothing, and the contact's private page (/d/<token>)."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import (
    assert_counters_exact,
    make_event,
    make_registration,
    page_text,
    race,
    registration_count,
)
from tracker.models import (
    AuditEntry,
    Delegation,
    Event,
    OrganisationType,
    OutgoingMail,
    Registration,
    RegistrationStatus,
)
from tracker.registration import capacity, delegations
from tracker.registration.delegations import Contact, DelegationRefused, Person

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
CANCELLED = RegistrationStatus.CANCELLED


def group_form(event=None, people=2, **overrides):
    """What a contact sends: themselves, their organisation, then `people` rows."""
    data = {
        "contact_first_name": "Claire",
        "contact_last_name": "Dubois",
        "contact_email": "claire.dubois@vegepolys.example",
        "organisation": "Vegepolys",
        "organisation_type": "cluster",
        "consent": "y",
    }
    for i in range(people):
        data[f"people-{i}-first_name"] = "Paul"
        data[f"people-{i}-last_name"] = f"Martin {i}"
        data[f"people-{i}-email"] = f"paul.martin.{i}@vegepolys.example"
        data[f"people-{i}-job_title"] = ""
    if event is not None and event.sessions and people:
        data["people-0-sessions"] = [str(event.sessions[0].id)]
    data.update(overrides)
    return data


def contact(**overrides):
    values = {
        "name": "Claire Dubois",
        "email": "claire.dubois@vegepolys.example",
        "organisation": "Vegepolys",
        "organisation_type": OrganisationType.CLUSTER,
        "consent": True,
        "locale": "en",
    }
    values.update(overrides)
    return Contact(**values)


def people(n, prefix="person"):
    return [Person("Paul", f"Martin {i}", f"{prefix}.{i}@vegepolys.example") for i in range(n)]


def made(app, db, event, rows, **overrides):
    """A delegation registered by the service (outside the test client's requests)."""
    with app.test_request_context("/", headers={"Accept-Language": "en"}):
        return delegations.register_delegation(db, event, contact(**overrides), rows)


def url(event):
    return f"/events/{event.slug}/register/group"


def test_the_form_registers_each_person_and_the_contact_manages_them(client, db, outbox):
    event = make_event(db)
    page = client.get(url(event))
    assert page.status_code == 200
    assert 'name="people-2-first_name"' in page.get_data(as_text=True)  # three rows at first
    response = client.post(url(event), data=group_form(event, people=2, contact_attends="y"))
    assert response.status_code == 303, page_text(response)
    assert re.fullmatch(r"/d/[A-Za-z0-9_-]{43}", response.headers["Location"])
    delegation = db.scalar(select(Delegation).where(Delegation.event_id == event.id))
    found = delegation.registrations
    assert [r.email for r in found] == [
        "claire.dubois@vegepolys.example",
        "paul.martin.0@vegepolys.example",
        "paul.martin.1@vegepolys.example",
    ]
    assert {r.status for r in found} == {CONFIRMED}
    assert len({r.manage_token for r in found}) == len({r.checkin_code for r in found}) == 3
    assert [s.id for s in found[1].sessions] == [event.sessions[0].id]
    assert {r.organisation.name for r in found} == {"Vegepolys"}
    # One confirmation each, and one summary to the contact with the delegation's link.
    to_contact = outbox.to("claire.dubois@vegepolys.example")
    assert sorted(m["Subject"] for m in to_contact) == [
        f"Your delegation: {event.title}",
        f"Your registration: {event.title}",
    ]
    summary = next(m for m in to_contact if m["Subject"].startswith("Your delegation"))
    text = summary.get_body(("plain",)).get_content()
    assert f"/d/{delegation.token}" in text
    assert "Paul Martin 1 <paul.martin.1@vegepolys.example>: confirmed" in text
    assert len(outbox.to("paul.martin.0@vegepolys.example")) == 1
    # The contact's page lists them; the contact's own private page links to it.
    contact_page = client.get(response.headers["Location"])
    assert contact_page.headers["Cache-Control"] == "no-store"
    body = page_text(contact_page)
    assert "Paul Martin 0" in body and "Confirmed" in body
    own = page_text(client.get(f"/r/{found[0].manage_token}"))
    assert f"/d/{delegation.token}" in own
    assert f"/d/{delegation.token}" not in page_text(client.get(f"/r/{found[1].manage_token}"))
    (entry,) = db.scalars(
        select(AuditEntry).where(
            AuditEntry.event_id == event.id, AuditEntry.action == "delegation.register"
        )
    ).all()
    assert entry.changes["people"] == 3


def test_the_event_page_and_the_form_link_to_it(client, db):
    event = make_event(db)
    for path in (f"/events/{event.slug}", f"/events/{event.slug}/register"):
        page = page_text(client.get(path))
        assert "Registering several people of your organisation?" in page
        assert url(event) in page


def test_a_row_at_fault_saves_nobody_and_is_shown(client, db, outbox):
    event = make_event(db)
    make_registration(db, event, email="taken@vegepolys.example")
    before = registration_count(db, event)
    data = group_form(event, people=3)
    data["people-1-email"] = "taken@vegepolys.example"
    data["people-2-email"] = "PAUL.MARTIN.0@vegepolys.example"
    response = client.post(url(event), data=data)
    assert response.status_code == 422
    page = page_text(response)
    assert "This address is already registered for this event." in page
    assert "This address is already in row 1." in page
    assert registration_count(db, event) == before
    assert db.scalar(select(func.count(Delegation.id))) == 0
    assert outbox.messages == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"people-0-last_name": ""}, "This field is required."),
        ({"people-0-first_name": "Pa\x00ul"}, "Control characters"),
        ({"people-0-email": "not an address"}, "Enter a valid e-mail address."),
        ({"people-0-last_name": "x" * 101}, "At most 100 characters"),
        ({"consent": ""}, "Their consent is required"),
        ({"organisation_type": "pirates"}, "Choose the type of your organisation."),
    ],
)
def test_hostile_rows_are_refused_per_field(client, db, overrides, message):
    event = make_event(db)
    response = client.post(url(event), data=group_form(event, **overrides))
    assert response.status_code == 422
    assert message in page_text(response)
    assert registration_count(db, event) == 0


def test_sessions_of_another_event_are_refused(client, db):
    event, other = make_event(db), make_event(db)
    data = group_form(event, people=1)
    data["people-0-sessions"] = [str(other.sessions[0].id)]
    response = client.post(url(event), data=data)
    assert response.status_code == 422
    assert registration_count(db, event) == 0


def test_too_many_rows_are_refused_not_cut(client, db):
    event = make_event(db)
    response = client.post(url(event), data=group_form(event, people=21))
    assert response.status_code == 422
    assert "At most 20 people in one form" in page_text(response)
    assert registration_count(db, event) == 0
    huge = group_form(event, people=1)
    huge["people-99999999999999999999-first_name"] = "Paul"
    assert client.post(url(event), data=huge).status_code in (303, 422)


def test_no_person_at_all_is_refused(client, db):
    event = make_event(db)
    response = client.post(url(event), data=group_form(event, people=0))
    assert response.status_code == 422
    assert "Add at least one person." in page_text(response)


def test_more_rows_without_a_script(client, db):
    event = make_event(db)
    response = client.post(url(event), data={**group_form(event, people=3), "more": "1"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="people-5-first_name"' in body
    assert 'value="Paul"' in body  # what was typed is kept
    assert registration_count(db, event) == 0


def test_the_honeypot_saves_nothing(client, db):
    event = make_event(db)
    response = client.post(url(event), data=group_form(event, website="http://spam"))
    assert response.status_code == 200
    assert registration_count(db, event) == 0


def test_a_closed_event_takes_no_group(client, db):
    event = make_event(db)
    event.registration_closes_at = event.registration_opens_at
    db.flush()
    assert client.post(url(event), data=group_form(event)).status_code == 409
    assert registration_count(db, event) == 0


def test_capacity_and_the_cap_apply_person_by_person(db, app_ctx):
    event = make_event(db, capacity=10, per_organisation=2)
    result = delegations.register_delegation(db, event, contact(), people(3))
    statuses = [r.registration.status for r in result.registered]
    assert statuses == [CONFIRMED, CONFIRMED, WAITLISTED]
    assert result.registered[2].full.limit is capacity.Limit.ORGANISATION
    assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)


def test_a_full_session_refuses_the_row(db, app_ctx):
    event = make_event(db)
    event.sessions[0].capacity = 1
    db.flush()
    rows = people(2)
    for row in rows:
        row.session_ids = [event.sessions[0].id]
    with pytest.raises(DelegationRefused) as refused:
        delegations.register_delegation(db, event, contact(), rows)
    assert list(refused.value.rows) == [1]
    assert refused.value.rows[1][0][0] == "sessions"


def test_the_contacts_page_cancels_adds_and_resends(app, client, db, outbox):
    event = make_event(db, per_organisation=2)
    result = made(app, db, event, people(2))
    token = result.delegation.token
    assert client.get(f"/d/{token}").status_code == 200
    outbox.clear()
    added = client.post(
        f"/d/{token}/add",
        data={
            "people-0-first_name": "Anne",
            "people-0-last_name": "Moreau",
            "people-0-email": "anne.moreau@vegepolys.example",
            "consent": "y",
        },
        follow_redirects=True,
    )
    page = page_text(added)
    assert "1 person added." in page
    assert "No places are left for your organisation (at most 2 per organisation)." in page
    db.expire_all()
    delegation = db.get(Delegation, result.delegation.id)
    anne = delegation.registrations[2]
    assert (anne.email, anne.status) == ("anne.moreau@vegepolys.example", WAITLISTED)
    # Cancelling one of the two confirmed gives Anne the place.
    cancelled = client.post(f"/d/{token}/cancel", data={"person": "1"}, follow_redirects=True)
    assert "has been cancelled" in page_text(cancelled)
    db.expire_all()
    assert db.get(Registration, delegation.registrations[0].id).status == CANCELLED
    assert db.get(Registration, anne.id).status == CONFIRMED
    resent = client.post(f"/d/{token}/resend", data={"person": "2"}, follow_redirects=True)
    assert "e-mailed again" in page_text(resent)
    for bad in ("0", "4", "-1", "x", "1" * 40):
        assert client.post(f"/d/{token}/cancel", data={"person": bad}).status_code == 404
    assert client.get("/d/not-a-token-at-all-xxxxxxxxxxxx").status_code == 404


def test_adding_an_address_already_registered_is_shown_on_its_row(app, client, db):
    event = make_event(db)
    result = made(app, db, event, people(1))
    response = client.post(
        f"/d/{result.delegation.token}/add",
        data={
            "people-0-first_name": "Paul",
            "people-0-last_name": "Martin",
            "people-0-email": "person.0@vegepolys.example",
            "consent": "y",
        },
    )
    assert response.status_code == 422
    assert "This address is already registered for this event." in page_text(response)


def test_the_pages_are_in_french(client, db):
    event = make_event(db)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    page = page_text(client.get(url(event)))
    assert "Inscrire plusieurs personnes de votre organisme" in page


# --- one transaction under real concurrent connections -----------------------------------


@pytest.mark.concurrency
def test_concurrent_delegations_against_a_cap_of_2(app, committed_event):
    """Ten contacts of one organisation send three people each at once: exactly two
    people of the organisation are confirmed, and every delegation is whole."""
    factory = app.extensions["db"].sessionmaker
    event_id, _ = committed_event(per_organisation=2)
    n = 10

    def job(i):
        with app.test_request_context("/", headers={"Accept-Language": "en"}):
            with factory.begin() as db:
                event = db.get(Event, event_id)
                result = delegations.register_delegation(
                    db, event, contact(email=f"contact{i}@x.example"), people(3, f"p{i}")
                )
                return [r.registration.status for r in result.registered]

    try:
        results = race(app, n, n, job)
        assert all(len(r) == 3 for r in results)
        assert Counter(s for r in results for s in r) == {"confirmed": 2, "waitlisted": 28}
        assert_counters_exact(factory, event_id)
        with factory() as db:
            delegated = select(func.count(Delegation.id)).where(Delegation.event_id == event_id)
            assert db.scalar(delegated) == n
    finally:
        with factory.begin() as db:
            db.execute(
                delete(OutgoingMail).where(OutgoingMail.recipient.like("contact%@x.example"))
            )


def test_anonymising_the_event_takes_the_contacts_data_too(app, db, outbox):
    from tracker.privacy.retention import anonymise_event

    event = make_event(db)
    result = made(app, db, event, people(1))
    token = result.delegation.token
    with app.test_request_context("/"):
        anonymise_event(db, event)
    db.expire_all()
    delegation = db.get(Delegation, result.delegation.id)
    assert delegation.contact_name == ""
    assert "claire" not in delegation.contact_email and delegation.token != token
    summaries = select(OutgoingMail).where(
        OutgoingMail.kind == "delegation",
        OutgoingMail.recipient == "claire.dubois@vegepolys.example",
    )
    assert not db.scalars(summaries).all()


def test_the_form_is_limited_as_the_registration_form(client, db, monkeypatch):
    from tracker.auth import ratelimit

    event = make_event(db)
    monkeypatch.setattr(ratelimit, "registration_attempt", lambda: 90)
    response = client.post(url(event), data=group_form(event))
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "90"
    assert "Nothing was saved: wait 2 minutes" in page_text(response)
    assert registration_count(db, event) == 0
