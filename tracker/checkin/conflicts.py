"""Check-ins made by doors that could not reach the server, sent later (`scanned_at`).

Two doors without network may both let the same person in. When the second check-in
reaches the server, the first by the time of the scan stands: if the one arriving was
scanned earlier, it takes the place of the one recorded (a conditional UPDATE, so that
of two such doors sending at once the earliest wins); either way the other is kept as a
duplicate, a CheckInConflict, which the organiser sees (person, both doors, both times).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from tracker.models import CheckIn, CheckInConflict, Event, Session, User


@dataclass(frozen=True)
class Duplicate:
    """What to record once the scan is known not to be a retry of one already made."""

    values: dict[str, Any]
    incoming_stands: bool


def settle(
    db: DbSession,
    event: Event,
    existing: CheckIn,
    session: Session | None,
    *,
    door: str,
    actor: User | None,
    scanned_at: datetime,
    now: datetime,
) -> Duplicate:
    """A check-in scanned at `scanned_at` found `existing` in its place. The earlier
    stands: `existing` is updated to the incoming one when that was scanned first. The
    row is read again under a lock (PostgreSQL; SQLite's write transaction already holds
    the database): another door's check-in may have taken its place meanwhile."""
    current = db.execute(
        select(CheckIn.checked_in_at, CheckIn.door, CheckIn.user_id)
        .where(CheckIn.id == existing.id)
        .with_for_update()
    ).one_or_none()
    if current is None:  # undone meanwhile: a rare race, the caller tries again
        raise IntegrityError("check-in", None, Exception("checked in and undone meanwhile"))
    earlier = current.checked_in_at > scanned_at
    base: dict[str, Any] = {
        "event_id": event.id,
        "registration_id": existing.registration_id,
        "session_id": session.id if session else None,
        "session_title": session.title if session else None,
        "scope": existing.scope,
        "recorded_at": now,
    }
    incoming = {"door": door, "at": scanned_at, "user_id": actor.id if actor else None}
    there = {"door": current.door, "at": current.checked_in_at, "user_id": current.user_id}
    kept, duplicate = (incoming, there) if earlier else (there, incoming)
    if earlier:
        db.execute(
            update(CheckIn)
            .where(CheckIn.id == existing.id)
            .values(
                checked_in_at=scanned_at, recorded_at=now, door=door, user_id=incoming["user_id"]
            )
            .execution_options(synchronize_session=False)
        )
    db.expire(existing)
    values = {
        **base,
        "kept_door": kept["door"],
        "kept_at": kept["at"],
        "duplicate_door": duplicate["door"],
        "duplicate_at": duplicate["at"],
        "duplicate_user_id": duplicate["user_id"],
    }
    return Duplicate(values=values, incoming_stands=earlier)


def record(db: DbSession, duplicate: Duplicate) -> None:
    db.execute(insert(CheckInConflict).values(**duplicate.values))


def conflicts(db: DbSession, event: Event) -> list[CheckInConflict]:
    """The event's conflicts, the latest recorded first."""
    return list(
        db.scalars(
            select(CheckInConflict)
            .where(CheckInConflict.event_id == event.id)
            .options(joinedload(CheckInConflict.registration))
            .order_by(CheckInConflict.recorded_at.desc(), CheckInConflict.id.desc())
        )
    )
