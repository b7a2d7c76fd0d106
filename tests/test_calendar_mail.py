"""The calendar entry and the e-mails through a registration's life: confirmed, on the
waitlist (a tentative entry, no entrance code), promoted (the code arrives), cancelled
(a cancellation of the same entry, e-mailed); and the headers of the message itself.

Calendars are read with icalendar and e-mails from the outbox, as a mail client would.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest
from icalendar import Calendar

from tests.conftest import Outbox, form_data, make_event, make_registration
from tests.test_mail import check_registration_mail, part_of_type, qr_text_from_png, saved
from tests.test_organiser_events import login, make_user
from tracker.door.services import WalkInData, register_walk_in
from tracker.models import OrganisationType, Registration, RegistrationStatus, Role
from tracker.registration import services


def vevent_of(ics: str | bytes):  # type: ignore[no-untyped-def]
    calendar = Calendar.from_ical(ics)
    (vevent,) = calendar.walk("VEVENT")
    return str(calendar["method"]), vevent


def mail_vevent(message: EmailMessage):  # type: ignore[no-untyped-def]
    return vevent_of(part_of_type(message, "text/calendar").get_content())


def only_mail(outbox: Outbox, address: str) -> EmailMessage:
    (message,) = outbox.to(address)
    for path in outbox.path.glob("*.eml"):  # the next read sees only newer mail
        path.unlink()
    return message


def body(message: EmailMessage, kind: str) -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None
    return part.get_content()


def check_cancellation(message: EmailMessage, registration: Registration, before) -> None:  # type: ignore[no-untyped-def]
    """A cancellation e-mail: no entrance code, and the calendar entry it had before
    (`before`: that VEVENT) cancelled, under its UID, in a later version."""
    assert [p for p in message.walk() if p.get_content_maintype() == "image"] == []
    for kind in ("plain", "html"):
        text = body(message, kind)
        assert registration.checkin_code not in text
        assert "cid:" not in text
        assert f"/events/{registration.event.slug}" in text  # to register again
    method, vevent = mail_vevent(message)
    assert method == "CANCEL"
    assert str(vevent["status"]) == "CANCELLED"
    assert str(vevent["uid"]) == str(before["uid"])
    assert int(vevent["sequence"]) > int(before["sequence"])
    assert vevent.decoded("dtstart") == before.decoded("dtstart")
    # iTIP: a CANCEL names its organiser, the address the e-mails come from.
    sender = message["From"].addresses[0].addr_spec
    assert str(vevent["organizer"]) == f"mailto:{sender}"


def test_cancelling_through_the_private_link_e_mails_the_cancelled_calendar_entry(
    client, db, outbox
):
    event = make_event(db)
    db.commit()
    data = form_data(event)
    client.post(f"/events/{event.slug}/register", data=data)
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    confirmation = only_mail(outbox, registration.email)
    method, confirmed_entry = mail_vevent(confirmation)
    assert (method, str(confirmed_entry["status"])) == ("PUBLISH", "CONFIRMED")

    assert client.post(f"/r/{registration.manage_token}/cancel").status_code == 303

    message = only_mail(outbox, registration.email)
    assert message["Subject"] == f"Registration cancelled: {event.title}"
    assert "Your registration has been cancelled." in body(message, "plain")
    check_cancellation(message, registration, confirmed_entry)
    # The file of the private page is the same cancellation.
    downloaded = client.get(f"/r/{registration.manage_token}/event.ics")
    assert downloaded.status_code == 200
    method, vevent = vevent_of(downloaded.data)
    assert (method, str(vevent["status"])) == ("CANCEL", "CANCELLED")
    assert int(vevent["sequence"]) == int(mail_vevent(message)[1]["sequence"])
    page = client.get(f"/r/{registration.manage_token}").text
    assert "Remove from my calendar (.ics)" in page
    assert f"/r/{registration.manage_token}/event.ics" in page


def test_an_organiser_cancelling_e_mails_the_person_in_their_language(app, client, db, outbox):
    event = make_event(db, title="Journée des pôles")
    person = make_registration(db, event, locale="fr")
    waiting_for = make_registration(db, event, locale="fr")
    organiser = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    outbox.clear()  # their confirmations
    _method, before = vevent_of(_ics(client, person))
    login(client, organiser)

    response = client.post(f"/events/{event.slug}/registrations/{person.id}/cancel")

    assert response.status_code == 303
    message = only_mail(outbox, person.email)
    assert message["Subject"] == "Inscription annulée\u00a0: Journée des pôles"
    text = body(message, "plain")
    assert "Votre inscription a été annulée." in text
    assert "Le fichier .ics joint retire l’événement de votre agenda." in text
    check_cancellation(message, person, before)
    assert outbox.to(waiting_for.email) == []


def _ics(client, registration: Registration) -> bytes:  # type: ignore[no-untyped-def]
    response = client.get(f"/r/{registration.manage_token}/event.ics")
    assert response.status_code == 200
    return response.data


@pytest.mark.parametrize(
    ("language", "hint"),
    [
        ("en", "You will get your entrance code when a place is yours."),
        ("fr", "Vous recevrez votre code d’entrée dès qu’une place vous sera attribuée."),
    ],
)
def test_a_waitlisted_person_sees_no_code_until_a_place_is_theirs(
    client, db, outbox, language, hint
):
    event = make_event(db, capacity=1)
    first = make_registration(db, event)
    db.commit()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    data = form_data(event)
    client.post(f"/events/{event.slug}/register", data=data)
    waiting = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert waiting is not None and waiting.status == RegistrationStatus.WAITLISTED
    waitlisted = only_mail(outbox, waiting.email)
    assert [p for p in waitlisted.walk() if p.get_content_maintype() == "image"] == []
    assert hint in body(waitlisted, "plain") and hint in body(waitlisted, "html")
    assert waiting.checkin_code not in body(waitlisted, "plain") + body(waitlisted, "html")
    assert str(mail_vevent(waitlisted)[1]["status"]) == "TENTATIVE"

    page = client.get(f"/r/{waiting.manage_token}").text
    assert hint in page
    assert f"/r/{waiting.manage_token}/qr.png" not in page
    assert waiting.checkin_code not in page
    assert client.get(f"/r/{waiting.manage_token}/qr.png").status_code == 404
    method, tentative = vevent_of(_ics(client, waiting))
    assert (method, str(tentative["status"])) == ("PUBLISH", "TENTATIVE")

    client.post(f"/r/{first.manage_token}/cancel")  # the place is now theirs

    message = only_mail(outbox, waiting.email)
    db.expire_all()
    promoted = db.get(Registration, waiting.id)
    assert promoted is not None and promoted.status == RegistrationStatus.CONFIRMED
    if language == "en":
        check_registration_mail(message, promoted)  # the code and its QR code, readable
    assert promoted.checkin_code in body(message, "plain")
    (qr,) = [p for p in message.walk() if p.get_content_maintype() == "image"]
    assert qr_text_from_png(qr.get_content()) == promoted.checkin_code
    _method, confirmed = mail_vevent(message)
    assert str(confirmed["status"]) == "CONFIRMED"
    assert str(confirmed["uid"]) == str(tentative["uid"])
    assert int(confirmed["sequence"]) > int(tentative["sequence"])
    page = client.get(f"/r/{waiting.manage_token}").text
    assert hint not in page
    assert f"/r/{waiting.manage_token}/qr.png" in page
    assert qr_text_from_png(client.get(f"/r/{waiting.manage_token}/qr.png").data) == (
        promoted.checkin_code
    )


def test_each_change_of_status_is_a_later_version_of_the_calendar_entry(db):
    event = make_event(db, capacity=1)
    person = make_registration(db, event)
    versions = [person.calendar_sequence]
    person.job_title = "Directrice"  # not a change of status: the same version
    db.flush()
    assert person.calendar_sequence == versions[-1]
    services.cancel_by_organiser(db, person, actor=None)
    versions.append(person.calendar_sequence)
    services.restore_registration(db, person, actor=None)
    versions.append(person.calendar_sequence)
    services.waitlist_registration(db, person, actor=None)
    versions.append(person.calendar_sequence)
    assert versions == sorted(set(versions)) and len(versions) == 4


def test_a_walk_in_without_an_address_is_sent_nothing_when_cancelled(app, client, db, outbox):
    event = make_event(db)
    done = register_walk_in(
        db,
        event,
        WalkInData("Gaëlle", "Le Bihan", "Région Bretagne", OrganisationType.REGION),
        actor=None,
        door="A",
    )
    organiser = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    login(client, organiser)

    response = client.post(f"/events/{event.slug}/registrations/{done.registration.id}/cancel")

    assert response.status_code == 303
    assert outbox.messages == []


# --- the message's own headers -----------------------------------------------------------


def test_the_date_header_has_a_numeric_zone_and_each_message_its_own_content_id(client, db, outbox):
    event = make_event(db)
    db.commit()
    first, second = form_data(event), form_data(event)
    client.post(f"/events/{event.slug}/register", data=first)
    client.post(f"/events/{event.slug}/register", data=second)
    client.post(f"/events/{event.slug}/register", data=first)  # the link again
    messages = outbox.messages
    assert len(messages) == 3

    content_ids = []
    for message in messages:
        date = str(message["Date"])
        assert "GMT" not in date
        assert re.search(r" [+-]\d{4}$", date), date  # RFC 5322: "+0000"
        sent = parsedate_to_datetime(date)
        assert sent.tzinfo is not None
        assert abs(sent - datetime.now(UTC)) < timedelta(minutes=5)
        qr = part_of_type(message, "image/png")
        content_ids.append(qr["Content-ID"])
        assert f'src="cid:{qr["Content-ID"][1:-1]}"' in body(message, "html")
    assert len(set(content_ids)) == 3
    assert "<qr>" not in content_ids
