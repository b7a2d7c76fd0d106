"""Self-registration use cases: register, edit, cancel, promote from the waitlist.

Capacity is enforced under a lock on the event row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite every transaction already holds the write lock from BEGIN
IMMEDIATE), so concurrent registrations are serialised per event and the counts
taken under the lock are exact.
"""

from __future__ import annotations

import base64
import io
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime

import segno
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.errors import (
    AlreadyRegistered,
    EditClosed,
    InvalidChoice,
    NotFound,
    RegistrationClosed,
    SessionFull,
)
from tracker.models import (
    Event,
    Organisation,
    OrganisationType,
    Registration,
    RegistrationStatus,
    Session,
    registration_sessions,
)

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
CANCELLED = RegistrationStatus.CANCELLED

_SPACES = re.compile(r"\s+")
KEY_LENGTH = 200  # Organisation.name_key
EMAIL_LENGTH = 254  # Registration.email_key


# --- names and secrets -------------------------------------------------------


def clean_name(value: str) -> str:
    """Outer whitespace removed and inner runs of whitespace made one space."""
    return _SPACES.sub(" ", value).strip()


def organisation_key(name: str) -> str:
    """The identity of an organisation name: case, accents and spacing ignored."""
    decomposed = unicodedata.normalize("NFKD", clean_name(name))
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return stripped.casefold()


def email_key(email: str) -> str:
    return email.strip().casefold()


def new_checkin_code() -> str:
    """128 random bits as upper-case base32: QR alphanumeric mode, a version-2 symbol."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")


def new_manage_token() -> str:
    return secrets.token_urlsafe(32)  # 256 bits


def qr_png(code: str) -> bytes:
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


# --- counting (call under the event lock when the answer decides a write) -----


def lock_event(db: DbSession, event: Event) -> Event:
    locked = db.scalar(
        select(Event)
        .where(Event.id == event.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked is None:
        raise NotFound()
    return locked


def confirmed_count(db: DbSession, event: Event, type_: OrganisationType | None = None) -> int:
    query = select(func.count(Registration.id)).where(
        Registration.event_id == event.id, Registration.status == CONFIRMED
    )
    if type_ is not None:
        query = query.where(Registration.organisation_type == type_)
    return db.scalar(query) or 0


def session_confirmed_counts(db: DbSession, event: Event) -> dict[int, int]:
    rows = db.execute(
        select(registration_sessions.c.session_id, func.count())
        .join(Registration, Registration.id == registration_sessions.c.registration_id)
        .where(Registration.event_id == event.id, Registration.status == CONFIRMED)
        .group_by(registration_sessions.c.session_id)
    )
    return {session_id: count for session_id, count in rows}


@dataclass
class Availability:
    """Places left, for the event page and the form (None means unlimited)."""

    event_left: int | None
    session_left: dict[int, int | None]
    type_left: dict[str, int]

    @property
    def event_full(self) -> bool:
        return self.event_left is not None and self.event_left <= 0


def availability(db: DbSession, event: Event) -> Availability:
    event_left = None
    if event.capacity is not None:
        event_left = max(event.capacity - confirmed_count(db, event), 0)
    counts = session_confirmed_counts(db, event)
    session_left = {
        s.id: None if s.capacity is None else max(s.capacity - counts.get(s.id, 0), 0)
        for s in event.sessions
    }
    type_left = {}
    if event.type_quotas:
        rows = db.execute(
            select(Registration.organisation_type, func.count())
            .where(Registration.event_id == event.id, Registration.status == CONFIRMED)
            .group_by(Registration.organisation_type)
        )
        used = {str(t): n for t, n in rows}
        type_left = {t: max(q - used.get(t, 0), 0) for t, q in event.type_quotas.items()}
    return Availability(event_left, session_left, type_left)


def _has_room(db: DbSession, event: Event, type_: OrganisationType) -> bool:
    if event.capacity is not None and confirmed_count(db, event) >= event.capacity:
        return False
    quota = event.type_quotas.get(type_.value)
    return quota is None or confirmed_count(db, event, type_) < quota


# --- organisations -------------------------------------------------------------


def find_or_create_organisation(db: DbSession, name: str, type_: OrganisationType) -> Organisation:
    key = organisation_key(name)
    existing = db.scalar(select(Organisation).where(Organisation.name_key == key))
    if existing is not None:
        return existing
    organisation = Organisation(name=clean_name(name), name_key=key, type=type_)
    try:
        with db.begin_nested():
            db.add(organisation)
    except IntegrityError:  # created meanwhile by another transaction
        found = db.scalar(select(Organisation).where(Organisation.name_key == key))
        if found is None:
            raise
        return found
    return organisation


def suggest_organisations(db: DbSession, prefix: str = "", limit: int = 500) -> list[Organisation]:
    query = select(Organisation).order_by(Organisation.name).limit(limit)
    if prefix:
        query = query.where(
            Organisation.name_key.startswith(organisation_key(prefix), autoescape=True)
        )
    return list(db.scalars(query))


# --- use cases ------------------------------------------------------------------


@dataclass
class RegistrationData:
    first_name: str
    last_name: str
    email: str
    organisation: str
    organisation_type: OrganisationType
    job_title: str | None = None
    session_ids: list[int] = field(default_factory=list)
    consent: bool = False
    locale: str = "fr"


def _check_keys(data: RegistrationData) -> None:
    """Normalising can lengthen text (NFKD, casefold): keep the keys within their columns."""
    if len(organisation_key(data.organisation)) > KEY_LENGTH:
        raise InvalidChoice(_l("This organisation name is too long."), field="organisation")
    if len(email_key(data.email)) > EMAIL_LENGTH:
        raise InvalidChoice(_l("This e-mail address is too long."), field="email")


def registration_is_open(event: Event, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return event.registration_opens_at <= now < event.registration_closes_at


def can_edit(registration: Registration, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return registration.status != CANCELLED and now < registration.event.edit_deadline


def _chosen_sessions(event: Event, ids: list[int]) -> list[Session]:
    by_id = {s.id: s for s in event.sessions}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        raise InvalidChoice(_l("Choose sessions of this event only."), field="sessions")
    return [by_id[i] for i in dict.fromkeys(ids)]


def _check_session_room(
    db: DbSession, event: Event, sessions: list[Session], already_holding: set[int]
) -> None:
    counts = session_confirmed_counts(db, event)
    for s in sessions:
        if s.capacity is None or s.id in already_holding:
            continue
        if counts.get(s.id, 0) >= s.capacity:
            raise SessionFull(_l("“%(title)s” is full: choose another session.", title=s.title))


def register(
    db: DbSession, event: Event, data: RegistrationData, *, now: datetime | None = None
) -> Registration:
    """Register one person. Confirmed while places (and the type's quota) remain,
    waitlisted after. Raises AlreadyRegistered for a second registration of an address."""
    now = now or utcnow()
    if not data.consent:
        raise InvalidChoice(_l("Your consent is required to register."), field="consent")
    _check_keys(data)
    event = lock_event(db, event)
    if not registration_is_open(event, now):
        raise RegistrationClosed()
    sessions = _chosen_sessions(event, data.session_ids)
    key = email_key(data.email)
    existing = db.scalar(
        select(Registration).where(Registration.event_id == event.id, Registration.email_key == key)
    )
    if existing is not None and existing.status != CANCELLED:
        raise AlreadyRegistered(existing)

    status = CONFIRMED if _has_room(db, event, data.organisation_type) else WAITLISTED
    if status == CONFIRMED:
        _check_session_room(db, event, sessions, set())
    organisation = find_or_create_organisation(db, data.organisation, data.organisation_type)

    registration = existing or Registration(
        event=event,
        checkin_code=new_checkin_code(),
        manage_token=new_manage_token(),
    )
    if existing is None:
        registration.qr_png = qr_png(registration.checkin_code)
        db.add(registration)
    registration.created_at = now  # a returning person queues from now, not from before
    registration.cancelled_at = None
    _apply(registration, data, organisation, sessions)
    registration.status = status
    registration.consent_at = now
    db.flush()
    return registration


def _apply(
    registration: Registration,
    data: RegistrationData,
    organisation: Organisation,
    sessions: list[Session],
) -> None:
    registration.first_name = clean_name(data.first_name)
    registration.last_name = clean_name(data.last_name)
    registration.email = data.email.strip()
    registration.email_key = email_key(data.email)
    registration.organisation = organisation
    registration.organisation_type = data.organisation_type
    registration.job_title = clean_name(data.job_title) if data.job_title else None
    registration.sessions = sessions
    registration.locale = data.locale
    registration.search_key = search_key(registration)


def search_key(registration: Registration) -> str:
    """What the door's search matches: names, address and organisation, without case
    or accents."""
    return organisation_key(
        " ".join(
            [
                registration.first_name,
                registration.last_name,
                registration.email,
                registration.organisation.name,
            ]
        )
    )


_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def get_by_token(db: DbSession, token: str) -> Registration:
    registration = None
    if _TOKEN_RE.match(token):
        registration = db.scalar(select(Registration).where(Registration.manage_token == token))
    if registration is None:
        raise NotFound()
    return registration


def update_registration(
    db: DbSession,
    registration: Registration,
    data: RegistrationData,
    *,
    now: datetime | None = None,
) -> list[Registration]:
    """Edit through the private link. Returns the people promoted from the waitlist
    (a change of type or sessions can free a place)."""
    now = now or utcnow()
    _check_keys(data)
    event = lock_event(db, registration.event)
    if not can_edit(registration, now):
        raise EditClosed()
    sessions = _chosen_sessions(event, data.session_ids)
    key = email_key(data.email)
    if key != registration.email_key:
        clash = db.scalar(
            select(Registration.id).where(
                Registration.event_id == event.id, Registration.email_key == key
            )
        )
        if clash is not None:
            raise InvalidChoice(
                _l("Another registration already uses this e-mail address."), field="email"
            )
    if registration.status == CONFIRMED:
        if data.organisation_type != registration.organisation_type:
            quota = event.type_quotas.get(data.organisation_type.value)
            if quota is not None and confirmed_count(db, event, data.organisation_type) >= quota:
                raise InvalidChoice(
                    _l("No places are left for this type of organisation."),
                    field="organisation_type",
                )
        _check_session_room(db, event, sessions, {s.id for s in registration.sessions})
    organisation = find_or_create_organisation(db, data.organisation, data.organisation_type)
    _apply(registration, data, organisation, sessions)
    db.flush()
    return promote_waitlisted(db, event)


def cancel_registration(
    db: DbSession, registration: Registration, *, now: datetime | None = None
) -> list[Registration]:
    """Cancel and give the place to the waitlist. Returns the people promoted."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    if not can_edit(registration, now):
        raise EditClosed()
    registration.status = CANCELLED
    registration.cancelled_at = now
    db.flush()
    return promote_waitlisted(db, event)


def promote_waitlisted(db: DbSession, event: Event) -> list[Registration]:
    """Confirm waitlisted people, first come first served, while places remain.
    Call with the event locked. A person whose type quota is full is passed over
    (and keeps their place in the queue); sessions that are full are dropped from
    a promoted person's choice rather than overbooked."""
    promoted: list[Registration] = []
    waiting = db.scalars(
        select(Registration)
        .where(Registration.event_id == event.id, Registration.status == WAITLISTED)
        .order_by(Registration.created_at, Registration.id)
    )
    for candidate in waiting:
        if event.capacity is not None and confirmed_count(db, event) >= event.capacity:
            break
        if not _has_room(db, event, candidate.organisation_type):
            continue
        counts = session_confirmed_counts(db, event)
        candidate.sessions = [
            s for s in candidate.sessions if s.capacity is None or counts.get(s.id, 0) < s.capacity
        ]
        candidate.status = CONFIRMED
        db.flush()
        promoted.append(candidate)
    return promoted
