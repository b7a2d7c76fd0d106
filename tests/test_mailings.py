"""Mailings: the reminder (once a person), a message to a filtered set (preview, count,
language, history), the certificates to everyone present."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tests.conftest import make_event, make_registration
from tracker import jobs
from tracker.checkin.services import check_in
from tracker.db import utcnow
from tracker.door.services import WalkInData, register_walk_in
from tracker.mailings import services
from tracker.models import AuditEntry, Mailing, OrganisationType, Registration
from tracker.organiser.services import Filters, history
from tracker.registration.services import cancel_registration


def audit_actions(db: DbSession, registration: Registration) -> list[str]:
    return list(
        db.scalars(select(AuditEntry.action).where(AuditEntry.registration_id == registration.id))
    )


# --- the reminder ---------------------------------------------------------------------


def test_reminder_once_per_confirmed_person(app_ctx: None, db: DbSession, outbox) -> None:
    start = utcnow() + timedelta(days=1, hours=12)  # due: two days before is past
    event = make_event(db, starts_at=start)
    a = make_registration(db, event, now=utcnow() - timedelta(hours=1))
    b = make_registration(db, event, now=utcnow() - timedelta(hours=1), locale="fr")
    gone = make_registration(db, event, now=utcnow() - timedelta(hours=1))
    cancel_registration(db, gone)
    for r in (a, b, gone):
        r.created_at = start - timedelta(days=5)
    db.commit()
    outbox.clear()  # the confirmations

    assert services.send_due_reminders(db) == {event.slug: 2}
    db.commit()
    assert services.send_due_reminders(db) == {event.slug: 0}  # the scheduler again
    db.commit()
    assert len(outbox.to(a.email)) == 1 and len(outbox.to(b.email)) == 1
    assert outbox.to(gone.email) == []
    message = outbox.to(a.email)[0]
    assert message["Subject"].startswith("Reminder: " + event.title)
    types = [part.get_content_type() for part in message.walk()]
    assert "image/png" in types and "text/calendar" in types  # the QR code, the calendar
    assert outbox.to(b.email)[0]["Subject"].startswith("Rappel : ")
    assert "mailing.reminder" in audit_actions(db, a)


def test_no_reminder_when_off_not_due_or_registered_after(
    app_ctx: None, db: DbSession, outbox
) -> None:
    start = utcnow() + timedelta(days=1)
    off = make_event(db, starts_at=start, reminder_days=None)
    later = make_event(db, starts_at=utcnow() + timedelta(days=10))
    recent = make_event(db, starts_at=start)
    make_registration(db, off)
    make_registration(db, later)
    newcomer = make_registration(db, recent)  # registered after the reminder was due
    db.commit()
    outbox.clear()
    assert services.send_due_reminders(db) == {recent.slug: 0}
    db.commit()
    assert outbox.messages == []
    assert newcomer.reminder_sent_at is None


def test_two_workers_at_once_remind_once(app: Flask, engine, tmp_path, monkeypatch) -> None:
    """Two runs in separate connections, at the same moment: one reminder a person."""
    monkeypatch.setitem(app.config, "MAIL_OUTBOX", str(tmp_path / "outbox"))
    factory = app.extensions["db"].sessionmaker
    with app.test_request_context("/"):
        with factory.begin() as db:
            event = make_event(db, starts_at=utcnow() + timedelta(days=1))
            people = [make_registration(db, event) for _ in range(5)]
            for r in people:
                r.created_at = utcnow() - timedelta(days=10)
            slug, ids = event.slug, [r.id for r in people]
    for path in (tmp_path / "outbox").glob("*.eml"):  # the confirmations
        path.unlink()
    counts: list[dict[str, int]] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        with app.test_request_context("/"):
            barrier.wait()
            with factory.begin() as db:
                counts.append(services.send_due_reminders(db))

    try:
        threads = [threading.Thread(target=run) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(c.get(slug, 0) for c in counts) == [0, 5]
        assert len(list((tmp_path / "outbox").glob("*.eml"))) == 5
    finally:
        with factory.begin() as db:
            db.execute(Registration.__table__.delete().where(Registration.id.in_(ids)))
            db.execute(Mailing.__table__.delete())
            from tracker.models import Event

            db.execute(Event.__table__.delete().where(Event.slug == slug))


# --- a message to a filtered set --------------------------------------------------------


@pytest.fixture
def crowd(db: DbSession):
    event = make_event(db)
    plenary = event.sessions[0].id
    cluster = make_registration(db, event, session_ids=[plenary], locale="fr")
    ministry = make_registration(
        db, event, organisation="DGE", organisation_type=OrganisationType.MINISTRY, locale="en"
    )
    cancelled = make_registration(db, event, session_ids=[plenary])
    cancel_registration(db, cancelled)
    walk_in = register_walk_in(
        db,
        event,
        WalkInData("Jo", "Sans Adresse", "Vegepolys", OrganisationType.CLUSTER),
        actor=None,
        door="A",
    ).registration
    check_in(db, event, actor=None, door="A", code=cluster.checkin_code)
    db.flush()
    return event, cluster, ministry, cancelled, walk_in


def test_recipients_follow_the_list_filters(app_ctx: None, db: DbSession, crowd) -> None:
    event, cluster, ministry, cancelled, walk_in = crowd
    everyone = services.message_recipients(db, event, Filters())
    assert set(everyone.ids) == {cluster.id, ministry.id}  # not cancelled, not without address
    assert everyone.without_email == 1
    assert everyone.languages == {"en": 1, "fr": 1}
    by_type = services.message_recipients(db, event, Filters(type="ministry"))
    assert by_type.ids == [ministry.id]
    present = services.message_recipients(db, event, Filters(checked_in="yes"))
    assert present.ids == [cluster.id]
    absent = services.message_recipients(db, event, Filters(checked_in="no"))
    assert absent.ids == [ministry.id]
    session = services.message_recipients(db, event, Filters(session=event.sessions[0].id))
    assert session.ids == [cluster.id]
    gone = services.message_recipients(db, event, Filters(status="cancelled"))
    assert gone.ids == [cancelled.id]


def test_message_in_each_language_with_history(app_ctx: None, db: DbSession, crowd, outbox) -> None:
    event, cluster, ministry, *_ = crowd
    db.commit()
    outbox.clear()
    draft = services.Draft("Plan d’accès", "Bonjour,\n\nL’entrée est rue de Bercy.\nÀ bientôt.")
    sent = services.send_message(
        db, event, Filters(), draft, actor=None, nonce=services.new_nonce(), expected=2
    )
    db.commit()
    assert sent.mailing.recipients == 2
    fr, en = outbox.to(cluster.email)[0], outbox.to(ministry.email)[0]
    assert fr["Subject"] == en["Subject"] == "Plan d’accès"
    fr_text = fr.get_body(("plain",)).get_content()
    en_text = en.get_body(("plain",)).get_content()
    assert "L’entrée est rue de Bercy." in fr_text and "L’entrée est rue de Bercy." in en_text
    assert "Vous recevez ce message" in fr_text
    assert "You receive this message" in en_text
    assert cluster.manage_token in fr_text
    html = fr.get_body(("html",)).get_content()
    assert "L’entrée est rue de Bercy.<br>À bientôt." in html
    assert "mailing.message" in audit_actions(db, cluster)
    assert any(item.action == "mailing.message" for item in history(db, ministry))


def test_the_same_form_twice_sends_once(app_ctx: None, db: DbSession, crowd, outbox) -> None:
    event, cluster, *_ = crowd
    db.commit()
    outbox.clear()
    nonce = services.new_nonce()
    draft = services.Draft("Subject", "Body")
    services.send_message(db, event, Filters(), draft, actor=None, nonce=nonce, expected=2)
    again = services.send_message(db, event, Filters(), draft, actor=None, nonce=nonce, expected=2)
    db.commit()
    assert again.again
    assert len(outbox.to(cluster.email)) == 1


def test_a_changed_count_is_refused(app_ctx: None, db: DbSession, crowd, outbox) -> None:
    event, *_ = crowd
    db.commit()
    outbox.clear()
    with pytest.raises(services.RecipientsChanged) as changed:
        services.send_message(
            db,
            event,
            Filters(),
            services.Draft("S", "B"),
            actor=None,
            nonce=services.new_nonce(),
            expected=1,
        )
    assert changed.value.count == 2
    db.commit()
    assert outbox.messages == []


@pytest.mark.parametrize(
    ("subject", "body", "field"),
    [
        ("", "Body", "subject"),
        ("Subject", "  \n ", "body"),
        ("S" * 201, "B", "subject"),
        ("Sub\x07ject", "B", "subject"),
    ],
)
def test_bad_drafts_are_refused(app_ctx: None, subject: str, body: str, field: str) -> None:
    from tracker.errors import InvalidChoice

    with pytest.raises(InvalidChoice) as refused:
        services.Draft(subject, body).checked()
    assert refused.value.field == field


# --- the organiser's screens --------------------------------------------------------------


def login_organiser(app: Flask, client, db: DbSession, event) -> None:
    from tests.conftest import login, make_user

    login(client, make_user(app, db, events=[event]))


def test_compose_preview_send_through_the_pages(
    app: Flask, client, db: DbSession, crowd, outbox
) -> None:
    event, cluster, ministry, *_ = crowd
    login_organiser(app, client, db, event)
    page = client.get(f"/events/{event.slug}/mailings?type=ministry")
    assert page.status_code == 200
    assert 'data-recipients="1"' in page.text
    empty = client.post(
        f"/events/{event.slug}/mailings/preview",
        data={"type": "ministry", "subject": "", "body": "x"},
    )
    assert empty.status_code == 422 and "Write a subject." in empty.text
    preview = client.post(
        f"/events/{event.slug}/mailings/preview",
        data={"type": "ministry", "subject": "Accès", "body": "Venez <b>tôt</b>."},
    )
    assert preview.status_code == 200
    assert 'data-recipients="1"' in preview.text
    assert "Venez &lt;b&gt;tôt&lt;/b&gt;." in preview.text  # escaped, shown as typed
    assert ministry.manage_token not in preview.text  # its place shown, not the key
    assert outbox.messages == []
    import re

    nonce = re.search(r'name="nonce" type="hidden" value="([^"]+)"', preview.text).group(1)
    form = {
        "type": "ministry",
        "subject": "Accès",
        "body": "Venez <b>tôt</b>.",
        "nonce": nonce,
        "expected": "1",
    }
    sent = client.post(f"/events/{event.slug}/mailings/send", data=form)
    assert sent.status_code == 303
    again = client.post(f"/events/{event.slug}/mailings/send", data=form)
    assert again.status_code == 303
    db.expire_all()
    assert [m["To"] for m in outbox.messages] == [ministry.email]
    assert "Venez &lt;b&gt;tôt&lt;/b&gt;." in outbox.messages[0].get_body(("html",)).get_content()
    listing = client.get(f"/events/{event.slug}/mailings")
    assert "Accès" in listing.text


# --- certificates -------------------------------------------------------------------------


def test_certificates_to_everyone_present(app_ctx: None, db: DbSession, crowd, outbox) -> None:
    event, cluster, ministry, *_ = crowd
    with pytest.raises(services.certificate.CertificateUnavailable):
        services.send_certificates(db, event, actor=None, nonce=services.new_nonce())
    event.starts_at = utcnow() - timedelta(hours=9)
    event.ends_at = utcnow() - timedelta(hours=1)
    db.commit()
    outbox.clear()
    sent = services.send_certificates(db, event, actor=None, nonce=services.new_nonce())
    db.commit()  # the jobs are queued at the commit (and run at once in tests)
    jobs.run_pending()
    assert sent.mailing.recipients == 1
    assert outbox.to(ministry.email) == []  # never checked in
    [message] = outbox.to(cluster.email)
    assert message["Subject"].startswith("Attestation de présence")
    [pdf] = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_content().startswith(b"%PDF")
    assert "mailing.certificate" in audit_actions(db, cluster)


# --- the command line ---------------------------------------------------------------------


def test_mail_command_previews_asks_and_sends(app: Flask, db: DbSession, crowd, outbox) -> None:
    event, cluster, ministry, *_ = crowd
    db.commit()
    outbox.clear()
    runner = app.test_cli_runner()
    args = ["mail", event.slug, "--subject", "Accès", "--body-file", "-", "--type", "ministry"]
    dry = runner.invoke(args=[*args, "--dry-run"], input="Venez tôt.\n")
    assert dry.exit_code == 0, dry.output
    assert "This e-mail goes to 1 person." in dry.output and "Venez tôt." in dry.output
    refused = runner.invoke(args=args, input="Venez tôt.\nn\n")
    assert refused.exit_code != 0 or "on its way" not in refused.output
    assert outbox.messages == []
    sent = runner.invoke(args=[*args, "--yes"], input="Venez tôt.\n")
    assert sent.exit_code == 0, sent.output
    assert "on its way to 1 person" in sent.output
    assert [m["To"] for m in outbox.messages] == [ministry.email]
    wrong = runner.invoke(
        args=["mail", event.slug, "--subject", "S", "--body-file", "-", "--session", "999999"],
        input="B\n",
    )
    assert wrong.exit_code == 1 and "999999" in wrong.output


def test_reminders_command(app: Flask, db: DbSession, outbox) -> None:
    event = make_event(db, starts_at=utcnow() + timedelta(days=1))
    person = make_registration(db, event)
    person.created_at = utcnow() - timedelta(days=5)
    db.commit()
    outbox.clear()
    runner = app.test_cli_runner()
    first = runner.invoke(args=["reminders"])
    assert first.exit_code == 0, first.output
    assert f"{event.slug}: 1 reminded" in first.output
    second = runner.invoke(args=["reminders"])
    assert f"{event.slug}: 0 reminded" in second.output
    assert len(outbox.to(person.email)) == 1


def test_the_history_page_names_the_message(
    app: Flask, client, db: DbSession, crowd, outbox
) -> None:
    event, cluster, *_ = crowd
    login_organiser(app, client, db, event)
    with app.test_request_context("/"):
        services.send_message(
            db,
            event,
            Filters(),
            services.Draft("Plan d’accès", "B"),
            actor=None,
            nonce=services.new_nonce(),
        )
        db.commit()
    page = client.get(f"/events/{event.slug}/registrations/{cluster.id}")
    assert 'data-action="mailing.message"' in page.text
    assert "Message sent" in page.text and "Plan d’accès" in page.text


def test_event_create_sets_the_reminder(app: Flask, db: DbSession) -> None:
    from tracker.events.services import get_event

    runner = app.test_cli_runner()
    base = ["event", "create", "--title", "T", "--starts", "2030-12-10T09:00"]
    for slug, extra, days in [
        ("reminder-default", [], 2),
        ("reminder-seven", ["--reminder-days", "7"], 7),
        ("reminder-none", ["--reminder-days", "0"], None),
    ]:
        result = runner.invoke(args=[*base[:2], slug, *base[2:], *extra])
        assert result.exit_code == 0, result.output
        assert get_event(db, slug).reminder_days == days
    refused = runner.invoke(args=[*base[:2], "reminder-far", *base[2:], "--reminder-days", "61"])
    assert refused.exit_code == 1 and "from 1 to 60" in refused.output


def test_the_reminder_setting_on_the_event_form(app: Flask, client, db: DbSession) -> None:
    from tests.conftest import event_form, login, make_user

    event = make_event(db, starts_at=datetime(2030, 12, 10, 8, 0, tzinfo=UTC))
    login(client, make_user(app, db, events=[event]))
    url = f"/events/{event.slug}/edit"
    assert 'name="reminder_days"' in client.get(url).text and event.reminder_days == 2
    assert client.post(url, data=event_form(reminder_days="5")).status_code == 303
    db.expire_all()
    assert event.reminder_days == 5
    assert client.post(url, data=event_form()).status_code == 303  # left out: kept
    db.expire_all()
    assert event.reminder_days == 5
    bad = client.post(url, data=event_form(reminder_days="90", title="Renamed"))
    assert bad.status_code == 422 and "from 1 to 60" in bad.text
    db.expire_all()
    assert event.reminder_days == 5 and event.title != "Renamed"
    assert client.post(url, data=event_form(reminder_days="")).status_code == 303  # off
    db.expire_all()
    assert event.reminder_days is None


def test_after_commit_work_waits_for_the_real_commit(db: DbSession) -> None:
    """A savepoint released inside a transaction (an organisation made while a list is
    imported) is not the commit: e-mails queued before it wait for the commit."""
    from sqlalchemy import text

    from tracker.db import after_commit

    ran: list[str] = []
    db.execute(text("SELECT 1"))
    after_commit(db, lambda: ran.append("sent"))
    with db.begin_nested():
        db.execute(text("SELECT 1"))
    assert ran == []
    db.commit()
    assert ran == ["sent"]


def test_a_lost_mailing_job_is_swept_once(
    app_ctx: None, db: DbSession, crowd, outbox, queued: None
) -> None:
    """The request records the mailing; its e-mails are queued by a job. A job lost
    (the worker stopped) is done by the sweep, and the job run afterwards adds nothing."""
    event, cluster, ministry, *_ = crowd
    db.commit()
    jobs.run_pending()
    outbox.clear()
    sent = services.send_message(
        db, event, Filters(), services.Draft("Accès", "B"), actor=None, nonce=services.new_nonce()
    )
    db.commit()
    assert sent.mailing.sent_at is None and outbox.messages == []
    assert services.sweep_mailings(db) == 0  # too recent: its job is on its way
    assert services.sweep_mailings(db, now=utcnow() + timedelta(minutes=3)) == 2
    assert services.sweep_mailings(db, now=utcnow() + timedelta(minutes=3)) == 0
    db.commit()
    jobs.run_pending()  # the job itself, late: nothing left to queue; then the e-mails
    assert sorted(m["To"] for m in outbox.messages) == sorted([cluster.email, ministry.email])


def test_the_mailings_filters_are_the_lists_but_for_the_cancelled(as_organiser, db, event):
    """One set of filter fields serves both pages; a mailing's "any status" leaves the
    cancelled out, the list's shows them."""
    mailing = as_organiser.get(f"/events/{event.slug}/mailings").get_data(as_text=True)
    listing = as_organiser.get(f"/events/{event.slug}/registrations").get_data(as_text=True)
    for name in ("type", "status", "session", "checked_in"):
        assert f'name="{name}"' in mailing and f'name="{name}"' in listing
    assert '<option value="">All but cancelled</option>' in mailing
    assert "All but cancelled" not in listing
