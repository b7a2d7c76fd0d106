"""Attendance figures: who registered, who came, from which kind of organisation, to which
session, and when they arrived. Every figure is a SQL aggregate; Python only folds the
few grouped rows into tables.

What the words mean (the dashboard, the exports and GET /api/v1/events/{slug}/stats
all use these definitions):

- registered: every registration received, whatever its status now;
- confirmed, waitlisted, cancelled: registrations by their current status;
- present: people checked in at the entrance (the door's own counter);
- no-show: confirmed people not checked in at the entrance.

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

from sqlalchemy import and_, func, literal_column, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Integer

from tracker.models import (
    CheckIn,
    Event,
    Organisation,
    OrganisationType,
    Registration,
    RegistrationStatus,
    registration_sessions,
)

ENTRANCE = 0  # CheckIn.scope of the entrance (a session's scope is its id)
TIMELINE_MINUTES = 10
TIMELINE_MAX_SLOTS = 288  # two days of 10-minute slots; a longer span lists only busy slots

CONFIRMED = RegistrationStatus.CONFIRMED
CANCELLED = RegistrationStatus.CANCELLED


class epoch_seconds(FunctionElement[int]):  # noqa: N801 (a SQL function's name)
    """Seconds since 1970 of a naive-UTC timestamp column, on SQLite and PostgreSQL."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_seconds, "sqlite")
def _epoch_sqlite(element: epoch_seconds, compiler: Any, **kw: Any) -> str:
    return f"CAST(strftime('%s', {compiler.process(element.clauses, **kw)}) AS INTEGER)"


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

    @property
    def no_show(self) -> int:
        return self.confirmed - self.present_confirmed

    @property
    def no_show_rate(self) -> float | None:
        return rate(self.no_show, self.confirmed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "registered": self.registered,
            "confirmed": self.confirmed,
            "present": self.present,
            "no_show": self.no_show,
            "no_show_rate": self.no_show_rate,
        }


@dataclass
class OrganisationLine(Line):
    id: int = 0
    name: str = ""
    type: OrganisationType = OrganisationType.OTHER

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "type": self.type.value} | super().as_dict()


@dataclass
class SessionLine(Line):
    id: int = 0
    title: str = ""
    kind: str | None = None
    by_type: dict[OrganisationType, Line] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "kind": self.kind,
            **super().as_dict(),
            "by_type": {t.value: line.as_dict() for t, line in self.by_type.items()},
        }


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
    by_organisation: list[OrganisationLine] = field(default_factory=list)
    timeline: list[Slot] = field(default_factory=list)
    doors: list[str] = field(default_factory=list)

    @property
    def slot_labels(self) -> list[str]:
        """The timeline's slots as clock times (with the date when it spans days)."""
        if not self.timeline:
            return []
        days = self.timeline[0].starts_at.date() != self.timeline[-1].starts_at.date()
        fmt = "%Y-%m-%d %H:%M" if days else "%H:%M"
        return [slot.starts_at.strftime(fmt) for slot in self.timeline]

    def as_dict(self) -> dict[str, Any]:
        return {
            "totals": self.totals.as_dict(),
            "by_type": {t.value: line.as_dict() for t, line in self.by_type.items()},
            "by_session": [s.as_dict() for s in self.by_session],
            "by_organisation": [o.as_dict() for o in self.by_organisation],
            "timeline": [
                {"starts_at": s.starts_at.isoformat(), "doors": s.doors, "total": s.total}
                for s in self.timeline
            ],
        }


def _entrance_join() -> Any:
    return and_(CheckIn.registration_id == Registration.id, CheckIn.scope == ENTRANCE)


def _fold(line: Line, status: RegistrationStatus, count: int, present: int) -> None:
    if status != CANCELLED:
        line.registered += count
    if status == CONFIRMED:
        line.confirmed += count
        line.present_confirmed += present
    line.present += present


def totals_and_types(db: DbSession, event: Event) -> tuple[Totals, dict[OrganisationType, Line]]:
    """The headline figures and the breakdown by organisation type, in one query."""
    rows = db.execute(
        select(
            Registration.organisation_type,
            Registration.status,
            func.count(Registration.id),
            func.count(CheckIn.id),
        )
        .outerjoin(CheckIn, _entrance_join())
        .where(Registration.event_id == event.id)
        .group_by(Registration.organisation_type, Registration.status)
    ).all()
    totals = Totals()
    by_type = {t: Line() for t in OrganisationType}
    for kind, status, count, present in rows:
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


def by_session(db: DbSession, event: Event) -> list[SessionLine]:
    """Per session: registered and present, in all and per organisation type."""
    link = registration_sessions.c
    registered = db.execute(
        select(
            link.session_id,
            Registration.organisation_type,
            Registration.status,
            func.count(),
            func.count(CheckIn.id),
        )
        .join(Registration, Registration.id == link.registration_id)
        .outerjoin(
            CheckIn,
            and_(CheckIn.registration_id == Registration.id, CheckIn.scope == link.session_id),
        )
        .where(Registration.event_id == event.id)
        .group_by(link.session_id, Registration.organisation_type, Registration.status)
    ).all()
    # Session check-ins of people not registered for it count as present too.
    present = db.execute(
        select(CheckIn.scope, Registration.organisation_type, func.count())
        .join(Registration, Registration.id == CheckIn.registration_id)
        .where(CheckIn.event_id == event.id, CheckIn.scope != ENTRANCE)
        .group_by(CheckIn.scope, Registration.organisation_type)
    ).all()
    lines = {
        s.id: SessionLine(
            id=s.id, title=s.title, kind=s.kind, by_type={t: Line() for t in OrganisationType}
        )
        for s in event.sessions
    }
    for session_id, kind, status, count, present_registered in registered:
        if session_id in lines:
            _fold(lines[session_id].by_type[kind], status, count, 0)
            lines[session_id].by_type[kind].present_confirmed += (
                present_registered if status == CONFIRMED else 0
            )
    for scope, kind, count in present:
        if scope in lines:
            lines[scope].by_type[kind].present += count
    for line in lines.values():
        for part in line.by_type.values():
            line.registered += part.registered
            line.confirmed += part.confirmed
            line.present += part.present
            line.present_confirmed += part.present_confirmed
    return list(lines.values())


ORGANISATION_SORTS = ("name", "type", "registered", "present", "no_show")


def by_organisation(
    db: DbSession, event: Event, *, sort: str = "registered", descending: bool | None = None
) -> list[OrganisationLine]:
    """Every organisation with someone registered: its type, registered, present."""
    rows = db.execute(
        select(
            Organisation.id,
            Organisation.name,
            Organisation.type,
            Registration.status,
            func.count(Registration.id),
            func.count(CheckIn.id),
        )
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .outerjoin(CheckIn, _entrance_join())
        .where(Registration.event_id == event.id)
        .group_by(Organisation.id, Organisation.name, Organisation.type, Registration.status)
    ).all()
    lines: dict[int, OrganisationLine] = {}
    for org_id, name, kind, status, count, present in rows:
        line = lines.setdefault(org_id, OrganisationLine(id=org_id, name=name, type=kind))
        _fold(line, status, count, present)
    return sort_organisations(list(lines.values()), sort, descending)


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
    by_name = sorted(lines, key=lambda line: (line.name.casefold(), line.id))
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
    if not rows:
        return [], []
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for slot, door, count in rows:
        counts[int(slot)][door] = count
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


def figures(
    db: DbSession,
    event: Event,
    *,
    organisations: bool = True,
    arrivals: bool = True,
    sort: str = "registered",
    descending: bool | None = None,
) -> Figures:
    """All the figures of an event: the dashboard, the headcount export and the report."""
    totals, types = totals_and_types(db, event)
    result = Figures(totals=totals, by_type=types, by_session=by_session(db, event))
    if organisations:
        result.by_organisation = by_organisation(db, event, sort=sort, descending=descending)
    if arrivals:
        result.timeline, result.doors = timeline(db, event)
    return result
