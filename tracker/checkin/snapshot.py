"""The door's snapshot of an event: what a door shows of each registration, to answer
scans and searches while the network is gone.

A person in the snapshot: names, organisation and its type, job title, status, the
sessions registered for, the check-ins (entrance and sessions: when, which door), the
answers to the questions marked as shown at the door (label and answer) and the
SHA-256 of the check-in code (a door hashes what it scans and compares). Never the
code itself, never an e-mail address: a lost or stolen device holds no badge to forge
and no address to write to.

A pull without a cursor gives everyone; with the cursor of the previous answer it gives
only who changed since: their registration (status, names, sessions: its row or its
audit log), or their check-ins (every check-in and undo is in the scan log). The cursor
is the server's time at the pull, read back with an overlap, so that a change whose
transaction commits just after a pull still reaches the next one.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.models import (
    AuditEntry,
    CheckIn,
    Event,
    Organisation,
    Registration,
    ScanLog,
    registration_sessions,
)
from tracker.questions import answers as qa

CURSOR_PREFIX = "v1."
# A change made within this time before a pull may commit after it: read it again.
OVERLAP = timedelta(seconds=30)


class BadCursor(ValueError):
    """A cursor this server did not give (or from the future)."""


def code_hash(code: str) -> str:
    return hashlib.sha256(code.encode("ascii")).hexdigest()


def make_cursor(at: datetime) -> str:
    return f"{CURSOR_PREFIX}{int(at.timestamp() * 1_000_000)}"


def read_cursor(cursor: str, now: datetime) -> datetime:
    raw = cursor.strip()
    digits = raw.removeprefix(CURSOR_PREFIX)
    if not raw.startswith(CURSOR_PREFIX) or not digits.isascii() or not digits.isdigit():
        raise BadCursor(cursor)
    if len(digits) > 18:
        raise BadCursor(cursor)
    at = datetime.fromtimestamp(int(digits) / 1_000_000, UTC)
    if at > now + timedelta(minutes=5):
        raise BadCursor(cursor)
    return at


@dataclass(frozen=True)
class Snapshot:
    cursor: str
    full: bool
    people: list[dict[str, Any]]

    def as_json(self, event: Event) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "full": self.full,
            "event": event.slug,
            "ends_at": event.ends_at.isoformat(),
            "sessions": [{"id": s.id, "title": s.title} for s in event.sessions],
            "people": self.people,
            "removed": [],
        }


def snapshot(
    db: DbSession, event: Event, since: str | None, *, now: datetime | None = None
) -> Snapshot:
    """Everyone (`since` None), or who changed since that cursor. Raises BadCursor."""
    now = now or utcnow()
    cursor = make_cursor(now)
    if since is None:
        return Snapshot(cursor, True, _people(db, event, None))
    after = read_cursor(since, now) - OVERLAP
    changed = or_(
        Registration.updated_at > after,
        Registration.id.in_(
            select(ScanLog.registration_id).where(ScanLog.event_id == event.id, ScanLog.at > after)
        ),
        Registration.id.in_(
            select(AuditEntry.registration_id).where(
                AuditEntry.event_id == event.id, AuditEntry.at > after
            )
        ),
    )
    return Snapshot(cursor, False, _people(db, event, changed))


def _people(db: DbSession, event: Event, changed: Any) -> list[dict[str, Any]]:
    where = [Registration.event_id == event.id]
    if changed is not None:
        where.append(changed)
    rows = db.execute(
        select(
            Registration.id,
            Registration.first_name,
            Registration.last_name,
            Organisation.name,
            Registration.organisation_type,
            Registration.job_title,
            Registration.status,
            Registration.checkin_code,
        )
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(*where)
        .order_by(Registration.id)
    ).all()
    if not rows:
        return []
    ids = select(Registration.id).where(*where).scalar_subquery()
    sessions: dict[int, list[int]] = {}
    for registration_id, session_id in db.execute(
        select(registration_sessions.c.registration_id, registration_sessions.c.session_id)
        .where(registration_sessions.c.registration_id.in_(ids))
        .order_by(registration_sessions.c.session_id)
    ):
        sessions.setdefault(registration_id, []).append(session_id)
    checkins: dict[int, dict[str, dict[str, str]]] = {}
    for registration_id, scope, at, door in db.execute(
        select(CheckIn.registration_id, CheckIn.scope, CheckIn.checked_in_at, CheckIn.door).where(
            CheckIn.event_id == event.id, CheckIn.registration_id.in_(ids)
        )
    ):
        checkins.setdefault(registration_id, {})[str(scope)] = {
            "at": at.isoformat(),
            "door": door,
        }
    answers = qa.at_door_of(db, event, [row.id for row in rows])
    return [
        {
            "id": row.id,
            "first_name": row.first_name,
            "last_name": row.last_name,
            "organisation": row.name,
            "organisation_type": row.organisation_type.value,
            "job_title": row.job_title,
            "status": row.status.value,
            "sessions": sessions.get(row.id, []),
            "checkins": checkins.get(row.id, {}),
            "code_sha256": code_hash(row.checkin_code),
            "answers": answers.get(row.id, []),  # to the questions shown at the door only
        }
        for row in rows
    ]
