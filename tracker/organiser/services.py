"""Organiser use cases: events and sessions set up, the registrations list, history.

Each change runs under the event lock when it affects places, and is written to the
audit log with its actor. E-mails are the views' business (after the service).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from tracker import audit
from tracker.db import utcnow
from tracker.errors import DomainError, InvalidChoice, NotFound
from tracker.events import services as events
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    ENTRANCE,
    AuditEntry,
    CheckIn,
    Event,
    MailState,
    OrganisationType,
    OutgoingMail,
    Registration,
    RegistrationSource,
    RegistrationStatus,
    Role,
    ScanLog,
    Session,
    User,
    registration_sessions,
)
from tracker.questions import answers as qa
from tracker.registration import capacity, notify
from tracker.registration import services as registrations
from tracker.registration.identity import ids_by_name, registrations_in_order
from tracker.text import fold

PER_PAGE = 50
DB_INT_MAX = 2**31 - 1  # ids beyond a 32-bit column name nothing (and must not reach it)


# --- events -------------------------------------------------------------------------


@dataclass
class EventSummary:
    event: Event
    confirmed: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    checked_in: int = 0


def managed_events(db: DbSession, user: User) -> list[EventSummary]:
    """The events the user may manage (all of them for an admin), latest first, with
    their headline counts."""
    query = select(Event).order_by(Event.starts_at.desc(), Event.id.desc())
    if user.role != Role.ADMIN:
        ids = [e.id for e in user.events]
        if not ids:
            return []
        query = query.where(Event.id.in_(ids))
    summaries = {e.id: EventSummary(e) for e in db.scalars(query)}
    if not summaries:
        return []
    rows = db.execute(
        select(Registration.event_id, Registration.status, func.count())
        .where(Registration.event_id.in_(list(summaries)))
        .group_by(Registration.event_id, Registration.status)
    )
    for event_id, status, count in rows:
        setattr(summaries[event_id], RegistrationStatus(status).value, count)
    present = db.execute(
        select(CheckIn.event_id, func.count())
        .where(CheckIn.event_id.in_(list(summaries)), CheckIn.scope == ENTRANCE)
        .group_by(CheckIn.event_id)
    )
    for event_id, count in present:
        summaries[event_id].checked_in = count
    return list(summaries.values())


@dataclass
class EventSaved:
    changes: dict[str, list[Any]]
    promoted: list[Registration] = field(default_factory=list)
    # Set when the capacity is now below the number of people confirmed.
    confirmed_over_capacity: int | None = None


def save_event(
    db: DbSession, event: Event, spec: events.EventSpec, *, actor: User | None
) -> EventSaved:
    """Change an event's settings under its lock. More places (or a larger quota)
    confirm people from the waitlist; fewer places than people confirmed takes
    nobody's place (the result says so)."""
    event = registrations.lock_event(db, event)
    changes = events.update_event(db, event, spec, actor=actor)
    promoted = registrations.promote_waitlisted(db, event)
    for registration in promoted:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.REGISTRATION_PROMOTE,
            registration=registration,
            changes={"status": ["waitlisted", "confirmed"]},
        )
    result = EventSaved(changes, promoted)
    if event.capacity is not None:
        confirmed = capacity.places(db, event).confirmed()
        if confirmed > event.capacity:
            result.confirmed_over_capacity = confirmed
    return result


def set_registration_open(
    db: DbSession, event: Event, is_open: bool, *, actor: User | None, now: datetime | None = None
) -> EventSaved:
    """Open or close registration now, in one click, through the event's own rules.
    Closing: it closes now (nothing changes if it is not open). Opening: it opens now if
    it was to open later and, if it had closed, closes at the start, or at the end once
    the event has started; an event that is over is refused. Attendees whose time to
    change their registration had passed get it back until registration closes."""
    now = now or utcnow()
    spec = events.spec_of(event)
    if not is_open:
        if not registrations.registration_is_open(event, now):
            return EventSaved({})
        spec.registration_closes_at = now
        return save_event(db, event, spec, actor=actor)
    if event.ends_at <= now:
        raise DomainError(
            _l("The event is over: its registration cannot be opened again."),
            field="registration_closes_at",
        )
    if event.registration_opens_at > now:
        spec.registration_opens_at = now
    if event.registration_closes_at <= now:
        spec.registration_closes_at = event.starts_at if event.starts_at > now else event.ends_at
    if event.edit_deadline <= now:
        spec.edit_deadline = None  # until registration closes (or the event ends)
    return save_event(db, event, spec, actor=actor)


# --- sessions -----------------------------------------------------------------------


def get_session(event: Event, session_id: int) -> Session:
    for s in event.sessions:
        if s.id == session_id:
            return s
    raise NotFound()


def add_session(
    db: DbSession, event: Event, spec: events.SessionSpec, *, actor: User | None
) -> Session:
    event = registrations.lock_event(db, event)
    session = events.add_session(db, event, spec)
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.SESSION_CREATE,
        event=event,
        changes={
            "session": session.id,
            **{k: [None, v] for k, v in events.session_snapshot(session).items() if v},
        },
    )
    return session


def save_session(
    db: DbSession, session: Session, spec: events.SessionSpec, *, actor: User | None
) -> dict[str, list[Any]]:
    registrations.lock_event(db, session.event)
    changes = events.update_session(db, session, spec)
    if changes:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.SESSION_UPDATE,
            event=session.event,
            changes={"session": session.id, **changes},
        )
    return changes


def move_session(db: DbSession, session: Session, offset: int, *, actor: User | None) -> bool:
    event = session.event
    before = [s.title for s in event.sessions]
    moved = events.move_session(db, event, session, offset)
    if moved:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.SESSION_MOVE,
            event=event,
            changes={"order": [before, [s.title for s in event.sessions]]},
        )
    return moved


def delete_session(db: DbSession, session: Session, *, actor: User | None) -> None:
    event = registrations.lock_event(db, session.event)
    snapshot = events.session_snapshot(session)
    session_id = session.id
    events.delete_session(db, session)
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.SESSION_DELETE,
        event=event,
        changes={"session": session_id, **{k: [v, None] for k, v in snapshot.items() if v}},
    )


# --- registrations ------------------------------------------------------------------


def resend_email(db: DbSession, registration: Registration, *, actor: User | None) -> None:
    """Send the confirmation (or waitlist) e-mail again, with the private link."""
    if registration.status == RegistrationStatus.CANCELLED:
        raise InvalidChoice(_l("A cancelled registration is sent no e-mail."))
    notify.send_confirmation(db, registration)
    audit.record(
        db, actor=actor, action=audit.AuditAction.REGISTRATION_RESEND, registration=registration
    )


def get_registration(db: DbSession, event: Event, registration_id: int) -> Registration:
    registration = (
        db.get(Registration, registration_id) if 0 < registration_id <= DB_INT_MAX else None
    )
    if registration is None or registration.event_id != event.id:
        raise NotFound()
    return registration


@dataclass
class Filters:
    """The registrations list's filters, from the query string; anything invalid is
    ignored rather than refused (it is a search, not a form)."""

    q: str = ""
    type: str = ""
    status: str = ""
    session: int | None = None
    checked_in: str = ""  # "yes", "no" or ""
    source: str = ""
    mail: str = ""  # "failed": whose last e-mail has failed; or ""
    # q_<id>=<option>: who answered that option to the event's question <id> (a yes/no
    # or choice question); another event's question or an unknown option is ignored.
    answers: dict[int, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, args: Any, event: Event) -> Filters:
        q = "".join(c for c in str(args.get("q", ""))[:200] if unicodedata.category(c)[0] != "C")
        q = " ".join(q.split())
        type_ = args.get("type", "")
        status = args.get("status", "")
        session_arg = args.get("session", "")
        session = int(session_arg) if session_arg.isdigit() and len(session_arg) < 10 else None
        checked_in = args.get("checked_in", "")
        source = args.get("source", "")
        mail_state = args.get("mail", "")
        return cls(
            q=q,
            type=type_ if type_ in {t.value for t in OrganisationType} else "",
            status=status if status in {s.value for s in RegistrationStatus} else "",
            session=session if session in {s.id for s in event.sessions} else None,
            checked_in=checked_in if checked_in in {"yes", "no"} else "",
            source=source if source in {s.value for s in RegistrationSource} else "",
            mail=mail_state if mail_state == MailState.FAILED.value else "",
            answers={
                q.id: value
                for q in qa.counted(event.questions)
                if (value := str(args.get(q.field_name, ""))) in qa.options_of(q)
            },
        )

    def args(self) -> dict[str, Any]:
        """For links that keep the filters (page links)."""
        values = {
            "q": self.q,
            "type": self.type,
            "status": self.status,
            "session": self.session,
            "checked_in": self.checked_in,
            "source": self.source,
            "mail": self.mail,
        }
        values.update({f"q_{qid}": value for qid, value in self.answers.items()})
        return {k: v for k, v in values.items() if v not in ("", None)}


@dataclass
class Page:
    items: list[Registration]
    total: int
    number: int
    pages: int
    per_page: int

    @property
    def first_index(self) -> int:
        return (self.number - 1) * self.per_page + 1 if self.total else 0

    @property
    def last_index(self) -> int:
        return min(self.number * self.per_page, self.total)


def list_registrations(
    db: DbSession, event: Event, filters: Filters, page: int = 1, per_page: int = PER_PAGE
) -> Page:
    """One page of the event's registrations, by name in French alphabetical order
    (sorted over every match, so that pages follow each other), with the filters
    applied. The search matches every word typed in names, address and organisation,
    folded (as the door's search does)."""
    ids = ids_by_name(db, *filter_conditions(event, filters))
    total = len(ids)
    pages = max((total + per_page - 1) // per_page, 1)
    number = min(max(page, 1), pages)
    items = registrations_in_order(
        db,
        ids[(number - 1) * per_page : number * per_page],
        selectinload(Registration.sessions),
        selectinload(Registration.checkins),
    )
    return Page(items, total, number, pages, per_page)


def filter_conditions(event: Event, filters: Filters) -> list[Any]:
    """The SQL conditions of the registrations list's filters: the list, and the
    messages sent to the people it shows, select with the same ones."""
    conditions: list[Any] = [Registration.event_id == event.id]
    for word in fold(filters.q).split()[:6]:
        conditions.append(Registration.search_key.contains(word, autoescape=True))
    if filters.type:
        conditions.append(Registration.organisation_type == OrganisationType(filters.type))
    if filters.status:
        conditions.append(Registration.status == RegistrationStatus(filters.status))
    if filters.source:
        conditions.append(Registration.source == RegistrationSource(filters.source))
    if filters.session is not None:
        conditions.append(
            Registration.id.in_(
                select(registration_sessions.c.registration_id).where(
                    registration_sessions.c.session_id == filters.session
                )
            )
        )
    if filters.checked_in:
        present = select(CheckIn.registration_id).where(
            CheckIn.event_id == event.id, CheckIn.scope == ENTRANCE
        )
        conditions.append(
            Registration.id.in_(present)
            if filters.checked_in == "yes"
            else Registration.id.not_in(present)
        )
    if filters.mail:
        last = (
            select(func.max(OutgoingMail.id))
            .join(Registration, Registration.id == OutgoingMail.registration_id)
            .where(Registration.event_id == event.id)
            .group_by(OutgoingMail.registration_id)
        )
        conditions.append(
            Registration.id.in_(
                select(OutgoingMail.registration_id).where(
                    OutgoingMail.id.in_(last), OutgoingMail.state == MailState(filters.mail)
                )
            )
        )
    questions = {q.id: q for q in event.questions}
    for question_id, value in filters.answers.items():
        if question_id in questions:  # (parse keeps the event's own only)
            conditions.append(qa.answered(questions[question_id], value))
    return conditions


def last_mails(db: DbSession, registration_ids: list[int]) -> dict[int, OutgoingMail]:
    """Each registration's last e-mail (the most recently queued), by registration id."""
    if not registration_ids:
        return {}
    last = (
        select(func.max(OutgoingMail.id))
        .where(OutgoingMail.registration_id.in_(registration_ids))
        .group_by(OutgoingMail.registration_id)
    )
    rows = db.scalars(select(OutgoingMail).where(OutgoingMail.id.in_(last)))
    return {row.registration_id: row for row in rows if row.registration_id is not None}


def entrance_checkin(registration: Registration) -> CheckIn | None:
    return next((c for c in registration.checkins if c.scope == ENTRANCE), None)


@dataclass
class HistoryItem:
    at: datetime
    kind: str  # "audit", "checkin" or "scan"
    who: str | None  # the account's e-mail; None for the command line or the person
    action: str
    changes: dict[str, Any] = field(default_factory=dict)
    door: str | None = None
    session: str | None = None  # a session's title; None for the entrance


def history(db: DbSession, registration: Registration) -> list[HistoryItem]:
    """Everything that happened to a registration, latest first: the changes made by
    organiser and door accounts, its check-ins and every scan of its code."""
    titles = {s.id: s.title for s in registration.event.sessions}
    items: list[HistoryItem] = []
    users: dict[int, str] = {}

    def who(user_id: int | None) -> str | None:
        if user_id is None:
            return None
        if user_id not in users:
            user = db.get(User, user_id)
            users[user_id] = user.email if user is not None else "?"
        return users[user_id]

    for entry in db.scalars(
        select(AuditEntry).where(AuditEntry.registration_id == registration.id)
    ):
        items.append(
            HistoryItem(entry.at, "audit", who(entry.user_id), entry.action, entry.changes or {})
        )
    for checkin in db.scalars(select(CheckIn).where(CheckIn.registration_id == registration.id)):
        items.append(
            HistoryItem(
                checkin.checked_in_at,
                "checkin",
                who(checkin.user_id),
                "checkin",
                door=checkin.door,
                session=titles.get(checkin.session_id) if checkin.session_id else None,
            )
        )
    for scan in db.scalars(select(ScanLog).where(ScanLog.registration_id == registration.id)):
        items.append(
            HistoryItem(
                scan.at,
                "scan",
                who(scan.user_id),
                scan.result,
                door=scan.door,
                session=(titles.get(scan.session_id) if scan.session_id else None)
                or scan.session_title,
            )
        )
    items.sort(key=lambda item: item.at, reverse=True)
    return items
