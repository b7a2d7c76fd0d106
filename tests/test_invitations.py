"""Invitations: the personal link (/i/<token>), the places reserved for invitees, the
organiser's page, the e-mails and `tracker invite`."""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta

import pytest
from flask import has_app_context
from sqlalchemy import func, select

from tests.conftest import (
    audit_entries,
    form_data,
    login,
    make_event,
    make_user,
    page_text,
    race,
    registration_data,
)
from tracker.db import utcnow
from tracker.door.services import WalkInData, register_walk_in
from tracker.errors import DomainError
from tracker.events import services as events
from tracker.invitations import services as invitations
from tracker.invitations.cli import invite_command
from tracker.models import (
    Admission,
    Event,
    Invitation,
    InvitationState,
    OrganisationType,
    OutgoingMail,
    Registration,
    RegistrationSource,
    Role,
)
from tracker.organiser import services as organiser
from tracker.questions.answers import answers_of
from tracker.questions.services import QuestionSpec, add_question
from tracker.registration import capacity
from tracker.registration import services as registrations

CLUSTER = OrganisationType.CLUSTER
LINK = re.compile(r"/i/([A-Za-z0-9_-]+)")


def invitee(n: int | str = 1, **overrides: object) -> invitations.InviteeData:
    data = invitations.InviteeData(
        first_name="Inès",
        last_name=f"Invitée {n}",
        email=f"ines.{n}@economie.example",
        organisation="DGE",
        organisation_type=OrganisationType.MINISTRY,
        job_title="Cheffe de bureau",
        locale="en",
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return data


_apps: list = []


@pytest.fixture(autouse=True)
def _the_app(app):
    _apps[:] = [app]


def invite(db, event, n: int | str = 1, **overrides: object) -> Invitation:
    """A new invitation (in an app context of its own when the test has none: the
    test client's requests must not share one)."""
    if has_app_context():
        return invitations.create_invitation(db, event, invitee(n, **overrides), actor=None)
    with _apps[0].app_context():
        return invitations.create_invitation(db, event, invitee(n, **overrides), actor=None)


def through(db, event, invitation: Invitation, **overrides: object) -> Registration:
    data = registration_data(
        first_name=invitation.first_name,
        last_name=invitation.last_name,
        email=invitation.email,
        organisation=invitation.organisation,
        organisation_type=invitation.organisation_type,
    )
    for key, value in overrides.items():
        setattr(data, key, value)
    return registrations.register(db, event, data, invitation=invitation)


def url_of(invitation: Invitation) -> str:
    return f"/i/{invitation.token}"


def sent_form(invitation: Invitation, **overrides: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "first_name": invitation.first_name,
        "last_name": invitation.last_name,
        "email": invitation.email,
        "organisation": invitation.organisation,
        "organisation_type": invitation.organisation_type.value,
    }
    return form_data(None, **{**fields, **overrides})


# --- the places reserved for invitees ------------------------------------------------------


def test_reserved_places_are_held_for_invitees(db, app_ctx):
    event = make_event(db, capacity=3, reserved_for_invitees=2)
    first = registrations.register(db, event, registration_data())
    second = registrations.register(db, event, registration_data())
    assert (first.status, second.status) == ("confirmed", "waitlisted")
    full = capacity.places(db, event).full_for(CLUSTER)
    assert full is not None and full.limit is capacity.Limit.RESERVED
    assert str(full.reason) == "The remaining places are reserved for invited guests."
    assert capacity.availability(db, event).event_left == 0
    assert capacity.availability(db, event, invited=True).event_left == 2

    a, b, c = (invite(db, event, n) for n in range(3))
    assert through(db, event, a).status == "confirmed"
    assert through(db, event, b).status == "confirmed"
    late = through(db, event, c)  # the capacity itself is full now
    assert late.status == "waitlisted" and late.invited
    assert capacity.places(db, event).confirmed(capacity.INVITED_SCOPE) == 2
    assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)


def test_invitees_beyond_the_reservation_take_ordinary_places(db, app_ctx):
    event = make_event(db, capacity=3, reserved_for_invitees=1)
    statuses = [through(db, event, invite(db, event, n)).status for n in range(3)]
    assert statuses == ["confirmed"] * 3
    assert registrations.register(db, event, registration_data()).status == "waitlisted"


def test_a_place_freed_goes_to_the_waitlist_in_turn_but_not_into_the_reservation(db, app_ctx):
    event = make_event(db, capacity=2, reserved_for_invitees=1)
    public = registrations.register(db, event, registration_data())
    waiting = registrations.register(db, event, registration_data())
    assert (public.status, waiting.status) == ("confirmed", "waitlisted")
    invited_late = invite(db, event, "late")
    holder = through(db, event, invite(db, event, "holder"))
    assert holder.status == "confirmed"
    # The invitee cancels: their place is the reservation's again, not the public's.
    registrations.cancel_registration(db, holder)
    db.refresh(waiting)
    assert waiting.status == "waitlisted"
    # The public person cancels: the waitlisted one gets the ordinary place.
    registrations.cancel_registration(db, public)
    db.refresh(waiting)
    assert waiting.status == "confirmed"
    assert through(db, event, invited_late).status == "confirmed"


def test_lowering_the_reservation_promotes_the_waitlist(db, app_ctx):
    event = make_event(db, capacity=1, reserved_for_invitees=1)
    waiting = registrations.register(db, event, registration_data())
    assert waiting.status == "waitlisted"
    spec = events.spec_of(event)
    spec.reserved_for_invitees = 0
    saved = organiser.save_event(db, event, spec, actor=None)
    assert [r.id for r in saved.promoted] == [waiting.id]


@pytest.mark.parametrize(
    ("capacity_", "reserved"),
    [(None, 1), (3, 4), (3, -1), (3, 10**9)],
)
def test_the_reservation_must_fit_in_the_capacity(db, app_ctx, capacity_, reserved):
    with pytest.raises(DomainError) as refused:
        make_event(db, capacity=capacity_, reserved_for_invitees=reserved)
    assert refused.value.field == "reserved_for_invitees"


def test_an_unknown_admission_is_refused(db, app_ctx):
    with pytest.raises(DomainError) as refused:
        make_event(db, admission="friends")
    assert refused.value.field == "admission"


# --- by invitation only ---------------------------------------------------------------------


def test_an_event_by_invitation_only_refuses_the_public_form(client, db, outbox):
    event = make_event(db, admission="invitation")
    page = client.get(f"/events/{event.slug}/register")
    assert "by invitation only" in page_text(page)
    assert 'name="first_name"' not in page.text
    refused = client.post(f"/events/{event.slug}/register", data=form_data(event))
    assert refused.status_code == 403 and "by invitation only" in page_text(refused)
    assert db.scalar(select(func.count(Registration.id))) == 0
    assert "by invitation only" in page_text(client.get(f"/events/{event.slug}"))
    with pytest.raises(registrations.InvitationOnly):
        with client.application.test_request_context("/"):
            registrations.register(db, event, registration_data())


def test_an_event_by_invitation_only_refuses_the_delegation_form(client, db):
    event = make_event(db, admission="invitation")
    page = client.get(f"/events/{event.slug}/register/group")
    assert "by invitation only" in page_text(page)
    assert 'name="contact_email"' not in page.text
    assert (
        f"/events/{event.slug}/register/group"
        not in client.get(f"/events/{event.slug}/register").text
    )
    sent = {
        "contact_first_name": "Chloé",
        "contact_last_name": "Contact",
        "contact_email": "chloe@dge.example",
        "organisation": "DGE",
        "organisation_type": "ministry",
        "people-0-first_name": "Paul",
        "people-0-last_name": "Durand",
        "people-0-email": "paul@dge.example",
        "consent": "y",
    }
    refused = client.post(f"/events/{event.slug}/register/group", data=sent)
    assert refused.status_code == 403 and "by invitation only" in page_text(refused)
    assert db.scalar(select(func.count(Registration.id))) == 0


def test_the_invitations_form_asks_the_events_questions(client, db):
    event = make_event(db, admission="invitation")
    lunch = add_question(
        db, event, QuestionSpec(label="Déjeuner", kind="yes_no", required=True), actor=None
    )
    invitation = invite(db, event)
    db.commit()
    assert f'name="{lunch.field_name}"' in client.get(url_of(invitation)).text
    refused = client.post(url_of(invitation), data=sent_form(invitation))
    assert refused.status_code == 422
    assert db.scalar(select(func.count(Registration.id))) == 0
    sent = client.post(url_of(invitation), data=sent_form(invitation, **{lunch.field_name: "yes"}))
    assert sent.status_code == 303
    registration = db.scalar(select(Registration).where(Registration.event_id == event.id))
    assert answers_of(db, [registration.id]) == {registration.id: {lunch.id: ["yes"]}}


def test_the_refusal_is_translated(client, db):
    event = make_event(db, admission="invitation")
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    page = client.get(f"/events/{event.slug}/register")
    assert "sur invitation" in page_text(page)


def test_walk_ins_and_organisers_still_register_at_an_invitation_only_event(db, app_ctx):
    event = make_event(db, admission="invitation", capacity=10)
    added = registrations.add_registration(
        db, event, registration_data(), actor=None, source=RegistrationSource.MANUAL
    )
    walk_in = register_walk_in(
        db, event, WalkInData("Paul", "Durand", "Région Bretagne", CLUSTER), actor=None, door="A"
    )
    assert added.status == "confirmed" and walk_in.registration.status == "confirmed"


def test_a_mixed_event_takes_both(client, db):
    event = make_event(db, admission="mixed", capacity=10, reserved_for_invitees=2)
    response = client.post(f"/events/{event.slug}/register", data=form_data(event))
    assert response.status_code == 303
    invitation = invite(db, event)
    response = client.post(url_of(invitation), data=sent_form(invitation))
    assert response.status_code == 303


# --- the personal link ------------------------------------------------------------------------


def test_the_link_opens_the_form_prefilled_and_registers_once(client, db, outbox):
    event = make_event(db, admission="invitation", capacity=1, reserved_for_invitees=1)
    invitation = invite(db, event, job_title=None)
    db.commit()
    assert len(invitation.token) >= 22  # at least 128 bits, URL-safe base64
    page = client.get(url_of(invitation))
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    text = page_text(page)
    assert 'value="Inès"' in text and f'value="{invitation.email}"' in text
    assert 'value="DGE"' in text
    assert re.search(r'<input checked[^>]*value="ministry"', text)
    db.refresh(invitation)
    assert invitation.state == InvitationState.OPENED and invitation.opened_at is not None

    response = client.post(url_of(invitation), data=sent_form(invitation))
    assert response.status_code == 303
    registration = db.scalar(select(Registration).where(Registration.event_id == event.id))
    assert registration is not None and registration.invited
    assert registration.status == "confirmed"
    db.refresh(invitation)
    assert invitation.state == InvitationState.REGISTERED
    assert invitation.registration_id == registration.id and invitation.answered_at

    again = client.get(url_of(invitation))
    assert again.status_code == 200
    assert "already registered" in page_text(again) or "cannot be used again" in page_text(again)
    assert registration.manage_token not in again.text  # never shown again
    assert 'name="first_name"' not in again.text

    reused = client.post(url_of(invitation), data=sent_form(invitation, email="other@x.example"))
    assert reused.status_code == 409
    assert db.scalar(select(func.count(Registration.id))) == 1


def test_a_used_link_registers_nobody_else(db, app_ctx):
    event = make_event(db)
    invitation = invite(db, event)
    through(db, event, invitation)
    with pytest.raises(invitations.InvitationUsed):
        through(db, event, invitation, email="someone.else@example.org")
    assert db.scalar(select(func.count(Registration.id))) == 1


def test_the_address_may_be_corrected_and_the_link_is_used_all_the_same(client, db):
    """The rule: the invitee may correct every field, their address too (an assistant's
    address was used); the registration is made under the address typed, and the
    invitation, used, stays with the address it was sent to."""
    event = make_event(db, admission="invitation")
    invitation = invite(db, event)
    response = client.post(
        url_of(invitation), data=sent_form(invitation, email="ines.perso@example.org")
    )
    assert response.status_code == 303
    registration = db.scalar(select(Registration).where(Registration.event_id == event.id))
    assert registration.email == "ines.perso@example.org" and registration.invited
    db.refresh(invitation)
    assert invitation.state == InvitationState.REGISTERED
    assert invitation.email == "ines.1@economie.example"
    assert invitation.registration_id == registration.id


def test_an_address_already_registered_leaves_the_invitation_open(client, db):
    event = make_event(db, admission="mixed")
    invitation = invite(db, event)
    registrations.register(db, event, registration_data(email=invitation.email))
    response = client.post(url_of(invitation), data=sent_form(invitation))
    assert response.status_code == 200 and "already registered" in page_text(response)
    db.refresh(invitation)
    assert invitation.state != InvitationState.REGISTERED


@pytest.mark.parametrize(
    "token",
    [
        "x",
        "short",
        "A" * 21,
        "A" * 32,  # the right shape, forged
        "A" * 65,
        "%00" * 30,
        "a" * 40 + "%0A",
        "é" * 30,
    ],
)
def test_unknown_forged_or_short_tokens_are_a_translated_404(client, db, token):
    event = make_event(db)
    invite(db, event)
    page = client.get(f"/i/{token}")
    assert page.status_code == 404
    assert "invitation link is not valid" in page_text(page)
    assert client.post(f"/i/{token}/decline").status_code in (400, 404)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "fr"
    assert "invitation n’est pas valide" in page_text(client.get(f"/i/{token}"))


def test_a_draft_event_hides_its_invitations(client, db):
    event = make_event(db, visibility="draft")
    assert client.get(url_of(invite(db, event))).status_code == 404


def test_registration_not_open_shows_no_form(client, db):
    event = make_event(db, registration_opens_at=utcnow() + timedelta(days=1))
    invitation = invite(db, event)
    page = client.get(url_of(invitation))
    assert page.status_code == 200 and 'name="first_name"' not in page.text
    assert client.post(url_of(invitation), data=sent_form(invitation)).status_code == 409


def test_hostile_fields_are_refused_with_nothing_saved(client, db):
    event = make_event(db)
    invitation = invite(db, event)
    response = client.post(
        url_of(invitation), data=sent_form(invitation, first_name="Inès\x00", last_name="x" * 500)
    )
    assert response.status_code == 422
    assert "Control characters" in page_text(response) and "At most 100" in page_text(response)
    assert db.scalar(select(func.count(Registration.id))) == 0
    db.refresh(invitation)
    assert invitation.state == InvitationState.OPENED or invitation.state == InvitationState.CREATED


# --- declining ------------------------------------------------------------------------------


def test_declining_is_one_click_and_only_once(client, db):
    event = make_event(db)
    invitation = invite(db, event)
    page = client.get(url_of(invitation))
    assert f'action="/i/{invitation.token}/decline"' in page.text
    response = client.post(f"/i/{invitation.token}/decline", follow_redirects=True)
    assert "You have declined the invitation" in page_text(response)
    db.refresh(invitation)
    assert invitation.state == InvitationState.DECLINED and invitation.answered_at
    assert [e.changes["invitation"] for e in audit_entries(db, event, "invitation.decline")] == [
        invitation.id
    ]

    twice = client.post(f"/i/{invitation.token}/decline", follow_redirects=True)
    assert "already declined" in page_text(twice)
    assert len(audit_entries(db, event, "invitation.decline")) == 1
    # Declined: the link no longer registers.
    response = client.post(url_of(invitation), data=sent_form(invitation))
    assert response.status_code == 409 and 'name="first_name"' not in response.text
    assert db.scalar(select(func.count(Registration.id))) == 0
    with pytest.raises(invitations.InvitationDeclined):
        with client.application.test_request_context("/"):
            through(db, event, invitation)


def test_declining_after_registering_is_refused(client, db):
    event = make_event(db)
    invitation = invite(db, event)
    client.post(url_of(invitation), data=sent_form(invitation))
    response = client.post(f"/i/{invitation.token}/decline", follow_redirects=True)
    assert "use the private link" in page_text(response)
    db.refresh(invitation)
    assert invitation.state == InvitationState.REGISTERED


def test_declining_needs_the_form_token(app, db):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        event = make_event(db)
        invitation = invite(db, event)
        with app.test_client() as c:
            assert c.post(f"/i/{invitation.token}/decline").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.refresh(invitation)
    assert invitation.state == InvitationState.CREATED


# --- e-mails ----------------------------------------------------------------------------------


def test_invitations_and_reminders_are_e_mailed_in_the_invitees_language(db, app_ctx, outbox):
    event = make_event(db, title="Atelier international")
    english = invite(db, event, "en", locale="en")
    french = invite(db, event, "fr", locale="fr")
    assert invitations.send_invitations(db, event, [english, french], actor=None) == 2
    db.commit()
    [message] = outbox.to(english.email)
    assert message["Subject"].startswith("Invitation: Atelier international")
    body = message.get_body(("plain",)).get_content()
    assert f"/i/{english.token}" in body and "decline" in body
    assert outbox.to(french.email)[0]["Subject"].startswith("Invitation : Atelier")
    assert english.state == InvitationState.SENT and english.sent_at is not None
    assert {m.kind for m in db.scalars(select(OutgoingMail))} == {"invitation"}

    outbox.clear()
    through(db, event, english)
    invitations.decline(db, invite(db, event, "no"))
    assert invitations.send_reminders(db, event, actor=None) == 1  # french only
    assert invitations.send_reminders(db, event, actor=None) == 0  # not twice in a row
    db.commit()
    [reminder] = outbox.to(french.email)
    assert reminder["Subject"].startswith("Rappel")
    assert f"/i/{french.token}" in reminder.get_body(("plain",)).get_content()
    assert outbox.to(english.email)[0]["Subject"].startswith("Your registration")
    later = utcnow() + invitations.REMIND_INTERVAL + timedelta(minutes=1)
    assert invitations.send_reminders(db, event, actor=None, now=later) == 1
    assert len(audit_entries(db, event, "invitation.remind")) == 2


def test_sending_again_skips_the_registered_and_reopens_the_declined(db, app_ctx):
    event = make_event(db)
    used, declined = invite(db, event, 1), invite(db, event, 2)
    through(db, event, used)
    invitations.decline(db, declined)
    assert invitations.send_invitations(db, event, [used, declined], actor=None) == 1
    assert declined.state == InvitationState.SENT and declined.answered_at is None


# --- the organiser's page -----------------------------------------------------------------------


def test_the_organiser_adds_sends_filters_and_reminds(as_organiser, db, event, outbox):
    page = as_organiser.get(f"/events/{event.slug}/invitations")
    assert page.status_code == 200 and "Invite someone" in page_text(page)
    response = as_organiser.post(
        f"/events/{event.slug}/invitations/add",
        data={
            "first_name": "Inès",
            "last_name": "Lefèvre",
            "email": "ines@economie.example",
            "organisation": "DGE",
            "organisation_type": "ministry",
            "locale": "fr",
            "send": "y",
        },
    )
    assert response.status_code == 303
    invitation = db.scalar(select(Invitation).where(Invitation.event_id == event.id))
    assert invitation.state == InvitationState.SENT and invitation.locale == "fr"
    assert outbox.to("ines@economie.example")[0]["Subject"].startswith("Invitation :")
    assert len(audit_entries(db, event, "invitation.add")) == 1

    twice = as_organiser.post(
        f"/events/{event.slug}/invitations/add",
        data={
            "first_name": "Inès",
            "last_name": "Lefèvre",
            "email": "INES@economie.example",
            "organisation": "DGE",
            "organisation_type": "ministry",
            "locale": "fr",
        },
    )
    assert twice.status_code == 422 and "already invited" in page_text(twice)

    listed = page_text(as_organiser.get(f"/events/{event.slug}/invitations?state=sent"))
    assert "Inès Lefèvre" in listed
    other = page_text(as_organiser.get(f"/events/{event.slug}/invitations?state=declined"))
    assert "Inès Lefèvre" not in other
    assert as_organiser.get(f"/events/{event.slug}/invitations?state=<x>").status_code == 200

    outbox.clear()
    response = as_organiser.post(f"/events/{event.slug}/invitations/remind")
    assert response.status_code == 303
    assert len(outbox.to("ines@economie.example")) == 1
    response = as_organiser.post(
        f"/events/{event.slug}/invitations/send", data={"invitation": [str(invitation.id)]}
    )
    assert response.status_code == 303
    assert len(outbox.to("ines@economie.example")) == 2


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("first_name", "Inès\x07", "Control characters"),
        ("organisation", "x" * 201, "At most 200"),
        ("email", "not-an-address", "valid e-mail"),
        ("organisation_type", "friends", "Choose the type"),
        ("locale", "de", "languages offered"),
    ],
)
def test_the_add_form_refuses_bad_input(as_organiser, db, event, field, value, message):
    data = {
        "first_name": "Inès",
        "last_name": "Lefèvre",
        "email": "ines@economie.example",
        "organisation": "DGE",
        "organisation_type": "ministry",
        "locale": "fr",
        field: value,
    }
    response = as_organiser.post(f"/events/{event.slug}/invitations/add", data=data)
    assert response.status_code == 422 and message in page_text(response)
    assert db.scalar(select(func.count(Invitation.id))) == 0


def test_forged_ids_of_another_event_are_not_sent(as_organiser, app, db, event, outbox):
    other = make_event(db)
    theirs = invite(db, other)
    response = as_organiser.post(
        f"/events/{event.slug}/invitations/send",
        data={"invitation": [str(theirs.id), "99999999", "x", "1" * 40]},
        follow_redirects=True,
    )
    assert "Tick the invitations" in page_text(response)
    assert outbox.messages == []
    assert theirs.state == InvitationState.CREATED


def test_an_organiser_of_another_event_is_refused(app, client, db, event):
    stranger = make_user(app, db, Role.ORGANISER, [make_event(db)])
    login(client, stranger)
    assert client.get(f"/events/{event.slug}/invitations").status_code == 403
    response = client.post(f"/events/{event.slug}/invitations/add", data={"first_name": "x"})
    assert response.status_code == 403


CSV = (
    "Prénom;Nom;Courriel;Organisme;Type;Langue\n"
    "Inès;Lefèvre;ines@economie.example;DGE;Ministère;fr\n"
    "John;Smith;john@example.org;Business France;agency;English\n"
)


def test_the_organiser_imports_a_list(as_organiser, db, event, outbox):
    response = as_organiser.post(
        f"/events/{event.slug}/invitations/import",
        data={"file": (__import__("io").BytesIO(CSV.encode()), "invitees.csv"), "send": "y"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 303
    found = {i.email: i for i in db.scalars(select(Invitation))}
    assert set(found) == {"ines@economie.example", "john@example.org"}
    assert found["john@example.org"].locale == "en"
    assert found["ines@economie.example"].organisation_type == OrganisationType.MINISTRY
    assert outbox.to("john@example.org")[0]["Subject"].startswith("Invitation:")

    again = as_organiser.post(
        f"/events/{event.slug}/invitations/import",
        data={"file": (__import__("io").BytesIO(CSV.encode()), "invitees.csv")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert "2 addresses were already invited" in page_text(again)


def test_a_refused_row_records_nothing(as_organiser, db, event):
    bad = CSV + "Paul;;paul@example.org;DGE;unknown;klingon\n"
    response = as_organiser.post(
        f"/events/{event.slug}/invitations/import",
        data={"file": (__import__("io").BytesIO(bad.encode()), "invitees.csv")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    text = page_text(response)
    assert "Nothing was recorded" in text and "Line 4" in text and "klingon" in text
    assert db.scalar(select(func.count(Invitation.id))) == 0
    bin_ = as_organiser.post(
        f"/events/{event.slug}/invitations/import",
        data={"file": (__import__("io").BytesIO(b"\x00\x01"), "x.csv")},
        content_type="multipart/form-data",
    )
    assert bin_.status_code == 422 and "does not read as text" in page_text(bin_)


def test_the_settings_page_sets_the_admission_and_the_reservation(as_organiser, db, event):
    from tests.conftest import event_form

    url = f"/events/{event.slug}/edit"
    page = as_organiser.get(url)
    assert 'name="admission"' in page.text and 'name="reserved_for_invitees"' in page.text
    refused = as_organiser.post(url, data=event_form(capacity="10", reserved_for_invitees="11"))
    assert refused.status_code == 422 and "part of the capacity" in page_text(refused)
    saved = as_organiser.post(
        url, data=event_form(capacity="10", reserved_for_invitees="4", admission="mixed")
    )
    assert saved.status_code == 303
    db.refresh(event)
    assert event.admission == Admission.MIXED and event.reserved_for_invitees == 4
    # Left out of a form sent, they keep their values.
    assert as_organiser.post(url, data=event_form(capacity="10")).status_code == 303
    db.refresh(event)
    assert event.admission == Admission.MIXED and event.reserved_for_invitees == 4


# --- tracker invite ------------------------------------------------------------------------


@pytest.fixture
def runner(app, monkeypatch):
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    return app.test_cli_runner()


def test_the_command_invites_prints_links_and_skips_those_invited(
    runner, app, db, event, tmp_path, outbox
):
    path = tmp_path / "invitees.csv"
    path.write_text(CSV, encoding="utf-8")
    result = runner.invoke(invite_command, [event.slug, str(path)])
    assert result.exit_code == 0, result.output
    links = LINK.findall(result.output)
    assert len(links) == 2
    base = app.config["BASE_URL"]
    assert f"{base}/i/{links[0]}" in result.output
    assert "Invited: 2, already invited: 0, e-mailed: 0." in result.output
    assert {i.token for i in db.scalars(select(Invitation))} == set(links)
    assert outbox.messages == []

    again = runner.invoke(invite_command, [event.slug, str(path), "--send"])
    assert again.exit_code == 0, again.output
    assert "already invited: skipped" in again.output
    assert "Invited: 0, already invited: 2, e-mailed: 0." in again.output


def test_the_command_sends_with_send(runner, db, event, tmp_path, outbox):
    path = tmp_path / "invitees.csv"
    path.write_text(CSV, encoding="utf-8")
    result = runner.invoke(invite_command, [event.slug, str(path), "--send"])
    assert result.exit_code == 0, result.output
    assert "e-mailed: 2" in result.output
    states = {i.state for i in db.scalars(select(Invitation))}
    assert states == {InvitationState.SENT}
    assert db.scalar(select(func.count(OutgoingMail.id))) == 2


def test_command_errors_are_usage_errors_and_save_nothing(runner, db, event, tmp_path):
    path = tmp_path / "invitees.csv"
    path.write_text(CSV + "Paul;Durand;not-an-address;DGE;ministry;fr\n", encoding="utf-8")
    refused = runner.invoke(invite_command, [event.slug, str(path), "--send"])
    assert refused.exit_code == 2
    assert "line 4" in refused.output and "nothing was saved" in refused.output
    assert db.scalar(select(func.count(Invitation.id))) == 0
    assert db.scalar(select(func.count(OutgoingMail.id))) == 0

    unknown = runner.invoke(invite_command, ["no-such-event", str(path)])
    assert unknown.exit_code == 2 and "No event has the slug" in unknown.output
    missing = runner.invoke(invite_command, [event.slug, str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    binary = tmp_path / "list.xlsx"
    binary.write_bytes(b"not a workbook")
    unreadable = runner.invoke(invite_command, [event.slug, str(binary)])
    assert unreadable.exit_code == 2 and "workbook" in unreadable.output


def test_the_event_command_takes_the_admission(runner, db):
    from tracker.cli import event_create

    result = runner.invoke(
        event_create,
        [
            "cli-invite",
            "--title",
            "Atelier",
            "--starts",
            "2030-12-10T09:00",
            "--capacity",
            "50",
            "--admission",
            "invitation",
            "--reserved-for-invitees",
            "20",
        ],
    )
    assert result.exit_code == 0, result.output
    created = db.scalar(select(Event).where(Event.slug == "cli-invite"))
    assert created.admission == Admission.INVITATION and created.reserved_for_invitees == 20
    over = runner.invoke(
        event_create,
        [
            "cli-over",
            "--title",
            "A",
            "--starts",
            "2030-12-10T09:00",
            "--reserved-for-invitees",
            "2",
        ],
    )
    assert over.exit_code != 0 and "part of the capacity" in over.output


# --- concurrency (a SQLite file or PostgreSQL) ---------------------------------------------


def test_concurrent_public_and_invited_registrations_keep_the_reservation(app, committed_event):
    """120 people at once, 60 through an invitation, against 20 places of which 8 are
    reserved: exactly 12 of the public and 8 invitees are confirmed."""
    event_id, _ = committed_event(capacity=20, reserved_for_invitees=8)
    factory = app.extensions["db"].sessionmaker
    tokens = []
    with app.test_request_context("/"), factory.begin() as db:
        event = db.get(Event, event_id)
        for i in range(60):
            tokens.append(invite(db, event, f"race-{i}").id)

    def job(i):
        with factory.begin() as db:
            event = db.get(Event, event_id)
            if i % 2:
                invitation = db.get(Invitation, tokens[i // 2])
                return "invited", through(db, event, invitation).status
            data = registration_data(email=f"public{i}@example.org")
            return "public", registrations.register(db, event, data).status

    results = Counter(race(app, 120, 12, job))
    with factory() as db:
        event = db.get(Event, event_id)
        assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)
        confirmed = capacity.places(db, event).confirmed()
    assert confirmed == 20
    assert results[("public", "confirmed")] <= 12
    assert results[("public", "confirmed")] + results[("invited", "confirmed")] == 20
    # The invitees got at least the 8 places held for them.
    assert results[("invited", "confirmed")] >= 8


@pytest.mark.concurrency
def test_one_link_sent_concurrently_registers_once(app, committed_event):
    event_id, _ = committed_event(capacity=None)
    factory = app.extensions["db"].sessionmaker
    with app.test_request_context("/"), factory.begin() as db:
        invitation_id = invite(db, db.get(Event, event_id), "twin").id

    def job(i):
        try:
            with factory.begin() as db:
                event = db.get(Event, event_id)
                invitation = db.get(Invitation, invitation_id)
                through(db, event, invitation, email=f"twin{i}@example.org")
            return "registered"
        except invitations.InvitationUsed:
            return "used"

    assert Counter(race(app, 20, 10, job)) == {"registered": 1, "used": 19}
    with factory() as db:
        count = db.scalar(
            select(func.count(Registration.id)).where(Registration.event_id == event_id)
        )
    assert count == 1


# --- retention ------------------------------------------------------------------------------


def test_anonymising_the_event_removes_its_invitations_and_their_e_mails(
    app, db, tmp_path, monkeypatch
):
    from tests.conftest import leaks, over, readable, texts_in_database
    from tracker.privacy.retention import anonymise_event

    outbox = tmp_path / "outbox"
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(outbox))
    with app.test_request_context("/"):
        event = make_event(db, title="Atelier Zéphyrin")
        other = make_event(db)
        registered = invite(db, event, "reg", first_name="Philomène", email="philo@a.example")
        declined = invite(db, event, "dec", first_name="Anselme", email="anselme@a.example")
        waiting = invite(db, event, "wait", first_name="Eulalie", email="eulalie@a.example")
        kept = invite(db, other, "kept", first_name="Gardée", email="eulalie@a.example")
        invitations.send_invitations(db, event, [registered, declined, waiting], actor=None)
        invitations.send_invitations(db, other, [kept], actor=None)
        through(db, event, registered)
        invitations.decline(db, declined)
        db.commit()
        secrets_ = [
            "Philomène",
            "Anselme",
            "anselme@a.example",
            "philo@a.example",
            registered.token,
            declined.token,
            waiting.token,
        ]
        assert leaks(texts_in_database(db.connection()), secrets_)
        over(db, event)
        anonymise_event(db, event)
        db.commit()
    texts = texts_in_database(db.connection())
    assert leaks(texts, secrets_) == []
    assert db.scalar(select(func.count(Invitation.id)).where(Invitation.event_id == event.id)) == 0
    # The same address invited to another event keeps that invitation.
    assert kept.token in " ".join(texts)
    files = [t for p in outbox.glob("*.eml") for t in readable(p.read_bytes())]
    assert leaks(files, secrets_) == []
