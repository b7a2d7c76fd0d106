"""Setting events up."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.dates import format_date
from flask_babel import get_locale, gettext
from sqlalchemy import Exists, bindparam, exists, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from tracker import audit
from tracker.audit import diff
from tracker.db import utcnow
from tracker.errors import DomainError, NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    Admission,
    CheckIn,
    Event,
    OrganisationType,
    Registration,
    RegistrationStatus,
    Session,
    User,
    Visibility,
    registration_sessions,
    user_events,
)
from tracker.text import shown

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,78}[a-z0-9])?$")
DEFAULT_REMINDER_DAYS = 2
REMINDER_DAYS_MAX = 60


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
    # At most this many confirmed people of one organisation (None: no cap), and per
    # organisation type ({"cluster": 2}: overrides it for that type).
    per_organisation: int | None = None
    per_organisation_types: dict[str, int] = field(default_factory=dict)
    registration_opens_at: datetime | None = None
    registration_closes_at: datetime | None = None
    edit_deadline: datetime | None = None
    sessions: list[SessionSpec] = field(default_factory=list)
    visibility: str = Visibility.PUBLIC.value  # draft, unlisted or public
    badge_job_title: bool = True  # badges print the job title (and the door shows it)
    # The reminder, this many days before the start (REMINDER_DAYS_MAX at most); None: none.
    reminder_days: int | None = DEFAULT_REMINDER_DAYS
    # Who registers through the public form (open, invitation, mixed), and the places
    # of the capacity held for people registering through an invitation.
    admission: str = Admission.OPEN.value
    reserved_for_invitees: int = 0


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a directory
        raise DomainError(_l("Unknown time zone: %(name)s", name=name), field="timezone") from None


def local_to_utc(value: datetime | None, tz: str, *, field: str) -> datetime | None:
    """A local time typed in the event's time zone (a form, the command line), as an
    aware datetime: the one place where typed times get their offset. A time the clocks
    skip (the spring change: 02:30 on the last Sunday of March in Paris) or show twice
    (the autumn change) is refused rather than guessed. An aware value is kept."""
    if value is None or value.tzinfo is not None:
        return value
    where = zone(tz)
    first = value.replace(tzinfo=where, fold=0)
    second = value.replace(tzinfo=where, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first
    typed = value.strftime("%Y-%m-%d %H:%M")
    if first.astimezone(UTC).astimezone(where).replace(tzinfo=None) != value:
        raise DomainError(
            _l(
                "%(time)s does not exist in %(zone)s: the clocks go forward that night. "
                "Choose a time outside the skipped hour.",
                time=typed,
                zone=tz,
            ),
            field=field,
        )
    raise DomainError(
        _l(
            "%(time)s happens twice in %(zone)s: the clocks go back that night. "
            "Choose a time outside the repeated hour.",
            time=typed,
            zone=tz,
        ),
        field=field,
    )


@dataclass
class _Settings:
    """An event's times once the defaults are filled in."""

    ends_at: datetime
    opens: datetime
    closes: datetime
    edit_deadline: datetime


def _settings(spec: EventSpec, opens: datetime) -> _Settings:
    """The rules of an event's settings, for every path that creates or edits one (the
    organiser screens, the command line, the demo): the error names the field as the
    organiser's form does. Left empty, the end is 8 hours after the start, registration
    closes at the start and changes are allowed until it closes (or the event ends)."""
    zone(spec.timezone)
    if spec.visibility not in {v.value for v in Visibility}:
        raise DomainError(_l("Choose draft, unlisted or public."), field="visibility")
    if not spec.title.strip():
        raise DomainError(_l("The title is required."), field="title")
    ends_at = spec.ends_at or spec.starts_at + timedelta(hours=8)
    if ends_at <= spec.starts_at:
        raise DomainError(_l("The event must end after it starts."), field="ends_at")
    closes = spec.registration_closes_at or spec.starts_at
    if closes <= opens:
        raise DomainError(
            _l("Registration must close after it opens."), field="registration_closes_at"
        )
    edit_deadline = spec.edit_deadline or min(closes, ends_at)
    if edit_deadline <= opens:
        raise DomainError(
            _l("Changes must be allowed until a time after registration opens."),
            field="edit_deadline",
        )
    if edit_deadline > ends_at:
        raise DomainError(
            _l("Changes cannot be allowed after the event ends."), field="edit_deadline"
        )
    if spec.capacity is not None and not 0 <= spec.capacity <= QUOTA_MAX:
        raise DomainError(
            _l("A whole number from 0 to %(max)d, please.", max=QUOTA_MAX), field="capacity"
        )
    if spec.reminder_days is not None and not 1 <= spec.reminder_days <= REMINDER_DAYS_MAX:
        raise DomainError(
            _l(
                "A whole number of days from 1 to %(max)d, or empty for no reminder.",
                max=REMINDER_DAYS_MAX,
            ),
            field="reminder_days",
        )
    if spec.admission not in {a.value for a in Admission}:
        raise DomainError(_l("Choose open, by invitation only or mixed."), field="admission")
    if not 0 <= spec.reserved_for_invitees <= QUOTA_MAX:
        raise DomainError(
            _l("A whole number from 0 to %(max)d, please.", max=QUOTA_MAX),
            field="reserved_for_invitees",
        )
    if spec.reserved_for_invitees and (
        spec.capacity is None or spec.reserved_for_invitees > spec.capacity
    ):
        raise DomainError(
            _l(
                "The places reserved for invitees are part of the capacity: set a capacity "
                "at least as large."
            ),
            field="reserved_for_invitees",
        )
    valid_types = {t.value for t in OrganisationType}
    for type_, quota in spec.type_quotas.items():
        if type_ not in valid_types or not 0 <= quota <= QUOTA_MAX:
            raise DomainError(_l("Invalid quota for %(type)s.", type=type_), field="type_quotas")
    if spec.per_organisation is not None and not 0 <= spec.per_organisation <= QUOTA_MAX:
        raise DomainError(
            _l("A whole number from 0 to %(max)d, please.", max=QUOTA_MAX),
            field="per_organisation",
        )
    for type_, cap in spec.per_organisation_types.items():
        if type_ not in valid_types or not 0 <= cap <= QUOTA_MAX:
            raise DomainError(
                _l("Invalid number of places per organisation for %(type)s.", type=type_),
                field="per_organisation_types",
            )
    return _Settings(ends_at, opens, closes, edit_deadline)


def create_event(
    db: DbSession, spec: EventSpec, *, actor: User | None = None, now: datetime | None = None
) -> Event:
    """Create an event and its sessions, for every path that creates one (the organiser
    screens, the command line, the demo), and write the audit entry. Registration opens
    now and closes at the start unless told otherwise; changes are allowed until
    registration closes. The account that creates it (none from the command line) is
    one of the accounts that manage it."""
    now = now or utcnow()
    if not SLUG_RE.match(spec.slug):
        raise DomainError(
            _l("The slug may hold only lower-case letters, digits and dashes (at most 80)."),
            field="slug",
        )
    settings = _settings(spec, spec.registration_opens_at or now)
    if db.scalar(select(Event.id).where(Event.slug == spec.slug)) is not None:
        raise DomainError(
            _l("An event with the slug %(slug)s already exists.", slug=spec.slug), field="slug"
        )
    event = Event(
        slug=spec.slug,
        title=spec.title.strip(),
        description=spec.description,
        organiser=spec.organiser,
        venue=spec.venue,
        timezone=spec.timezone,
        starts_at=spec.starts_at,
        ends_at=settings.ends_at,
        registration_opens_at=settings.opens,
        registration_closes_at=settings.closes,
        edit_deadline=settings.edit_deadline,
        capacity=spec.capacity,
        type_quotas=dict(spec.type_quotas),
        per_organisation=spec.per_organisation,
        per_organisation_types=dict(spec.per_organisation_types),
        visibility=Visibility(spec.visibility),
        badge_job_title=spec.badge_job_title,
        reminder_days=spec.reminder_days,
        admission=Admission(spec.admission),
        reserved_for_invitees=spec.reserved_for_invitees,
    )
    for position, s in enumerate(spec.sessions):
        _check_session(event, s)
        session = Session(position=position)
        _apply_session(session, s)
        event.sessions.append(session)
    db.add(event)
    if actor is not None and event not in actor.events:
        actor.events.append(event)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.EVENT_CREATE,
        event=event,
        changes={
            "slug": [None, event.slug],
            **{k: [None, v] for k, v in event_snapshot(event).items() if v},
        },
    )
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
        "per_organisation": event.per_organisation,
        "per_organisation_types": dict(sorted((event.per_organisation_types or {}).items())),
        "visibility": Visibility(event.visibility).value,
        "badge_job_title": event.badge_job_title,
        "reminder_days": event.reminder_days,
        "admission": Admission(event.admission).value,
        "reserved_for_invitees": event.reserved_for_invitees,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def update_event(
    db: DbSession, event: Event, spec: EventSpec, *, actor: User | None = None
) -> dict[str, list[Any]]:
    """Change an event's settings (not its slug, not its sessions), write the audit
    entry, and return what changed as {"field": [old, new]}. The same rules and
    defaults as when the event was created (registration opens when it opened unless
    told otherwise), and its sessions must still fall within its days. Lowering the
    capacity below the number of confirmed people takes nobody's place: the caller
    says so, and promotes from the waitlist (under the event lock) when places were
    added."""
    settings = _settings(spec, spec.registration_opens_at or event.registration_opens_at)
    days = _days(spec.timezone, spec.starts_at, settings.ends_at)
    for s in event.sessions:
        if _outside(days, spec.timezone, s.starts_at, s.ends_at) is not None:
            raise DomainError(
                _l(
                    "The session “%(title)s” would fall outside the event’s days "
                    "(%(days)s): change its times first.",
                    title=s.title,
                    days=_days_text(days),
                ),
                field="starts_at",
            )
    before = event_snapshot(event)
    event.title = spec.title.strip()
    event.description = spec.description or None
    event.venue = spec.venue or None
    event.organiser = spec.organiser or None
    event.timezone = spec.timezone
    event.starts_at = spec.starts_at
    event.ends_at = settings.ends_at
    event.registration_opens_at = settings.opens
    event.registration_closes_at = settings.closes
    event.edit_deadline = settings.edit_deadline
    event.capacity = spec.capacity
    event.type_quotas = dict(spec.type_quotas)
    event.per_organisation = spec.per_organisation
    event.per_organisation_types = dict(spec.per_organisation_types)
    event.visibility = Visibility(spec.visibility)
    event.badge_job_title = spec.badge_job_title
    event.reminder_days = spec.reminder_days
    event.admission = Admission(spec.admission)
    event.reserved_for_invitees = spec.reserved_for_invitees
    db.flush()
    changes = diff(before, event_snapshot(event))
    if changes:
        audit.record(
            db, actor=actor, action=audit.AuditAction.EVENT_UPDATE, event=event, changes=changes
        )
    return changes


def spec_of(event: Event) -> EventSpec:
    """An event's settings as a spec, to change one of them and save the rest as they are."""
    return EventSpec(
        slug=event.slug,
        title=event.title,
        starts_at=event.starts_at,
        ends_at=event.ends_at,
        timezone=event.timezone,
        venue=event.venue,
        organiser=event.organiser,
        description=event.description,
        capacity=event.capacity,
        type_quotas=dict(event.type_quotas or {}),
        per_organisation=event.per_organisation,
        per_organisation_types=dict(event.per_organisation_types or {}),
        registration_opens_at=event.registration_opens_at,
        registration_closes_at=event.registration_closes_at,
        edit_deadline=event.edit_deadline,
        visibility=Visibility(event.visibility).value,
        badge_job_title=event.badge_job_title,
        reminder_days=event.reminder_days,
        admission=Admission(event.admission).value,
        reserved_for_invitees=event.reserved_for_invitees or 0,
    )


def session_snapshot(session: Session) -> dict[str, Any]:
    return {
        "title": session.title,
        "kind": session.kind,
        "room": session.room,
        "starts_at": _iso(session.starts_at),
        "ends_at": _iso(session.ends_at),
        "capacity": session.capacity,
    }


def _days(tz: str, starts_at: datetime, ends_at: datetime) -> tuple[date, date]:
    """The first and last days of an event, in its time zone."""
    where = zone(tz)
    return starts_at.astimezone(where).date(), ends_at.astimezone(where).date()


def _outside(days: tuple[date, date], tz: str, *times: datetime | None) -> datetime | None:
    """The first of `times` that falls on no day of the event, if any."""
    where = zone(tz)
    for value in times:
        if value is not None and not days[0] <= value.astimezone(where).date() <= days[1]:
            return value
    return None


def _days_text(days: tuple[date, date]) -> str:
    locale = str(get_locale())
    first = format_date(days[0], "long", locale=locale)
    if days[0] == days[1]:
        return first
    return f"{first} – {format_date(days[1], 'long', locale=locale)}"


def _check_session(event: Event, spec: SessionSpec) -> None:
    """A session's rules: a title, an end after its start, a capacity within bounds, and
    its times within the event's days (in the event's time zone)."""
    if not spec.title.strip():
        raise DomainError(_l("The title is required."), field="title")
    if spec.starts_at and spec.ends_at and spec.ends_at <= spec.starts_at:
        raise DomainError(_l("The session must end after it starts."), field="ends_at")
    if spec.capacity is not None and not 0 <= spec.capacity <= QUOTA_MAX:
        raise DomainError(
            _l("A whole number from 0 to %(max)d, please.", max=QUOTA_MAX), field="capacity"
        )
    days = _days(event.timezone, event.starts_at, event.ends_at)
    outside = _outside(days, event.timezone, spec.starts_at, spec.ends_at)
    if outside is not None:
        raise DomainError(
            _l(
                "“%(title)s” must start and end within the event’s days (%(days)s).",
                title=spec.title.strip(),
                days=_days_text(days),
            ),
            field="starts_at" if outside is spec.starts_at else "ends_at",
        )


def _apply_session(session: Session, spec: SessionSpec) -> None:
    session.title = spec.title.strip()
    session.kind = spec.kind or None
    session.room = spec.room or None
    session.starts_at = spec.starts_at
    session.ends_at = spec.ends_at
    session.capacity = spec.capacity


def add_session(db: DbSession, event: Event, spec: SessionSpec) -> Session:
    """A new session, last in the programme."""
    _check_session(event, spec)
    session = Session(position=max((s.position for s in event.sessions), default=-1) + 1)
    _apply_session(session, spec)
    event.sessions.append(session)
    db.flush()
    return session


def update_session(db: DbSession, session: Session, spec: SessionSpec) -> dict[str, list[Any]]:
    """Change a session; returns what changed. A capacity below the number of people
    already holding a seat takes nobody's seat: it only stops new ones."""
    _check_session(session.event, spec)
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
    # Translated now, as plain text: the typed value is escaped wherever it is shown.
    raise NotASession(gettext("Session “%(value)s” is not part of the event.", value=shown(text)))


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
