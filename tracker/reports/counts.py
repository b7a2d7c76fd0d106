"""Maintained counts of an event's registrations, which the dashboard's live refresh
reads instead of counting every registration (models.RegistrationCount):

- "cluster:confirmed": registrations by organisation type and status;
- "s12:cluster:waitlisted": choices of session 12 by the type and status of who chose it.

Every status is counted, cancelled included: the figures fold them as before
(tracker.reports.services). Kept as the place counters are (tracker.registration.
capacity): a `before_flush` hook on every ORM session moves them by what the flush
changes in a registration's status, type or sessions, by one INSERT ... ON CONFLICT DO
UPDATE per key, in the same transaction. Statements that write registrations behind the
ORM's back bypass them: `tracker capacity recompute` counts them again (`recompute`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from sqlalchemy import delete, event, func, insert, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import UOWTransaction, attributes

from tracker.models import (
    Event,
    OrganisationType,
    Registration,
    RegistrationCount,
    RegistrationStatus,
    Session,
    registration_sessions,
)
from tracker.registration.capacity import (
    adding_upsert,
    counted_fields_changed,
    event_id_of,
    loaded_state,
)

Kind = tuple[OrganisationType, RegistrationStatus]


def people_key(type_: OrganisationType | str, status: RegistrationStatus | str) -> str:
    return f"{OrganisationType(type_).value}:{RegistrationStatus(status).value}"


def session_key(
    session_id: int, type_: OrganisationType | str, status: RegistrationStatus | str
) -> str:
    return f"s{session_id}:{people_key(type_, status)}"


def _keys(
    status: RegistrationStatus | None, type_: OrganisationType | None, session_ids: Iterable[int]
) -> list[str]:
    if status is None or type_ is None:
        return []
    return [people_key(type_, status), *(session_key(i, type_, status) for i in session_ids)]


# --- reading the counts ------------------------------------------------------------


def stored_counts(db: DbSession, event: Event) -> dict[str, int]:
    """The maintained counts of the event, leaving out those at 0."""
    rows = db.execute(
        select(RegistrationCount.key, RegistrationCount.count).where(
            RegistrationCount.event_id == event.id, RegistrationCount.count != 0
        )
    )
    return {key: count for key, count in rows}


def split(
    counts: dict[str, int],
) -> tuple[dict[Kind, int], dict[tuple[int, OrganisationType, RegistrationStatus], int]]:
    """The counts as {(type, status): n} and {(session id, type, status): n}."""
    people: dict[Kind, int] = {}
    chosen: dict[tuple[int, OrganisationType, RegistrationStatus], int] = {}
    for key, n in counts.items():
        *session, kind, status = key.split(":")
        pair = (OrganisationType(kind), RegistrationStatus(status))
        if session:
            chosen[(int(session[0][1:]), *pair)] = n
        else:
            people[pair] = n
    return people, chosen


# --- keeping the counts ---------------------------------------------------------------


def _count_changes(db: DbSession, _context: UOWTransaction, _instances: Any) -> None:
    """Move the counts by what this flush changes: each new, changed or deleted
    registration leaves the keys it held and takes those it holds now."""
    deltas: Counter[tuple[int, str]] = Counter()
    forgotten: list[tuple[int, int]] = []
    for obj in db.new:
        if isinstance(obj, Registration):
            event_id = event_id_of(obj)
            for key in _keys(obj.status, obj.organisation_type, (s.id for s in obj.sessions)):
                deltas[event_id, key] += 1  # type: ignore[index]
    for obj in db.dirty:
        if isinstance(obj, Event):  # a session taken out of the programme is deleted
            for gone in attributes.instance_state(obj).attrs.sessions.history.deleted:
                if gone.id is not None:
                    forgotten.append((obj.id, gone.id))
        elif isinstance(obj, Registration) and counted_fields_changed(obj):
            event_id = event_id_of(obj)
            for key in _keys(*loaded_state(obj)):
                deltas[event_id, key] -= 1  # type: ignore[index]
            for key in _keys(obj.status, obj.organisation_type, (s.id for s in obj.sessions)):
                deltas[event_id, key] += 1  # type: ignore[index]
    for obj in db.deleted:
        if isinstance(obj, Registration):
            for key in _keys(*loaded_state(obj)):
                deltas[obj.event_id, key] -= 1
        elif isinstance(obj, Session) and obj.id is not None:
            forgotten.append((obj.event_id, obj.id))
    moves = [(key, n) for key, n in sorted(deltas.items()) if n]
    if moves:
        db.execute(
            adding_upsert(db, RegistrationCount, ("event_id", "key"), "count"),
            [{"event_id": e, "key": k, "count": n} for (e, k), n in moves],
        )
    for event_id, session_id in forgotten:
        # Its choices go with it (registration_sessions ON DELETE CASCADE), and so do
        # its counts (SQLite may give its id to the next session).
        db.execute(
            delete(RegistrationCount).where(
                RegistrationCount.event_id == event_id,
                RegistrationCount.key.startswith(f"s{session_id}:", autoescape=True),
            )
        )


event.listen(DbSession, "before_flush", _count_changes)


# --- counting again from the rows -----------------------------------------------------


def fresh_counts(db: DbSession, event: Event) -> dict[str, int]:
    """The counts of the event, counted from its registrations now."""
    keys = (Registration.organisation_type, Registration.status)
    counts = {
        people_key(kind, status): n
        for kind, status, n in db.execute(
            select(*keys, func.count()).where(Registration.event_id == event.id).group_by(*keys)
        )
    }
    link = registration_sessions.c
    counts.update(
        {
            session_key(session_id, kind, status): n
            for session_id, kind, status, n in db.execute(
                select(link.session_id, *keys, func.count())
                .join(Registration, Registration.id == link.registration_id)
                .where(Registration.event_id == event.id)
                .group_by(link.session_id, *keys)
            )
        }
    )
    return counts


def recompute(db: DbSession, event: Event) -> dict[str, tuple[int, int]]:
    """Set the event's counts to a fresh count of its registrations (call with the
    event locked). Returns what changed: {key: (stored, counted)}."""
    stored = stored_counts(db, event)
    fresh = fresh_counts(db, event)
    changed = {
        key: (stored.get(key, 0), fresh.get(key, 0))
        for key in sorted(stored.keys() | fresh.keys())
        if stored.get(key, 0) != fresh.get(key, 0)
    }
    db.execute(delete(RegistrationCount).where(RegistrationCount.event_id == event.id))
    if fresh:
        db.execute(
            insert(RegistrationCount),
            [{"event_id": event.id, "key": k, "count": n} for k, n in fresh.items()],
        )
    return changed
