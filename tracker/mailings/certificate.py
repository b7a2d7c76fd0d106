"""The attendance certificate (attestation de présence): one A4 page for a person checked
in at the event, with the sessions they were checked in to and their times.

Present means checked in: at the entrance or to a session (someone let into a round
table without passing the entrance desk was there too). The sessions listed are those
the person was checked in to, never those they registered for: a certificate states
what was recorded. It exists once the event is over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l
from tracker.i18n import local_date, local_datetime, local_time, time_span
from tracker.models import ENTRANCE, CheckIn, Event, Registration, Session
from tracker.pdf import css_string, page_counter, render_pdf


class CertificateUnavailable(DomainError):
    code = "certificate_unavailable"
    status = 409


@dataclass
class AttendedSession:
    session: Session
    checked_in_at: datetime

    @property
    def duration(self) -> timedelta | None:
        s = self.session
        return s.ends_at - s.starts_at if s.starts_at and s.ends_at else None


@dataclass
class Attendance:
    registration: Registration
    arrived_at: datetime | None  # the entrance check-in
    sessions: list[AttendedSession]

    @property
    def total(self) -> timedelta | None:
        """The scheduled length of the sessions attended (those with both times)."""
        durations = [d for d in (a.duration for a in self.sessions) if d is not None]
        return sum(durations, timedelta()) if durations else None


def is_over(event: Event, now: datetime | None = None) -> bool:
    return event.ends_at <= (now or utcnow())


def attendance(db: DbSession, registration: Registration) -> Attendance | None:
    """The person's check-ins at the event, or None when they were never checked in."""
    checkins = db.scalars(
        select(CheckIn).where(CheckIn.registration_id == registration.id).order_by(CheckIn.scope)
    ).all()
    if not checkins:
        return None
    by_id = {s.id: s for s in registration.event.sessions}
    arrived = next((c.checked_in_at for c in checkins if c.scope == ENTRANCE), None)
    attended = [
        AttendedSession(by_id[c.session_id], c.checked_in_at)
        for c in checkins
        if c.scope != ENTRANCE and c.session_id in by_id
    ]
    # In the programme's order of time: by start (sessions without times last), position.
    attended.sort(
        key=lambda a: (
            a.session.starts_at is None,
            a.session.starts_at or a.checked_in_at,
            a.session.position,
            a.session.id,
        )
    )
    return Attendance(registration, arrived, attended)


def has_certificate(db: DbSession, registration: Registration) -> bool:
    """Whether the person may download a certificate now: the event is over and they
    were checked in."""
    return is_over(registration.event) and (
        db.scalar(select(CheckIn.id).where(CheckIn.registration_id == registration.id).limit(1))
        is not None
    )


def present_ids(db: DbSession, event: Event) -> list[int]:
    """The registrations of everyone checked in at the event (entrance or session)."""
    return list(
        db.scalars(select(CheckIn.registration_id).where(CheckIn.event_id == event.id).distinct())
    )


def certificate_attendance(
    db: DbSession, registration: Registration, *, now: datetime | None = None
) -> Attendance:
    """The attendance a certificate is made of; CertificateUnavailable (with what to
    do) before the event ends or for someone never checked in."""
    event = registration.event
    if not is_over(event, now):
        raise CertificateUnavailable(
            _l(
                "The certificate of attendance is available once the event is over, from %(time)s.",
                time=local_datetime(event.ends_at, event.timezone),
            )
        )
    found = attendance(db, registration)
    if found is None:
        raise CertificateUnavailable(
            _l("Nobody checked this person in at the event: there is no certificate to issue.")
        )
    return found


def duration_text(value: timedelta) -> str:
    minutes = round(value.total_seconds() / 60)
    # TRANSLATORS: a length of time on a certificate of attendance, e.g. "3 h 30 min".
    return _("%(hours)d h %(minutes)02d min", hours=minutes // 60, minutes=minutes % 60)


def certificate_html(attendance: Attendance, *, now: datetime | None = None) -> str:
    registration = attendance.registration
    event = registration.event
    tz = event.timezone
    rows = [
        {
            "title": a.session.title,
            "room": a.session.room,
            "when": time_span(a.session.starts_at, a.session.ends_at, tz, "medium")
            if a.session.starts_at
            else "",
            "checked_in_at": local_time(a.checked_in_at, tz),
            "duration": duration_text(a.duration) if a.duration else "",
        }
        for a in attendance.sessions
    ]
    return render_template(
        "pdf/certificate.html",
        event=event,
        registration=registration,
        when=time_span(event.starts_at, event.ends_at, tz),
        arrived=local_datetime(attendance.arrived_at, tz) if attendance.arrived_at else None,
        rows=rows,
        total=duration_text(attendance.total) if attendance.total else None,
        issued=local_date(now or utcnow(), tz, "long"),
    )


def certificate_css() -> str:
    return render_template(
        "pdf/certificate.css",
        page_counter=page_counter(),
        # TRANSLATORS: the footer of a certificate of attendance.
        footer=css_string(_("Issued from the attendance records of the event")),
    )


def render_certificate(
    db: DbSession, registration: Registration, *, now: datetime | None = None
) -> bytes:
    """The certificate as a PDF, in the current language (see certificate_attendance)."""
    found = certificate_attendance(db, registration, now=now)
    return render_pdf(certificate_html(found, now=now), css=certificate_css())


def certificate_filename(registration: Registration) -> str:
    return f"{registration.event.slug}-attestation.pdf"
