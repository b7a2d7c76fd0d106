"""Invitations: the organiser records invitees (typed or imported), e-mails each a
personal link (/i/<token>) that opens the registration form pre-filled, usable once,
and reminds those who have not answered; the invitee registers through it or declines.

A registration through an invitation is made by the public form's own service
(tracker.registration.services.register, given the invitation), which may use the
places of the capacity reserved for invitees (tracker.registration.capacity) and marks
the invitation registered under the event's lock: of two forms sent through one link,
one registers. Declining takes the same lock.

States: created (recorded) -> sent (e-mailed) -> opened (link followed) ->
registered or declined. Sending again keeps an opened invitation opened, and gives a
declined one a new chance (sent).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import Session as DbSession

from tracker import audit, mail
from tracker.db import utcnow
from tracker.errors import DomainError, InvalidChoice, NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.i18n import local_date
from tracker.links import absolute_url
from tracker.models import (
    Event,
    Invitation,
    InvitationState,
    OrganisationType,
    Registration,
    User,
)
from tracker.registration.identity import EMAIL_LENGTH, clean_name, email_key

CREATED = InvitationState.CREATED
SENT = InvitationState.SENT
OPENED = InvitationState.OPENED
REGISTERED = InvitationState.REGISTERED
DECLINED = InvitationState.DECLINED
# Not answered yet: what reminders go to.
WAITING = (CREATED, SENT, OPENED)

# 24 random bytes: 192 bits, 32 URL-safe characters. A link is looked up only if it
# could be one (at least 128 bits' worth of characters, no more than the column).
TOKEN_BYTES = 24
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,64}$")
# A second reminder to the same person waits at least this long (a double click, or
# the command run twice, sends one).
REMIND_INTERVAL = timedelta(hours=20)


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def invitation_url(invitation: Invitation) -> str:
    """The personal link, absolute (on BASE_URL)."""
    return absolute_url("invitations.show", token=invitation.token)


# --- errors ---------------------------------------------------------------------------


class InvitationNotFound(NotFound):
    code = "invitation_not_found"

    def default_message(self) -> object:
        return _l(
            "This invitation link is not valid. Check that it was copied whole from the "
            "e-mail, or ask the organisers for a new one."
        )


class InvitationUsed(DomainError):
    code = "invitation_used"
    status = 409

    def default_message(self) -> object:
        return _l(
            "You have already registered through this invitation. To see, change or "
            "cancel your registration, use the private link in your confirmation e-mail."
        )


class InvitationDeclined(DomainError):
    code = "invitation_declined"
    status = 409

    def default_message(self) -> object:
        return _l(
            "You have declined this invitation. If you change your mind, ask the "
            "organisers to send it to you again."
        )


class AlreadyInvited(InvalidChoice):
    code = "already_invited"
    field = "email"

    def default_message(self) -> object:
        return _l("This address is already invited to this event.")


# --- recording invitees ------------------------------------------------------------------


@dataclass
class InviteeData:
    first_name: str
    last_name: str
    email: str
    organisation: str
    organisation_type: OrganisationType
    job_title: str | None = None
    locale: str = "fr"


def _check_locale(locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise InvalidChoice(_l("Choose one of the languages offered."), field="locale")


def create_invitation(
    db: DbSession,
    event: Event,
    data: InviteeData,
    *,
    actor: User | None,
    now: datetime | None = None,
) -> Invitation:
    """Record one invitee (not e-mailed yet: send_invitations). AlreadyInvited for an
    address the event has invited already."""
    now = now or utcnow()
    key = email_key(data.email)
    if len(key) > EMAIL_LENGTH:
        raise InvalidChoice(_l("This e-mail address is too long."), field="email")
    _check_locale(data.locale)
    if invitation_of(db, event, data.email) is not None:
        raise AlreadyInvited()
    invitation = Invitation(
        event_id=event.id,
        first_name=clean_name(data.first_name),
        last_name=clean_name(data.last_name),
        email=data.email.strip(),
        email_key=key,
        organisation=clean_name(data.organisation),
        organisation_type=data.organisation_type,
        job_title=clean_name(data.job_title) if data.job_title else None,
        locale=data.locale,
        token=new_token(),
        state=CREATED,
        created_at=now,
    )
    db.add(invitation)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.INVITATION_ADD,
        event=event,
        changes={"invitation": invitation.id},
    )
    return invitation


def invitation_of(db: DbSession, event: Event, email: str) -> Invitation | None:
    return db.scalar(
        select(Invitation).where(
            Invitation.event_id == event.id, Invitation.email_key == email_key(email)
        )
    )


def get_by_token(db: DbSession, token: str) -> Invitation:
    """The invitation of a personal link; InvitationNotFound for anything else (a
    token too short or too long to be one is not looked up)."""
    invitation = None
    if _TOKEN_RE.match(token):
        invitation = db.scalar(select(Invitation).where(Invitation.token == token))
    if invitation is None:
        raise InvitationNotFound()
    return invitation


def get_for_event(db: DbSession, event: Event, invitation_id: int) -> Invitation:
    """An invitation of this event by id (an organiser's screen); NotFound for another
    event's."""
    invitation = db.get(Invitation, invitation_id)
    if invitation is None or invitation.event_id != event.id:
        raise NotFound()
    return invitation


@dataclass
class Listed:
    invitations: list[Invitation]
    counts: dict[str, int] = field(default_factory=dict)  # per state, all of them


def list_invitations(db: DbSession, event: Event, state: str | None = None) -> Listed:
    query = (
        select(Invitation)
        .where(Invitation.event_id == event.id)
        .order_by(Invitation.last_name, Invitation.first_name, Invitation.id)
    )
    rows = list(db.scalars(query))
    counts = {s.value: 0 for s in InvitationState}
    for row in rows:
        counts[row.state.value] += 1
    if state:
        rows = [r for r in rows if r.state.value == state]
    return Listed(rows, counts)


# --- the invitee's answers -----------------------------------------------------------


def check_usable(db: DbSession, event: Event, invitation: Invitation) -> None:
    """Under the event's lock: the invitation, read again, may still register someone
    at this event (not used, not declined)."""
    fresh = db.scalars(
        select(Invitation)
        .where(Invitation.id == invitation.id)
        .execution_options(populate_existing=True)
    ).one_or_none()
    if fresh is None or fresh.event_id != event.id:
        raise InvitationNotFound()
    if fresh.state == REGISTERED:
        raise InvitationUsed()
    if fresh.state == DECLINED:
        raise InvitationDeclined()


def mark_registered(
    db: DbSession, invitation: Invitation, registration: Registration, *, now: datetime
) -> None:
    """The invitation is used (called by register(), under the event's lock)."""
    invitation.state = REGISTERED
    invitation.registration_id = registration.id
    invitation.answered_at = now
    if invitation.opened_at is None:
        invitation.opened_at = now
    db.flush()


def mark_opened(db: DbSession, invitation: Invitation, *, now: datetime | None = None) -> None:
    """The link was followed: an invitation not answered yet is "opened" (one
    conditional UPDATE: an answer given meanwhile is not overwritten)."""
    if invitation.state not in (CREATED, SENT):
        return
    now = now or utcnow()
    db.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.state.in_([CREATED, SENT]))
        .values(state=OPENED, opened_at=now)
        .execution_options(synchronize_session=False)
    )
    db.expire(invitation, ["state", "opened_at"])


def decline(db: DbSession, invitation: Invitation, *, now: datetime | None = None) -> None:
    """The invitee declines, in one click. Refused once they have registered (they
    cancel through their private link) or declined already."""
    from tracker.registration.services import lock_event  # it imports this module

    now = now or utcnow()
    event = lock_event(db, invitation.event)
    check_usable(db, event, invitation)
    invitation.state = DECLINED
    invitation.answered_at = now
    if invitation.opened_at is None:
        invitation.opened_at = now
    db.flush()
    audit.record(
        db,
        actor=None,
        action=audit.AuditAction.INVITATION_DECLINE,
        event=event,
        changes={"invitation": invitation.id},
    )


# --- e-mails ------------------------------------------------------------------------------

MAIL_KINDS = ("invitation", "invitation_reminder")


def compose(invitation: Invitation, kind: str) -> mail.Mail:
    """The invitation (or its reminder), in the invitee's language, with their link."""
    event = invitation.event
    with force_locale(invitation.locale):
        when = local_date(event.starts_at, event.timezone, "long")
        if kind == "invitation_reminder":
            subject = _(
                "Reminder: you are invited to %(title)s, %(when)s", title=event.title, when=when
            )
        else:
            subject = _("Invitation: %(title)s, %(when)s", title=event.title, when=when)
        context = {
            "invitation": invitation,
            "event": event,
            "kind": kind,
            "invitation_url": invitation_url(invitation),
        }
        text = render_template("email/invitation.txt", **context)
        html = render_template("email/invitation.html", **context)
    return mail.Mail(to=invitation.email, subject=subject, text=text, html=html)


def send_invitations(
    db: DbSession,
    event: Event,
    invitations: Iterable[Invitation],
    *,
    actor: User | None,
    now: datetime | None = None,
) -> int:
    """Queue the invitation e-mail of each (again for those sent already); not to
    those who registered. A declined invitation sent again is open again. Returns how
    many were queued."""
    now = now or utcnow()
    sent = 0
    for invitation in invitations:
        if invitation.event_id != event.id or invitation.state == REGISTERED:
            continue
        mail.queue(db, kind="invitation", composed=compose(invitation, "invitation"))
        if invitation.state in (CREATED, DECLINED):
            invitation.state = SENT
            invitation.answered_at = None
        invitation.sent_at = now
        sent += 1
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.INVITATION_SEND,
            event=event,
            changes={"invitation": invitation.id},
        )
    db.flush()
    return sent


def send_reminders(
    db: DbSession, event: Event, *, actor: User | None, now: datetime | None = None
) -> int:
    """Remind the invitees who were sent their invitation and have not answered
    (neither registered nor declined), unless reminded within REMIND_INTERVAL.
    Returns how many were queued."""
    now = now or utcnow()
    due = db.scalars(
        select(Invitation)
        .where(
            Invitation.event_id == event.id,
            Invitation.state.in_([SENT, OPENED]),
            Invitation.sent_at.is_not(None),
        )
        .order_by(Invitation.id)
    )
    reminded = 0
    for invitation in list(due):
        if invitation.reminded_at is not None and invitation.reminded_at > now - REMIND_INTERVAL:
            continue
        mail.queue(
            db, kind="invitation_reminder", composed=compose(invitation, "invitation_reminder")
        )
        invitation.reminded_at = now
        reminded += 1
    db.flush()
    if reminded:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.INVITATION_REMIND,
            event=event,
            changes={"reminded": reminded},
        )
    return reminded


# --- a list of invitees --------------------------------------------------------------------


@dataclass
class InvitationImport:
    """What importing a list of invitees did (or, refused, would have done)."""

    created: list[Invitation] = field(default_factory=list)
    already: list[tuple[int, str]] = field(default_factory=list)  # (line, address)
    refused: list[tuple[int, str, list[str]]] = field(default_factory=list)  # line, label, why
    ignored_columns: list[str] = field(default_factory=list)


def import_invitations(
    db: DbSession,
    event: Event,
    filename: str,
    content: bytes,
    *,
    actor: User | None,
    now: datetime | None = None,
) -> InvitationImport:
    """Record the invitees of a CSV or XLSX list, read as the registration import
    reads one (tracker.registration.importer: the same columns and checks; a
    `sessions` column is not read, the invitee chooses on the form; a `locale` column
    gives the language of their e-mails). Addresses already invited are skipped and
    reported. The caller keeps the result only if nothing was refused (the command
    line) or shows the refusals (the page). Raises ImportFileError for a file that
    cannot be read."""
    from tracker.registration import importer  # it imports the registration services

    table = importer.read_table(filename, content)
    report = InvitationImport(ignored_columns=table.ignored_columns)
    seen: dict[str, int] = {}
    for row in table.rows:
        values = {k: v for k, v in row.values.items() if k != "sessions"}
        data, reasons = importer.check_row(event, values)
        label = importer._label(row.values)
        if data is None:
            report.refused.append((row.line, label, reasons))
            continue
        key = email_key(data.email)
        if key in seen:
            report.refused.append(
                (
                    row.line,
                    label,
                    [
                        importer._reason(
                            "email", _("the same address as line %(line)d.", line=seen[key])
                        )
                    ],
                )
            )
            continue
        seen[key] = row.line
        invitee = InviteeData(
            first_name=data.first_name,
            last_name=data.last_name,
            email=data.email,
            organisation=data.organisation,
            organisation_type=data.organisation_type,
            job_title=data.job_title,
            locale=data.locale,
        )
        try:
            report.created.append(create_invitation(db, event, invitee, actor=actor, now=now))
        except AlreadyInvited:
            report.already.append((row.line, data.email))
        except DomainError as e:
            reason = str(e.message) if not e.field else importer._reason(e.field, e.message)
            report.refused.append((row.line, label, [reason]))
    return report
