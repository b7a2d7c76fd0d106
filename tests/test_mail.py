"""E-mails sent by registration, cancellation and the duplicate-address path.

The SMTP tests talk to a real SMTP server (aiosmtpd) started on a free local port,
so what is checked is what a mail server really receives.
"""

from __future__ import annotations

import email
import email.policy
import io
import logging
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from flask import Flask
from icalendar import Calendar
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from tests.conftest import Outbox, form_data, make_event, make_registration
from tracker import create_app
from tracker.db import utcnow
from tracker.models import Event, MailState, OutgoingMail, Registration, RegistrationStatus

# Logging in without TLS is what these tests do on purpose (127.0.0.1 only).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

# --- a real SMTP server ----------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """aiosmtpd handler keeping every message it accepts."""

    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


@dataclass
class Authenticator:
    """Accepts one login/password pair and records every attempt."""

    login: bytes
    password: bytes
    attempts: list[tuple[str, bytes, bytes]] = field(default_factory=list)

    def __call__(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.attempts.append((mechanism, auth_data.login, auth_data.password))
        ok = auth_data.login == self.login and auth_data.password == self.password
        return AuthResult(success=ok, handled=False)  # aiosmtpd sends the 235 or 535


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def smtp_server(**smtp_options: Any) -> Iterator[tuple[int, Collector]]:
    handler = Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **smtp_options)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


def use_smtp(monkeypatch: pytest.MonkeyPatch, app: Flask, port: int, **settings: Any) -> None:
    """Point the app at 127.0.0.1:port, whatever the environment configured."""
    values = {
        "MAIL_SERVER": "127.0.0.1",
        "MAIL_PORT": port,
        "MAIL_TIMEOUT": 5.0,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        **settings,
    }
    for key, value in values.items():
        monkeypatch.setitem(app.config, key, value)


@pytest.fixture
def smtp(app: Flask, monkeypatch: pytest.MonkeyPatch, outbox: Outbox) -> Iterator[Collector]:
    """A plain SMTP server the app sends to (the outbox fixture proves nothing lands there)."""
    with smtp_server() as (port, handler):
        use_smtp(monkeypatch, app, port)
        yield handler


# --- helpers -------------------------------------------------------------------


def register_url(event: Event) -> str:
    return f"/events/{event.slug}/register"


def saved(db: DbSession, event: Event, address: str) -> Registration | None:
    db.expire_all()
    return db.scalar(
        select(Registration).where(
            Registration.event_id == event.id, Registration.email_key == address.strip().casefold()
        )
    )


def count(db: DbSession, event: Event) -> int:
    db.expire_all()
    query = select(func.count(Registration.id)).where(Registration.event_id == event.id)
    return db.scalar(query) or 0


def mail_failures(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "tracker.mail" and r.levelno >= logging.WARNING]


def last_mail(db: DbSession, registration: Registration) -> OutgoingMail:
    db.expire_all()
    return db.scalars(
        select(OutgoingMail)
        .where(OutgoingMail.registration_id == registration.id)
        .order_by(OutgoingMail.id.desc())
    ).first()  # type: ignore[return-value]


def qr_text_from_png(png: bytes) -> str:
    """What a QR reader gets from the image: a well-formed PNG holding one QR code."""
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    image.verify()  # structure and chunk checksums
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode and found.ec_level == "M"
    return found.text


def part_of_type(message: EmailMessage, content_type: str) -> EmailMessage:
    parts = [p for p in message.walk() if p.get_content_type() == content_type]
    assert len(parts) == 1, f"expected one {content_type} part, found {len(parts)}"
    return parts[0]  # type: ignore[return-value]


def check_registration_mail(message: EmailMessage, registration: Registration) -> None:
    """What every mail about a registration that is not cancelled carries: the private
    link, the calendar entry, and for a confirmed person only, the check-in code and its
    QR code (a waitlisted person gets them when a place is theirs)."""
    link = f"/r/{registration.manage_token}"
    assert message["To"] == registration.email
    confirmed = registration.status == RegistrationStatus.CONFIRMED

    text = message.get_body(preferencelist=("plain",))
    assert text is not None
    text_body = text.get_content()
    assert link in text_body

    html = message.get_body(preferencelist=("html",))
    assert html is not None
    html_body = html.get_content()
    assert link in html_body

    images = [p for p in message.walk() if p.get_content_maintype() == "image"]
    if confirmed:
        assert registration.checkin_code in text_body
        (qr,) = images
        assert qr.get_content_disposition() == "inline"
        content_id = qr["Content-ID"]
        assert content_id.startswith("<") and content_id.endswith(">") and "@" in content_id
        assert f'src="cid:{content_id[1:-1]}"' in html_body
        png = qr.get_content()
        assert png == registration.qr_png
        assert qr_text_from_png(png) == registration.checkin_code
    else:
        assert images == []
        assert "cid:" not in html_body
        assert registration.checkin_code not in text_body + html_body
        assert "You will get your entrance code when a place is yours." in text_body

    ics = part_of_type(message, "text/calendar")
    assert ics.get_content_disposition() == "attachment"
    assert (ics.get_filename() or "").endswith(".ics")
    calendar = Calendar.from_ical(ics.get_content())
    assert str(calendar["method"]) == "PUBLISH"
    (vevent,) = calendar.walk("VEVENT")
    assert str(vevent["status"]) == ("CONFIRMED" if confirmed else "TENTATIVE")
    assert vevent.decoded("dtstart") == registration.event.starts_at.replace(microsecond=0)
    assert vevent.decoded("dtend") == registration.event.ends_at.replace(microsecond=0)
    # The calendar is shared: the public event page, not the private link.
    assert str(vevent["url"]) == f"http://127.0.0.1:5000/events/{registration.event.slug}"
    unfolded = ics.get_content().replace("\r\n ", "")
    assert registration.manage_token not in unfolded
    assert registration.checkin_code not in unfolded


# --- the confirmation ------------------------------------------------------------


def test_registering_sends_the_confirmation_by_smtp(client, db, smtp, outbox):
    event = make_event(db)
    db.commit()
    data = form_data(event)

    response = client.post(register_url(event), data=data)

    assert response.status_code == 303
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    assert response.headers["Location"].endswith(f"/r/{registration.manage_token}")
    assert len(smtp.received) == 1
    (received,) = smtp.received
    assert received.rcpt_tos == [data["email"]]
    assert received.mail_from.endswith("@localhost")
    assert received.message["Subject"] == f"Your registration: {event.title}"
    check_registration_mail(received.message, registration)
    assert outbox.messages == []


def test_the_qr_code_in_the_mail_reads_back_as_the_check_in_code(client, db, smtp):
    event = make_event(db)
    db.commit()
    data = form_data(event)
    client.post(register_url(event), data=data)
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None

    png = part_of_type(smtp.received[0].message, "image/png").get_content()
    assert qr_text_from_png(png) == registration.checkin_code


def test_without_mail_server_the_mail_is_written_to_the_outbox(
    app, client, db, monkeypatch, outbox
):
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    event = make_event(db)
    db.commit()
    data = form_data(event)

    response = client.post(register_url(event), data=data)

    assert response.status_code == 303
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    files = list(outbox.path.glob("*.eml"))
    assert len(files) == 1
    (message,) = outbox.to(data["email"])  # type: ignore[arg-type]
    assert message["Subject"] == f"Your registration: {event.title}"
    check_registration_mail(message, registration)


def test_a_waitlisted_person_is_told_so_with_the_link_but_no_code_yet(client, db, outbox):
    event = make_event(db, capacity=1)
    make_registration(db, event)
    db.commit()
    data = form_data(event)

    assert client.post(register_url(event), data=data).status_code == 303

    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    assert registration.status == RegistrationStatus.WAITLISTED
    (message,) = outbox.to(data["email"])  # type: ignore[arg-type]
    check_registration_mail(message, registration)  # no code, no QR code, a tentative entry
    assert "waitlist" in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]


def test_accented_sender_subject_and_calendar_arrive_as_written(app, client, db, monkeypatch, smtp):
    monkeypatch.setitem(app.config, "MAIL_SENDER", "Ministère de l'Économie <dge@bercy.example>")
    event = make_event(db, title="Journée des pôles : Végépolys & Cap Digital")
    db.commit()
    data = form_data(event)

    assert client.post(register_url(event), data=data).status_code == 303

    (received,) = smtp.received
    assert received.mail_from == "dge@bercy.example"
    (sender,) = received.message["From"].addresses
    assert sender.display_name == "Ministère de l'Économie"
    assert sender.addr_spec == "dge@bercy.example"
    assert received.message["Subject"] == f"Your registration: {event.title}"
    ics = part_of_type(received.message, "text/calendar").get_content()
    (vevent,) = Calendar.from_ical(ics).walk("VEVENT")
    assert str(vevent["summary"]) == event.title


@pytest.mark.parametrize(
    "sender", ["DGE, Bercy <dge@bercy.example>", "no address", "", "élodie@bercy.example"]
)
def test_a_sender_mail_cannot_be_sent_from_refuses_to_start(database_url, sender):
    with pytest.raises(RuntimeError, match="TRACKER_MAIL_SENDER"):
        create_app({"ENV_NAME": "testing", "DATABASE_URL": database_url, "MAIL_SENDER": sender})


def test_an_address_that_is_not_ascii_is_sent_with_smtputf8(app, client, db, monkeypatch, outbox):
    event = make_event(db)
    db.commit()
    data = form_data(event, email="élodie.lefèvre@pôle-végétal.example")
    with smtp_server(enable_SMTPUTF8=True) as (port, handler):
        use_smtp(monkeypatch, app, port)
        assert client.post(register_url(event), data=data).status_code == 303

    (received,) = handler.received
    assert received.rcpt_tos == ["élodie.lefèvre@pôle-végétal.example"]
    assert received.message["To"] == "élodie.lefèvre@pôle-végétal.example"
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    check_registration_mail(received.message, registration)


# --- SMTP authentication, TLS and failures ----------------------------------------


def test_smtp_login_with_the_configured_username_and_password(app, client, db, monkeypatch, outbox):
    authenticator = Authenticator(login=b"tracker", password=b"s3cret-pass")
    with smtp_server(authenticator=authenticator, auth_required=True, auth_require_tls=False) as (
        port,
        handler,
    ):
        use_smtp(monkeypatch, app, port, MAIL_USERNAME="tracker", MAIL_PASSWORD="s3cret-pass")
        event = make_event(db)
        db.commit()
        data = form_data(event)

        assert client.post(register_url(event), data=data).status_code == 303

    assert [(login, password) for _, login, password in authenticator.attempts] == [
        (b"tracker", b"s3cret-pass")
    ]
    assert len(handler.received) == 1
    assert handler.received[0].rcpt_tos == [data["email"]]


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("tracker", "wrong"),
        (None, None),  # the server requires a login the app does not make
        ("tracker", "mot-de-passe-accentué"),  # smtplib cannot send non-ASCII credentials
    ],
    ids=["wrong-password", "no-login", "non-ascii-password"],
)
def test_a_refused_smtp_login_is_logged_and_the_registration_kept(
    app, client, db, monkeypatch, caplog, username, password
):
    authenticator = Authenticator(login=b"tracker", password=b"s3cret-pass")
    with smtp_server(authenticator=authenticator, auth_required=True, auth_require_tls=False) as (
        port,
        handler,
    ):
        use_smtp(monkeypatch, app, port, MAIL_USERNAME=username, MAIL_PASSWORD=password)
        event = make_event(db)
        db.commit()
        data = form_data(event)

        with caplog.at_level(logging.WARNING, logger="tracker.mail"):
            response = client.post(register_url(event), data=data)

    assert response.status_code == 303
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    assert handler.received == []
    # The login is the app's configuration, not the message: tried again (once the
    # configuration is put right, it is sent), with the reason on the registration.
    row = last_mail(db, registration)
    assert (row.state, row.attempts) == (MailState.QUEUED, 1)
    assert row.last_error
    failures = mail_failures(caplog)
    assert len(failures) == 1
    assert f"mail {row.id} (confirmation)" in failures[0].getMessage()
    assert data["email"] not in failures[0].getMessage()


def test_when_the_smtp_server_is_down_registration_succeeds_and_the_failure_is_logged(
    app, client, db, monkeypatch, caplog, outbox
):
    use_smtp(monkeypatch, app, free_port(), MAIL_TIMEOUT=2.0)  # nothing listens there
    event = make_event(db)
    db.commit()
    data = form_data(event)

    with caplog.at_level(logging.WARNING, logger="tracker.mail"):
        response = client.post(register_url(event), data=data)

    assert response.status_code == 303
    registration = saved(db, event, data["email"])  # type: ignore[arg-type]
    assert registration is not None
    assert response.headers["Location"].endswith(f"/r/{registration.manage_token}")
    page = client.get(response.headers["Location"])
    assert page.status_code == 200
    assert 'data-status="confirmed"' in page.text
    row = last_mail(db, registration)
    assert row.state == MailState.QUEUED  # tried again later
    assert "ConnectionRefusedError" in (row.last_error or "")
    failures = mail_failures(caplog)
    assert len(failures) == 1
    assert failures[0].exc_info is not None
    assert isinstance(failures[0].exc_info[1], ConnectionRefusedError)


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made with the openssl command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.mark.parametrize("mode", ["MAIL_USE_SSL", "MAIL_USE_TLS"])
@pytest.mark.parametrize("trusted", [True, False], ids=["trusted", "untrusted"])
def test_tls_checks_the_server_certificate(
    app, client, db, monkeypatch, caplog, self_signed, mode, trusted
):
    cert, key = self_signed
    if trusted:
        # ssl.create_default_context() reads the trusted roots from SSL_CERT_FILE.
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    options: dict[str, Any] = (
        {"ssl_context": _server_context(cert, key)}
        if mode == "MAIL_USE_SSL"
        else {"tls_context": _server_context(cert, key), "require_starttls": True}
    )
    with smtp_server(**options) as (port, handler):
        use_smtp(monkeypatch, app, port, **{mode: True})
        event = make_event(db)
        db.commit()
        data = form_data(event)
        with caplog.at_level(logging.WARNING, logger="tracker.mail"):
            response = client.post(register_url(event), data=data)

    assert response.status_code == 303
    failures = mail_failures(caplog)
    if trusted:
        assert failures == []
        assert [r.rcpt_tos for r in handler.received] == [[data["email"]]]
    else:
        assert handler.received == []
        assert len(failures) == 1
        assert isinstance(failures[0].exc_info[1], ssl.SSLCertVerificationError)  # type: ignore[index]


# --- failures send nothing; a duplicate gets its own link again ----------------------


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": "not-an-address"},
        {"consent": ""},
        {"first_name": "   "},
        {"organisation_type": "secret-society"},
        {"sessions": ["999999999"]},
    ],
    ids=["bad-email", "no-consent", "blank-name", "unknown-type", "unknown-session"],
)
def test_a_refused_form_sends_nothing(client, db, smtp, outbox, overrides):
    event = make_event(db)
    db.commit()
    data = form_data(event, **overrides)

    response = client.post(register_url(event), data=data)

    assert response.status_code == 422
    assert count(db, event) == 0
    assert smtp.received == []
    assert outbox.messages == []


def test_registration_closed_sends_nothing(client, db, smtp, outbox):
    now = utcnow()
    event = make_event(
        db, registration_opens_at=now - timedelta(days=3), registration_closes_at=now
    )
    db.commit()

    response = client.post(register_url(event), data=form_data(event))

    assert response.status_code == 409
    assert count(db, event) == 0
    assert smtp.received == []
    assert outbox.messages == []


def test_a_duplicate_address_gets_the_link_again_and_the_page_reveals_nothing(
    client, db, smtp, outbox
):
    event = make_event(db)
    first = make_registration(
        db,
        event,
        first_name="Aurélie",
        last_name="Zwicky-Ostrander",
        email="Aurelie.Zwicky@Example.org",
        organisation="Conseil régional des Pays de la Loire",
        job_title="Directrice des affaires européennes",
    )
    db.commit()
    secrets_of_first = [
        "Aurélie",
        "Aur&eacute;lie",
        "Aur&#233;lie",
        "Zwicky",
        "Pays de la Loire",
        "Directrice",
        first.checkin_code,
        first.manage_token,
        "Aurelie.Zwicky@Example.org",
    ]
    smtp.received.clear()  # the first registration's confirmation

    response = client.post(
        register_url(event),
        data=form_data(
            event,
            first_name="Mallory",
            last_name="Intruder",
            email="  aurelie.zwicky@EXAMPLE.ORG ",
            organisation="Elsewhere Ltd",
        ),
    )

    assert response.status_code == 200
    assert 'data-result="already-registered"' in response.text
    for secret in secrets_of_first:
        assert secret not in response.text
    assert count(db, event) == 1
    kept = saved(db, event, "aurelie.zwicky@example.org")
    assert kept is not None
    assert (kept.first_name, kept.last_name, kept.organisation.name) == (
        "Aurélie",
        "Zwicky-Ostrander",
        "Conseil régional des Pays de la Loire",
    )

    (received,) = smtp.received
    assert received.rcpt_tos == ["Aurelie.Zwicky@Example.org"]
    message = received.message
    assert message["Subject"] == f"Your private link: {event.title}"
    check_registration_mail(message, kept)
    text = message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Mallory" not in text
    assert "Elsewhere" not in text
    assert outbox.messages == []


# --- the waitlist -------------------------------------------------------------------


def test_cancelling_at_a_full_event_mails_the_first_waitlisted_person(client, db, outbox):
    event = make_event(db, capacity=1)
    confirmed = make_registration(db, event)
    first_waiting = make_registration(db, event)
    second_waiting = make_registration(db, event)
    db.commit()
    assert confirmed.status == RegistrationStatus.CONFIRMED
    assert first_waiting.status == RegistrationStatus.WAITLISTED
    outbox.clear()  # the confirmations

    response = client.post(f"/r/{confirmed.manage_token}/cancel")

    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/r/{confirmed.manage_token}")
    promoted = saved(db, event, first_waiting.email)
    assert promoted is not None
    assert promoted.status == RegistrationStatus.CONFIRMED
    still_waiting = saved(db, event, second_waiting.email)
    assert still_waiting is not None
    assert still_waiting.status == RegistrationStatus.WAITLISTED

    (message,) = outbox.to(first_waiting.email)
    assert message["Subject"] == f"A place is yours: {event.title}"
    check_registration_mail(message, promoted)
    assert "now confirmed" in message.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert outbox.to(second_waiting.email) == []
