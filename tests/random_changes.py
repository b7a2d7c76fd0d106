"""Every kind of change to an event's registrations, drawn at random (hypothesis): the
capacity counters' and the statistics' counts must equal a fresh count after any
sequence of them (tests/test_capacity.py, tests/test_reports_counts.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Flask
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from tests.conftest import make_event, registration_data
from tracker.db import install_session_hooks
from tracker.door.services import WalkInData, register_walk_in
from tracker.events import services as events
from tracker.models import (
    Event,
    OrganisationType,
    Registration,
    RegistrationSource,
)
from tracker.organiser import services as organiser
from tracker.registration import identity, importer
from tracker.registration import services as registrations

TYPES = [OrganisationType.CLUSTER, OrganisationType.MINISTRY, OrganisationType.REGION]
# Drawn apart from the type: an edit can change a person's organisation, type or both.
ORGANISATIONS = ["Vegepolys", "DGE", "Région Bretagne", "Atlanpole"]
CHANGES = (
    "register",
    "add",
    "add_over",
    "update",
    "edit",
    "edit_over",
    "cancel",
    "cancel_by_organiser",
    "restore",
    "confirm",
    "confirm_over",
    "waitlist",
    "import",
    "walk_in",
    "walk_in_over",
    "event_capacity",
    "session_capacity",
    "per_organisation",
    "check_in",
    "invited",
    "event_reserved",
)


@contextmanager
def rolled_back(app: Flask) -> Iterator[DbSession]:
    """A session in a transaction that is rolled back on leaving (one per example)."""
    connection = app.extensions["db"].engine.connect()
    transaction = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    install_session_hooks(factory)
    db = factory()
    try:
        with app.test_request_context("/", headers={"Accept-Language": "en"}):
            yield db
    finally:
        db.close()
        transaction.rollback()
        connection.close()


def _event(db: DbSession) -> Event:
    event = make_event(
        db, capacity=5, type_quotas={"cluster": 3, "ministry": 2}, reserved_for_invitees=2
    )
    event.per_organisation = 2
    event.per_organisation_types = {"region": 1}
    seats = [2, None, 3]
    for s, n in zip(event.sessions, seats, strict=True):
        s.capacity = n
    db.flush()
    return event


def _pick(db: DbSession, event: Event, n: int) -> Registration | None:
    found = identity.registrations_in_order(
        db, identity.ids_by_name(db, Registration.event_id == event.id)
    )
    return found[n % len(found)] if found else None


def _sessions(event: Event, n: int) -> list[int]:
    """A subset of the event's sessions, from the bits of n."""
    return [s.id for i, s in enumerate(event.sessions) if n >> i & 1]


def _change(db: DbSession, event: Event, kind: str, a: int, b: int) -> None:
    type_ = TYPES[a % len(TYPES)]
    organisation = ORGANISATIONS[a // len(TYPES) % len(ORGANISATIONS)]
    chosen = _sessions(event, b)
    data = registration_data(organisation=organisation, organisation_type=type_, session_ids=chosen)
    person = _pick(db, event, b)
    if kind == "register":
        registrations.register(db, event, data)
    elif kind == "invited":  # through an invitation: may take the reserved places
        from tracker.invitations import services as invitations

        invitation = invitations.create_invitation(
            db,
            event,
            invitations.InviteeData(
                data.first_name,
                data.last_name,
                data.email,
                data.organisation,
                type_,
                locale="en",
            ),
            actor=None,
        )
        registrations.register(db, event, data, invitation=invitation)
    elif kind in ("add", "add_over"):
        registrations.add_registration(
            db,
            event,
            data,
            actor=None,
            source=RegistrationSource.MANUAL,
            override=kind == "add_over",
        )
    elif person is None:
        return
    elif kind == "update":
        data.email = person.email
        registrations.update_registration(db, person, data)
    elif kind in ("edit", "edit_over"):
        data.email = person.email
        registrations.edit_registration(
            db, person, data, actor=None, override=kind == "edit_over", allow_overlap=True
        )
    elif kind == "cancel":
        registrations.cancel_registration(db, person)
    elif kind == "cancel_by_organiser":
        registrations.cancel_by_organiser(db, person, actor=None)
    elif kind == "restore":
        registrations.restore_registration(db, person, actor=None)
    elif kind in ("confirm", "confirm_over"):
        registrations.confirm_registration(db, person, actor=None, override=kind == "confirm_over")
    elif kind == "waitlist":
        registrations.waitlist_registration(db, person, actor=None)
    elif kind == "check_in":
        from tracker.checkin.services import check_in

        check_in(db, event, actor=None, door="A", code=person.checkin_code)
    if kind == "import":
        names = ";".join(s.title for s in event.sessions if s.id in chosen)
        rows = [
            f"Anne,Moreau {a}-{b}-{i},anne.{a}.{b}.{i}@example.org,{organisation},"
            f"{type_.value},{names}"
            for i in range(1 + b % 3)
        ]
        content = "\n".join(
            ["first_name,last_name,email,organisation,organisation_type,sessions", *rows]
        )
        importer.import_file(db, event, "list.csv", content.encode(), actor=None)
    elif kind in ("walk_in", "walk_in_over"):
        session = event.sessions[b % len(event.sessions)] if b % 2 else None
        register_walk_in(
            db,
            event,
            WalkInData("Paul", f"Walk {a} {b}", organisation, type_),
            actor=None,
            door="A",
            session_id=session.id if session is not None else None,
            override=kind == "walk_in_over",
        )
    elif kind == "event_capacity":
        spec = events.spec_of(event)
        spec.capacity = 2 + a % 6
        organiser.save_event(db, event, spec, actor=None)
    elif kind == "event_reserved":
        spec = events.spec_of(event)
        spec.reserved_for_invitees = a % 3
        organiser.save_event(db, event, spec, actor=None)
    elif kind == "session_capacity":
        session = event.sessions[a % len(event.sessions)]
        spec = events.SessionSpec(session.title, capacity=b % 4 or None)
        organiser.save_session(db, session, spec, actor=None)
    elif kind == "per_organisation":
        spec = events.spec_of(event)
        spec.per_organisation = a % 4 or None
        spec.per_organisation_types = {"region": b % 3} if b % 2 else {}
        organiser.save_event(db, event, spec, actor=None)
