"""The registration pages, as a browser uses them."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from tests.conftest import form_data, make_event, make_registration, registration_data
from tracker.db import utcnow
from tracker.events.services import SessionSpec
from tracker.models import Organisation, Registration, RegistrationSource
from tracker.registration.services import (
    add_registration,
    confirm_registration,
    edit_registration,
)


def _count(db, event) -> int:
    return db.scalar(select(func.count(Registration.id)).where(Registration.event_id == event.id))


def _registration(db, email):
    db.expire_all()
    return db.scalar(select(Registration).where(Registration.email == email))


def _error_for(page: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', page)
    return match.group(1) if match else ""


def test_event_page_shows_the_event_in_its_time_zone(client, db):
    from datetime import UTC, datetime

    event = make_event(
        db,
        starts_at=datetime(2030, 12, 10, 8, 0, tzinfo=UTC),
        capacity=50,
        registration_closes_at=datetime(2030, 12, 10, 8, 0, tzinfo=UTC),
    )
    db.commit()
    page = client.get(f"/events/{event.slug}").text
    assert event.title in page and "Bercy" in page
    assert "9:00" in page or "09:00" in page  # 08:00 UTC is 09:00 in Paris in December
    assert 'data-places-left="50"' in page
    assert f'href="/events/{event.slug}/register"' in page
    assert "Table ronde 1" in page


def test_unknown_event_is_a_clean_404(client):
    response = client.get("/events/no-such-event")
    assert response.status_code == 404
    assert "Traceback" not in response.text and "<main" in response.text


def test_form_has_the_contract_field_names(client, db):
    event = make_event(db)
    page = client.get(f"/events/{event.slug}/register").text
    for name in [
        "first_name",
        "last_name",
        "email",
        "organisation",
        "organisation_type",
        "job_title",
        "sessions",
        "consent",
    ]:
        assert f'name="{name}"' in page, name
    for type_ in ["cluster", "ministry", "region", "agency", "other"]:
        assert f'value="{type_}"' in page
    assert f'value="{event.sessions[0].id}"' in page
    assert 'href="/privacy"' in page


def test_organisations_an_organiser_entered_are_suggested(client, db):
    event = make_event(db)
    add_registration(
        db,
        event,
        registration_data(organisation="Aerospace Valley"),
        actor=None,
        source=RegistrationSource.MANUAL,
    )
    db.commit()
    page = client.get(f"/events/{event.slug}/register").text
    assert '<option value="Aerospace Valley" data-type="cluster">' in page
    found = client.get("/organisations.json?q=aero").get_json()
    assert {"name": "Aerospace Valley", "type": "cluster"} in found


def test_organisation_names_typed_on_the_public_form_are_not_suggested(client, db):
    event, elsewhere = make_event(db), make_event(db)
    db.commit()
    typed = "Arnaque Pharma — appelez le 08 99"
    response = client.post(
        f"/events/{event.slug}/register", data=form_data(event, organisation=typed)
    )
    assert response.status_code == 303
    for slug in (event.slug, elsewhere.slug):
        page = html.unescape(client.get(f"/events/{slug}/register").text)
        assert typed not in page
    assert client.get("/organisations.json?q=arnaque").get_json() == []
    # The same name keeps being one organisation, whatever the spelling.
    make_registration(db, elsewhere, organisation="ARNAQUE pharma — appelez le 08 99")
    names = db.scalars(select(Organisation.name).where(Organisation.name.ilike("%pharma%")))
    assert list(names) == [typed]


def test_an_organisation_is_listed_once_an_organiser_uses_or_confirms_it(client, db):
    def suggested(prefix):
        return [o["name"] for o in client.get(f"/organisations.json?q={prefix}").get_json()]

    event = make_event(db, capacity=1)
    make_registration(db, event, organisation="Zircon Pôle Mer")
    waiting = make_registration(db, event, organisation="Zircon Cluster en attente")
    assert suggested("zircon") == []
    edited = make_registration(db, make_event(db), organisation="Zircon Typo")
    edit_registration(db, edited, registration_data(organisation="ZIRCON pole mer"), actor=None)
    assert suggested("zircon") == ["Zircon Pôle Mer"]  # the first spelling stays
    confirm_registration(db, waiting, actor=None, override=True)
    assert suggested("zircon") == ["Zircon Cluster en attente", "Zircon Pôle Mer"]


def test_success_redirects_to_the_private_page_with_everything(client, db, outbox):
    event = make_event(db)
    data = form_data(event, first_name="Zoé", last_name="Lefèvre", organisation=" VEGEPOLYS")
    response = client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 303
    registration = _registration(db, data["email"])
    assert response.headers["Location"] == f"/r/{registration.manage_token}"
    page = client.get(response.headers["Location"])
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert 'data-status="confirmed"' in page.text
    assert "Zoé Lefèvre" in page.text and registration.checkin_code in page.text
    assert f"/r/{registration.manage_token}/qr.png" in page.text
    assert f"/r/{registration.manage_token}/event.ics" in page.text
    assert f"/r/{registration.manage_token}/edit" in page.text
    assert f"/r/{registration.manage_token}/cancel" in page.text
    qr = client.get(f"/r/{registration.manage_token}/qr.png")
    assert qr.mimetype == "image/png" and qr.data == registration.qr_png
    ics = client.get(f"/r/{registration.manage_token}/event.ics")
    assert ics.mimetype == "text/calendar" and b"BEGIN:VEVENT" in ics.data
    [mail] = outbox.to(data["email"])
    assert registration.manage_token in mail.get_body(("plain",)).get_content()


def test_full_event_warns_before_and_waitlists(client, db):
    event = make_event(db, capacity=1)
    make_registration(db, event)
    db.commit()
    form = client.get(f"/events/{event.slug}/register").text
    assert "waitlist" in form
    response = client.post(f"/events/{event.slug}/register", data=form_data(event))
    page = client.get(response.headers["Location"]).text
    assert 'data-status="waitlisted"' in page


def test_closed_registration_shows_a_notice_and_refuses_posts(client, db):
    event = make_event(db, registration_opens_at=utcnow() + timedelta(days=2))
    db.commit()
    page = client.get(f"/events/{event.slug}/register").text
    assert "Registration is not open" in page and 'name="first_name"' not in page
    response = client.post(f"/events/{event.slug}/register", data=form_data(event))
    assert response.status_code == 409
    assert _count(db, event) == 0


def test_errors_are_shown_next_to_fields_and_nothing_is_saved(client, db):
    event = make_event(db)
    data = form_data(event, first_name="   ", email="not-an-address", consent="")
    response = client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 422
    assert _error_for(response.text, "first_name") == "This field is required."
    assert _error_for(response.text, "email") == "Enter a valid e-mail address."
    assert _error_for(response.text, "consent") == "Your consent is required to register."
    assert 'value="Vegepolys"' in response.text  # what was typed is kept
    assert _count(db, event) == 0


def test_a_duplicate_address_reveals_nothing_and_resends_the_link(client, db, outbox):
    event = make_event(db)
    first = make_registration(
        db, event, first_name="Hélène", email="helene@example.org", organisation="Ministère secret"
    )
    db.commit()
    outbox.clear()  # the confirmation
    data = form_data(event, email="HELENE@example.org", first_name="Mallory")
    response = client.post(f"/events/{event.slug}/register", data=data)
    assert response.status_code == 200
    assert "already registered" in response.text
    for secret in ["Hélène", "Ministère secret", first.manage_token, first.checkin_code]:
        assert secret not in response.text
    [mail] = outbox.to("helene@example.org")
    assert first.manage_token in mail.get_body(("plain",)).get_content()
    assert _count(db, event) == 1


def test_a_full_session_is_shown_and_refused(client, db):
    event = make_event(db, sessions=[SessionSpec("Table ronde", capacity=1)])
    table = event.sessions[0].id
    make_registration(db, event, session_ids=[table])
    db.commit()
    form = client.get(f"/events/{event.slug}/register").text
    assert "Table ronde (full)" in form
    response = client.post(
        f"/events/{event.slug}/register", data=form_data(event, sessions=[str(table)])
    )
    assert response.status_code == 422
    assert "is full" in _error_for(response.text, "sessions")
    assert _count(db, event) == 1


def test_edit_through_the_private_link(client, db):
    event = make_event(db)
    r = make_registration(db, event, session_ids=[event.sessions[0].id])
    db.commit()
    page = client.get(f"/r/{r.manage_token}/edit").text
    assert f'value="{r.first_name}"' in page and "checked" in page
    data = form_data(
        event, first_name="Claire", email=r.email, sessions=[str(event.sessions[2].id)]
    )
    data.pop("consent")
    response = client.post(f"/r/{r.manage_token}/edit", data=data)
    assert response.status_code == 303
    db.expire_all()
    assert r.first_name == "Claire"
    assert [s.id for s in r.sessions] == [event.sessions[2].id]


def test_edit_with_errors_saves_nothing(client, db):
    event = make_event(db)
    r = make_registration(db, event, first_name="Anne")
    db.commit()
    response = client.post(
        f"/r/{r.manage_token}/edit", data=form_data(event, first_name="Claire", email="bad")
    )
    assert response.status_code == 422
    db.expire_all()
    assert r.first_name == "Anne"


def test_cancel_frees_the_place_for_the_waitlist(client, db, outbox):
    event = make_event(db, capacity=1)
    r = make_registration(db, event)
    waiting = make_registration(db, event)
    db.commit()
    outbox.clear()  # the confirmations
    assert "Yes, cancel" in client.get(f"/r/{r.manage_token}/cancel").text
    response = client.post(f"/r/{r.manage_token}/cancel")
    assert response.status_code == 303
    page = client.get(f"/r/{r.manage_token}").text
    assert 'data-status="cancelled"' in page
    assert f"/r/{r.manage_token}/edit" not in page
    db.expire_all()
    assert waiting.status == "confirmed"
    [mail] = outbox.to(waiting.email)
    assert waiting.manage_token in mail.get_body(("plain",)).get_content()


def test_after_the_deadline_the_private_page_offers_no_changes(client, db):
    now = utcnow()
    event = make_event(db)
    r = make_registration(db, event)
    event.edit_deadline = now - timedelta(minutes=1)
    db.commit()
    page = client.get(f"/r/{r.manage_token}").text
    assert "deadline for changes has passed" in page
    assert f"/r/{r.manage_token}/cancel" not in page
    assert client.get(f"/r/{r.manage_token}/edit").status_code == 303
    client.post(f"/r/{r.manage_token}/cancel")
    db.expire_all()
    assert r.status == "confirmed"


def test_unknown_private_links_are_404(client):
    for token in ["nope", "A" * 43, "x" * 300]:
        assert client.get(f"/r/{token}").status_code == 404
        assert client.get(f"/r/{token}/qr.png").status_code == 404
        assert client.post(f"/r/{token}/cancel").status_code == 404


def test_pages_carry_security_headers(client, db):
    event = make_event(db)
    response = client.get(f"/events/{event.slug}/register")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in response.text  # no inline script: the policy forbids it


def test_an_event_over_several_days_shows_both_days(client, db):
    from datetime import UTC, datetime

    starts = datetime(2030, 12, 10, 8, 0, tzinfo=UTC)
    event = make_event(
        db,
        starts_at=starts,
        ends_at=datetime(2030, 12, 11, 16, 0, tzinfo=UTC),
        registration_closes_at=starts,
    )
    page = client.get(f"/events/{event.slug}").text
    assert "December 10, 2030" in page and "December 11, 2030" in page


def test_hints_and_errors_are_tied_to_their_fields(client, db):
    event = make_event(db)
    page = client.get(f"/events/{event.slug}/register").text
    tag = re.search(r'<input[^>]*id="organisation"[^>]*>', page).group(0)
    assert 'aria-describedby="organisation-hint"' in tag
    failed = client.post(f"/events/{event.slug}/register", data=form_data(event, organisation=""))
    assert 'aria-describedby="organisation-hint organisation-error"' in failed.text
    assert 'aria-invalid="true"' in failed.text


def test_an_empty_edit_is_refused_not_a_crash(client, db):
    event = make_event(db)
    r = make_registration(db, event, first_name="Anne")
    db.commit()
    response = client.post(f"/r/{r.manage_token}/edit")
    assert response.status_code == 422
    assert "This field is required." in response.text
    db.expire_all()
    assert r.first_name == "Anne"


def test_registration_not_yet_open_says_when_it_opens_in_each_language(client, db):
    """In the reader's language and the event's time zone, on the event page and the form."""
    event = make_event(
        db,
        timezone="America/New_York",
        starts_at=datetime(2090, 3, 10, 14, 0, tzinfo=UTC),
        registration_opens_at=datetime(2090, 1, 4, 14, 0, tzinfo=UTC),  # 09:00 in New York
    )
    db.commit()
    for path in (f"/events/{event.slug}", f"/events/{event.slug}/register"):
        page = client.get(path).text
        assert "Registration is not open yet: it opens on January 4, 2090, 9:00" in page, path
        client.set_cookie("lang", "fr")
        page = client.get(path).text
        assert (
            "Les inscriptions ne sont pas encore ouvertes\u00a0: "
            "elles ouvrent le 4 janvier 2090, 09:00" in html.unescape(page)
        ), path
        client.delete_cookie("lang")


def test_closed_registration_says_since_when_in_each_language(client, db):
    event = make_event(
        db,
        timezone="Europe/Paris",
        registration_opens_at=datetime(2026, 10, 1, 8, 0, tzinfo=UTC),
        registration_closes_at=datetime(2026, 11, 2, 16, 30, tzinfo=UTC),  # 17:30 in Paris
    )
    db.commit()
    for path in (f"/events/{event.slug}", f"/events/{event.slug}/register"):
        page = client.get(path).text
        assert "Registration closed on November 2, 2026, 5:30" in page, path
        assert "not open yet" not in page
        client.set_cookie("lang", "fr")
        page = html.unescape(client.get(path).text)
        assert "Les inscriptions sont closes depuis le 2 novembre 2026, 17:30" in page, path
        client.delete_cookie("lang")
