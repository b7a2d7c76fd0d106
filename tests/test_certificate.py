"""The certificate of attendance: who gets one, what it says, the private page's download."""

from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale
from pypdf import PdfReader
from sqlalchemy.orm import Session as DbSession

from tests.conftest import make_event, make_registration
from tracker.checkin.services import check_in
from tracker.events.services import SessionSpec
from tracker.mailings.certificate import (
    CertificateUnavailable,
    attendance,
    render_certificate,
)
from tracker.models import Event

DAY = datetime(2026, 12, 10, tzinfo=UTC)  # Paris: UTC+1


def paris(hour: int, minute: int = 0) -> datetime:
    return DAY + timedelta(hours=hour - 1, minutes=minute)


def workshop(db: DbSession) -> Event:
    return make_event(
        db,
        title="Atelier interministériel des pôles de compétitivité",
        organiser="Direction générale des entreprises",
        starts_at=paris(9),
        ends_at=paris(17, 30),
        registration_opens_at=DAY - timedelta(days=30),
        sessions=[
            SessionSpec("Séance plénière", "plenary", "Amphithéâtre", paris(9, 30), paris(12)),
            SessionSpec("Table ronde 1", "round table", "Salle 2", paris(14), paris(15, 30)),
            SessionSpec("Table ronde 2", "round table", "Salle 3", paris(14), paris(15, 30)),
        ],
    )


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture
def present(db: DbSession) -> tuple[Event, object]:
    event = workshop(db)
    plenary, rt1, _rt2 = (s.id for s in event.sessions)
    person = make_registration(
        db,
        event,
        now=DAY - timedelta(days=3),
        first_name="Élodie",
        last_name="Œuvray",
        organisation="Végépolys Valley",
        session_ids=[plenary, rt1],
    )
    check_in(db, event, actor=None, door="A", code=person.checkin_code, now=paris(9, 2))
    check_in(
        db, event, actor=None, door="A", code=person.checkin_code, session_id=rt1, now=paris(14, 5)
    )
    return event, person


def test_sessions_attended_are_the_checked_in_ones(db: DbSession, present) -> None:
    event, person = present
    found = attendance(db, person)
    assert found is not None
    assert found.arrived_at == paris(9, 2)
    # Registered for the plenary, never checked in to it: not on the certificate.
    assert [a.session.title for a in found.sessions] == ["Table ronde 1"]
    assert found.total == timedelta(hours=1, minutes=30)


def test_someone_never_checked_in_has_none(app_ctx: None, db: DbSession, present) -> None:
    event, _person = present
    absent = make_registration(db, event, now=DAY - timedelta(days=3))
    assert attendance(db, absent) is None
    with pytest.raises(CertificateUnavailable):
        render_certificate(db, absent, now=paris(18))


def test_none_before_the_event_is_over(app_ctx: None, db: DbSession, present) -> None:
    _event, person = present
    with pytest.raises(CertificateUnavailable) as refused:
        render_certificate(db, person, now=paris(16))
    assert "December 10, 2026, 5:30" in str(refused.value.message)


def test_the_pdf_says_who_what_when_where(
    app: Flask, db: DbSession, present, tmp_path: Path
) -> None:
    _event, person = present
    with app.test_request_context("/"), force_locale("fr"):
        pdf = render_certificate(db, person, now=paris(18))
    if os.environ.get("TRACKER_KEEP_CERTIFICATE"):
        Path(os.environ["TRACKER_KEEP_CERTIFICATE"]).write_bytes(pdf)
    text = text_of(pdf)
    assert "ATTESTATION DE PRÉSENCE" in text
    assert "Direction générale des entreprises" in text
    assert "Élodie" in text and "ŒUVRAY" in text
    assert "Végépolys Valley" in text
    assert "Atelier interministériel des pôles de compétitivité" in text
    assert "Centre Pierre Mendès France" in text
    assert "jeudi 10 décembre 2026" in text
    assert "09:02" in text  # arrival at the entrance
    assert "Table ronde 1" in text and "14:00" in text and "15:30" in text
    assert "Séance plénière" not in text  # registered, not attended
    assert "1 h 30" in text
    assert "pour servir et valoir ce que de droit" in text
    assert len(PdfReader(io.BytesIO(pdf)).pages) == 1


def test_download_from_the_private_page(client, db: DbSession, present) -> None:
    event, person = present
    event.ends_at = datetime.now(UTC) - timedelta(minutes=1)
    event.starts_at = event.ends_at - timedelta(hours=8)
    db.flush()
    page = client.get(f"/r/{person.manage_token}")
    assert f"/r/{person.manage_token}/certificate.pdf" in page.text
    response = client.get(f"/r/{person.manage_token}/certificate.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attestation.pdf" in response.headers["Content-Disposition"]
    assert "Certificate of attendance".upper() in text_of(response.data)


def test_no_download_before_the_end_or_when_absent(client, db: DbSession, present) -> None:
    event, person = present
    event.starts_at = datetime.now(UTC) - timedelta(hours=1)
    event.ends_at = datetime.now(UTC) + timedelta(hours=1)
    db.flush()
    assert "certificate.pdf" not in client.get(f"/r/{person.manage_token}").text
    response = client.get(f"/r/{person.manage_token}/certificate.pdf")
    assert response.status_code == 303
    followed = client.get(response.headers["Location"])
    assert "available once the event is over" in followed.text
