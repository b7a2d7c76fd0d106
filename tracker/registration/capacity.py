"""Whether a place is free: the one rule of every path that confirms someone.

The limits are the event's capacity, an organisation type's quota, the cap per
organisation, a session's seats and the places of the capacity reserved for invitees;
each is a *scope* of the event with a maintained count of the confirmed registrations in
it (models.PlaceCount: "event", "type:cluster", "org:7", "session:12", "invited" for
those made through an invitation). Someone without an invitation finds the event full
when the confirmed people and the reserved places not yet taken by invitees fill the
capacity: confirmed + max(reserved - invited, 0) >= capacity.
A new limit (a cap per organisation, say) is a new scope counted by `_scopes` and
checked by `Places.full_for`.

Exactness. The counts are read under the event's lock (`lock_event`: SELECT ... FOR
UPDATE of the event row on PostgreSQL; on SQLite every writing transaction holds the
write lock from its BEGIN IMMEDIATE), so the decisions taken from them are serialised
per event as before; a decision reads a handful of counter rows, however many people
are registered. The counters are moved in the flush of every change of a registration's
status, type or sessions (`_count_changes`, a `before_flush` hook on every ORM session),
by one INSERT ... ON CONFLICT DO UPDATE per scope, in the same transaction as the
change: a rolled-back change leaves them as they were. Statements that write
registrations behind the ORM's back (a bulk UPDATE or DELETE) bypass them: `tracker
capacity recompute` counts them again from the rows (`recompute`).
"""

from __future__ import annotations

import enum
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, event, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import UOWTransaction, attributes

from tracker.i18n import TextLazyString
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    Event,
    OrganisationType,
    PlaceCount,
    Registration,
    RegistrationStatus,
    Session,
    registration_sessions,
)

CONFIRMED = RegistrationStatus.CONFIRMED

EVENT_SCOPE = "event"
INVITED_SCOPE = "invited"  # confirmed registrations made through an invitation


def type_scope(type_: OrganisationType | str) -> str:
    return f"type:{OrganisationType(type_).value}"


def session_scope(session_id: int) -> str:
    return f"session:{session_id}"


def organisation_scope(organisation_id: int) -> str:
    return f"org:{organisation_id}"


def _scopes(
    confirmed: bool,
    type_: OrganisationType | None,
    session_ids: Iterable[int],
    organisation_id: int | None = None,
    invited: bool = False,
) -> list[str]:
    """The scopes a registration takes a place in: none unless it is confirmed."""
    if not confirmed or type_ is None:
        return []
    scopes = [EVENT_SCOPE, type_scope(type_), *(session_scope(i) for i in session_ids)]
    if organisation_id is not None:
        scopes.append(organisation_scope(organisation_id))
    if invited:
        scopes.append(INVITED_SCOPE)
    return scopes


def organisation_cap(event: Event, type_: OrganisationType | str | None) -> int | None:
    """At most this many confirmed people of one organisation of this type (None: no
    cap): the event's cap for the type if it has one, else its cap for all."""
    if type_ is not None:
        cap = (event.per_organisation_types or {}).get(OrganisationType(type_).value)
        if cap is not None:
            return cap
    return event.per_organisation


# --- reading the counts ------------------------------------------------------------


_COUNTS = select(PlaceCount.scope, PlaceCount.confirmed).where(
    PlaceCount.event_id == bindparam("event_id")
)


class Limit(enum.StrEnum):
    EVENT = "event"
    TYPE = "type"
    ORGANISATION = "organisation"
    SESSION = "session"
    RESERVED = "reserved"  # the places left are held for invitees


@dataclass(frozen=True)
class Full:
    """The first limit with no room for one more confirmed person."""

    limit: Limit
    confirmed: int
    capacity: int
    session: Session | None = None

    @property
    def reason(self) -> Any:
        """What is full, as one sentence (the same words on every path)."""
        if self.limit is Limit.EVENT:
            return _l(
                "The event is full (%(confirmed)d confirmed for %(capacity)d places).",
                confirmed=self.confirmed,
                capacity=self.capacity,
            )
        if self.limit is Limit.TYPE:
            return _l("No places are left for this type of organisation.")
        if self.limit is Limit.ORGANISATION:
            return _l(
                "No places are left for your organisation (at most %(capacity)d per organisation).",
                capacity=self.capacity,
            )
        if self.limit is Limit.RESERVED:
            return _l("The remaining places are reserved for invited guests.")
        assert self.session is not None
        return _l("“%(title)s” is full.", title=self.session.title)

    def message(self, remedy: Remedy | None = None) -> Any:
        """The reason, followed by what the person reading it can do about it."""
        if remedy is None:
            return self.reason
        return TextLazyString(_sentences, self.reason, REMEDIES[remedy])


class Remedy(enum.Enum):
    """What the reader of a refusal can do: choose another session (a person
    registering), tick the organisers' override, or the door's."""

    OTHER_SESSION = "other_session"
    OVERRIDE = "override"
    DOOR_OVERRIDE = "door_override"


REMEDIES = {
    Remedy.OTHER_SESSION: _l("Choose another session."),
    Remedy.OVERRIDE: _l("Tick “Allow going over capacity” to go ahead anyway."),
    Remedy.DOOR_OVERRIDE: _l(
        "Tick “Register although the event is full” to let this person in over capacity."
    ),
}


def _sentences(*parts: object) -> str:
    return " ".join(str(p) for p in parts)


@dataclass
class Places:
    """The counts of one event's scopes as read now (under the event's lock when they
    decide a write), and what they allow."""

    event: Event
    counts: dict[str, int]

    def confirmed(self, scope: str = EVENT_SCOPE) -> int:
        return self.counts.get(scope, 0)

    def full_for(
        self,
        type_: OrganisationType | None,
        sessions: Collection[Session] = (),
        *,
        held: Collection[int] = (),
        in_event: bool = False,
        organisation: int | None = None,
        organisation_type: OrganisationType | None = None,
        in_organisation: bool = False,
        invited: bool = False,
    ) -> Full | None:
        """The first limit that has no room for one more confirmed person of `type_`
        in `sessions`, or None: the event's capacity, the places reserved for invitees
        (unless the person registers through an invitation: `invited`), the type's
        quota, the cap per organisation, then each session's seats. `type_` None: the
        person keeps the type they are confirmed with (no quota to check). `held`:
        sessions the person already holds a seat in. `in_event`: the person is already
        confirmed (no place of the event to take). `organisation`: the id of the
        person's organisation (None: no cap to check), capped as `organisation_type`
        (default `type_`); `in_organisation`: the person already holds one of its
        places (a confirmed person changing type: the type's cap may be lower)."""
        event = self.event
        if not in_event and event.capacity is not None:
            if self.confirmed() >= event.capacity:
                return Full(Limit.EVENT, self.confirmed(), event.capacity)
            if not invited and self.confirmed() + self.held_back() >= event.capacity:
                return Full(Limit.RESERVED, self.confirmed(), event.capacity)
        if type_ is not None:
            quota = (event.type_quotas or {}).get(type_.value)
            if quota is not None and self.confirmed(type_scope(type_)) >= quota:
                return Full(Limit.TYPE, self.confirmed(type_scope(type_)), quota)
        if organisation is not None:
            cap = organisation_cap(event, organisation_type or type_)
            taken = self.confirmed(organisation_scope(organisation)) - int(in_organisation)
            if cap is not None and taken >= cap:
                return Full(Limit.ORGANISATION, taken, cap)
        for s in sessions:
            if s.capacity is None or s.id in held:
                continue
            taken = self.confirmed(session_scope(s.id))
            if taken >= s.capacity:
                return Full(Limit.SESSION, taken, s.capacity, s)
        return None

    def held_back(self) -> int:
        """The reserved places that no invitee has taken yet."""
        return max((self.event.reserved_for_invitees or 0) - self.confirmed(INVITED_SCOPE), 0)

    def session_left(self, s: Session) -> int | None:
        if s.capacity is None:
            return None
        return max(s.capacity - self.confirmed(session_scope(s.id)), 0)

    def free_sessions(self, sessions: Iterable[Session]) -> list[Session]:
        """`sessions` without the full ones: what a person confirmed by promotion or
        restoring keeps of their choice (a full session is dropped, never overbooked)."""
        return [s for s in sessions if self.session_left(s) != 0]


def places(db: DbSession, event: Event) -> Places:
    """The event's counts: one small query (a row per scope that has confirmed people)."""
    rows = db.execute(_COUNTS, {"event_id": event.id})
    return Places(event, {scope: confirmed for scope, confirmed in rows})


@dataclass
class Availability:
    """Places left, for the event page and the form (None means unlimited)."""

    event_left: int | None
    session_left: dict[int, int | None]
    type_left: dict[str, int]

    @property
    def event_full(self) -> bool:
        return self.event_left is not None and self.event_left <= 0


def availability(db: DbSession, event: Event, *, invited: bool = False) -> Availability:
    """Places left for someone registering now: without an invitation (unless
    `invited`), the places still reserved for invitees are not theirs."""
    found = places(db, event)
    event_left = None
    if event.capacity is not None:
        held_back = 0 if invited else found.held_back()
        event_left = max(event.capacity - found.confirmed() - held_back, 0)
    return Availability(
        event_left,
        {s.id: found.session_left(s) for s in event.sessions},
        {
            t: max(q - found.confirmed(type_scope(t)), 0)
            for t, q in (event.type_quotas or {}).items()
        },
    )


# --- keeping the counts ---------------------------------------------------------------


def event_id_of(registration: Registration) -> int | None:
    if registration.event_id is not None:
        return registration.event_id
    return registration.event.id if registration.event is not None else None


def loaded_state(
    registration: Registration,
) -> tuple[RegistrationStatus, OrganisationType | None, list[int]]:
    """A registration's status, type and session ids as it was loaded (before this
    flush's changes)."""
    state = attributes.instance_state(registration)
    status = state.attrs.status.history
    old_status = status.deleted[0] if status.deleted else registration.status
    kind = state.attrs.organisation_type.history
    old_type = kind.deleted[0] if kind.deleted else registration.organisation_type
    chosen = state.attrs.sessions.history
    if chosen.added or chosen.deleted:
        old_sessions = [*chosen.unchanged, *chosen.deleted]
    else:
        old_sessions = list(registration.sessions)
    return old_status, old_type, [s.id for s in old_sessions]


def _organisation_ids(registration: Registration) -> tuple[int | None, int | None]:
    """A registration's organisation id as it was loaded, and as it is now. Its
    organisation is set through the relationship, whose column is written only in the
    flush: before it, the column still holds the loaded id."""
    state = attributes.instance_state(registration)
    chosen = state.attrs.organisation.history
    column = state.attrs.organisation_id.history
    if chosen.deleted:
        old = chosen.deleted[0].id if chosen.deleted[0] is not None else None
    elif column.deleted:
        old = column.deleted[0]
    else:
        old = registration.organisation_id
    if chosen.added and chosen.added[0] is not None:
        new = chosen.added[0].id
    else:
        new = registration.organisation_id
    return old, new


def _organisation_changed(registration: Registration) -> bool:
    state = attributes.instance_state(registration)
    return (
        state.attrs.organisation.history.has_changes()
        or state.attrs.organisation_id.history.has_changes()
    )


def _before(registration: Registration) -> list[str]:
    """The scopes a registration held as it was loaded (before this flush's changes)."""
    old_status, old_type, old_sessions = loaded_state(registration)
    # `invited` is set when the registration is made and never changes.
    return _scopes(
        old_status == CONFIRMED,
        old_type,
        old_sessions,
        _organisation_ids(registration)[0],
        bool(registration.invited),
    )


def _after(registration: Registration) -> list[str]:
    return _scopes(
        registration.status == CONFIRMED,
        registration.organisation_type,
        (s.id for s in registration.sessions),
        _organisation_ids(registration)[1],
        bool(registration.invited),
    )


def counted_fields_changed(registration: Registration) -> bool:
    state = attributes.instance_state(registration)
    return any(
        state.attrs[name].history.has_changes()
        for name in ("status", "organisation_type", "sessions")
    )


def _count_changes(db: DbSession, _context: UOWTransaction, _instances: Any) -> None:
    """Move the counters by what this flush changes: each new, changed or deleted
    registration leaves the scopes it held and takes those it holds now. (The
    sessions of a registration are loaded here if they were not: once per change.)"""
    deltas: Counter[tuple[int, str]] = Counter()
    forgotten: list[tuple[int, str]] = []
    for obj in db.new:
        if isinstance(obj, Registration):
            event_id = event_id_of(obj)
            for scope in _after(obj):
                deltas[event_id, scope] += 1  # type: ignore[index]
    for obj in db.dirty:
        if isinstance(obj, Event):  # a session taken out of the programme is deleted
            for gone in attributes.instance_state(obj).attrs.sessions.history.deleted:
                if gone.id is not None:
                    forgotten.append((obj.id, session_scope(gone.id)))
        elif isinstance(obj, Registration) and (
            counted_fields_changed(obj) or _organisation_changed(obj)
        ):
            event_id = event_id_of(obj)
            for scope in _before(obj):
                deltas[event_id, scope] -= 1  # type: ignore[index]
            for scope in _after(obj):
                deltas[event_id, scope] += 1  # type: ignore[index]
    for obj in db.deleted:
        if isinstance(obj, Registration):
            for scope in _before(obj):
                deltas[obj.event_id, scope] -= 1
        elif isinstance(obj, Session) and obj.id is not None:
            forgotten.append((obj.event_id, session_scope(obj.id)))
    moves = [(key, n) for key, n in sorted(deltas.items()) if n]
    if moves:
        db.execute(
            _upsert(db),
            [{"event_id": e, "scope": s, "confirmed": n} for (e, s), n in moves],
        )
    for event_id, scope in forgotten:
        # Nobody confirmed holds a seat in a session that can be deleted: its count
        # is 0, and goes with it (SQLite may give its id to the next session).
        db.execute(
            delete(PlaceCount).where(PlaceCount.event_id == event_id, PlaceCount.scope == scope)
        )


_UPSERTS: dict[tuple[str, str], Any] = {}


def adding_upsert(db: DbSession, model: Any, keys: tuple[str, str], column: str) -> Any:
    """INSERT ... ON CONFLICT (keys) DO UPDATE SET column = column + the change: one
    statement that makes the counter if it is new and moves it atomically if not."""
    dialect = db.get_bind().dialect.name
    statement = _UPSERTS.get((dialect, model.__tablename__))
    if statement is None:
        new: postgresql.Insert | sqlite.Insert
        if dialect == "postgresql":
            new = postgresql.insert(model)
        else:
            new = sqlite.insert(model)
        statement = new.on_conflict_do_update(
            index_elements=[getattr(model, k) for k in keys],
            set_={column: getattr(model, column) + getattr(new.excluded, column)},
        )
        _UPSERTS[dialect, model.__tablename__] = statement
    return statement


def _upsert(db: DbSession) -> Any:
    return adding_upsert(db, PlaceCount, ("event_id", "scope"), "confirmed")


event.listen(DbSession, "before_flush", _count_changes)


# --- counting again from the rows -----------------------------------------------------


def fresh_counts(db: DbSession, event: Event) -> dict[str, int]:
    """The counts of the event's scopes, counted from its registrations now."""
    confirmed = (Registration.event_id == event.id, Registration.status == CONFIRMED)
    counts: dict[str, int] = {}
    total = db.scalar(select(func.count(Registration.id)).where(*confirmed)) or 0
    if total:
        counts[EVENT_SCOPE] = total
    by_type = db.execute(
        select(Registration.organisation_type, func.count())
        .where(*confirmed)
        .group_by(Registration.organisation_type)
    )
    counts.update({type_scope(t): n for t, n in by_type})
    by_session = db.execute(
        select(registration_sessions.c.session_id, func.count())
        .join(Registration, Registration.id == registration_sessions.c.registration_id)
        .where(*confirmed)
        .group_by(registration_sessions.c.session_id)
    )
    counts.update({session_scope(i): n for i, n in by_session})
    by_organisation = db.execute(
        select(Registration.organisation_id, func.count())
        .where(*confirmed)
        .group_by(Registration.organisation_id)
    )
    counts.update({organisation_scope(i): n for i, n in by_organisation})
    invited = (
        db.scalar(
            select(func.count(Registration.id)).where(*confirmed, Registration.invited.is_(True))
        )
        or 0
    )
    if invited:
        counts[INVITED_SCOPE] = invited
    return counts


def stored_counts(db: DbSession, event: Event) -> dict[str, int]:
    """The maintained counts, leaving out the scopes at 0."""
    return {scope: n for scope, n in places(db, event).counts.items() if n}


def recompute(db: DbSession, event: Event) -> dict[str, tuple[int, int]]:
    """Set the event's counters to a fresh count of its registrations (call with the
    event locked). Returns what changed: {scope: (stored, counted)}."""
    stored = places(db, event).counts
    fresh = fresh_counts(db, event)
    changed = {
        scope: (stored.get(scope, 0), fresh.get(scope, 0))
        for scope in sorted(stored.keys() | fresh.keys())
        if stored.get(scope, 0) != fresh.get(scope, 0)
    }
    db.execute(delete(PlaceCount).where(PlaceCount.event_id == event.id))
    if fresh:
        db.execute(
            insert(PlaceCount),
            [{"event_id": event.id, "scope": s, "confirmed": n} for s, n in fresh.items()],
        )
    return changed
