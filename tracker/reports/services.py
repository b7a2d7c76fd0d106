"""Attendance figures: who registered, who came, from which kind of organisation, to which
session, and when they arrived. Every figure is a SQL aggregate; Python only folds the
few grouped rows into tables. The dashboard's live refresh (`live_figures`) folds the
same figures from maintained counts instead (tracker.reports.counts).

What the words mean (the dashboard, the exports and GET /api/v1/events/{slug}/stats
all use these definitions):

- registered: every registration received, whatever its status now;
- confirmed, waitlisted, cancelled: registrations by their current status;
- present: people checked in at the entrance (the door's own counter);
- no-show: confirmed people not checked in at the entrance, once the event has started
  (has_started); before, the same count is of people who have not arrived yet, and
  every output says so.

In the breakdowns by type, organisation and session, "registered" leaves out the
cancelled (they are not expected anywhere) and "present" for a session counts that
session's own check-ins, which the door records independently of the entrance.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, case, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer

from tracker.db import utcnow
from tracker.i18n import local_date
from tracker.models import (
    ENTRANCE,
    CheckIn,
    Event,
    Organisation,
    OrganisationType,
    Registration,
    RegistrationStatus,
    registration_sessions,
)
from tracker.reports import counts
from tracker.text import sort_key

TIMELINE_MINUTES = counts.SLOT_SECONDS // 60  # the live refresh reads counts per slot
TIMELINE_MAX_SLOTS = 288  # two days of 10-minute slots; a longer span lists only busy slots

CONFIRMED = RegistrationStatus.CONFIRMED
CANCELLED = RegistrationStatus.CANCELLED


class epoch_seconds(FunctionElement[int]):  # noqa: N801 (a SQL function's name)
    """Seconds since 1970 of a naive-UTC timestamp column, on SQLite and PostgreSQL."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    # julianday() is arithmetic where strftime('%s') formats a string for every row.
    column = compiler.process(element.clauses, **kw)
    return f"CAST(ROUND((julianday({column}) - 2440587.5) * 86400) AS INTEGER)"


@compiles(epoch_seconds)
def _epoch_default(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS BIGINT)"


def rate(part: int, whole: int) -> float | None:
    """part / whole, or None when there is nothing to divide by."""
    return round(part / whole, 4) if whole else None


@dataclass
class Totals:
    registered: int = 0
    confirmed: int = 0
    waitlisted: int = 0
    cancelled: int = 0
    present: int = 0
    no_show: int = 0

    @property
    def present_rate(self) -> float | None:
        return rate(self.present, self.confirmed)

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_show, self.confirmed)

    @property
    def cancellation_rate(self) -> float | None:
        return rate(self.cancelled, self.registered)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {
            "present_rate": self.present_rate,
            "no_show_rate": self.no_show_rate,
            "cancellation_rate": self.cancellation_rate,
        }


@dataclass
class Line:
    """One row of a breakdown: registered (not cancelled), confirmed, present."""

    registered: int = 0
    confirmed: int = 0
    present: int = 0
    present_confirmed: int = 0  # present among the confirmed, for the no-show count
    # A session's present who are not among its registered (let in without choosing it,
    # or cancelled): said beside the present, which may then exceed the registered.
    present_unregistered: int = 0

    @property
    def no_show(self) -> int:
        return self.confirmed - self.present_confirmed

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_show, self.confirmed)


@dataclass
class OrganisationLine(Line):
    id: int = 0
    name: str = ""
    type: OrganisationType = OrganisationType.OTHER


@dataclass
class SessionLine(Line):
    id: int = 0
    title: str = ""
    by_type: dict[OrganisationType, Line] = field(default_factory=dict)


@dataclass
class Slot:
    """Entrance check-ins in one slot of the timeline, per door."""

    starts_at: datetime  # in the event's time zone
    doors: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.doors.values())


@dataclass
class Figures:
    totals: Totals
    by_type: dict[OrganisationType, Line]
    by_session: list[SessionLine]
    started: bool = True  # the event has begun: the not-yet-arrived are no-shows
    by_organisation: list[OrganisationLine] = field(default_factory=list)
    timeline: list[Slot] = field(default_factory=list)
    doors: list[str] = field(default_factory=list)

    @property
    def slot_labels(self) -> list[str]:
        """The timeline's slots as clock times, on 24 hours as on the sign-in sheets (with
        the date as the reader's language writes it when the timeline spans days)."""
        if not self.timeline:
            return []
        days = self.timeline[0].starts_at.date() != self.timeline[-1].starts_at.date()
        return [
            f"{local_date(s.starts_at, str(s.starts_at.tzinfo), 'short')} {s.starts_at:%H:%M}"
            if days
            else f"{s.starts_at:%H:%M}"
            for s in self.timeline
        ]


def has_started(event: Event, now: datetime | None = None) -> bool:
    """Whether the event has begun. Until then nobody is absent: a confirmed person not
    checked in is one who has not arrived yet; from its start, a no-show."""
    return (now or utcnow()) >= event.starts_at


def _fold(line: Line, status: RegistrationStatus, count: int, present: int) -> None:
    """Add `count` registrations of one status, `present` of them checked in."""
    if status != CANCELLED:
        line.registered += count
    if status == CONFIRMED:
        line.confirmed += count
        line.present_confirmed += present
    line.present += present


_NOT_CONFIRMED = [s for s in RegistrationStatus if s != CONFIRMED]

Key = tuple[int, OrganisationType, RegistrationStatus]  # organisation id, type, status

# SQLite would rather read the registrations' rows (QR image and all) by rowid; from a
# check-in, type, status and organisation are all in this much smaller index.
_BY_ID = "INDEXED BY ix_registrations_id_counts"


def _people(db: DbSession, event: Event) -> dict[Key, list[int]]:
    """[registrations, present at the entrance] per organisation, type and status: one
    scan of an index of registrations, one of the entrance check-ins (a join per check-in).
    Everything about people and the entrance is folded from these few hundred rows."""
    counts: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    keys = (Registration.organisation_id, Registration.organisation_type, Registration.status)
    for *key, count in db.execute(
        select(*keys, func.count()).where(Registration.event_id == event.id).group_by(*keys)
    ):
        counts[tuple(key)][0] = count  # type: ignore[index]
    for *key, present in db.execute(
        select(*keys, func.count())
        .select_from(CheckIn)
        .join(Registration, Registration.id == CheckIn.registration_id)
        .with_hint(Registration, _BY_ID, "sqlite")
        .where(CheckIn.event_id == event.id, CheckIn.scope == ENTRANCE)
        .group_by(*keys)
    ):
        counts[tuple(key)][1] = present  # type: ignore[index]
    return counts


def _totals_and_types(counts: dict[Key, list[int]]) -> tuple[Totals, dict[OrganisationType, Line]]:
    totals = Totals()
    by_type = {t: Line() for t in OrganisationType}
    for (_org, kind, status), (count, present) in counts.items():
        _fold(by_type[kind], status, count, present)
        totals.registered += count
        totals.present += present
        if status == CONFIRMED:
            totals.confirmed += count
            totals.no_show += count - present
        elif status == CANCELLED:
            totals.cancelled += count
        else:
            totals.waitlisted += count
    return totals, by_type


def totals_and_types(db: DbSession, event: Event) -> tuple[Totals, dict[OrganisationType, Line]]:
    """The headline figures and the breakdown by organisation type."""
    return _totals_and_types(_people(db, event))


def by_session(db: DbSession, event: Event) -> list[SessionLine]:
    """Per session: registered and present, in all and per organisation type. Present
    counts the session's own check-ins, registered for it or not."""
    link = registration_sessions.c
    keys = (Registration.organisation_type, Registration.status)
    sessions = list(event.sessions)
    # One column per session, grouped by type and status only: the groups follow the
    # order of the registrations' index, where grouping by session as well would sort
    # every one of the (hundreds of thousands of) session choices first.
    registered = (
        db.execute(
            select(*keys, *(func.count(case((link.session_id == s.id, 1))) for s in sessions))
            .select_from(Registration)
            .join(registration_sessions, link.registration_id == Registration.id)
            .where(Registration.event_id == event.id)
            .group_by(*keys)
        ).all()
        if sessions
        else []
    )
    chosen = {
        (session.id, kind, status): count
        for kind, status, *counts in registered
        for session, count in zip(sessions, counts, strict=True)
    }
    return _session_lines(event, chosen, session_presence(db, event))


PresentRow = tuple[int, OrganisationType, RegistrationStatus, int, int]


def session_presence(db: DbSession, event: Event) -> list[PresentRow]:
    """The sessions' check-ins: (session id, type, status, how many, how many of them
    registered for it)."""
    link = registration_sessions.c
    keys = (Registration.organisation_type, Registration.status)
    # From the check-in side (far fewer rows): whether each was registered for it.
    rows = db.execute(
        select(CheckIn.scope, *keys, func.count(), func.count(link.session_id))
        .join(Registration, Registration.id == CheckIn.registration_id)
        .with_hint(Registration, _BY_ID, "sqlite")
        .outerjoin(
            registration_sessions,
            and_(link.registration_id == CheckIn.registration_id, link.session_id == CheckIn.scope),
        )
        .where(CheckIn.event_id == event.id, CheckIn.scope > ENTRANCE)
        .group_by(CheckIn.scope, *keys)
    )
    return [(scope, kind, status, n, chosen) for scope, kind, status, n, chosen in rows]


def _session_lines(
    event: Event,
    chosen: dict[tuple[int, OrganisationType, RegistrationStatus], int],
    present: list[PresentRow],
) -> list[SessionLine]:
    """The lines of by_session from the session choices per session, type and status,
    and the sessions' check-ins."""
    lines = {
        s.id: SessionLine(id=s.id, title=s.title, by_type={t: Line() for t in OrganisationType})
        for s in event.sessions
    }
    for (session_id, kind, status), count in chosen.items():
        if session_id in lines:
            _fold(lines[session_id].by_type[kind], status, count, 0)
    for scope, kind, status, count, was_registered in present:
        if scope in lines:
            part = lines[scope].by_type[kind]
            part.present += count
            part.present_unregistered += count - (was_registered if status != CANCELLED else 0)
            if status == CONFIRMED:
                part.present_confirmed += was_registered
    for line in lines.values():
        for part in line.by_type.values():
            line.registered += part.registered
            line.confirmed += part.confirmed
            line.present += part.present
            line.present_confirmed += part.present_confirmed
            line.present_unregistered += part.present_unregistered
    return list(lines.values())


@dataclass
class SessionCount:
    registered: int  # not cancelled
    confirmed: int
    present: int


def session_counts(db: DbSession, event: Event) -> dict[int, SessionCount]:
    """Per session id, as by_session counts them but from indexes alone: all of the
    session's choices less those of the (few) cancelled and waitlisted, and its
    check-ins. The stats API and the door's counters use these."""
    link = registration_sessions.c
    ids = [s.id for s in event.sessions]
    chosen: dict[int, int] = dict(
        db.execute(
            select(link.session_id, func.count())
            .where(link.session_id.in_(ids))
            .group_by(link.session_id)
        ).all()
    )
    others: dict[tuple[int, RegistrationStatus], int] = {
        (session_id, status): count
        for session_id, status, count in db.execute(
            select(link.session_id, Registration.status, func.count())
            .select_from(Registration)
            .join(registration_sessions, link.registration_id == Registration.id)
            # The other statuses by name, not "!= confirmed": an index serves IN, while
            # an inequality makes both databases read every registration of the event.
            .where(Registration.event_id == event.id, Registration.status.in_(_NOT_CONFIRMED))
            .group_by(link.session_id, Registration.status)
        )
    }
    present = dict(
        db.execute(
            select(CheckIn.scope, func.count())
            .where(CheckIn.event_id == event.id, CheckIn.scope > ENTRANCE)
            .group_by(CheckIn.scope)
        ).all()
    )
    counts = {}
    for i in ids:
        registered = chosen.get(i, 0) - others.get((i, CANCELLED), 0)
        waiting = others.get((i, RegistrationStatus.WAITLISTED), 0)
        counts[i] = SessionCount(registered, registered - waiting, present.get(i, 0))
    return counts


ORGANISATION_SORTS = ("name", "type", "registered", "present", "no_show")


def _by_organisation(db: DbSession, counts: dict[Key, list[int]]) -> list[OrganisationLine]:
    lines: dict[int, OrganisationLine] = {}
    for (org_id, _kind, status), (count, present) in counts.items():
        line = lines.setdefault(org_id, OrganisationLine(id=org_id))
        _fold(line, status, count, present)
    ids = sorted(lines)
    for start in range(0, len(ids), 500):
        for org_id, name, kind in db.execute(
            select(Organisation.id, Organisation.name, Organisation.type).where(
                Organisation.id.in_(ids[start : start + 500])
            )
        ):
            lines[org_id].name, lines[org_id].type = name, kind
    return list(lines.values())


def default_descending(sort: str) -> bool:
    """Numbers sort largest first, names and types in alphabetical order."""
    return sort not in ("name", "type")


def sort_organisations(
    lines: list[OrganisationLine], sort: str, descending: bool | None = None
) -> list[OrganisationLine]:
    """Sorted by one column (numbers largest first unless told), then by name."""
    sort = sort if sort in ORGANISATION_SORTS else "registered"
    if descending is None:
        descending = default_descending(sort)
    order = list(OrganisationType)
    by_name = sorted(lines, key=lambda line: (sort_key(line.name), line.id))
    if sort == "name":
        return by_name[::-1] if descending else by_name
    key: Any = {
        "type": lambda line: order.index(line.type),
        "registered": lambda line: line.registered,
        "present": lambda line: line.present,
        "no_show": lambda line: line.no_show,
    }[sort]
    return sorted(by_name, key=key, reverse=descending)  # stable: ties stay by name


def timeline(
    db: DbSession, event: Event, *, minutes: int = TIMELINE_MINUTES
) -> tuple[list[Slot], list[str]]:
    """Entrance check-ins per slot of `minutes` and per door, slots in the event's time
    zone, from the first check-in to the last with the empty slots between (only the
    busy slots when check-ins spread over more than TIMELINE_MAX_SLOTS)."""
    width = minutes * 60
    bucket = (epoch_seconds(CheckIn.checked_in_at) // literal_column(str(width))).label("bucket")
    rows = db.execute(
        select(bucket, CheckIn.door, func.count())
        .where(CheckIn.event_id == event.id, CheckIn.scope == ENTRANCE)
        .group_by(bucket, CheckIn.door)
    ).all()
    return _slots(event, [(int(slot), door, count) for slot, door, count in rows], width)


def _slots(
    event: Event, rows: list[tuple[int, str, int]], width: int
) -> tuple[list[Slot], list[str]]:
    """The timeline from its check-ins per slot of `width` seconds and door."""
    if not rows:
        return [], []
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for slot, door, count in rows:
        counts[slot][door] = count
    doors = sorted({door for _slot, door, _count in rows}, key=str.casefold)
    zone = ZoneInfo(event.timezone)
    first, last = min(counts), max(counts)
    span = range(first, last + 1) if last - first < TIMELINE_MAX_SLOTS else sorted(counts)
    slots = [
        Slot(
            starts_at=datetime.fromtimestamp(slot * width, UTC).astimezone(zone),
            doors=counts.get(slot, {}),
        )
        for slot in span
    ]
    return slots, doors


def live_figures(db: DbSession, event: Event, *, now: datetime | None = None) -> Figures:
    """The figures of the dashboard's live refresh, equal to figures(organisations=False)
    but read from the maintained counts of registrations (tracker.reports.counts) and
    the check-ins: nothing here reads every registration of the event."""
    stored = counts.split(counts.stored_counts(db, event))
    found: dict[Key, list[int]] = defaultdict(lambda: [0, 0])
    for (kind, status), count in stored.people.items():
        found[0, kind, status][0] = count
    for (kind, status), present in stored.entrance.items():
        found[0, kind, status][1] = present
    totals, types = _totals_and_types(found)
    joined: dict[tuple[int, OrganisationType, RegistrationStatus], list[int]] = defaultdict(
        lambda: [0, 0]
    )
    for (scope, kind, status, chose), n in stored.sessions.items():
        joined[scope, kind, status][0] += n
        if chose:
            joined[scope, kind, status][1] += n
    presence = [(*key, n, chose) for key, (n, chose) in joined.items()]
    result = Figures(
        totals=totals,
        by_type=types,
        by_session=_session_lines(event, stored.chosen, presence),
        started=has_started(event, now),
    )
    slots = [(slot, door, n) for (slot, door), n in stored.slots.items()]
    result.timeline, result.doors = _slots(event, slots, counts.SLOT_SECONDS)
    return result


def figures(
    db: DbSession,
    event: Event,
    *,
    organisations: bool = True,
    sessions: bool = True,
    arrivals: bool = True,
    sort: str = "registered",
    descending: bool | None = None,
    now: datetime | None = None,
) -> Figures:
    """All the figures of an event: the dashboard, the headcount export and the report.
    The breakdowns by organisation, by session and the arrivals can be left out (the
    dashboard's organisation table leaves out the sessions and the arrivals; its live
    refresh reads `live_figures`, equal to these without the organisations)."""
    counts = _people(db, event)
    totals, types = _totals_and_types(counts)
    result = Figures(
        totals=totals,
        by_type=types,
        by_session=by_session(db, event) if sessions else [],
        started=has_started(event, now),
    )
    if organisations:
        lines = _by_organisation(db, counts)
        result.by_organisation = sort_organisations(lines, sort, descending)
    if arrivals:
        result.timeline, result.doors = timeline(db, event)
    return result
