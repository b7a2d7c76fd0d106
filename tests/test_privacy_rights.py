"""The person's rights: their data (JSON and a page) and erasure, from the private page
and from the organiser's screens; the notice and the consent's version."""

from __future__ import annotations

import html
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.conftest import (
    form_data,
    leaks,
    login,
    make_event,
    make_registration,
    make_user,
    over,
    texts_in_database,
)
from tracker.checkin.services import check_in
from tracker.db import utcnow
from tracker.models import AuditEntry, CheckIn, Event, Registration, Role
from tracker.questions.services import QuestionSpec, add_question
from tracker.registration.services import CANCELLED, CONFIRMED, WAITLISTED


def page_text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


@pytest.fixture
def person(app, db, outbox):
    """A confirmed person, checked in, sent their confirmation; a waitlisted one after."""
    event = make_event(db, capacity=1)
    needs = add_question(
        db, event, QuestionSpec(label="Besoins particuliers", kind="long_text"), actor=None
    )
    registration = make_registration(
        db,
        event,
        first_name="Ondine",
        last_name="Vasseur-Lebrun",
        email="ondine.vasseur@ademe.example",
        job_title="Cheffe du pôle Abracadabra",
        session_ids=[event.sessions[0].id],
        answers={needs.id: ["Boucle magnétique Zanzibar\npour malentendants"]},
        send_email=True,
    )
    waiting = make_registration(db, event, email="en.attente@example.org", send_email=True)
    check_in(db, event, actor=None, door="Porte Est", code=registration.checkin_code, nonce="x1")
    db.commit()  # the e-mails are written
    assert outbox.to(registration.email)
    return registration, waiting


def test_the_private_page_links_to_the_data_and_its_erasure(client, person):
    registration, _waiting = person
    page = page_text(client.get(f"/r/{registration.manage_token}"))
    assert f"/r/{registration.manage_token}/data" in page
    assert f"/r/{registration.manage_token}/data.json" in page
    assert f"/r/{registration.manage_token}/erase" in page
    over_date = registration.event.ends_at + timedelta(days=90)
    assert str(over_date.year) in page.split("will be anonymised on")[1][:80]


def test_the_person_downloads_everything_held_about_them(client, person):
    registration, _waiting = person
    response = client.get(f"/r/{registration.manage_token}/data.json")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    data = json.loads(response.data)
    r = data["registration"]
    assert (r["first_name"], r["last_name"], r["email"]) == (
        "Ondine",
        "Vasseur-Lebrun",
        "ondine.vasseur@ademe.example",
    )
    assert r["job_title"] == "Cheffe du pôle Abracadabra"
    assert r["checkin_code"] == registration.checkin_code
    assert r["privacy_notice_version"] == "2"
    assert r["consent_at"]
    assert [s["title"] for s in data["sessions"]] == [registration.event.sessions[0].title]
    assert [(c["where"], c["door"]) for c in data["checkins"]] == [("entrance", "Porte Est")]
    [sent] = data["emails"]
    assert (sent["kind"], sent["to"], sent["state"]) == ("confirmation", r["email"], "sent")
    assert sent["subject"] == f"Your registration: {registration.event.title}"
    assert data["email_copies_in_outbox_folder"] == 1
    assert "scan.ok" in [h["action"] for h in data["history"]]
    assert data["event"]["personal_data_anonymised_on"]
    assert data["answers"] == [
        {
            "question": "Besoins particuliers",
            "answer": "Boucle magnétique Zanzibar\npour malentendants",
            "values": ["Boucle magnétique Zanzibar\npour malentendants"],
        }
    ]

    page = client.get(f"/r/{registration.manage_token}/data")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    text = page_text(page)
    for shown in (
        "Ondine Vasseur-Lebrun",
        registration.email,
        "Cheffe du pôle Abracadabra",
        "Besoins particuliers",
        "Boucle magnétique Zanzibar",
        "Porte Est",
        registration.checkin_code,
        "Your registration:",
    ):
        assert shown in text


def test_the_person_erases_the_registration_after_confirming(client, db, person, outbox):
    registration, waiting = person
    token, code, rid = registration.manage_token, registration.checkin_code, registration.id
    event_id = registration.event_id
    secrets_ = [
        registration.first_name,
        registration.last_name,
        registration.email,
        registration.job_title,
        "Boucle magnétique Zanzibar",
        token,
        code,
    ]
    assert leaks(texts_in_database(db.connection()), secrets_)

    confirm = client.get(f"/r/{token}/erase")
    assert confirm.status_code == 200 and "Yes, erase the registration" in confirm.text
    db.expire_all()
    assert db.get(Registration, rid) is not None  # nothing erased by looking

    response = client.post(f"/r/{token}/erase")
    assert response.status_code == 200
    assert "has been erased" in page_text(response)
    db.expire_all()
    assert db.get(Registration, rid) is None
    assert db.scalars(select(CheckIn).where(CheckIn.registration_id == rid)).all() == []
    assert leaks(texts_in_database(db.connection()), secrets_) == []
    assert client.get(f"/r/{token}").status_code == 404
    # The place went to the waitlist, who is told.
    assert db.get(Registration, waiting.id).status == CONFIRMED
    assert outbox.to(waiting.email)[-1]["Subject"].startswith("A place is yours")
    # The e-mails kept for the erased person are gone; the audit log says an erasure.
    assert outbox.to("ondine.vasseur@ademe.example") == []
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "registration.erase"))
    assert entry.changes == {"registration": rid, "status": "confirmed", "by": "attendee"}
    assert entry.event_id == event_id and entry.registration_id is None


def test_an_organiser_gives_a_person_their_data_and_erases_it(app, client, db, person):
    registration, waiting = person
    event = registration.event
    registration_id = registration.id
    organiser = make_user(app, db, Role.ORGANISER, [event], email="orga.rights@example.org")
    elsewhere = make_event(db)
    make_user(app, db, Role.ORGANISER, [elsewhere], email="orga.other@example.org")
    same_address_elsewhere = make_registration(db, elsewhere, email=registration.email.upper())
    mine_too = make_event(db)
    organiser.events.append(mine_too)
    again = make_registration(db, mine_too, email=registration.email)
    db.commit()
    login(client, organiser)

    base = f"/events/{event.slug}/registrations/{registration.id}"
    assert f"{base}/erase" in client.get(base).text
    data = client.get(f"{base}/data.json").get_json()
    assert data["registration"]["email"] == registration.email
    assert "Ondine Vasseur-Lebrun" in page_text(client.get(f"{base}/data"))

    found = page_text(client.get("/manage/people?email=Ondine.Vasseur@ADEME.example"))
    assert f"/events/{event.slug}/registrations/{registration.id}" in found
    assert f"/events/{mine_too.slug}/registrations/{again.id}" in found
    assert f"/registrations/{same_address_elsewhere.id}" not in found  # not theirs

    assert client.get(f"{base}/erase").status_code == 200
    response = client.post(f"{base}/erase")
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Registration, registration_id) is None
    assert db.get(Registration, waiting.id).status == CONFIRMED
    [entry] = db.scalars(select(AuditEntry).where(AuditEntry.action == "registration.erase"))
    assert entry.user_id == organiser.id and entry.changes["by"] == "organiser"


def test_door_accounts_cannot_see_or_erase(app, client, db, person):
    registration, _waiting = person
    door = make_user(app, db, Role.DOOR, [registration.event])
    db.commit()
    login(client, door)
    base = f"/events/{registration.event.slug}/registrations/{registration.id}"
    for url in (f"{base}/data", f"{base}/data.json", "/manage/people?email=x@example.org"):
        assert client.get(url).status_code == 403
    assert client.post(f"{base}/erase").status_code == 403


def test_erasing_a_waitlisted_or_cancelled_registration(client, db):
    event = make_event(db, capacity=0)
    waiting = make_registration(db, event)
    assert waiting.status == WAITLISTED
    cancelled = make_registration(db, event)
    cancelled.status = CANCELLED
    db.commit()
    for registration in (waiting, cancelled):
        registration_id = registration.id
        assert client.post(f"/r/{registration.manage_token}/erase").status_code == 200
        db.expire_all()
        assert db.get(Registration, registration_id) is None


def test_registrations_record_the_notice_version_they_consented_to(app, client, db, monkeypatch):
    event = make_event(db)
    db.commit()
    monkeypatch.setitem(app.config, "PRIVACY_VERSION", "2027-01")
    data = form_data(event)
    assert client.post(f"/events/{event.slug}/register", data=data).status_code == 303
    registration = db.scalar(select(Registration).where(Registration.email == data["email"]))
    assert registration.consent_version == "2027-01"
    assert registration.consent_at >= utcnow() - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("language", "words"),
    [
        (
            "en",
            [
                "Who is responsible",
                "Direction générale des Entreprises",
                "dpo@finances.example",
                "version 2027-01",
                "120 days",
                "CNIL",
            ],
        ),
        (
            "fr",
            [
                "Responsable du traitement",
                "Direction générale des Entreprises",
                "dpo@finances.example",
                "version 2027-01",
                "120 jours",
                "CNIL",
            ],
        ),
    ],
)
def test_the_notice_names_the_controller_purposes_retention_and_rights(
    app, client, monkeypatch, language, words
):
    monkeypatch.setitem(app.config, "CONTROLLER_NAME", "Direction générale des Entreprises")
    monkeypatch.setitem(app.config, "CONTROLLER_ADDRESS", "61 boulevard Vincent Auriol, Paris")
    monkeypatch.setitem(app.config, "CONTROLLER_EMAIL", "contact@finances.example")
    monkeypatch.setitem(app.config, "CONTROLLER_DPO_EMAIL", "dpo@finances.example")
    monkeypatch.setitem(app.config, "PRIVACY_VERSION", "2027-01")
    monkeypatch.setitem(app.config, "RETENTION_DAYS", 120)
    text = page_text(client.get("/privacy", headers={"Accept-Language": language}))
    for word in words:
        assert word in text


def test_an_organiser_sets_the_retention_period_and_sees_the_date(app, client, db):
    event = make_event(db)
    organiser = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    login(client, organiser)
    page = client.get(f"/events/{event.slug}/edit").text
    default_day = (event.ends_at + timedelta(days=90)).date().isoformat()
    assert f'data-anonymised-on="{default_day}' in page
    response = client.post(f"/events/{event.slug}/retention", data={"retention_days": "30"})
    assert response.status_code == 303
    db.expire_all()
    assert db.get(Event, event.id).retention_days == 30
    day = (event.ends_at + timedelta(days=30)).date().isoformat()
    assert f'data-anonymised-on="{day}' in client.get(f"/events/{event.slug}/edit").text
    for bad in ("-3", "trente", "99999"):
        response = client.post(
            f"/events/{event.slug}/retention", data={"retention_days": bad}, follow_redirects=True
        )
        assert "Retention period:" in page_text(response)
    db.expire_all()
    assert db.get(Event, event.id).retention_days == 30  # kept
    client.post(f"/events/{event.slug}/retention", data={"retention_days": ""})
    db.expire_all()
    assert db.get(Event, event.id).retention_days is None  # the default again


def test_an_anonymised_event_says_so_and_keeps_its_period(app, client, db):
    from tracker.privacy.retention import anonymise_event

    event = make_event(db)
    person = make_registration(db, event)
    organiser = make_user(app, db, Role.ORGANISER, [event])
    over(db, event)
    with app.app_context():
        anonymise_event(db, event)
    db.commit()
    login(client, organiser)
    assert "data-anonymised=" in client.get(f"/events/{event.slug}/edit").text
    response = client.post(
        f"/events/{event.slug}/retention", data={"retention_days": "400"}, follow_redirects=True
    )
    assert "already been anonymised" in page_text(response)
    # An anonymous row counts in the figures: there is nobody left to erase.
    response = client.post(
        f"/events/{event.slug}/registrations/{person.id}/erase", follow_redirects=True
    )
    assert "nothing is left to erase" in page_text(response)
    db.expire_all()
    assert db.get(Registration, person.id) is not None
