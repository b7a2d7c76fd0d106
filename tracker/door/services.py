"""Walk-ins: a person who is not on the list is registered and checked in at once.

Registration through the public form closes when the event starts and waitlists
people once it is full; at the door neither fits. A walk-in is registered on the
staff's behalf (`add_registration`, source walk_in) whatever the registration window
says, and a full event refuses (nothing is saved) unless door staff tick the override,
which confirms the person over capacity. Room is decided by the same rule
(tracker.registration.capacity) under the same lock on the event row as every
registration, so two doors registering the last place at once cannot both get it
without the override.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker import audit
from tracker.checkin import services as checkin
from tracker.db import utcnow
from tracker.errors import AlreadyRegistered, DomainError, InvalidChoice
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    Event,
    OrganisationType,
    Registration,
    RegistrationSource,
    RegistrationStatus,
    Role,
    ScanLog,
    Session,
    User,
)
from tracker.registration import capacity, identity
from tracker.registration import services as registration_services
from tracker.registration.organisations import find_or_create_organisation
from tracker.registration.services import RegistrationData

# A walk-in without an address gets a unique one that can never receive mail
# (.invalid is reserved, RFC 2606): the event's address key stays unique.
NO_EMAIL_DOMAIN = "walk-in.invalid"
CONSENT_NOTE = "implied: registered by door staff at the person's request"


class EventFull(DomainError):
    """No room left (event, type quota or the session) and no override ticked."""

    code = "event_full"
    status = 409
    field = "override"


@dataclass
class WalkInData:
    first_name: str
    last_name: str
    organisation: str
    organisation_type: OrganisationType
    email: str | None = None
    locale: str = "fr"
    answers: dict[int, list[str]] | None = None  # the event's questions: RegistrationData's


@dataclass
class WalkIn:
    registration: Registration
    checkin: checkin.CheckInResult
    over_capacity: bool
    replayed: bool = False  # the answer to an earlier request with the same nonce


def has_email(registration: Registration) -> bool:
    """False for a walk-in registered without an e-mail address."""
    return not registration.email_key.endswith("@" + NO_EMAIL_DOMAIN)


def placeholder_email() -> str:
    return f"walkin-{secrets.token_hex(10)}@{NO_EMAIL_DOMAIN}"


def _replayed(db: DbSession, event: Event, nonce: str | None) -> WalkIn | None:
    """The answer already given to a request with this nonce (a retry), if any."""
    if not nonce:
        return None
    logged = db.scalar(select(ScanLog).where(ScanLog.event_id == event.id, ScanLog.nonce == nonce))
    if logged is None or logged.response is None or logged.registration_id is None:
        return None
    registration = db.get(Registration, logged.registration_id)
    if registration is None:
        return None
    answer = checkin.Answer(logged.status_code or 0, logged.response)
    result = checkin.CheckInResult(
        checkin.ScanResult(logged.result), registration, answer=answer, replayed=True
    )
    return WalkIn(registration, result, False, replayed=True)


def _why_full(
    db: DbSession, event: Event, name: str, type_: OrganisationType, session: Session | None
) -> object | None:
    """Why there is no room for one more confirmed person, or None."""
    # The organisation is made now if it is new (the walk-in's registration uses it).
    organisation = find_or_create_organisation(db, name, type_, listed=True)
    full = capacity.places(db, event).full_for(
        type_, [session] if session is not None else [], organisation=organisation.id
    )
    return None if full is None else full.message(capacity.Remedy.DOOR_OVERRIDE)


def register_walk_in(
    db: DbSession,
    event: Event,
    data: WalkInData,
    *,
    actor: User | None,
    door: str,
    session_id: int | None = None,
    override: bool = False,
    nonce: str | None = None,
    answer: checkin.Answering | None = None,
    now: datetime | None = None,
) -> WalkIn:
    """Register a person at the door and check them in (at the entrance, or in the
    session the door is checking in to, which they are then registered for).

    Raises EventFull when there is no room and `override` is false, AlreadyRegistered
    when the address is already registered (find that person instead), InvalidChoice
    for a session of another event or a name too long for its key. The check-in's
    `answer` is kept in the scan log, as for every check-in (tracker.checkin.services)."""
    now = now or utcnow()
    nonce = (nonce or "").strip()[:64] or None
    replay = _replayed(db, event, nonce)
    if replay is not None:
        return replay

    email = (data.email or "").strip()
    if len(identity.organisation_key(data.organisation)) > (identity.KEY_LENGTH):
        raise InvalidChoice(_l("This organisation name is too long."), field="organisation")
    if email and len(identity.email_key(email)) > identity.EMAIL_LENGTH:
        raise InvalidChoice(_l("This e-mail address is too long."), field="email")

    event = registration_services.lock_event(db, event)
    session = checkin.session_of(event, session_id)

    if email:
        existing = registration_services.registration_of(db, event, email)
        if existing is not None:
            raise AlreadyRegistered(existing)

    why_full = _why_full(db, event, data.organisation, data.organisation_type, session)
    if why_full is not None and not override:
        raise EventFull(why_full)

    # A cancelled registration of this address stays as it is (its badge still scans as
    # cancelled): the walk-in is a new registration with its own code.
    registration = registration_services.add_registration(
        db,
        event,
        RegistrationData(
            first_name=data.first_name,
            last_name=data.last_name,
            email=email or placeholder_email(),
            organisation=data.organisation,
            organisation_type=data.organisation_type,
            session_ids=[session.id] if session is not None else [],
            consent=True,  # given to the staff who typed it in: see the audit entry
            locale=data.locale,
            answers=data.answers,
        ),
        actor=actor,
        source=RegistrationSource.WALK_IN,
        override=True,  # room was checked above, with the door's own wording
        after_cancellation=True,
        send_email=bool(email),  # their private link and QR code
        now=now,
    )

    over_capacity = why_full is not None
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.WALK_IN,
        event=event,
        registration=registration,
        changes={
            "source": RegistrationSource.WALK_IN.value,
            "status": RegistrationStatus.CONFIRMED.value,
            "consent": CONSENT_NOTE,
            "email": bool(email),
            "over_capacity": over_capacity,
            "door": (door or "").strip()[:100] or "?",
            "session": session.id if session is not None else None,
        },
    )
    outcome = checkin.check_in(
        db,
        event,
        actor=actor,
        door=door,
        registration_id=registration.id,
        session_id=session.id if session is not None else None,
        nonce=nonce,
        answer=answer,
        now=now,
    )
    return WalkIn(registration, outcome, over_capacity)


def door_events(db: DbSession, user: User, now: datetime | None = None) -> list[Event]:
    """The events whose door screen the account may open (every event for an admin):
    those not over yet first, soonest first, then the past ones, latest first."""
    now = now or utcnow()
    query = select(Event)
    if user.role != Role.ADMIN:
        query = query.where(Event.id.in_([e.id for e in user.events]))
    found = db.scalars(query).all()
    coming = sorted((e for e in found if e.ends_at >= now), key=lambda e: (e.starts_at, e.id))
    past = sorted((e for e in found if e.ends_at < now), key=lambda e: (e.starts_at, e.id))
    return coming + past[::-1]
