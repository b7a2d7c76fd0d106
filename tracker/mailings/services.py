"""Mailings: the reminder before an event, an organiser's message to a filtered set of
registrations, the certificate of attendance to everyone present.

Each e-mail is queued in the outbox (tracker.mail) in the transaction that records it in
the person's history (the reminder by its run, a mailing by its job, deliver_mailing), and
written in the person's language: an organiser's message keeps its own words, the
lines around it (the event, the private link) are translated. Every person written to
gets an entry in their registration's history that names the mailing.

Never twice:
- the reminder: claimed per person by a conditional UPDATE of reminder_sent_at (only the
  run that changes the row from NULL queues the e-mail), so the scheduler running twice,
  or two workers at once, send one reminder a person;
- a message or the certificates: the form's nonce is unique among mailings, so the same
  form sent twice (a double click, a retried request) finds the mailing already sent;
  its job claims it by a conditional UPDATE of sent_at, in the transaction that queues
  its e-mails.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import object_session, selectinload

from tracker import audit, jobs, mail
from tracker.db import insert_or_ignore, utcnow
from tracker.door.services import NO_EMAIL_DOMAIN
from tracker.errors import DomainError, InvalidChoice
from tracker.events.services import REMINDER_DAYS_MAX
from tracker.i18n import lazy_gettext as _l
from tracker.i18n import local_datetime
from tracker.links import absolute_url
from tracker.mailings import certificate
from tracker.models import (
    Event,
    Mailing,
    MailingKind,
    Registration,
    RegistrationStatus,
    User,
)
from tracker.organiser.services import Filters, filter_conditions
from tracker.registration.identity import ids_by_name, registrations_in_order

SUBJECT_MAX = 200
BODY_MAX = 20_000
NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
CHUNK = 200  # registrations loaded at a time while queuing a mailing
LANGUAGE_NAMES = {"fr": _l("French"), "en": _l("English")}  # a preview per language


class RecipientsChanged(DomainError):
    """The people a mailing goes to are not those counted in its preview any more."""

    code = "recipients_changed"
    status = 409

    def __init__(self, count: int) -> None:
        self.count = count
        super().__init__(
            _l(
                "The registrations changed since the preview: this message would now go "
                "to %(num)d people. Check the preview again before sending.",
                num=count,
            )
        )


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def _has_email() -> Any:
    return Registration.email_key.not_like(f"%@{NO_EMAIL_DOMAIN}")


# --- who -------------------------------------------------------------------------------


@dataclass
class Recipients:
    """The registrations a mailing goes to, by name, and how many in each language."""

    ids: list[int]
    languages: dict[str, int] = field(default_factory=dict)
    without_email: int = 0  # matched, but registered at the door without an address

    @property
    def count(self) -> int:
        return len(self.ids)


def _recipients(db: DbSession, conditions: list[Any]) -> Recipients:
    ids = ids_by_name(db, *conditions, _has_email())
    languages = Counter(
        db.scalars(select(Registration.locale).where(*conditions, _has_email())).all()
    )
    without = len(ids_by_name(db, *conditions, ~_has_email()))
    return Recipients(ids, dict(sorted(languages.items())), without)


def message_recipients(db: DbSession, event: Event, filters: Filters) -> Recipients:
    """The registrations the list shows with `filters`, less those without an e-mail
    address; cancelled ones only when the status filter asks for them."""
    conditions = filter_conditions(event, filters)
    if not filters.status:
        conditions.append(Registration.status != RegistrationStatus.CANCELLED)
    return _recipients(db, conditions)


def certificate_recipients(db: DbSession, event: Event) -> Recipients:
    """Everyone checked in at the event (entrance or session) who has an address."""
    present = certificate.present_ids(db, event)
    return _recipients(db, [Registration.event_id == event.id, Registration.id.in_(present)])


# --- what ------------------------------------------------------------------------------


@dataclass
class Draft:
    subject: str
    body: str

    def checked(self) -> Draft:
        """The draft trimmed, or InvalidChoice naming the field to correct."""
        subject = " ".join((self.subject or "").split())
        body = (self.body or "").replace("\r\n", "\n").replace("\r", "\n").strip()
        if not subject:
            raise InvalidChoice(_l("Write a subject."), field="subject")
        if len(subject) > SUBJECT_MAX:
            raise InvalidChoice(
                _l("At most %(max)d characters, please.", max=SUBJECT_MAX), field="subject"
            )
        if not body:
            raise InvalidChoice(_l("Write the message."), field="body")
        if len(body) > BODY_MAX:
            raise InvalidChoice(
                _l("At most %(max)d characters, please.", max=BODY_MAX), field="body"
            )
        for name, text in (("subject", subject), ("body", body)):
            if any(unicodedata.category(c) in {"Cc", "Cs"} and c not in "\n\t" for c in text):
                raise InvalidChoice(_l("Control characters are not allowed here."), field=name)
        return Draft(subject, body)


def paragraphs(body: str) -> list[list[str]]:
    """The message's paragraphs (separated by blank lines), each as its lines."""
    return [block.split("\n") for block in re.split(r"\n[ \t]*\n", body.strip()) if block.strip()]


def _context(registration: Registration) -> dict[str, Any]:
    event = registration.event
    return {
        "registration": registration,
        "event": event,
        "manage_url": absolute_url("registration.manage", token=registration.manage_token),
        "event_url": absolute_url("events.show", slug=event.slug),
    }


def compose_message(registration: Registration, draft: Draft) -> mail.Mail:
    """The organiser's words as they wrote them, inside the lines of the person's
    language (the event, why they get it, their private link)."""
    with force_locale(registration.locale):
        context = {
            **_context(registration),
            "body": draft.body,
            "paragraphs": paragraphs(draft.body),
        }
        text = render_template("email/message.txt", **context)
        html = render_template("email/message.html", **context)
    return mail.Mail(to=registration.email, subject=draft.subject, text=text, html=html)


def compose_certificate(registration: Registration, pdf: bytes | None) -> mail.Mail:
    """The certificate's e-mail: the PDF attached, and the private page's link, where it
    can be downloaded again. `pdf` None: without it, b"": as it will be (a preview)."""
    with force_locale(registration.locale):
        context = {
            **_context(registration),
            "certificate_url": absolute_url(
                "registration.certificate", token=registration.manage_token
            ),
            "attached": pdf is not None,
        }
        subject = _("Certificate of attendance: %(title)s", title=registration.event.title)
        text = render_template("email/certificate.txt", **context)
        html = render_template("email/certificate.html", **context)
    attachments = []
    if pdf:
        attachments.append(
            mail.Attachment(
                certificate.certificate_filename(registration), pdf, "application", "pdf"
            )
        )
    return mail.Mail(
        to=registration.email, subject=subject, text=text, html=html, attachments=attachments
    )


@dataclass
class Preview:
    """A mailing as each language's recipients will read it: (language, count, e-mail)."""

    recipients: Recipients
    samples: list[tuple[str, int, mail.Mail]]


def preview_message(
    db: DbSession, event: Event, filters: Filters, draft: Draft
) -> tuple[Draft, Preview]:
    draft = draft.checked()
    recipients = message_recipients(db, event, filters)
    return draft, Preview(recipients, _samples(db, recipients, lambda r: compose_message(r, draft)))


def preview_certificates(db: DbSession, event: Event) -> Preview:
    recipients = certificate_recipients(db, event)
    return Preview(recipients, _samples(db, recipients, lambda r: compose_certificate(r, b"")))


def _samples(db: DbSession, recipients: Recipients, make: Any) -> list[tuple[str, int, mail.Mail]]:
    """One e-mail per language, made for the first person (by name) of that language,
    their private link shortened: the preview shows its place, not the key to it."""
    samples = []
    wanted = set(recipients.languages)
    for chunk in _chunks(recipients.ids):
        for registration in registrations_in_order(db, chunk):
            if registration.locale in wanted:
                wanted.discard(registration.locale)
                message = make(registration)
                token = registration.manage_token
                message.text = message.text.replace(token, token[:4] + "…")
                if message.html is not None:
                    message.html = message.html.replace(token, token[:4] + "…")
                samples.append(
                    (registration.locale, recipients.languages[registration.locale], message)
                )
        if not wanted:
            break
    return sorted(samples, key=lambda s: s[0])


def _chunks(ids: list[int]) -> list[list[int]]:
    return [ids[i : i + CHUNK] for i in range(0, len(ids), CHUNK)]


# --- sending ---------------------------------------------------------------------------


@dataclass
class Sent:
    mailing: Mailing
    again: bool = False  # the same form was already sent: nothing was sent this time


def _claim_mailing(
    db: DbSession,
    event: Event,
    *,
    kind: MailingKind,
    draft: Draft,
    filters: dict[str, Any],
    recipient_ids: list[int],
    nonce: str,
    actor: User | None,
) -> Sent:
    count = len(recipient_ids)
    if not NONCE_RE.match(nonce or ""):
        raise InvalidChoice(_l("This form has expired: write the message again."))
    mailing_id = insert_or_ignore(
        db,
        Mailing.__table__,
        {
            "event_id": event.id,
            "kind": kind.value,
            "subject": draft.subject,
            "body": draft.body,
            "filters": filters,
            "recipients": count,
            "recipient_ids": recipient_ids,
            "nonce": nonce,
            "user_id": actor.id if actor is not None else None,
            "created_at": utcnow(),
        },
    )
    if mailing_id is None:
        found = db.scalars(select(Mailing).where(Mailing.nonce == nonce)).one()
        if found.event_id != event.id:
            raise InvalidChoice(_l("This form has expired: write the message again."))
        return Sent(found, again=True)
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction(f"mailing.{kind.value}"),
        event=event,
        changes={"mailing": mailing_id, "subject": draft.subject, "recipients": count},
    )
    return Sent(db.get_one(Mailing, mailing_id))


def send_message(
    db: DbSession,
    event: Event,
    filters: Filters,
    draft: Draft,
    *,
    actor: User | None,
    nonce: str,
    expected: int | None = None,
) -> Sent:
    """Send the message to each person `filters` select (see message_recipients), in
    their language, noted in their history: the mailing is recorded with who it goes to,
    and its job queues the e-mails once `db` commits (deliver_mailing). `expected`: the
    count the preview showed; RecipientsChanged if it is no longer right (nothing is
    sent)."""
    draft = draft.checked()
    recipients = message_recipients(db, event, filters)
    if expected is not None and expected != recipients.count:
        existing = db.scalar(select(Mailing).where(Mailing.nonce == nonce))
        if existing is not None:  # sent already: its count was right then
            return Sent(existing, again=True)
        raise RecipientsChanged(recipients.count)
    if not recipients.count:
        raise InvalidChoice(_l("Nobody with an e-mail address matches these filters."))
    sent = _claim_mailing(
        db,
        event,
        kind=MailingKind.MESSAGE,
        draft=draft,
        filters=filters.args(),
        recipient_ids=recipients.ids,
        nonce=nonce,
        actor=actor,
    )
    if not sent.again:
        jobs.enqueue_after_commit(db, mailing_job, sent.mailing.id)
    return sent


def send_certificates(
    db: DbSession,
    event: Event,
    *,
    actor: User | None,
    nonce: str,
    expected: int | None = None,
    now: datetime | None = None,
) -> Sent:
    """Send everyone present their certificate of attendance: each e-mail is queued in
    the outbox, and the worker makes its PDF in the person's language when it first
    sends it (_certificate_mail), and tries again as for any e-mail."""
    if not certificate.is_over(event, now):
        raise certificate.CertificateUnavailable(
            _l(
                "Certificates of attendance can be sent once the event is over, from %(time)s.",
                time=local_datetime(event.ends_at, event.timezone),
            )
        )
    recipients = certificate_recipients(db, event)
    if expected is not None and expected != recipients.count:
        existing = db.scalar(select(Mailing).where(Mailing.nonce == nonce))
        if existing is not None:
            return Sent(existing, again=True)
        raise RecipientsChanged(recipients.count)
    if not recipients.count:
        raise InvalidChoice(_l("Nobody with an e-mail address was checked in at this event."))
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Certificate of attendance: %(title)s", title=event.title)
    sent = _claim_mailing(
        db,
        event,
        kind=MailingKind.CERTIFICATE,
        draft=Draft(subject, ""),
        filters={},
        recipient_ids=recipients.ids,
        nonce=nonce,
        actor=actor,
    )
    if not sent.again:
        jobs.enqueue_after_commit(db, mailing_job, sent.mailing.id)
    return sent


def deliver_mailing(db: DbSession, mailing_id: int) -> int:
    """Queue a mailing's e-mails in the outbox, each with its entry in the person's
    history, all in `db`'s transaction; returns how many (0: done already). The mailing
    is claimed by a conditional UPDATE of sent_at in the same transaction: of two
    workers, or a worker and the sweep, one queues it, and a worker that dies midway
    leaves it unclaimed, queued by the next sweep."""
    claimed = db.execute(
        update(Mailing)
        .where(Mailing.id == mailing_id, Mailing.sent_at.is_(None))
        .values(sent_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return 0
    mailing = db.get_one(Mailing, mailing_id)
    actor = db.get(User, mailing.user_id) if mailing.user_id is not None else None
    draft = Draft(mailing.subject, mailing.body)
    action = audit.AuditAction(f"mailing.{MailingKind(mailing.kind).value}")
    changes: dict[str, Any] = {"mailing": mailing.id}
    if mailing.kind == MailingKind.MESSAGE:
        changes["subject"] = mailing.subject
    queued = 0
    for chunk in _chunks(list(mailing.recipient_ids)):
        for registration in registrations_in_order(db, chunk):
            if mailing.kind == MailingKind.MESSAGE:
                # Written now: the organiser's words belong to the mailing, not to the
                # registration the worker writes the other e-mails from.
                composed = compose_message(registration, draft)
                mail.queue(db, kind="message", registration=registration, composed=composed)
            else:  # the certificate: its PDF is made when the e-mail is first sent
                mail.queue(db, kind="certificate", registration=registration)
            audit.record(db, actor=actor, action=action, registration=registration, changes=changes)
            queued += 1
    return queued


@jobs.task()
def mailing_job(mailing_id: int) -> None:
    """Queue a mailing's e-mails (deliver_mailing); the sweep does it if this is lost."""
    with jobs.session() as db:
        deliver_mailing(db, mailing_id)


SWEEP_AFTER = timedelta(minutes=2)  # a mailing still unqueued this long after: the sweep


def sweep_mailings(db: DbSession, *, now: datetime | None = None) -> int:
    """Queue the mailings whose job was lost (the worker stopped before it ran, or died
    in it); returns how many e-mails were queued."""
    now = now or utcnow()
    waiting = db.scalars(
        select(Mailing.id).where(Mailing.sent_at.is_(None), Mailing.created_at < now - SWEEP_AFTER)
    ).all()
    return sum(deliver_mailing(db, mailing_id) for mailing_id in waiting)


def _certificate_mail(registration: Registration) -> mail.Mail:
    """The certificate's e-mail, its PDF made now (by the worker, in the person's
    language). A certificate that no longer exists (a check-in undone since) is a
    failure that no retry will change."""
    db = object_session(registration)
    assert db is not None
    with force_locale(registration.locale):
        try:
            pdf = certificate.render_certificate(db, registration)
        except certificate.CertificateUnavailable as e:
            raise mail.SendError(str(e.message), permanent=True) from None
    return compose_certificate(registration, pdf)


mail.COMPOSERS["certificate"] = _certificate_mail


def mailings_of(db: DbSession, event: Event) -> list[Mailing]:
    """The event's mailings, latest first."""
    return list(
        db.scalars(
            select(Mailing)
            .where(Mailing.event_id == event.id)
            .order_by(Mailing.created_at.desc(), Mailing.id.desc())
        )
    )


# --- the reminder ----------------------------------------------------------------------


def reminder_time(event: Event) -> datetime | None:
    """When the event's reminder is due, or None when it has none."""
    if event.reminder_days is None:
        return None
    return event.starts_at - timedelta(days=event.reminder_days)


@dataclass
class ReminderState:
    due: datetime | None  # None: the event has no reminder
    reminded: int  # people reminded so far
    confirmed: int  # people confirmed now


def reminder_state(db: DbSession, event: Event) -> ReminderState:
    def count(*conditions: Any) -> int:
        return (
            db.scalar(select(func.count()).where(Registration.event_id == event.id, *conditions))
            or 0
        )

    return ReminderState(
        reminder_time(event),
        count(Registration.reminder_sent_at.is_not(None)),
        count(Registration.status == RegistrationStatus.CONFIRMED),
    )


def due_events(db: DbSession, now: datetime) -> list[Event]:
    """The events whose reminder is due: its time has come, the event has not started."""
    candidates = db.scalars(
        select(Event).where(
            Event.reminder_days.is_not(None),
            Event.starts_at > now,
            Event.starts_at <= now + timedelta(days=REMINDER_DAYS_MAX),
        )
    )
    return [e for e in candidates if (due := reminder_time(e)) is not None and due <= now]


def send_reminders(db: DbSession, event: Event, *, now: datetime | None = None) -> list[int]:
    """Queue the event's reminder to each confirmed person with an address who has not
    had it, and who registered before it was due (those who registered after got the
    same code and calendar file in their confirmation a moment ago). Each person is
    claimed by a conditional UPDATE: a second run, at the same time or later, finds
    nobody left. Returns the ids of those reminded now."""
    now = now or utcnow()
    due = reminder_time(event)
    if due is None or not due <= now < event.starts_at:
        return []
    claimed = list(
        db.scalars(
            update(Registration)
            .where(
                Registration.event_id == event.id,
                Registration.status == RegistrationStatus.CONFIRMED,
                Registration.reminder_sent_at.is_(None),
                Registration.created_at < due,
                _has_email(),
            )
            .values(reminder_sent_at=now)
            .returning(Registration.id)
            .execution_options(synchronize_session=False)
        )
    )
    for chunk in _chunks(sorted(claimed)):
        for registration in registrations_in_order(db, chunk, selectinload(Registration.sessions)):
            mail.queue(db, kind="reminder", registration=registration)
            audit.record(
                db, actor=None, action=audit.AuditAction.MAILING_REMINDER, registration=registration
            )
    return claimed


def send_due_reminders(db: DbSession, *, now: datetime | None = None) -> dict[str, int]:
    """Every event's reminders that are due now: {slug: people reminded now}."""
    now = now or utcnow()
    return {event.slug: len(send_reminders(db, event, now=now)) for event in due_events(db, now)}


@jobs.periodic_task(jobs.crontab(minute="*/5"))
def mailings_sweep() -> None:
    """Every five minutes: the reminders that are due (once a person whatever runs), and
    the mailings whose job was lost."""
    with jobs.session() as db:
        send_due_reminders(db)
    with jobs.session() as db:
        sweep_mailings(db)
