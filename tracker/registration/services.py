"""Self-registration use cases: register, edit, cancel, promote from the waitlist.

Capacity is enforced under a lock on the event row (SELECT ... FOR UPDATE on
PostgreSQL; on SQLite every transaction already holds the write lock from BEGIN
IMMEDIATE), so concurrent registrations are serialised per event and the counts
read under the lock are exact. Whether a place is free is decided by
tracker.registration.capacity, from counters it keeps.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload

from tracker import audit, metrics
from tracker.db import rowcount, utcnow
from tracker.errors import (
    AlreadyRegistered,
    DomainError,
    EditClosed,
    InvalidChoice,
    NotFound,
    RegistrationClosed,
    SessionFull,
)
from tracker.i18n import lazy_gettext as _l
from tracker.invitations import services as invitations
from tracker.models import (
    Admission,
    Event,
    Invitation,
    Organisation,
    OrganisationType,
    Registration,
    RegistrationSource,
    RegistrationStatus,
    Session,
    User,
)
from tracker.privacy import notice
from tracker.questions import services as questions
from tracker.registration import capacity, notify
from tracker.registration.capacity import Availability as Availability
from tracker.registration.capacity import Remedy
from tracker.registration.capacity import availability as availability
from tracker.registration.identity import (
    EMAIL_LENGTH,
    KEY_LENGTH,
    clean_name,
    email_key,
    new_checkin_code,
    new_manage_token,
    organisation_key,
    qr_png,
)
from tracker.registration.organisations import find_or_create_organisation, list_organisation
from tracker.text import fold

CONFIRMED = RegistrationStatus.CONFIRMED
WAITLISTED = RegistrationStatus.WAITLISTED
CANCELLED = RegistrationStatus.CANCELLED

# --- the event's lock ---------------------------------------------------------


# The statements of a registration are built once and run with parameters: building
# a statement with its values (coercing each, computing its cache key) at every
# registration costs about as much as running it.
# The event is read again under the lock (an organiser may have changed it), with its
# sessions in the same query.
_LOCK_EVENT = (
    select(Event)
    .where(Event.id == bindparam("event_id"))
    .options(joinedload(Event.sessions))
    .with_for_update(of=Event)
    .execution_options(populate_existing=True)
)
_BY_EMAIL_KEY = select(Registration).where(
    Registration.event_id == bindparam("event_id"), Registration.email_key == bindparam("key")
)
# At most one (a unique index over the registrations that are not cancelled).
_LIVE_BY_EMAIL_KEY = _BY_EMAIL_KEY.where(Registration.status != CANCELLED)
# A live one first, else the latest cancelled one.
_ANY_BY_EMAIL_KEY = _BY_EMAIL_KEY.order_by(
    (Registration.status == CANCELLED), Registration.id.desc()
).limit(1)


def registration_of(
    db: DbSession, event: Event, email: str, *, cancelled: bool = False
) -> Registration | None:
    """The registration of this address at the event that is not cancelled (there is
    at most one). With `cancelled`, a cancelled one counts too when there is no other:
    the latest. A person who cancelled and registers again has a new registration; the
    cancelled one keeps its own link and code, which lead only to "cancelled"."""
    query = _ANY_BY_EMAIL_KEY if cancelled else _LIVE_BY_EMAIL_KEY
    return db.scalar(query, {"event_id": event.id, "key": email_key(email)})


def lock_event(db: DbSession, event: Event) -> Event:
    locked = db.scalars(_LOCK_EVENT, {"event_id": event.id}).unique().one_or_none()
    if locked is None:
        raise NotFound()
    return locked


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
    # The answers to the event's questions, by question id (one value a row, as
    # models.Answer stores them). A question left out is not asked on this path and its
    # answer is kept; None: no answers at all (see tracker.questions.services).
    answers: dict[int, list[str]] | None = None


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


class InvitationOnly(DomainError):
    """The event is by invitation only: the public form does not register."""

    code = "invitation_only"
    status = 403

    def __init__(self) -> None:
        super().__init__(
            _l(
                "This event is by invitation only: register through the link of the "
                "invitation you were e-mailed."
            )
        )


class SessionsOverlap(InvalidChoice):
    """Two chosen sessions take place at the same time (the two round tables)."""

    field = "sessions"


def overlapping(
    sessions: Collection[Session], held: Collection[int] = ()
) -> tuple[Session, Session] | None:
    """The first two of `sessions` that take place at the same time, in programme
    order, or None. A session without a start and an end overlaps nothing; one that
    starts when another ends does not overlap it. Two sessions both in `held` (already
    on the registration: accepted earlier by an organiser) are not held against it."""
    timed = sorted(
        (s for s in sessions if s.starts_at is not None and s.ends_at is not None),
        key=lambda s: (s.starts_at, s.position, s.id),
    )
    for i, first in enumerate(timed):
        for second in timed[i + 1 :]:
            if second.starts_at >= first.ends_at:  # type: ignore[operator]
                break
            if first.id in held and second.id in held:
                continue
            return (first, second) if first.position <= second.position else (second, first)
    return None


def check_sessions_apart(sessions: Collection[Session], held: Collection[int] = ()) -> None:
    """The rule of every path that chooses sessions for someone (the public form, the
    private page, organisers, imports, the door): SessionsOverlap names two chosen
    sessions that take place at the same time."""
    found = overlapping(sessions, held)
    if found is not None:
        raise SessionsOverlap(
            _l(
                "“%(first)s” and “%(second)s” take place at the same time: choose one of them.",
                first=found[0].title,
                second=found[1].title,
            )
        )


def _refuse_full_session(full: capacity.Full | None) -> None:
    """SessionFull when the limit reached is a session's: the person chooses another."""
    if full is not None and full.limit is capacity.Limit.SESSION:
        raise SessionFull(full.message(Remedy.OTHER_SESSION))


def register(
    db: DbSession,
    event: Event,
    data: RegistrationData,
    *,
    now: datetime | None = None,
    send_email: bool = True,
    invitation: Invitation | None = None,
) -> Registration:
    """Register one person. Confirmed while places (and the type's quota and the cap
    per organisation) remain, waitlisted after; the confirmation (or waitlist) e-mail
    is queued unless `send_email` is false (the demo's people). Raises
    AlreadyRegistered for a second registration of an address (whose private link is
    e-mailed again). Through an `invitation` (tracker.invitations) the person may take
    the places reserved for invitees and the invitation is used; without one, an event
    by invitation only refuses."""
    return register_explained(
        db, event, data, now=now, send_email=send_email, invitation=invitation
    ).registration


@dataclass
class Registered:
    """A registration just made, and the limit that put it on the waitlist (None:
    confirmed)."""

    registration: Registration
    full: capacity.Full | None = None


def register_explained(
    db: DbSession,
    event: Event,
    data: RegistrationData,
    *,
    now: datetime | None = None,
    send_email: bool = True,
    invitation: Invitation | None = None,
) -> Registered:
    """`register`, saying which limit waitlisted the person (for the page that tells them)."""
    now = now or utcnow()
    if not data.consent:
        raise InvalidChoice(_l("Your consent is required to register."), field="consent")
    _check_keys(data)
    # The new secrets and their QR image are made before taking the lock (the image
    # costs milliseconds that other registrations need not wait for).
    secrets = new_secrets()
    event = lock_event(db, event)
    if not registration_is_open(event, now):
        raise RegistrationClosed()
    return register_locked(
        db, event, data, secrets, now=now, send_email=send_email, invitation=invitation
    )


def new_secrets() -> tuple[str, bytes]:
    """A new check-in code and its QR image."""
    checkin_code = new_checkin_code()
    return checkin_code, qr_png(checkin_code)


def register_locked(
    db: DbSession,
    event: Event,
    data: RegistrationData,
    secrets: tuple[str, bytes],
    *,
    now: datetime,
    send_email: bool = True,
    link_again: bool = True,
    invitation: Invitation | None = None,
) -> Registered:
    """The registration of one person at an event already locked and open (its consent
    and keys checked): the public form's and, person by person in one transaction, a
    delegation's. `secrets`: from new_secrets(). `link_again`: a registered address is
    e-mailed its private link again (as the public form does)."""
    checkin_code, checkin_qr = secrets
    if invitation is None and event.admission == Admission.INVITATION:
        raise InvitationOnly()
    if invitation is not None:
        invitations.check_usable(db, event, invitation)
    sessions = _chosen_sessions(event, data.session_ids)
    check_sessions_apart(sessions)
    _check_answers(event, data)
    existing = registration_of(db, event, data.email)
    if existing is not None:
        if link_again:
            notify.send_link_again(db, existing)  # the link, to the address, not on the page
        raise AlreadyRegistered(existing)

    organisation = find_or_create_organisation(db, data.organisation, data.organisation_type)
    full = capacity.places(db, event).full_for(
        data.organisation_type,
        sessions,
        organisation=organisation.id,
        invited=invitation is not None,
    )
    _refuse_full_session(full)
    status = CONFIRMED if full is None else WAITLISTED

    # Always a new row: a cancelled registration of this address keeps its link and code.
    registration = Registration(
        event=event,
        checkin_code=checkin_code,
        manage_token=new_manage_token(),
        qr_png=checkin_qr,
        status=status,
        created_at=now,
        consent_at=now,
        consent_version=notice.current_version(),
        invited=invitation is not None,
    )
    db.add(registration)
    _apply(registration, data, organisation, sessions)
    db.flush()
    if invitation is not None:
        invitations.mark_registered(db, invitation, registration, now=now)
    questions.save_answers(db, registration, data.answers)
    if send_email:
        notify.send_confirmation(db, registration)
    metrics.count_on_commit(db, metrics.REGISTRATIONS, status.value)
    return Registered(registration, full)


# A second registration of an address e-mails its private link again, at most this
# often: posting the form again and again must not flood the person's mailbox.
LINK_AGAIN_INTERVAL = timedelta(minutes=10)


def claim_link_again(
    db: DbSession, registration: Registration, *, now: datetime | None = None
) -> bool:
    """Whether the private link may be e-mailed again now (and note that it is): not
    if it was within LINK_AGAIN_INTERVAL. One conditional UPDATE: of two requests at
    once, one wins."""
    now = now or utcnow()
    claimed = db.execute(
        update(Registration)
        .where(
            Registration.id == registration.id,
            or_(
                Registration.link_sent_at.is_(None),
                Registration.link_sent_at <= now - LINK_AGAIN_INTERVAL,
            ),
        )
        .values(link_sent_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire(registration, ["link_sent_at"])
    return rowcount(claimed) == 1


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


def _check_answers(event: Event, data: RegistrationData) -> None:
    """The answers checked before anything is written (InvalidChoice names `q_<id>`)."""
    questions.check_answers(event, data.organisation_type, data.session_ids, data.answers)


def search_key(registration: Registration) -> str:
    """What the door's search matches: names, address and organisation, folded
    (tracker.text.fold) as the words typed are."""
    return fold(
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


def _check_email_free(db: DbSession, event: Event, registration: Registration, email: str) -> None:
    """A changed address must not be another live registration's at the same event
    (a cancelled registration of it does not stand in the way, as when registering)."""
    if email_key(email) == registration.email_key or registration.status == CANCELLED:
        return
    clash = registration_of(db, event, email)
    if clash is not None and clash.id != registration.id:
        raise InvalidChoice(
            _l("Another registration already uses this e-mail address."), field="email"
        )


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
    check_sessions_apart(sessions, {s.id for s in registration.sessions})
    _check_email_free(db, event, registration, data.email)
    organisation = find_or_create_organisation(db, data.organisation, data.organisation_type)
    _check_answers(event, data)
    if registration.status == CONFIRMED:
        full = _full_after_edit(db, event, registration, data, sessions, organisation)
        _refuse_full_session(full)
        if full is not None:
            where = "organisation" if full.limit is capacity.Limit.ORGANISATION else None
            raise InvalidChoice(full.message(), field=where or "organisation_type")
    _apply(registration, data, organisation, sessions)
    db.flush()
    questions.save_answers(db, registration, data.answers)
    return promote_waitlisted(db, event)


def _full_after_edit(
    db: DbSession,
    event: Event,
    registration: Registration,
    data: RegistrationData,
    sessions: list[Session],
    organisation: Organisation,
) -> capacity.Full | None:
    """For a confirmed person changing their type, organisation or sessions: the limit
    with no room for the change (their place in the event and their seats stay theirs,
    and so does their place in their organisation unless they change it: a new type
    may cap it lower)."""
    new_type = data.organisation_type
    same_organisation = organisation.id == registration.organisation_id
    type_changed = new_type != registration.organisation_type
    return capacity.places(db, event).full_for(
        new_type if type_changed else None,
        sessions,
        held={s.id for s in registration.sessions},
        in_event=True,
        organisation=None if same_organisation and not type_changed else organisation.id,
        organisation_type=new_type,
        in_organisation=same_organisation,
    )


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
    notify.send_cancelled(db, registration)
    return promote_waitlisted(db, event)


def promote_waitlisted(
    db: DbSession, event: Event, *, exclude: Collection[int] = ()
) -> list[Registration]:
    """Confirm waitlisted people, first come first served, while places remain.
    Call with the event locked. A person whose type quota is full is passed over
    (and keeps their place in the queue); sessions that are full are dropped from
    a promoted person's choice rather than overbooked. `exclude`: registration ids
    left waiting this time (someone an organiser has just moved to the waitlist)."""
    promoted: list[Registration] = []
    query = (
        select(Registration)
        .where(Registration.event_id == event.id, Registration.status == WAITLISTED)
        .order_by(Registration.created_at, Registration.id)
    )
    if exclude:
        query = query.where(Registration.id.not_in(list(exclude)))
    places = capacity.places(db, event)
    for candidate in db.scalars(query):
        full = places.full_for(
            candidate.organisation_type,
            organisation=candidate.organisation_id,
            invited=candidate.invited,
        )
        if full is not None and full.limit is capacity.Limit.EVENT:
            break
        if full is not None:
            continue
        candidate.sessions = places.free_sessions(candidate.sessions)
        candidate.status = CONFIRMED
        db.flush()  # moves the counters
        promoted.append(candidate)
        places = capacity.places(db, event)
    notify.send_promoted(db, promoted)  # whoever frees the place: the person is told
    return promoted


# --- organiser use cases ----------------------------------------------------------
# Organisers act outside the registration window and after the edit deadline. Every
# change that affects places runs under the event lock and goes to the audit log.


class NoRoom(DomainError):
    code = "no_room"
    status = 409
    field = "override"


def registration_snapshot(registration: Registration) -> dict[str, Any]:
    """What an organiser can change, as JSON-friendly values (for the audit log)."""
    return {
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "email": registration.email,
        "organisation": registration.organisation.name,
        "organisation_type": registration.organisation_type.value,
        "job_title": registration.job_title,
        "sessions": [s.title for s in registration.sessions],
        "status": registration.status.value,
        **questions.answer_snapshot(registration),  # q_<id>: the answer, for each question
    }


def _record_promotions(db: DbSession, promoted: list[Registration], actor: User | None) -> None:
    for registration in promoted:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.REGISTRATION_PROMOTE,
            registration=registration,
            changes={"status": [WAITLISTED.value, CONFIRMED.value]},
        )


def add_registration(
    db: DbSession,
    event: Event,
    data: RegistrationData,
    *,
    actor: User | None,
    source: RegistrationSource,
    override: bool = False,
    allow_overlap: bool = False,
    after_cancellation: bool = False,
    send_email: bool = False,
    now: datetime | None = None,
) -> Registration:
    """Register someone on an organiser's behalf (by hand or from a list), whether
    registration is open or not; `data.consent` is the organiser's word that the person
    agreed. Confirmed while places and the type's quota remain (or with `override`),
    waitlisted otherwise. Sessions at the same time are refused unless `allow_overlap`
    (the organiser's own tick). Any registration of the address, cancelled ones included,
    raises AlreadyRegistered: a list imported twice adds nobody twice. With
    `after_cancellation` (a walk-in at the door) only a live registration does, and a
    cancelled one is left as it is beside the new one. `send_email`: queue the
    confirmation (or waitlist) e-mail with the private link."""
    now = now or utcnow()
    if not data.consent:
        raise InvalidChoice(
            _l("Confirm that this person agreed to the processing of their data."),
            field="consent",
        )
    _check_keys(data)
    event = lock_event(db, event)
    sessions = _chosen_sessions(event, data.session_ids)
    if not allow_overlap:
        check_sessions_apart(sessions)
    _check_answers(event, data)
    existing = registration_of(db, event, data.email, cancelled=not after_cancellation)
    if existing is not None:
        raise AlreadyRegistered(existing)
    organisation = find_or_create_organisation(
        db, data.organisation, data.organisation_type, listed=True
    )
    full = (
        None
        if override
        else capacity.places(db, event).full_for(
            data.organisation_type, sessions, organisation=organisation.id
        )
    )
    _refuse_full_session(full)
    status = CONFIRMED if full is None else WAITLISTED
    code = new_checkin_code()
    registration = Registration(
        event=event,
        checkin_code=code,
        manage_token=new_manage_token(),
        qr_png=qr_png(code),
        source=source,
        status=status,
        created_at=now,
        consent_at=now,
        consent_version=notice.current_version(),
    )
    db.add(registration)
    _apply(registration, data, organisation, sessions)
    db.flush()
    questions.save_answers(db, registration, data.answers)
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.REGISTRATION_ADD,
        registration=registration,
        changes={
            "source": source.value,
            **{k: [None, v] for k, v in registration_snapshot(registration).items() if v},
        },
    )
    if send_email:
        notify.send_confirmation(db, registration)
    return registration


def edit_registration(
    db: DbSession,
    registration: Registration,
    data: RegistrationData,
    *,
    actor: User | None,
    override: bool = False,
    allow_overlap: bool = False,
) -> list[Registration]:
    """An organiser's edit, at any time and in any status. For a confirmed person a new
    type must have room under its quota and a new session a free seat, unless
    `override`; sessions at the same time are refused unless `allow_overlap`. Returns
    the people promoted (a change can free a place)."""
    _check_keys(data)
    event = lock_event(db, registration.event)
    sessions = _chosen_sessions(event, data.session_ids)
    if not allow_overlap:
        check_sessions_apart(sessions, {s.id for s in registration.sessions})
    _check_email_free(db, event, registration, data.email)
    organisation = find_or_create_organisation(
        db, data.organisation, data.organisation_type, listed=True
    )
    _check_answers(event, data)
    if registration.status == CONFIRMED and not override:
        full = _full_after_edit(db, event, registration, data, sessions, organisation)
        _refuse_full_session(full)
        if full is not None:
            raise NoRoom(full.message(Remedy.OVERRIDE))
    before = registration_snapshot(registration)
    _apply(registration, replace(data, locale=registration.locale), organisation, sessions)
    db.flush()
    questions.save_answers(db, registration, data.answers)
    changes = audit.diff(before, registration_snapshot(registration))
    if changes:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.REGISTRATION_UPDATE,
            registration=registration,
            changes=changes,
        )
    promoted = promote_waitlisted(db, event)
    _record_promotions(db, promoted, actor)
    return promoted


def cancel_by_organiser(
    db: DbSession, registration: Registration, *, actor: User | None, now: datetime | None = None
) -> list[Registration]:
    """Cancel, whatever the deadline, and give the place to the waitlist."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    if registration.status == CANCELLED:
        raise InvalidChoice(_l("This registration is already cancelled."))
    before = registration.status.value
    registration.status = CANCELLED
    registration.cancelled_at = now
    db.flush()
    notify.send_cancelled(db, registration)
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.REGISTRATION_CANCEL,
        registration=registration,
        changes={"status": [before, CANCELLED.value]},
    )
    promoted = promote_waitlisted(db, event)
    _record_promotions(db, promoted, actor)
    return promoted


def restore_registration(
    db: DbSession, registration: Registration, *, actor: User | None, now: datetime | None = None
) -> Registration:
    """Bring a cancelled registration back: confirmed if the event and the type's quota
    have room (full sessions are dropped from its choice), else at the end of the
    waitlist."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    if registration.status != CANCELLED:
        raise InvalidChoice(_l("Only a cancelled registration can be restored."))
    if registration_of(db, event, registration.email) is not None:
        raise InvalidChoice(
            _l(
                "This address has registered again since it was cancelled: this "
                "registration cannot be restored. The new one is in the list."
            )
        )
    before = registration_snapshot(registration)
    places = capacity.places(db, event)
    if (
        places.full_for(
            registration.organisation_type,
            organisation=registration.organisation_id,
            invited=registration.invited,
        )
        is None
    ):
        registration.sessions = places.free_sessions(registration.sessions)
        registration.status = CONFIRMED
    else:
        registration.status = WAITLISTED
        registration.created_at = now  # queues from now
    registration.cancelled_at = None
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.REGISTRATION_RESTORE,
        registration=registration,
        changes=audit.diff(before, registration_snapshot(registration)),
    )
    return registration


def confirm_registration(
    db: DbSession, registration: Registration, *, actor: User | None, override: bool = False
) -> Registration:
    """Move a waitlisted person to confirmed. With no place left in the event, the
    type's quota or one of the chosen sessions, only with `override`."""
    event = lock_event(db, registration.event)
    if registration.status != WAITLISTED:
        raise InvalidChoice(_l("Only a waitlisted registration can be confirmed."))
    if not override:
        full = capacity.places(db, event).full_for(
            registration.organisation_type,
            registration.sessions,
            organisation=registration.organisation_id,
            invited=registration.invited,
        )
        if full is not None:
            raise NoRoom(full.message(Remedy.OVERRIDE))
    registration.status = CONFIRMED
    list_organisation(registration.organisation)
    db.flush()
    notify.send_promoted(db, [registration])
    changes: dict[str, Any] = {"status": [WAITLISTED.value, CONFIRMED.value]}
    if override:
        changes["override"] = True
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.REGISTRATION_CONFIRM,
        registration=registration,
        changes=changes,
    )
    return registration


def waitlist_registration(
    db: DbSession, registration: Registration, *, actor: User | None, now: datetime | None = None
) -> list[Registration]:
    """Move a confirmed person to the end of the waitlist. The place they free goes to
    the people already waiting (returned), never straight back to them."""
    now = now or utcnow()
    event = lock_event(db, registration.event)
    if registration.status != CONFIRMED:
        raise InvalidChoice(_l("Only a confirmed registration can be moved to the waitlist."))
    registration.status = WAITLISTED
    registration.created_at = now
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.REGISTRATION_WAITLIST,
        registration=registration,
        changes={"status": [CONFIRMED.value, WAITLISTED.value]},
    )
    promoted = promote_waitlisted(db, event, exclude={registration.id})
    _record_promotions(db, promoted, actor)
    return promoted
