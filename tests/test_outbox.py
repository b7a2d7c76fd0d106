"""The outbox: every e-mail is recorded with the change that causes it and sent by the
worker, tried again while the mail server is down, silent or answers 4xx, failed for
good on a 5xx, and never sent twice.

The jobs wait in the queue (the `queued` fixture) and the test runs them, as the
worker would, with tracker.jobs.run_pending() or tracker.mail.send_due(now=...).
"""

from __future__ import annotations

import asyncio
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from tests.conftest import form_data, make_event, make_registration
from tests.test_mail import Collector, free_port, smtp_server, use_smtp
from tracker import jobs, mail
from tracker.db import utcnow
from tracker.models import Event, MailState, OutgoingMail, Registration, RegistrationStatus
from tracker.registration import services


def rows(db: DbSession, registration: Registration | None = None) -> list[OutgoingMail]:
    db.expire_all()
    query = select(OutgoingMail).order_by(OutgoingMail.id)
    if registration is not None:
        query = query.where(OutgoingMail.registration_id == registration.id)
    return list(db.scalars(query))


def registered(db: DbSession, event: Event, address: str) -> Registration:
    db.expire_all()
    return db.scalars(
        select(Registration).where(
            Registration.event_id == event.id, Registration.email_key == address.lower()
        )
    ).one()


@dataclass
class Refusing(Collector):
    """An SMTP server that answers RCPT TO with `reply` (a 4xx or 5xx) until told to
    accept."""

    reply: str | None = "451 4.3.0 Try again later"

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if self.reply is not None:
            return self.reply
        envelope.rcpt_tos.append(address)
        return "250 OK"


@contextmanager
def refusing_server(reply: str) -> Iterator[tuple[int, Refusing]]:
    from aiosmtpd.controller import Controller

    handler = Refusing(reply=reply)
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, handler
    finally:
        controller.stop()


@pytest.fixture
def server(app: Flask, monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    """A mail server the app sends to."""
    with smtp_server() as (port, handler):
        use_smtp(monkeypatch, app, port)
        yield handler


def send_due(app: Flask, **options: Any) -> int:
    """What the worker's sweep does (in the app's context, as a job)."""
    with app.app_context():
        return mail.send_due(**options)


# --- queued with the change, sent by the worker ----------------------------------------


def test_a_registration_records_its_e_mail_and_the_worker_sends_it(
    app: Flask, client, db, queued, server: Collector
) -> None:
    event = make_event(db)
    db.commit()
    data = form_data(event)

    response = client.post(f"/events/{event.slug}/register", data=data)

    assert response.status_code == 303
    person = registered(db, event, str(data["email"]))
    (row,) = rows(db, person)
    assert (row.kind, row.state, row.recipient, row.attempts) == (
        "confirmation",
        MailState.QUEUED,
        data["email"],
        0,
    )
    assert server.received == []  # the request sent nothing itself

    assert jobs.run_pending() == 1

    (row,) = rows(db, person)
    assert (row.state, row.attempts, row.last_error) == (MailState.SENT, 1, None)
    assert row.sent_at is not None
    assert row.subject == f"Your registration: {event.title}"
    (received,) = server.received
    assert received.rcpt_tos == [data["email"]]
    assert received.message["Subject"] == row.subject
    assert jobs.run_pending() == 0
    assert send_due(app, now=utcnow() + timedelta(days=3)) == 0  # never again


def test_a_refused_registration_records_no_e_mail(client, db, queued) -> None:
    event = make_event(db)
    db.commit()

    response = client.post(
        f"/events/{event.slug}/register", data=form_data(event, first_name="", consent="")
    )

    assert response.status_code == 422
    assert rows(db) == []
    assert jobs.run_pending() == 0


def test_an_e_mail_whose_queuing_was_lost_is_sent_by_the_sweep(
    app: Flask, client, db, queued, server: Collector
) -> None:
    event = make_event(db)
    db.commit()
    data = form_data(event)
    client.post(f"/events/{event.slug}/register", data=data)
    jobs.huey.flush()  # the web process stopped between its commit and the queue

    assert jobs.run_pending() == 0
    assert [r.state for r in rows(db)] == [MailState.QUEUED]
    mail.sweep_outbox.call_local()  # what the worker runs every minute, and at start

    assert [r.state for r in rows(db)] == [MailState.SENT]
    assert [r.rcpt_tos for r in server.received] == [[data["email"]]]


# --- the services queue their e-mails, whoever calls them --------------------------------


def test_every_promotion_is_e_mailed_whatever_frees_the_place(db, app_ctx, queued) -> None:
    """Raising the capacity (an organiser service that no view of the registration
    calls) promotes the first waitlisted person: the e-mail is queued all the same."""
    from tracker.events.services import EventSpec
    from tracker.organiser.services import save_event

    event = make_event(db, capacity=1)
    make_registration(db, event, send_email=True)
    waiting = make_registration(db, event, send_email=True)
    db.commit()
    assert waiting.status == RegistrationStatus.WAITLISTED
    spec = EventSpec(
        slug=event.slug,
        title=event.title,
        starts_at=event.starts_at,
        registration_opens_at=event.registration_opens_at,
        capacity=2,
    )

    saved = save_event(db, event, spec, actor=None)
    db.commit()

    assert saved.promoted == [waiting]
    assert [(r.kind, r.state) for r in rows(db, waiting)] == [
        ("confirmation", MailState.QUEUED),
        ("promoted", MailState.QUEUED),
    ]


def test_cancelling_queues_the_cancellation_and_the_promotion(db, queued) -> None:
    event = make_event(db, capacity=1)
    first = make_registration(db, event, send_email=True)
    waiting = make_registration(db, event, send_email=True)
    db.commit()

    services.cancel_registration(db, first)
    db.commit()

    assert [r.kind for r in rows(db, first)] == ["confirmation", "cancelled"]
    assert [r.kind for r in rows(db, waiting)] == ["confirmation", "promoted"]


def test_a_rolled_back_change_queues_nothing(db, queued) -> None:
    event = make_event(db, capacity=1)
    first = make_registration(db, event, send_email=True)
    make_registration(db, event, send_email=True)
    db.commit()
    before = len(rows(db))

    services.cancel_registration(db, first)
    db.rollback()

    assert len(rows(db)) == before
    assert jobs.huey.pending_count() == before  # the set-up's confirmations only


# --- when the server does not take the mail -----------------------------------------------


def test_a_4xx_answer_is_tried_again_later_and_sent_once_accepted(
    app: Flask, db, queued, monkeypatch, outbox, app_ctx
) -> None:
    with refusing_server("451 4.3.0 Mailbox busy, try again later") as (port, handler):
        use_smtp(monkeypatch, app, port)
        event = make_event(db)
        person = make_registration(db, event, send_email=True)
        db.commit()

        jobs.run_pending()
        (row,) = rows(db, person)
        assert (row.state, row.attempts) == (MailState.QUEUED, 1)
        assert row.last_error == "451 4.3.0 Mailbox busy, try again later"
        assert row.next_attempt_at > utcnow()
        assert mail.send_due() == 0  # not due yet: nothing is tried

        handler.reply = None  # the server takes mail again
        assert mail.send_due(now=row.next_attempt_at) == 1

    (row,) = rows(db, person)
    assert (row.state, row.attempts) == (MailState.SENT, 2)
    assert [r.rcpt_tos for r in handler.received] == [[person.email]]


def test_a_5xx_answer_fails_the_mail_for_good_and_says_why(
    app: Flask, db, queued, monkeypatch, outbox, app_ctx
) -> None:
    with refusing_server("550 5.1.1 No such user here") as (port, handler):
        use_smtp(monkeypatch, app, port)
        event = make_event(db)
        person = make_registration(db, event, send_email=True)
        db.commit()

        jobs.run_pending()
        assert mail.send_due(now=utcnow() + timedelta(days=1)) == 0

    (row,) = rows(db, person)
    assert (row.state, row.attempts) == (MailState.FAILED, 1)
    assert row.last_error == "550 5.1.1 No such user here"
    assert handler.received == []


def test_a_server_down_is_tried_again_for_48_hours_then_the_mail_has_failed(
    app: Flask, db, queued, monkeypatch, app_ctx
) -> None:
    use_smtp(monkeypatch, app, free_port(), MAIL_TIMEOUT=1.0)  # nothing listens there
    event = make_event(db)
    person = make_registration(db, event, send_email=True)
    db.commit()
    jobs.run_pending()
    (row,) = rows(db, person)
    created = row.created_at

    at = row.next_attempt_at
    while at < created + timedelta(hours=47):
        mail.send_due(now=at)
        (row,) = rows(db, person)
        assert row.state == MailState.QUEUED
        assert row.next_attempt_at - at <= timedelta(hours=1, seconds=5)
        at = row.next_attempt_at
    attempts = row.attempts
    mail.send_due(now=created + timedelta(hours=48, minutes=1))

    (row,) = rows(db, person)
    assert row.state == MailState.FAILED
    assert "ConnectionRefusedError" in (row.last_error or "")
    assert row.attempts == attempts + 1
    assert 45 <= row.attempts <= 60  # a minute, 2, 4... then every hour


def test_the_delay_between_attempts_doubles_up_to_an_hour() -> None:
    delays = [mail.retry_delay(n) for n in range(1, 10)]
    assert [d.total_seconds() / 60 for d in delays] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


# --- a request never waits on SMTP -------------------------------------------------------


class BlackHole:
    """A mail server that accepts connections and never answers; `open()` makes it
    forward them to a real one from then on."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.accepted = 0
        self.answering = False
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def open(self) -> None:
        self.answering = True

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted += 1
            if not self.answering:
                self.held.append(conn)  # silent
                continue
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for s in (source, target):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def test_with_a_silent_mail_server_registration_answers_and_every_mail_arrives_later(
    app: Flask, client, db, queued, monkeypatch, outbox
) -> None:
    with smtp_server() as (port, handler):
        hole = BlackHole(port)
        try:
            use_smtp(monkeypatch, app, hole.port, MAIL_TIMEOUT=0.3)
            event = make_event(db)
            db.commit()
            people = [form_data(event) for _ in range(3)]

            answers = [client.post(f"/events/{event.slug}/register", data=p) for p in people]

            assert [a.status_code for a in answers] == [303, 303, 303]
            assert hole.accepted == 0  # no request even connected to the mail server
            assert [r.state for r in rows(db)] == [MailState.QUEUED] * 3

            jobs.run_pending()  # the worker: its first attempt waits for the silent server
            assert hole.accepted == 1  # and it leaves the others to the sweep meanwhile
            first, *others = rows(db)
            assert (first.state, first.attempts) == (MailState.QUEUED, 1)
            assert "timed out" in (first.last_error or "")
            assert [(r.state, r.attempts) for r in others] == [(MailState.QUEUED, 0)] * 2

            hole.open()  # the server answers again
            monkeypatch.setitem(app.config, "MAIL_TIMEOUT", 10.0)  # however busy the machine
            later = utcnow() + timedelta(minutes=2)
            assert send_due(app, now=later) == 3
            assert send_due(app, now=later + timedelta(hours=1)) == 0
        finally:
            hole.close()

    assert sorted(r.rcpt_tos[0] for r in handler.received) == sorted(
        str(p["email"]) for p in people
    )
    assert all(r.state == MailState.SENT for r in rows(db))


# --- one worker sends a row, never two ------------------------------------------------------


@dataclass
class Slow(Collector):
    """Takes its time over each message: two workers at once overlap."""

    seconds: float = 0.3
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.seconds)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.concurrency
def test_two_workers_at_once_send_a_mail_once(app: Flask, monkeypatch) -> None:
    from aiosmtpd.controller import Controller

    handler = Slow()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    factory = app.extensions["db"].sessionmaker
    jobs.configure("memory://", app.instance_path)  # queued, not sent at the commit
    try:
        use_smtp(monkeypatch, app, port)
        with app.test_request_context("/"), factory.begin() as db:
            event = make_event(db)
            person = make_registration(db, event, send_email=True)
            event_id, person_id = event.id, person.id
        with factory() as db:
            (mail_id,) = db.scalars(
                select(OutgoingMail.id).where(OutgoingMail.registration_id == person_id)
            )
        barrier = threading.Barrier(4)
        results: list[MailState | None] = []

        def worker() -> None:
            with app.app_context():
                barrier.wait()
                results.append(mail.send_queued(mail_id))

        threads = [threading.Thread(target=worker) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        sweeps: list[int] = []
        with app.app_context():
            sweeps.append(mail.send_due(now=utcnow() + timedelta(days=1)))
    finally:
        controller.stop()
        with factory.begin() as db:
            db.execute(delete(Event).where(Event.id == event_id))

    assert sorted(results, key=str) == [None, None, None, MailState.SENT]
    assert sweeps == [0]
    assert len(handler.received) == 1


# --- what the organiser sees -----------------------------------------------------------------


def test_the_organiser_sees_each_registration_s_last_e_mail_and_filters_failed_ones(
    app: Flask, client, db, queued, monkeypatch, outbox
) -> None:
    from tests.test_organiser_events import login, make_user
    from tracker.models import Role

    event = make_event(db)
    sent, refused, waiting = (make_registration(db, event, send_email=True) for _ in range(3))
    other = make_registration(db, make_event(db), send_email=True)
    organiser = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    send_due(app)  # written to the outbox folder: sent
    with refusing_server("550 5.1.1 No such user here") as (port, _handler):
        use_smtp(monkeypatch, app, port)
        services.cancel_registration(db, refused)  # its last e-mail: the cancellation
        services.cancel_registration(db, other)
        db.commit()
        send_due(app)
    monkeypatch.setitem(app.config, "MAIL_SERVER", None)
    services.cancel_registration(db, waiting)  # queued, not sent yet
    db.commit()
    login(client, organiser)

    def last_mail(registration: Registration) -> str:
        page = client.get(f"/events/{event.slug}/registrations/{registration.id}").text
        (dd,) = re.findall(r'<dd class="last-mail"(.*?)</dd>', page, re.S)
        return " ".join(re.sub(r"<[^>]+>", " ", dd).split())

    assert 'data-mail-state="sent" data-mail-kind="confirmation"' in last_mail(sent)
    assert "Confirmation · Sent" in last_mail(sent)
    failed = last_mail(refused)
    assert 'data-mail-state="failed" data-mail-kind="cancelled"' in failed
    assert "Cancellation · Failed" in failed
    assert "Attempts: 1 · Reason: 550 5.1.1 No such user here" in failed
    assert "Cancellation · Queued waiting to be sent" in last_mail(waiting)

    listed = client.get(f"/events/{event.slug}/registrations", query_string={"mail": "failed"})
    assert listed.status_code == 200
    assert re.findall(r'<tr data-registration="(\d+)"', listed.text) == [str(refused.id)]
    assert "E-mail failed" in listed.text
    every = client.get(f"/events/{event.slug}/registrations").text
    assert len(re.findall(r'<tr data-registration="(\d+)"', every)) == 3
    assert every.count('data-mail-state="failed"') == 1


def test_the_organiser_page_says_when_a_mail_will_be_tried_again(
    app: Flask, client, db, queued, monkeypatch
) -> None:
    from tests.test_organiser_events import login, make_user
    from tracker.models import Role

    use_smtp(monkeypatch, app, free_port(), MAIL_TIMEOUT=1.0)  # nothing listens there
    event = make_event(db)
    person = make_registration(db, event, send_email=True)
    organiser = make_user(app, db, Role.ORGANISER, [event])
    db.commit()
    send_due(app)
    login(client, organiser)

    page = client.get(f"/events/{event.slug}/registrations/{person.id}").text

    assert "not sent yet: tried again at" in page
    assert "ConnectionRefusedError" in page
