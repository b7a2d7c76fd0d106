"""The audit log: who changed what, when."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.i18n import lazy_gettext as _l
from tracker.models import AuditEntry, Event, Registration, User


class AuditAction(enum.StrEnum):
    """What an audit entry records; the value is what the log keeps."""

    EVENT_CREATE = "event.create"
    EVENT_UPDATE = "event.update"
    EVENT_IMPORT = "event.import"
    EVENT_ANONYMISE = "event.anonymise"
    SESSION_CREATE = "session.create"
    SESSION_UPDATE = "session.update"
    SESSION_MOVE = "session.move"
    SESSION_DELETE = "session.delete"
    QUESTION_ADD = "question.add"
    QUESTION_EDIT = "question.edit"
    QUESTION_MOVE = "question.move"
    QUESTION_DELETE = "question.delete"
    REGISTRATION_ADD = "registration.add"
    REGISTRATION_UPDATE = "registration.update"
    REGISTRATION_CANCEL = "registration.cancel"
    REGISTRATION_RESTORE = "registration.restore"
    REGISTRATION_CONFIRM = "registration.confirm"
    REGISTRATION_WAITLIST = "registration.waitlist"
    REGISTRATION_PROMOTE = "registration.promote"
    REGISTRATION_RESEND = "registration.resend"
    REGISTRATION_ERASE = "registration.erase"
    WALK_IN = "walk_in"
    DELEGATION_REGISTER = "delegation.register"
    USER_CREATED = "user.created"
    USER_UPDATED = "user.updated"
    USER_ENABLED = "user.enabled"
    USER_DISABLED = "user.disabled"
    USER_PASSWORD_CHANGED = "user.password_changed"  # noqa: S105 (an action, not a secret)
    TOKEN_CREATED = "token.created"  # noqa: S105 (an action, not a secret)
    TOKEN_REVOKED = "token.revoked"  # noqa: S105 (an action, not a secret)
    MAILING_MESSAGE = "mailing.message"
    MAILING_REMINDER = "mailing.reminder"
    MAILING_CERTIFICATE = "mailing.certificate"
    INVITATION_ADD = "invitation.add"
    INVITATION_SEND = "invitation.send"
    INVITATION_REMIND = "invitation.remind"
    INVITATION_DECLINE = "invitation.decline"


# What each action is called where people read the log (a registration's history).
ACTION_LABELS = {
    AuditAction.EVENT_CREATE: _l("Event created"),
    AuditAction.EVENT_UPDATE: _l("Event changed"),
    AuditAction.EVENT_IMPORT: _l("List imported"),
    AuditAction.EVENT_ANONYMISE: _l("Personal data anonymised"),
    AuditAction.SESSION_CREATE: _l("Session added"),
    AuditAction.SESSION_UPDATE: _l("Session changed"),
    AuditAction.SESSION_MOVE: _l("Sessions reordered"),
    AuditAction.SESSION_DELETE: _l("Session deleted"),
    AuditAction.QUESTION_ADD: _l("Question added"),
    AuditAction.QUESTION_EDIT: _l("Question changed"),
    AuditAction.QUESTION_MOVE: _l("Questions reordered"),
    AuditAction.QUESTION_DELETE: _l("Question deleted"),
    AuditAction.REGISTRATION_ADD: _l("Registered by an organiser"),
    AuditAction.REGISTRATION_UPDATE: _l("Changed"),
    AuditAction.REGISTRATION_CANCEL: _l("Cancelled"),
    AuditAction.REGISTRATION_RESTORE: _l("Restored"),
    AuditAction.REGISTRATION_CONFIRM: _l("Moved to confirmed"),
    AuditAction.REGISTRATION_WAITLIST: _l("Moved to the waitlist"),
    AuditAction.REGISTRATION_PROMOTE: _l("Confirmed from the waitlist"),
    AuditAction.REGISTRATION_RESEND: _l("E-mail sent again"),
    AuditAction.REGISTRATION_ERASE: _l("Erased at the person’s request"),
    AuditAction.WALK_IN: _l("Registered at the door (walk-in)"),
    AuditAction.DELEGATION_REGISTER: _l(
        "People registered together by their organisation’s contact"
    ),
    AuditAction.USER_CREATED: _l("Account created"),
    AuditAction.USER_UPDATED: _l("Account changed"),
    AuditAction.USER_ENABLED: _l("Account enabled"),
    AuditAction.USER_DISABLED: _l("Account disabled"),
    AuditAction.USER_PASSWORD_CHANGED: _l("Password changed"),
    AuditAction.TOKEN_CREATED: _l("API token created"),
    AuditAction.TOKEN_REVOKED: _l("API token revoked"),
    AuditAction.MAILING_MESSAGE: _l("Message sent"),
    AuditAction.MAILING_REMINDER: _l("Reminder sent"),
    AuditAction.MAILING_CERTIFICATE: _l("Certificate of attendance sent"),
    AuditAction.INVITATION_ADD: _l("Invitee added"),
    AuditAction.INVITATION_SEND: _l("Invitation sent"),
    AuditAction.INVITATION_REMIND: _l("Invitees reminded"),
    AuditAction.INVITATION_DECLINE: _l("Invitation declined"),
}


def action_label(action: str) -> str:
    """The label of an action as the log keeps it; an action no longer (or not yet)
    known, in an old row, is shown as it was written."""
    try:
        return str(ACTION_LABELS[AuditAction(action)])
    except ValueError:
        return action


# Built once and run with parameters: a door records one entry a scan.
_INSERT = insert(AuditEntry.__table__)


def record(
    db: DbSession,
    *,
    actor: User | None,
    action: AuditAction,
    event: Event | None = None,
    registration: Registration | None = None,
    changes: dict[str, Any] | None = None,
) -> None:
    """Write one entry now (pending changes are flushed first, as before any statement)."""
    db.execute(
        _INSERT,
        {
            "at": utcnow(),
            "user_id": actor.id if actor is not None else None,
            "event_id": event.id
            if event is not None
            else (registration.event_id if registration is not None else None),
            "registration_id": registration.id if registration is not None else None,
            "action": action.value,
            "changes": changes or {},
        },
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for the fields that changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
