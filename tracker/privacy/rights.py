"""The person's rights: everything held about a registration (to download), and its
erasure. The attendee reaches them through the private link; an organiser does the same
for a person who asks by another channel, and finds every registration of an address
across the events they manage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import null, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.db import utcnow
from tracker.door.services import has_email
from tracker.errors import InvalidChoice
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    ENTRANCE,
    AuditEntry,
    CheckIn,
    Event,
    OutgoingMail,
    Registration,
    RegistrationStatus,
    Role,
    ScanLog,
    User,
)
from tracker.privacy import files
from tracker.privacy.retention import anonymisation_date, is_anonymous, recipients_of
from tracker.questions import answers as qa
from tracker.registration.identity import email_key
from tracker.registration.services import cancel_by_organiser, lock_event

ATTENDEE = "attendee"
ORGANISER = "organiser"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def emails_sent(db: DbSession, registration: Registration) -> list[dict[str, Any]]:
    """The e-mails about this registration in the outbox: what, to whom, when, and
    whether the mail server took it."""
    return [
        {
            "kind": row.kind,
            "to": row.recipient,
            "subject": row.subject,
            "state": row.state.value,
            "queued_at": _iso(row.created_at),
            "sent_at": _iso(row.sent_at),
        }
        for row in db.scalars(
            select(OutgoingMail)
            .where(OutgoingMail.registration_id == registration.id)
            .order_by(OutgoingMail.id)
        )
    ]


def copies_in_outbox_folder(db: DbSession, registration: Registration) -> int:
    """How many of them were written to the outbox folder (no mail server set)."""
    return len(files.outbox_messages(recipients_of(db, registration.event, [registration.id])))


def personal_data(db: DbSession, registration: Registration) -> dict[str, Any]:
    """Everything the app holds about one registration, as JSON-friendly values: the
    registration, its sessions, check-ins, the e-mails kept, and its history (changes
    and the door's scans; the staff accounts are not named)."""
    event = registration.event
    titles = {s.id: s.title for s in event.sessions}
    checkins = db.scalars(
        select(CheckIn)
        .where(CheckIn.registration_id == registration.id)
        .order_by(CheckIn.checked_in_at)
    )
    history: list[dict[str, Any]] = [
        {"at": _iso(entry.at), "action": entry.action, "details": entry.changes or {}}
        for entry in db.scalars(
            select(AuditEntry).where(AuditEntry.registration_id == registration.id)
        )
    ]
    history += [
        {
            "at": _iso(scan.at),
            "action": f"scan.{scan.result}",
            "details": {
                "door": scan.door,
                "session": titles.get(scan.session_id or 0) or scan.session_title,
            },
        }
        for scan in db.scalars(select(ScanLog).where(ScanLog.registration_id == registration.id))
    ]
    history.sort(key=lambda item: item["at"] or "")
    confirmed = registration.status == RegistrationStatus.CONFIRMED
    return {
        "registration": {
            "id": registration.id,
            "first_name": registration.first_name,
            "last_name": registration.last_name,
            "email": registration.email if has_email(registration) else None,
            "organisation": registration.organisation.name,
            "organisation_type": registration.organisation_type.value,
            "job_title": registration.job_title,
            "status": registration.status.value,
            "source": registration.source.value,
            "language": registration.locale,
            "registered_at": _iso(registration.created_at),
            "updated_at": _iso(registration.updated_at),
            "cancelled_at": _iso(registration.cancelled_at),
            "consent_at": _iso(registration.consent_at),
            "privacy_notice_version": registration.consent_version,
            "checkin_code": registration.checkin_code if confirmed else None,
            "badges_printed": registration.badge_print_count,
            "badge_printed_at": _iso(registration.badge_printed_at),
        },
        "event": {
            "title": event.title,
            "starts_at": _iso(event.starts_at),
            "ends_at": _iso(event.ends_at),
            "venue": event.venue,
            "organiser": event.organiser,
            "personal_data_anonymised_on": _iso(anonymisation_date(event)),
        },
        "sessions": [
            {
                "title": s.title,
                "starts_at": _iso(s.starts_at),
                "ends_at": _iso(s.ends_at),
                "room": s.room,
            }
            for s in registration.sessions
        ],
        "answers": _answers(registration),
        "checkins": [
            {
                "at": _iso(c.checked_in_at),
                "where": "entrance" if c.scope == ENTRANCE else titles.get(c.session_id or 0),
                "door": c.door,
            }
            for c in checkins
        ],
        "emails": emails_sent(db, registration),
        "email_copies_in_outbox_folder": copies_in_outbox_folder(db, registration),
        "history": history,
        "generated_at": _iso(utcnow()),
    }


def _answers(registration: Registration) -> list[dict[str, Any]]:
    """The answers to the event's questions: the question, the answer as read (yes/no
    in the page's language) and the values as stored."""
    values = qa.stored_values(registration)
    return [
        {"question": a.label, "answer": a.value, "values": values[a.question.id]}
        for a in qa.shown(registration.event.questions, values)
    ]


@dataclass
class Erased:
    event: Event
    registration_id: int
    promoted: list[Registration] = field(default_factory=list)


def erase(db: DbSession, registration: Registration, *, actor: User | None, by: str) -> Erased:
    """Erase a registration at the person's request: its place is freed as a cancellation
    frees it (the waitlist moves), then the row goes with its sessions, check-ins and
    history, its code leaves the scan log and its e-mails the outbox folder. The audit
    log records the erasure (who asked, the registration's number and former status),
    not what was erased. The people confirmed from the waitlist are e-mailed (by the
    cancellation), the erased person is not (the cancellation's e-mail goes with the
    row)."""
    if is_anonymous(registration):
        raise InvalidChoice(
            _l("This registration is already anonymised: nothing is left to erase.")
        )
    event = registration.event
    status = registration.status
    promoted: list[Registration] = []
    if status != RegistrationStatus.CANCELLED:
        promoted = cancel_by_organiser(db, registration, actor=actor)
    else:
        lock_event(db, event)
    paths = files.outbox_messages(recipients_of(db, event, [registration.id]))
    db.execute(
        update(ScanLog)
        .where(ScanLog.code == registration.checkin_code)
        .values(code=None, response=null())
        .execution_options(synchronize_session=False)
    )
    db.execute(
        update(ScanLog)
        .where(ScanLog.registration_id == registration.id)
        .values(code=None, response=null(), registration_id=None)
        .execution_options(synchronize_session=False)
    )
    registration_id = registration.id
    db.delete(registration)  # its sessions, check-ins and history (ON DELETE CASCADE)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.REGISTRATION_ERASE,
        event=event,
        changes={"registration": registration_id, "status": status.value, "by": by},
    )
    files.remove_after_commit(db, paths)
    return Erased(event, registration_id, promoted)


def registrations_of_address(db: DbSession, user: User, email: str) -> list[Registration]:
    """Every registration of the address (case ignored) at the events `user` manages
    (every event for an admin), latest first; anonymised ones are no one's."""
    key = email_key(email)
    if not key:
        return []
    query = (
        select(Registration)
        .where(Registration.email_key == key)
        .options(joinedload(Registration.event))
        .order_by(Registration.created_at.desc(), Registration.id.desc())
    )
    if user.role != Role.ADMIN:
        ids = [e.id for e in user.events]
        if not ids:
            return []
        query = query.where(Registration.event_id.in_(ids))
    return [r for r in db.scalars(query) if not is_anonymous(r)]
