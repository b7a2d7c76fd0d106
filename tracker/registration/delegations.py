"""Delegations: one contact registers several people of one organisation in one form.

Each person is registered as the public form registers one (services.register_locked),
person by person under ONE lock of the event and in one transaction: the capacity, the
type's quota and the cap per organisation apply to each in turn, and if any person
cannot be registered nobody is (DelegationRefused names every row at fault). Each
person gets their own private link, check-in code and confirmation e-mail; the contact
gets one e-mail with the delegation's private link (/d/<token>), where they follow,
cancel and add people."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker import audit, mail
from tracker.db import utcnow
from tracker.errors import (
    AlreadyRegistered,
    DomainError,
    InvalidChoice,
    NotFound,
    RegistrationClosed,
)
from tracker.i18n import lazy_gettext as _l
from tracker.links import absolute_url
from tracker.models import Delegation, Event, OrganisationType, Registration
from tracker.registration import capacity, services
from tracker.registration.identity import EMAIL_LENGTH, clean_name, email_key, new_manage_token
from tracker.registration.services import RegistrationData

# At most this many people in one form (and added to a delegation at once).
MAX_PEOPLE = 20


@dataclass
class Contact:
    name: str
    email: str
    organisation: str
    organisation_type: OrganisationType
    consent: bool = False
    locale: str = "fr"


@dataclass
class Person:
    """One row of the form: who is registered (the organisation is the delegation's)."""

    first_name: str
    last_name: str
    email: str
    job_title: str | None = None
    session_ids: list[int] = field(default_factory=list)


class DelegationRefused(DomainError):
    """Some rows cannot be registered: nobody is. `rows`: {row index: [(field, message)]};
    `message`: what is wrong with the whole form, if anything."""

    code = "delegation_refused"
    status = 422

    def __init__(self, rows: dict[int, list[tuple[str, Any]]], message: Any = None) -> None:
        super().__init__(message or _l("Nothing was saved: correct the rows shown."))
        self.rows = rows


@dataclass
class DelegationResult:
    delegation: Delegation
    registered: list[services.Registered]


def _data(contact: Contact, person: Person) -> RegistrationData:
    return RegistrationData(
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        organisation=contact.organisation,
        organisation_type=contact.organisation_type,
        job_title=person.job_title or None,
        session_ids=list(person.session_ids),
        consent=True,  # the contact's, for the people they register
        locale=contact.locale,
    )


def _row_error(error: DomainError) -> tuple[str, Any]:
    if isinstance(error, AlreadyRegistered):
        return "email", _l("This address is already registered for this event.")
    return error.field or "email", error.message


def _register_people(
    db: DbSession,
    event: Event,
    contact: Contact,
    people: list[Person],
    *,
    now: datetime,
    first_row: int = 0,
) -> list[services.Registered]:
    """Register each person at the event, which the caller has locked. Raises
    DelegationRefused with every row at fault (the caller's transaction is then rolled
    back: nothing of it is kept)."""
    if not people:
        raise DelegationRefused({}, _l("Add at least one person."))
    if len(people) > MAX_PEOPLE:
        raise DelegationRefused(
            {}, _l("At most %(max)d people in one form, please.", max=MAX_PEOPLE)
        )
    errors: dict[int, list[tuple[str, Any]]] = {}
    seen: dict[str, int] = {}
    for i, person in enumerate(people, start=first_row):
        key = email_key(person.email)
        if len(key) > EMAIL_LENGTH:
            errors.setdefault(i, []).append(("email", _l("This e-mail address is too long.")))
        elif key in seen:
            errors.setdefault(i, []).append(
                ("email", _l("This address is already in row %(row)d.", row=seen[key] + 1))
            )
        else:
            seen[key] = i
    # Every row is tried (the others' errors are shown at once); any error undoes all.
    secrets = [services.new_secrets() for _person in people]
    registered = []
    for i, (person, made) in enumerate(zip(people, secrets, strict=True), start=first_row):
        if i in errors:
            continue
        try:
            registered.append(
                services.register_locked(
                    db, event, _data(contact, person), made, now=now, link_again=False
                )
            )
        except DomainError as e:
            errors.setdefault(i, []).append(_row_error(e))
    if errors:
        raise DelegationRefused(errors)
    return registered


def register_delegation(
    db: DbSession,
    event: Event,
    contact: Contact,
    people: list[Person],
    *,
    actor_note: str = "online",
    now: datetime | None = None,
) -> DelegationResult:
    """Register `people` of the contact's organisation, each as the public form would,
    and make the delegation the contact manages. All or nothing."""
    now = now or utcnow()
    if not contact.consent:
        raise InvalidChoice(
            _l("Confirm that the people you register agreed to the processing of their data."),
            field="consent",
        )
    services._check_keys(_data(contact, Person("", "", contact.email)))
    event = services.lock_event(db, event)
    if not services.registration_is_open(event, now):
        raise RegistrationClosed()
    registered = _register_people(db, event, contact, people, now=now)
    organisation = registered[0].registration.organisation
    delegation = Delegation(
        event=event,
        contact_name=clean_name(contact.name),
        contact_email=contact.email.strip(),
        organisation=organisation,
        organisation_type=contact.organisation_type,
        token=new_manage_token(),
        locale=contact.locale,
        created_at=now,
    )
    db.add(delegation)
    _join(db, delegation, registered, source=actor_note)
    send_summary(db, delegation, registered)
    return DelegationResult(delegation, registered)


def add_people(
    db: DbSession, delegation: Delegation, people: list[Person], *, now: datetime | None = None
) -> list[services.Registered]:
    """Add people to a delegation, by the same rules, while registration is open."""
    now = now or utcnow()
    event = services.lock_event(db, delegation.event)
    if not services.registration_is_open(event, now):
        raise RegistrationClosed()
    contact = Contact(
        name=delegation.contact_name,
        email=delegation.contact_email,
        organisation=delegation.organisation.name,
        organisation_type=delegation.organisation_type,
        consent=True,
        locale=delegation.locale,
    )
    room = MAX_PEOPLE - len(delegation.registrations)
    if len(people) > room:
        raise DelegationRefused(
            {}, _l("A delegation holds at most %(max)d people.", max=MAX_PEOPLE)
        )
    registered = _register_people(db, event, contact, people, now=now)
    _join(db, delegation, registered, source="delegation page")
    return registered


def _join(
    db: DbSession, delegation: Delegation, registered: list[services.Registered], *, source: str
) -> None:
    """Make the people just registered members of the delegation, and say so in the
    event's history (how many, of which organisation; no names)."""
    delegation.registrations.extend(r.registration for r in registered)
    db.flush()
    audit.record(
        db,
        actor=None,
        action=audit.AuditAction.DELEGATION_REGISTER,
        event=delegation.event,
        changes={
            "source": source,
            "organisation": delegation.organisation.name,
            "people": len(registered),
        },
    )


_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{20,64}$")


def get_by_token(db: DbSession, token: str) -> Delegation:
    delegation = None
    if _TOKEN_RE.match(token):
        delegation = db.scalar(select(Delegation).where(Delegation.token == token))
    if delegation is None:
        raise NotFound()
    return delegation


def member(delegation: Delegation, position: int) -> Registration:
    """The person at this position (from 1) of the delegation's list."""
    people = delegation.registrations
    if not 1 <= position <= len(people):
        raise NotFound()
    return people[position - 1]


def waiting_reason(places: capacity.Places, registration: Registration) -> Any:
    """Why a waitlisted person is waiting now (the first limit without room), or None."""
    if registration.status != services.WAITLISTED:
        return None
    full = places.full_for(
        registration.organisation_type, organisation=registration.organisation_id
    )
    return full.reason if full is not None else None


def contact_url(delegation: Delegation) -> str:
    return absolute_url("registration.delegation", token=delegation.token)


def send_summary(
    db: DbSession, delegation: Delegation, registered: list[services.Registered]
) -> None:
    """One e-mail to the contact: the delegation's private link and each person's status
    (waitlisted: why)."""
    event = delegation.event
    with force_locale(delegation.locale):
        rows = [
            {
                "name": f"{r.registration.first_name} {r.registration.last_name}",
                "email": r.registration.email,
                "status": r.registration.status.value,
                "reason": str(r.full.reason) if r.full is not None else None,
            }
            for r in registered
        ]
        context = {
            "delegation": delegation,
            "event": event,
            "rows": rows,
            "contact_url": contact_url(delegation),
        }
        composed = mail.Mail(
            to=delegation.contact_email,
            subject=_("Your delegation: %(title)s", title=event.title),
            text=render_template("email/delegation.txt", **context),
            html=render_template("email/delegation.html", **context),
            attachments=[],
        )
    mail.queue(db, kind="delegation", composed=composed)
