"""Maintained counts of an event's registrations, which the dashboard's live refresh
reads instead of counting every registration (models.RegistrationCount):

- "cluster:confirmed": registrations by organisation type and status;
- "s12:cluster:waitlisted": choices of session 12 by the type and status of who chose it;
- "e:cluster:confirmed": people checked in at the entrance, by type and status;
- "p12:cluster:confirmed:1": people checked in to session 12, by type, status and
  whether they chose it (1) or not (0);
- "t2968561:Entrée A": entrance check-ins per slot of ten minutes (its start in
  seconds since 1970, divided by 600) and door.

Every status is counted, cancelled included: the figures fold them as before
(tracker.reports.services). Kept as the place counters are (tracker.registration.
capacity): a `before_flush` hook on every ORM session moves them by what the flush
changes in a registration's status, type or sessions (and so in its check-ins' keys),
by one INSERT ... ON CONFLICT DO UPDATE per key, in the same transaction. Check-ins are
written by statements (INSERT ... ON CONFLICT DO NOTHING, DELETE): a `do_orm_execute`
hook counts the rows such a statement on the check-ins inserts or deletes. Statements
outside an ORM session bypass them: `tracker capacity recompute` counts them again
(`recompute`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    CursorResult,
    Result,
    and_,
    bindparam,
    delete,
    event,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import ORMExecuteState, UOWTransaction, attributes
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.models import (
    ENTRANCE,
    CheckIn,
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
_MICROSECOND = timedelta(microseconds=1)


def people_key(type_: OrganisationType | str, status: RegistrationStatus | str) -> str:
    return f"{OrganisationType(type_).value}:{RegistrationStatus(status).value}"


def session_key(
    session_id: int, type_: OrganisationType | str, status: RegistrationStatus | str
) -> str:
    return f"s{session_id}:{people_key(type_, status)}"


SLOT_SECONDS = 600  # the arrivals' slots of ten minutes


def present_key(
    scope: int, type_: OrganisationType | str, status: RegistrationStatus | str, chosen: bool
) -> str:
    if scope == ENTRANCE:
        return f"e:{people_key(type_, status)}"
    return f"p{scope}:{people_key(type_, status)}:{int(chosen)}"


def slot_of(checked_in_at: datetime) -> int:
    """The ten-minute slot of a time (naive: UTC), as the statistics' SQL finds it: its
    seconds since 1970 rounded to the nearest, divided by 600."""
    if checked_in_at.tzinfo is not None:
        checked_in_at = checked_in_at.astimezone(UTC).replace(tzinfo=None)
    micro = (checked_in_at - datetime(1970, 1, 1)) // _MICROSECOND
    return (micro + 500_000) // 1_000_000 // SLOT_SECONDS


def slot_key(slot: int, door: str) -> str:
    return f"t{slot}:{door}"


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


@dataclass
class Counts:
    """The maintained counts of an event, by what they count."""

    people: dict[Kind, int] = field(default_factory=dict)
    chosen: dict[tuple[int, OrganisationType, RegistrationStatus], int] = field(
        default_factory=dict
    )
    entrance: dict[Kind, int] = field(default_factory=dict)
    # (session id, type, status, chose it): people checked in to the session
    sessions: dict[tuple[int, OrganisationType, RegistrationStatus, bool], int] = field(
        default_factory=dict
    )
    slots: dict[tuple[int, str], int] = field(default_factory=dict)  # (slot, door)


def split(counts: dict[str, int]) -> Counts:
    """The counts by what they count."""
    found = Counts()
    for key, n in counts.items():
        if key.startswith("t"):
            slot, door = key[1:].split(":", 1)
            found.slots[int(slot), door] = n
            continue
        first, *rest = key.split(":")
        if first.startswith("s"):
            kind, status = rest
            found.chosen[int(first[1:]), OrganisationType(kind), RegistrationStatus(status)] = n
        elif first == "e":
            kind, status = rest
            found.entrance[OrganisationType(kind), RegistrationStatus(status)] = n
        elif first.startswith("p"):
            kind, status, chose = rest
            session = (int(first[1:]), OrganisationType(kind), RegistrationStatus(status))
            found.sessions[(*session, chose == "1")] = n
        else:
            found.people[OrganisationType(first), RegistrationStatus(rest[0])] = n
    return found


# --- keeping the counts ---------------------------------------------------------------


State = tuple[RegistrationStatus | None, OrganisationType | None, list[int]]


def _arrivals(db: DbSession, registration_id: int) -> list[tuple[int, datetime, str]]:
    """A registration's check-ins in the database: (scope, time, door)."""
    rows = db.execute(
        select(CheckIn.scope, CheckIn.checked_in_at, CheckIn.door).where(
            CheckIn.registration_id == registration_id
        )
    )
    return [(scope, at, door) for scope, at, door in rows]


def _arrival_keys(arrivals: list[tuple[int, datetime, str]], state: State) -> list[str]:
    status, type_, session_ids = state
    if status is None or type_ is None:
        return []
    return [
        present_key(scope, type_, status, scope in session_ids) for scope, _at, _door in arrivals
    ]


def _count_changes(db: DbSession, _context: UOWTransaction, _instances: Any) -> None:
    """Move the counts by what this flush changes: each new, changed or deleted
    registration leaves the keys it held and takes those it holds now, and so do its
    check-ins (a deleted registration's go with it: ON DELETE CASCADE)."""
    deltas: Counter[tuple[int, str]] = Counter()
    forgotten: list[tuple[int, int]] = []
    for obj in db.new:
        if isinstance(obj, Registration):
            event_id = event_id_of(obj)
            for key in _keys(obj.status, obj.organisation_type, (s.id for s in obj.sessions)):
                deltas[event_id, key] += 1  # type: ignore[index]
        elif isinstance(obj, CheckIn):  # added as an object rather than by a statement
            person = obj.registration or db.get(Registration, obj.registration_id)
            if person is None:
                continue
            if obj.checked_in_at is None:
                obj.checked_in_at = utcnow()
            scope = obj.scope or ENTRANCE
            state = (person.status, person.organisation_type, [s.id for s in person.sessions])
            keys = _arrival_keys([(scope, obj.checked_in_at, obj.door)], state)
            if scope == ENTRANCE:
                keys.append(slot_key(slot_of(obj.checked_in_at), obj.door))
            for key in keys:
                deltas[person.event_id, key] += 1
    for obj in db.dirty:
        if isinstance(obj, Event):  # a session taken out of the programme is deleted
            for gone in attributes.instance_state(obj).attrs.sessions.history.deleted:
                if gone.id is not None:
                    forgotten.append((obj.id, gone.id))
        elif isinstance(obj, Registration) and counted_fields_changed(obj):
            event_id = event_id_of(obj)
            before: State = loaded_state(obj)
            after: State = (obj.status, obj.organisation_type, [s.id for s in obj.sessions])
            arrivals = _arrivals(db, obj.id)
            for key in [*_keys(*before), *_arrival_keys(arrivals, before)]:
                deltas[event_id, key] -= 1  # type: ignore[index]
            for key in [*_keys(*after), *_arrival_keys(arrivals, after)]:
                deltas[event_id, key] += 1  # type: ignore[index]
    for obj in db.deleted:
        if isinstance(obj, Registration):
            before = loaded_state(obj)
            arrivals = _arrivals(db, obj.id)
            slots = [slot_key(slot_of(at), door) for scope, at, door in arrivals if not scope]
            for key in [*_keys(*before), *_arrival_keys(arrivals, before), *slots]:
                deltas[obj.event_id, key] -= 1
        elif isinstance(obj, CheckIn) and obj.registration not in db.deleted:
            for event_id, key, _at, _door in _checkin_rows(db, ids=[obj.id]):
                deltas[event_id, key] -= 1
        elif isinstance(obj, Session) and obj.id is not None:
            forgotten.append((obj.event_id, obj.id))
    _move(db, deltas)
    for event_id, session_id in forgotten:
        # Its choices go with it (registration_sessions ON DELETE CASCADE), and so do
        # its counts (SQLite may give its id to the next session).
        db.execute(
            delete(RegistrationCount).where(
                RegistrationCount.event_id == event_id,
                RegistrationCount.key.startswith(f"s{session_id}:", autoescape=True),
            )
        )


def _move(db: DbSession, deltas: Counter[tuple[int, str]]) -> None:
    moves = [(key, n) for key, n in sorted(deltas.items()) if n]
    if moves:
        db.execute(
            adding_upsert(db, RegistrationCount, ("event_id", "key"), "count"),
            [{"event_id": e, "key": k, "count": n} for (e, k), n in moves],
        )


_C, _R, _L = CheckIn.__table__.c, Registration.__table__.c, registration_sessions.c
# Core statements on the session's connection: no autoflush (a pending change of the
# registration is counted by the flush hook, from the check-ins then in the database).
_KEYS_OF = select(
    _C.event_id, _C.scope, _C.checked_in_at, _C.door, _R.organisation_type, _R.status, _L.session_id
).select_from(
    CheckIn.__table__.join(Registration.__table__, _R.id == _C.registration_id).outerjoin(
        registration_sessions,
        and_(_L.registration_id == _C.registration_id, _L.session_id == _C.scope),
    )
)
_KEYS_BY_ID = _KEYS_OF.where(_C.id == bindparam("checkin_id")).with_for_update(of=CheckIn.__table__)


def _checkin_rows(
    db: DbSession, where: Any = None, ids: Iterable[int] = ()
) -> list[tuple[int, str, datetime, str]]:
    """The event id and keys' facts of the check-ins `where` selects (or of ids), locked
    until the end of the transaction (what a DELETE then removes is what was read)."""
    connection = db.connection()
    if where is not None:
        found = list(
            connection.execute(_KEYS_OF.where(where).with_for_update(of=CheckIn.__table__))
        )
    else:
        found = [row for i in ids for row in connection.execute(_KEYS_BY_ID, {"checkin_id": i})]
    deltas = []
    for event_id, scope, at, door, kind, status, chosen in found:
        deltas.append((event_id, present_key(scope, kind, status, chosen is not None), at, door))
        if scope == ENTRANCE:
            deltas.append((event_id, slot_key(slot_of(at), door), at, door))
    return deltas


def _count_checkins(state: ORMExecuteState) -> Result[Any] | None:
    """Count what an INSERT, UPDATE or DELETE on the check-ins run through a session
    changes (an UPDATE: an earlier scan from a door that was offline taking the place of
    the check-in recorded, at another time and door)."""
    statement: Any = state.statement
    if not (state.is_insert or state.is_delete or state.is_update):
        return None
    table = getattr(statement, "table", None)
    if getattr(table, "name", None) != CheckIn.__tablename__:
        return None
    db = state.session
    deltas: Counter[tuple[int, str]] = Counter()
    if state.is_update:
        ids = list(db.connection().execute(select(_C.id).where(statement.whereclause)).scalars())
        for event_id, key, _at, _door in _checkin_rows(db, ids=ids):
            deltas[event_id, key] -= 1
        result = state.invoke_statement()
        for event_id, key, _at, _door in _checkin_rows(db, ids=ids):
            deltas[event_id, key] += 1
    elif state.is_delete:
        for event_id, key, _at, _door in _checkin_rows(db, statement.whereclause):
            deltas[event_id, key] -= 1
        result = state.invoke_statement()
    else:
        params: Any = state.parameters
        rows: list[Any] = params if isinstance(params, list) else [params or {}]
        result = state.invoke_statement()
        if isinstance(result, CursorResult) and result.returns_rows and "id" in result.keys():
            # INSERT ... RETURNING id (ON CONFLICT DO NOTHING): the rows that went in.
            frozen = result.freeze()
            found = _checkin_rows(db, ids=[row.id for row in frozen()])
            result = frozen()
        else:
            pairs = [(row["registration_id"], row.get("scope", ENTRANCE)) for row in rows]
            found = _checkin_rows(db, tuple_(_C.registration_id, _C.scope).in_(pairs))
        for event_id, key, _at, _door in found:
            deltas[event_id, key] += 1
    _move(db, deltas)
    return result


event.listen(DbSession, "do_orm_execute", _count_checkins, retval=True)
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
    entrance = db.execute(
        select(*keys, func.count())
        .join(CheckIn, CheckIn.registration_id == Registration.id)
        .where(CheckIn.event_id == event.id, CheckIn.scope == ENTRANCE)
        .group_by(*keys)
    )
    counts.update({present_key(ENTRANCE, kind, status, False): n for kind, status, n in entrance})
    from tracker.reports.services import session_presence, timeline

    for scope, kind, status, n, chose in session_presence(db, event):
        for chosen, part in ((True, chose), (False, n - chose)):
            if part:
                counts[present_key(scope, kind, status, chosen)] = part
    slots, _doors = timeline(db, event, minutes=SLOT_SECONDS // 60)
    for slot in slots:
        start = int(slot.starts_at.timestamp()) // SLOT_SECONDS
        counts.update({slot_key(start, door): n for door, n in slot.doors.items() if n})
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
