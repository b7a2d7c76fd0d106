"""The sign-in sheet (feuille d'émargement) of a whole event or of one of its sessions:
an A4 list to sign by hand, printable before the event (blank) or after it (with each
person's check-in time).

Who is listed:

- whole event: the confirmed registrations, plus anyone checked in at the entrance
  (so a walk-in is listed, and so would be someone cancelled after checking in);
- one session: the confirmed registrations for that session, plus anyone checked in
  to that session, registered for it or not (the door may let a person into a round
  table they did not choose).

Cancelled and waitlisted people are left out unless they were checked in at that scope.

The closing line "N present / M registered" counts, at the sheet's scope (the entrance
for the whole event, the session's own check-ins for a session):

- M, registered: the confirmed registrations expected there (for a session: those
  registered for it), i.e. the people listed because they were expected; a walk-in,
  registered at the door as they came in (for the session the door was checking in
  to, if any), was not expected and is not in M;
- N, present: the listed people checked in there, whether they were expected or not
  (a walk-in or a session check-in without registering counts in N, not in M, so N
  may exceed M).

N therefore agrees with tracker.reports.services' present (the entrance's, a
session's), and M with its confirmed less the walk-ins; a sheet's rows and its totals
come from the same single query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_interval
from flask import render_template
from flask_babel import get_locale
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session as DbSession

from tracker.errors import InvalidChoice
from tracker.i18n import lazy_gettext as _l
from tracker.i18n import local_date, local_time
from tracker.models import (
    CheckIn,
    Event,
    Organisation,
    OrganisationType,
    Registration,
    RegistrationSource,
    RegistrationStatus,
    Session,
    registration_sessions,
)
from tracker.pdf import page_counter, render_pdf
from tracker.registration.forms import TYPE_LABELS
from tracker.reports.services import ENTRANCE
from tracker.text import sort_key

TYPE_ORDER = list(OrganisationType)  # cluster, ministry, region, agency, other
TIME_FORMAT = "HH:mm"  # 24-hour clock in both languages of the sheet


@dataclass
class Row:
    registration_id: int
    last_name: str
    first_name: str
    organisation: str
    job_title: str | None
    type: OrganisationType
    expected: bool  # a confirmed registration for this scope, made before the door
    checked_in_at: datetime | None  # aware UTC


@dataclass
class Group:
    type: OrganisationType
    rows: list[Row] = field(default_factory=list)

    @property
    def label(self) -> Any:
        return TYPE_LABELS[self.type]


@dataclass
class Sheet:
    event: Event
    session: Session | None
    groups: list[Group]

    @property
    def rows(self) -> list[Row]:
        return [row for group in self.groups for row in group.rows]

    @property
    def registered(self) -> int:
        """M: the confirmed registrations expected at this scope."""
        return sum(row.expected for row in self.rows)

    @property
    def present(self) -> int:
        """N: the listed people checked in at this scope."""
        return sum(row.checked_in_at is not None for row in self.rows)


def _sort_key(row: Row) -> tuple[Any, ...]:
    """By type, then organisation, last name and first name in French alphabetical
    order: "Élodie" sorts with "elodie", before "Emma"; "Œuvray" among the O's."""
    return (
        TYPE_ORDER.index(row.type),
        sort_key(row.organisation),
        sort_key(row.last_name),
        sort_key(row.first_name),
        row.registration_id,
    )


def session_for(db: DbSession, event: Event, session_id: object) -> Session | None:
    """The event's session of that id (None: the whole event); another event's session
    or an unknown id is refused."""
    if session_id is None:
        return None
    session = None
    # (an id beyond a 32-bit integer is a database error on PostgreSQL, not a miss)
    if isinstance(session_id, int) and not isinstance(session_id, bool) and 0 < session_id < 2**31:
        session = db.get(Session, session_id)
    if session is None or session.event_id != event.id:
        raise InvalidChoice(_l("This session is not part of the event."), field="session")
    return session


def signin_sheet(db: DbSession, event: Event, session_id: int | None = None) -> Sheet:
    """The people of the sheet, grouped and sorted, with their check-in time at the
    sheet's scope: one SQL query (plus one to find the session)."""
    session = session_for(db, event, session_id)
    scope = session.id if session is not None else ENTRANCE
    confirmed = and_(
        Registration.status == RegistrationStatus.CONFIRMED,
        Registration.source != RegistrationSource.WALK_IN,  # came unexpected: in N, not M
    )
    link = registration_sessions.c
    # Expected: confirmed for the sheet's scope (the event, or the session among its
    # choices); the sheet lists those expected and those who came.
    expected: Any = confirmed if session is None else and_(confirmed, link.session_id.is_not(None))
    query = (
        select(
            Registration.id,
            Registration.last_name,
            Registration.first_name,
            Organisation.name,
            Registration.job_title,
            Registration.organisation_type,
            CheckIn.checked_in_at,
            expected.label("expected"),
        )
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .outerjoin(
            CheckIn, and_(CheckIn.registration_id == Registration.id, CheckIn.scope == scope)
        )
        .where(Registration.event_id == event.id)
    )
    if session is not None:
        query = query.outerjoin(
            registration_sessions,
            and_(link.registration_id == Registration.id, link.session_id == session.id),
        )
    query = query.where(or_(expected, CheckIn.id.is_not(None)))

    rows = sorted(
        (
            Row(
                registration_id=id_,
                last_name=last,
                first_name=first,
                organisation=organisation,
                job_title=job,
                type=kind,
                expected=bool(is_expected),
                checked_in_at=at,
            )
            for id_, last, first, organisation, job, kind, at, is_expected in db.execute(query)
        ),
        key=_sort_key,
    )
    groups: dict[OrganisationType, Group] = {}
    for row in rows:
        groups.setdefault(row.type, Group(row.type)).rows.append(row)
    return Sheet(event=event, session=session, groups=list(groups.values()))


def sheet_date(event: Event, session: Session | None) -> str:
    """The day of the sheet in the event's time zone and the reader's language: the
    session's day when it has one, else the event's day (or its first and last days)."""
    if session is not None and session.starts_at is not None:
        return local_date(session.starts_at, event.timezone)
    zone = ZoneInfo(event.timezone)
    start, end = event.starts_at, event.ends_at
    if start.astimezone(zone).date() == end.astimezone(zone).date():
        return local_date(start, event.timezone)
    return format_interval(start, end, "yMMMd", tzinfo=zone, locale=str(get_locale()))


def render_signin(
    db: DbSession,
    event: Event,
    session_id: int | None = None,
    *,
    with_times: bool | None = None,
) -> bytes:
    """The sign-in sheet as one A4 PDF: the whole event (session_id None) or one session.

    with_times: print each person's check-in time (HH:MM, event's time zone); None
    prints them as soon as someone has been checked in at the sheet's scope, so the
    same call gives a blank sheet before the event and a filled one after it.
    An unknown session, or a session of another event, raises InvalidChoice.
    The people and the "N present / M registered" figures are defined in this module's
    docstring.
    """
    sheet = signin_sheet(db, event, session_id)
    if with_times is None:
        with_times = sheet.present > 0
    times = {
        row.registration_id: local_time(row.checked_in_at, event.timezone, TIME_FORMAT)
        for row in sheet.rows
        if with_times and row.checked_in_at is not None
    }
    html = render_template(
        "pdf/signin.html",
        sheet=sheet,
        event=event,
        session=sheet.session,
        date=sheet_date(event, sheet.session),
        with_times=with_times,
        times=times,
    )
    css = render_template("pdf/signin.css", page_counter=page_counter())
    return render_pdf(html, css=css)
