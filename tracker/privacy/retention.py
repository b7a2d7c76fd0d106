"""Retention: once an event's retention period has passed (RETENTION_DAYS after its end,
or the event's own), its personal data is anonymised.

What goes: names, e-mail addresses, job titles, check-in codes, private links, QR images,
the door's search keys, the codes typed at the door and the answers kept for retried
scans, the personal details in the history (audit log), and the e-mails written to the
outbox folder. What stays: the event, its sessions, and each registration as an
anonymous row with its organisation, type, status, sessions and check-ins (times and
doors), so that the statistics, the headcount exports and the report give the same
figures as before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, null, or_, select, update
from sqlalchemy.orm import Session as DbSession

from tracker import audit
from tracker.db import utcnow
from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l
from tracker.invitations.services import MAIL_KINDS as INVITATION_MAIL_KINDS
from tracker.models import (
    Answer,
    AuditEntry,
    Delegation,
    Event,
    Invitation,
    MailState,
    OutgoingMail,
    Registration,
    Role,
    ScanLog,
    User,
    user_events,
)
from tracker.privacy import files
from tracker.privacy.notice import RETENTION_MAX_DAYS, default_retention_days
from tracker.registration.identity import new_checkin_code, new_manage_token
from tracker.registration.services import lock_event

WARNING_DAYS = 14  # the organisers are e-mailed this long before
ANONYMOUS_DOMAIN = "anonymised.invalid"  # RFC 2606: never delivered

# Audit details kept as they are: they describe a registration without naming anyone.
KEPT_DETAILS = frozenset(
    {
        "status",
        "source",
        "organisation",
        "organisation_type",
        "sessions",
        "override",
        "over_capacity",
        "session",
        "door",
        "consent",
        "imported",
        "confirmed",
        "waitlisted",
        "already_registered",
        "refused",
        "registration",
        "by",
    }
)


def anonymisation_date(event: Event, default_days: int | None = None) -> datetime:
    """When the event's personal data is anonymised (or was due to be)."""
    if event.retention_days is not None:
        days = event.retention_days
    else:
        days = default_days if default_days is not None else default_retention_days()
    return event.ends_at + timedelta(days=days)


def anonymous_email(registration_id: int) -> str:
    return f"anonymised-{registration_id}@{ANONYMOUS_DOMAIN}"


def is_anonymous(registration: Registration) -> bool:
    return registration.email_key.endswith("@" + ANONYMOUS_DOMAIN)


def redacted(changes: dict[str, Any]) -> dict[str, Any]:
    """An audit entry's details without personal data: the details of KEPT_DETAILS as
    they are, numbers and yes/no as they are, any other text removed (its name kept:
    the history still says that the e-mail address was changed, not to what)."""

    def value(v: Any) -> Any:
        if v is None or isinstance(v, bool | int | float):
            return v
        if isinstance(v, list):
            return [value(item) for item in v]
        return None

    return {k: v if k in KEPT_DETAILS else value(v) for k, v in (changes or {}).items()}


@dataclass
class Anonymised:
    event: Event
    registrations: int = 0
    scans: int = 0
    history: int = 0
    emails: int = 0  # rows of the outbox
    files: list[Path] = field(default_factory=list)


def recipients_of(db: DbSession, event: Event, ids: list[int] | None = None) -> files.Recipients:
    """What identifies the e-mails sent about the event's registrations (or `ids` of
    them) in the outbox folder: their links and codes, and their addresses (each one
    e-mails went to: an address changed since included) with the event's page."""
    query = select(
        Registration.id,
        Registration.email_key,
        Registration.manage_token,
        Registration.checkin_code,
    ).where(Registration.event_id == event.id)
    if ids is not None:
        query = query.where(Registration.id.in_(ids))
    found = files.Recipients(
        marks={f"/events/{event.slug}\n", f'/events/{event.slug}"', event.title}
    )
    chosen = []
    for id_, key, token, code in db.execute(query):
        chosen.append(id_)
        found.addresses.add(key)
        found.secrets.update((token, code))
    if ids is None:  # the summaries e-mailed to the contacts of its delegations
        found.secrets.update(
            db.scalars(select(Delegation.token).where(Delegation.event_id == event.id))
        )
    if chosen:
        found.addresses.update(
            address.casefold()
            for address in db.scalars(
                select(OutgoingMail.recipient).where(OutgoingMail.registration_id.in_(chosen))
            )
        )
    return found


def scrub_registration(registration: Registration) -> None:
    """Take the personal data out of one registration row; what it counts for
    (organisation, type, status, sessions, check-ins) stays. Its scans, history and
    e-mails are the event's to clear (anonymise_event), in one statement each."""
    registration.first_name = ""
    registration.last_name = ""
    registration.email = registration.email_key = anonymous_email(registration.id)
    registration.job_title = None
    registration.search_key = ""
    # New secrets that nobody knows: the old link and code lead nowhere.
    registration.checkin_code = new_checkin_code()
    registration.manage_token = new_manage_token()
    registration.qr_png = b""
    registration.link_sent_at = None


def scrub_delegations(db: DbSession, event: Event) -> None:
    """Take the contacts' names and addresses out of the event's delegations, with the
    summaries e-mailed to them; a new token that nobody knows ends their links."""
    found = list(db.scalars(select(Delegation).where(Delegation.event_id == event.id)))
    addresses = {d.contact_email for d in found}
    if addresses:
        db.execute(
            delete(OutgoingMail)
            .where(OutgoingMail.kind == "delegation", OutgoingMail.recipient.in_(addresses))
            .execution_options(synchronize_session=False)
        )
    for delegation in found:
        delegation.contact_name = ""
        delegation.contact_email = f"delegation-{delegation.id}@{ANONYMOUS_DOMAIN}"
        delegation.token = new_manage_token()


def anonymise_event(
    db: DbSession, event: Event, *, now: datetime | None = None, dry_run: bool = False
) -> Anonymised:
    """Anonymise the event's personal data now (see the module's description). With
    `dry_run`, only count what would be."""
    now = now or utcnow()
    event = lock_event(db, event)
    done = Anonymised(event)
    recipients = recipients_of(db, event)
    invitees = select(Invitation.email).where(Invitation.event_id == event.id)
    recipients.addresses.update(address.casefold() for address in db.scalars(invitees))
    done.files = files.outbox_messages(recipients)
    people = list(
        db.scalars(
            select(Registration)
            .where(Registration.event_id == event.id)
            .order_by(Registration.id)
            .execution_options(populate_existing=True)
        )
    )
    done.registrations = sum(1 for r in people if not is_anonymous(r))
    scans = select(ScanLog.id).where(
        ScanLog.event_id == event.id,
        or_(ScanLog.code.is_not(None), ScanLog.response.is_not(None)),
    )
    done.scans = len(db.scalars(scans).all())
    entries = list(
        db.scalars(
            select(AuditEntry).where(
                AuditEntry.event_id == event.id,
                or_(AuditEntry.registration_id.is_not(None), AuditEntry.action == "event.import"),
            )
        )
    )
    done.history = sum(1 for e in entries if redacted(e.changes) != (e.changes or {}))
    done.emails = (
        db.scalar(
            select(func.count(OutgoingMail.id))
            .join(Registration, Registration.id == OutgoingMail.registration_id)
            .where(Registration.event_id == event.id)
        )
        or 0
    )
    if dry_run:
        return done
    # Its codes typed at another event's door ("badge of another event") go too, however
    # they were typed (case, spaces and dashes are ignored at the door).
    db.execute(
        update(ScanLog)
        .where(
            func.upper(func.replace(func.replace(ScanLog.code, "-", ""), " ", "")).in_(
                select(Registration.checkin_code).where(Registration.event_id == event.id)
            )
        )
        .values(code=None)
        .execution_options(synchronize_session=False)
    )
    for registration in people:
        if not is_anonymous(registration):
            scrub_registration(registration)
    # The answers to the event's questions (personal data, whatever they ask).
    db.execute(
        delete(Answer)
        .where(
            Answer.registration_id.in_(
                select(Registration.id).where(Registration.event_id == event.id)
            )
        )
        .execution_options(synchronize_session=False)
    )
    # The e-mails kept in the outbox (sent, failed or still queued).
    db.execute(
        delete(OutgoingMail)
        .where(
            OutgoingMail.registration_id.in_(
                select(Registration.id).where(Registration.event_id == event.id)
            )
        )
        .execution_options(synchronize_session=False)
    )
    # The invitations (names, addresses, links) and the invitation e-mails to their
    # addresses (they name no event: an address also invited to an event not anonymised
    # yet keeps those still waiting to be sent).
    elsewhere = (
        select(Invitation.email)
        .join(Event, Event.id == Invitation.event_id)
        .where(Event.id != event.id, Event.anonymised_at.is_(None))
    )
    db.execute(
        delete(OutgoingMail)
        .where(
            OutgoingMail.registration_id.is_(None),
            OutgoingMail.kind.in_(INVITATION_MAIL_KINDS),
            OutgoingMail.recipient.in_(invitees),
            or_(OutgoingMail.state != MailState.QUEUED, OutgoingMail.recipient.not_in(elsewhere)),
        )
        .execution_options(synchronize_session=False)
    )
    db.execute(
        delete(Invitation)
        .where(Invitation.event_id == event.id)
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(ScanLog)
        .where(ScanLog.event_id == event.id)
        .values(code=None, response=null())
        .execution_options(synchronize_session=False)
    )
    scrub_delegations(db, event)
    for entry in entries:
        entry.changes = redacted(entry.changes)
    event.anonymised_at = now
    db.flush()
    audit.record(
        db,
        actor=None,
        action=audit.AuditAction.EVENT_ANONYMISE,
        event=event,
        changes={"registrations": done.registrations},
    )
    files.remove_after_commit(db, done.files)
    return done


def due_events(db: DbSession, *, now: datetime | None = None) -> list[Event]:
    """The events whose retention period has passed and that are not anonymised yet."""
    now = now or utcnow()
    default_days = default_retention_days()
    candidates = db.scalars(
        select(Event)
        .where(Event.anonymised_at.is_(None), Event.ends_at <= now)
        .order_by(Event.ends_at, Event.id)
    )
    return [e for e in candidates if anonymisation_date(e, default_days) <= now]


def to_warn(db: DbSession, *, now: datetime | None = None) -> list[Event]:
    """The events anonymised within WARNING_DAYS whose organisers have not been warned."""
    now = now or utcnow()
    default_days = default_retention_days()
    candidates = db.scalars(
        select(Event)
        .where(
            Event.anonymised_at.is_(None),
            Event.retention_warned_at.is_(None),
            Event.ends_at <= now + timedelta(days=WARNING_DAYS),
        )
        .order_by(Event.ends_at, Event.id)
    )
    return [
        e
        for e in candidates
        if now < anonymisation_date(e, default_days) <= now + timedelta(days=WARNING_DAYS)
    ]


def organisers_of(db: DbSession, event: Event) -> list[User]:
    """Who is warned: the event's active organiser accounts, else the active admins."""
    organisers = list(
        db.scalars(
            select(User)
            .join(user_events, user_events.c.user_id == User.id)
            .where(
                user_events.c.event_id == event.id,
                User.role == Role.ORGANISER,
                User.active.is_(True),
            )
            .order_by(User.id)
        )
    )
    if organisers:
        return organisers
    return list(
        db.scalars(
            select(User).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id)
        )
    )


@dataclass
class RetentionReport:
    warned: list[tuple[Event, list[str]]] = field(default_factory=list)
    anonymised: list[Anonymised] = field(default_factory=list)
    stale_files: list[Path] = field(default_factory=list)
    dry_run: bool = False


def run(db: DbSession, *, now: datetime | None = None, dry_run: bool = False) -> RetentionReport:
    """What the scheduled job does (and `tracker retention run`): warn the organisers of
    the events anonymised within WARNING_DAYS, anonymise the events due, and remove the
    files written more than a day ago. With `dry_run`, only say what it would do."""
    from tracker.privacy import mails

    now = now or utcnow()
    report = RetentionReport(dry_run=dry_run)
    for event in to_warn(db, now=now):
        recipients = organisers_of(db, event)
        report.warned.append((event, [u.email for u in recipients]))
        if not dry_run:
            mails.send_retention_warning(db, event, recipients)
            event.retention_warned_at = now
    for event in due_events(db, now=now):
        report.anonymised.append(anonymise_event(db, event, now=now, dry_run=dry_run))
    report.stale_files = files.stale_files(now.timestamp())
    if not dry_run:
        files.remove_after_commit(db, report.stale_files)
    db.flush()
    return report


class RetentionInvalid(DomainError):
    code = "invalid"
    status = 422
    field = "retention_days"


def set_retention(
    db: DbSession, event: Event, days: int | None, *, actor: User | None
) -> dict[str, list[Any]]:
    """Set the event's retention period (None: the app's default). A new date means a
    new warning. An anonymised event's data is gone: its period no longer matters."""
    if days is not None and not 0 <= days <= RETENTION_MAX_DAYS:
        raise RetentionInvalid(
            _l("A whole number from 0 to %(max)d, please.", max=RETENTION_MAX_DAYS)
        )
    if event.anonymised_at is not None:
        raise RetentionInvalid(_l("This event’s personal data has already been anonymised."))
    before = event.retention_days
    if before == days:
        return {}
    event.retention_days = days
    event.retention_warned_at = None
    db.flush()
    changes = {"retention_days": [before, days]}
    audit.record(
        db, actor=actor, action=audit.AuditAction.EVENT_UPDATE, event=event, changes=changes
    )
    return changes
