"""Setting events up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import gettext
from sqlalchemy import Exists, bindparam, exists, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from tracker.audit import diff
from tracker.db import utcnow
from tracker.errors import DomainError, NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    CheckIn,
    Event,
    OrganisationType,
    Registration,
    RegistrationStatus,
    Session,
    User,
    registration_sessions,
    user_events,
)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")


@dataclass
class SessionSpec:
    title: str
    kind: str | None = None
    room: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = None


@dataclass
class EventSpec:
    slug: str
    title: str
    starts_at: datetime  # aware
    ends_at: datetime | None = None
    timezone: str = "Europe/Paris"
    venue: str | None = None
    organiser: str | None = None
    description: str | None = None
    capacity: int | None = None
    type_quotas: dict[str, int] = field(default_factory=dict)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    edit_deadline: datetime | None = None
    sessions: list[SessionSpec] = field(default_factory=list)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        raise DomainError(_l("Unknown time zone: %(name)s", name=name), field="timezone") from None


def create_event(db: DbSession, spec: EventSpec, *, now: datetime | None = None) -> Event:
    """Create an event and its sessions. Registration opens now and closes at the start
    unless told otherwise; changes are allowed until registration closes."""
    now = now or utcnow()
    if not SLUG_RE.match(spec.slug):
        raise DomainError(
            _l("The slug may hold only lower-case letters, digits and dashes (at most 80)."),
            field="slug",
        )
    zone(spec.timezone)
    if not spec.title.strip():
        raise DomainError(_l("The title is required."), field="title")
    ends_at = spec.ends_at or spec.starts_at + timedelta(hours=8)
    if ends_at <= spec.starts_at:
        raise DomainError(_l("The event must end after it starts."), field="ends")
    if spec.capacity is not None and spec.capacity < 0:
        raise DomainError(_l("The capacity cannot be negative."), field="capacity")
    valid_types = {t.value for t in OrganisationType}
    for type_, quota in spec.type_quotas.items():
        if type_ not in valid_types or quota < 0:
            raise DomainError(_l("Invalid quota for %(type)s.", type=type_), field="type_quotas")
    if db.scalar(select(Event.id).where(Event.slug == spec.slug)) is not None:
        raise DomainError(
            _l("An event with the slug %(slug)s already exists.", slug=spec.slug), field="slug"
        )
    closes = spec.registration_closes_at or spec.starts_at
    event = Event(
        slug=spec.slug,
        title=spec.title.strip(),
        description=spec.description,
        organiser=spec.organiser,
        venue=spec.venue,
        timezone=spec.timezone,
        starts_at=spec.starts_at,
        ends_at=ends_at,
        registration_opens_at=spec.registration_opens_at or now,
        registration_closes_at=closes,
        edit_deadline=spec.edit_deadline or closes,
        capacity=spec.capacity,
        type_quotas=dict(spec.type_quotas),
    )
    for position, s in enumerate(spec.sessions):
        if s.capacity is not None and s.capacity < 0:
            raise DomainError(_l("The capacity cannot be negative."), field="sessions")
        event.sessions.append(
            Session(
                title=s.title,
                kind=s.kind,
                room=s.room,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                capacity=s.capacity,
                position=position,
            )
        )
    db.add(event)
    db.flush()
    return event


# Nearly every page of an event shows or checks its sessions: they come in the same query.
_BY_SLUG = select(Event).where(Event.slug == bindparam("slug")).options(joinedload(Event.sessions))


def get_event(db: DbSession, slug: str) -> Event:
    event = (
        db.scalars(_BY_SLUG, {"slug": slug}).unique().one_or_none() if SLUG_RE.match(slug) else None
    )
    if event is None:
        raise NotFound()
    return event


def assigned(user_id: Any) -> Exists:
    """Whether the account `user_id` (a column or a parameter) is assigned to the event
    of the enclosing query."""
    return exists().where(user_events.c.user_id == user_id, user_events.c.event_id == Event.id)


_EVENT_AND_ASSIGNMENT = select(Event, assigned(bindparam("user_id"))).where(
    Event.slug == bindparam("slug")
)


def get_event_and_assignment(db: DbSession, slug: str, user: User) -> tuple[Event, bool]:
    """The event, and whether the account is assigned to it, in one query built once: a
    door scans every second, and loading all of the account's events each time would
    not do."""
    found = (
        db.execute(_EVENT_AND_ASSIGNMENT, {"slug": slug, "user_id": user.id}).first()
        if SLUG_RE.match(slug)
        else None
    )
    if found is None:
        raise NotFound()
    return found[0], bool(found[1])


# --- changing an event and its sessions (the organiser screens) -----------------

QUOTA_MAX = 1_000_000  # capacities and quotas: well inside a 32-bit column


def event_snapshot(event: Event) -> dict[str, Any]:
    """The settings an organiser edits, as JSON-friendly values (for the audit log)."""
    return {
        "title": event.title,
        "description": event.description,
        "venue": event.venue,
        "organiser": event.organiser,
        "timezone": event.timezone,
        "starts_at": _iso(event.starts_at),
        "ends_at": _iso(event.ends_at),
        "registration_opens_at": _iso(event.registration_opens_at),
        "registration_closes_at": _iso(event.registration_closes_at),
        "edit_deadline": _iso(event.edit_deadline),
        "capacity": event.capacity,
        "type_quotas": dict(sorted((event.type_quotas or {}).items())),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _check_settings(spec: EventSpec, ends_at: datetime) -> None:
    zone(spec.timezone)
    if not spec.title.strip():
        raise DomainError(_l("The title is required."), field="title")
    if ends_at <= spec.starts_at:
        raise DomainError(_l("The event must end after it starts."), field="ends_at")
    if spec.capacity is not None and not 0 <= spec.capacity <= QUOTA_MAX:
        raise DomainError(_l("The capacity cannot be negative."), field="capacity")
    valid_types = {t.value for t in OrganisationType}
    for type_, quota in spec.type_quotas.items():
        if type_ not in valid_types or not 0 <= quota <= QUOTA_MAX:
            raise DomainError(_l("Invalid quota for %(type)s.", type=type_), field="type_quotas")


def update_event(db: DbSession, event: Event, spec: EventSpec) -> dict[str, list[Any]]:
    """Change an event's settings (not its slug, not its sessions) and return what
    changed as {"field": [old, new]}. Left empty, the end is 8 hours after the start,
    registration opens at once and closes at the start, and changes are allowed until
    it closes, as when the event was created. Lowering the capacity below the number
    of confirmed people takes nobody's place: the caller says so, and promotes from
    the waitlist (under the event lock) when places were added."""
    ends_at = spec.ends_at or spec.starts_at + timedelta(hours=8)
    _check_settings(spec, ends_at)
    opens = spec.registration_opens_at or event.registration_opens_at
    closes = spec.registration_closes_at or spec.starts_at
    if closes <= opens:
        raise DomainError(
            _l("Registration must close after it opens."), field="registration_closes_at"
        )
    before = event_snapshot(event)
    event.title = spec.title.strip()
    event.description = spec.description or None
    event.venue = spec.venue or None
    event.organiser = spec.organiser or None
    event.timezone = spec.timezone
    event.starts_at = spec.starts_at
    event.ends_at = ends_at
    event.registration_opens_at = opens
    event.registration_closes_at = closes
    event.edit_deadline = spec.edit_deadline or closes
    event.capacity = spec.capacity
    event.type_quotas = dict(spec.type_quotas)
    db.flush()
    return diff(before, event_snapshot(event))


def session_snapshot(session: Session) -> dict[str, Any]:
    return {
        "title": session.title,
        "kind": session.kind,
        "room": session.room,
        "starts_at": _iso(session.starts_at),
        "ends_at": _iso(session.ends_at),
        "capacity": session.capacity,
    }


def _check_session(spec: SessionSpec) -> None:
    if not spec.title.strip():
        raise DomainError(_l("The title is required."), field="title")
    if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
        raise DomainError(_l("The session must end after it starts."), field="ends_at")
    if spec.capacity is not None and not 0 <= spec.capacity <= QUOTA_MAX:
        raise DomainError(_l("The capacity cannot be negative."), field="capacity")


def _apply_session(session: Session, spec: SessionSpec) -> None:
    session.title = spec.title.strip()
    session.kind = spec.kind or None
    session.room = spec.room or None
    session.starts_at = spec.starts_at
    session.ends_at = spec.ends_at
    session.capacity = spec.capacity


def add_session(db: DbSession, event: Event, spec: SessionSpec) -> Session:
    """A new session, last in the programme."""
    _check_session(spec)
    session = Session(position=max((s.position for s in event.sessions), default=-1) + 1)
    _apply_session(session, spec)
    event.sessions.append(session)
    db.flush()
    return session


def update_session(db: DbSession, session: Session, spec: SessionSpec) -> dict[str, list[Any]]:
    """Change a session; returns what changed. A capacity below the number of people
    already holding a seat takes nobody's seat: it only stops new ones."""
    _check_session(spec)
    before = session_snapshot(session)
    _apply_session(session, spec)
    db.flush()
    return diff(before, session_snapshot(session))


def move_session(db: DbSession, event: Event, session: Session, offset: int) -> bool:
    """Move a session up (offset -1) or down (+1) in the programme; False at an end."""
    ordered = sorted(event.sessions, key=lambda s: (s.position, s.id))
    index = ordered.index(session)
    target = index + offset
    if not 0 <= target < len(ordered):
        return False
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, s in enumerate(ordered):
        s.position = position
    db.flush()
    db.refresh(event, ["sessions"])
    return True


def session_usage(db: DbSession, session: Session) -> tuple[int, int]:
    """(registrations that are not cancelled and hold a seat, check-ins) of a session."""
    held = (
        db.scalar(
            select(func.count())
            .select_from(registration_sessions)
            .join(Registration, Registration.id == registration_sessions.c.registration_id)
            .where(
                registration_sessions.c.session_id == session.id,
                Registration.status != RegistrationStatus.CANCELLED,
            )
        )
        or 0
    )
    checked_in = (
        db.scalar(select(func.count(CheckIn.id)).where(CheckIn.session_id == session.id)) or 0
    )
    return held, checked_in


class NotASession(DomainError):
    """A filter or an option naming no session of the event: refused rather than
    ignored, since no session would mean everyone (every badge, the whole list)."""

    code = "not_a_session"
    status = 400
    field = "session"


def session_filter(event: Event, value: str | int | None) -> int | None:
    """The session that a filter names, as typed in a query string, a form or on the
    command line: None when empty, else the id of one of the event's sessions, or
    NotASession saying which value was wrong."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    if text.isascii() and text.isdigit() and len(text) <= 12:
        session_id = int(text)
        if any(s.id == session_id for s in event.sessions):
            return session_id
    shown = "".join(c for c in text if c.isprintable())[:40]
    # Translated now, as plain text: the typed value is escaped wherever it is shown.
    raise NotASession(gettext("Session “%(value)s” is not part of the event.", value=shown))


class SessionInUse(DomainError):
    code = "session_in_use"
    status = 409


def delete_session(db: DbSession, session: Session) -> None:
    """Delete a session nobody holds a seat in and nobody was checked in to
    (cancelled registrations simply lose it)."""
    held, checked_in = session_usage(db, session)
    if held or checked_in:
        raise SessionInUse(
            _l(
                "“%(title)s” cannot be deleted: people hold a seat in it or were checked in "
                "to it (seats: %(held)d, check-ins: %(checked_in)d). Take them out of it first.",
                title=session.title,
                held=held,
                checked_in=checked_in,
            )
        )
    event = session.event
    event.sessions.remove(session)
    db.flush()
