"""The audit log: who changed what, when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session as DbSession

from tracker.db import utcnow
from tracker.models import AuditEntry, Event, Registration, User

# Built once and run with parameters: a door records one entry a scan.
_INSERT = insert(AuditEntry.__table__)


def record(
    db: DbSession,
    *,
    actor: User | None,
    action: str,
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
            "action": action,
            "changes": changes or {},
        },
    )


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    """{"field": [old, new]} for the fields that changed."""
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}
