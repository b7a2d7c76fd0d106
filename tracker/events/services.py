"""Setting events up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.errors import DomainError, NotFound
from tracker.models import Event, OrganisationType, Session

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
    except (ZoneInfoNotFoundError, ValueError):
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


def get_event(db: DbSession, slug: str) -> Event:
    event = db.scalar(select(Event).where(Event.slug == slug)) if SLUG_RE.match(slug) else None
    if event is None:
        raise NotFound()
    return event
