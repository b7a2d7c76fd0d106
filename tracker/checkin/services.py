"""Check-in at the door: at the entrance or per session, by code or by registration.

Exactness comes from the database: a CheckIn row is unique per (registration, scope),
so of many concurrent scans of one code exactly one inserts and the others find it.
Every attempt, refused ones and undos too, goes to the scan log, with who made it, when,
at which door and session, and the answer given: it is the record of the door's actions
(they are not written to the audit log as well). A nonce makes a retried request give
back the first answer without counting twice.

In a session, a person who did not register for it is checked in all the same, unless
the request asks for `registered_only`: then the answer is NOT_REGISTERED (nothing
recorded but the scan log entry), and letting them in anyway is the same request
without it (a new attempt, with its own nonce). Clients that do not ask keep the
answers they always had.

The services return a typed result (`CheckInResult`); what the door is answered (JSON,
HTTP status) is the caller's business, told to the service as `answer` so that the scan
log keeps it with the attempt (tracker.api.answers).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import joinedload, make_transient_to_detached, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from tracker import metrics
from tracker.checkin import conflicts
from tracker.db import insert_or_ignore, rowcount, utcnow
from tracker.errors import InvalidChoice
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    ENTRANCE,
    CheckIn,
    Event,
    Registration,
    RegistrationStatus,
    ScanLog,
    Session,
    User,
)
from tracker.questions import answers as qa
from tracker.registration.identity import ids_by_name, registrations_in_order
from tracker.reports import services as reports
from tracker.text import fold

_CODE_RE = re.compile(r"[^A-Z2-7]")


class ScanResult(enum.StrEnum):
    """What a check-in attempt or an undo came to; the value is what the scan log keeps."""

    OK = "ok"
    ALREADY = "already_checked_in"
    UNKNOWN = "unknown"
    NOT_CONFIRMED = "not_confirmed"
    UNDONE = "undone"
    NOT_CHECKED_IN = "not_checked_in"
    NOT_REGISTERED = "not_registered"


class UnknownReason(enum.StrEnum):
    """Why no registration was found for UNKNOWN."""

    UNKNOWN_CODE = "unknown_code"
    OTHER_EVENT = "other_event"


# What each result is called in a log read by people (a registration's history, exports).
SCAN_LABELS = {
    ScanResult.OK: _l("Scan: checked in"),
    ScanResult.ALREADY: _l("Scan: already checked in"),
    ScanResult.UNKNOWN: _l("Scan: unknown code"),
    ScanResult.NOT_CONFIRMED: _l("Scan: not confirmed"),
    ScanResult.UNDONE: _l("Check-in undone"),
    ScanResult.NOT_CHECKED_IN: _l("Undo: was not checked in"),
    ScanResult.NOT_REGISTERED: _l("Scan: not registered for the session"),
}
RETRIES = 3  # a check-in that meets a concurrent undo is tried again


def normalise_code(code: str) -> str:
    """What a scanner or a person typed, as a check-in code: upper case, no spaces or
    dashes (a keyboard-wedge scanner with the wrong layout may also shift case)."""
    return _CODE_RE.sub("", code.upper())[:64]


@dataclass(frozen=True)
class Answer:
    """What the door was answered (an HTTP status and a JSON body), as the scan log
    keeps it: a retried request (the same nonce) is given it back as it was."""

    status: int
    body: dict[str, Any]


@dataclass
class CheckInResult:
    """A check-in attempt or an undo: what it came to, and what it is about."""

    result: ScanResult
    registration: Registration | None = None
    session: Session | None = None
    reason: UnknownReason | None = None  # UNKNOWN only
    existing: CheckIn | None = None  # ALREADY: the check-in found there
    # What the door was answered; on a retried request, the first answer.
    answer: Answer | None = None
    replayed: bool = False


# How the caller answers a result (tracker.api.answers.checkin_answer): told to the
# services so that the scan log keeps the answer with the attempt.
Answering = Callable[[CheckInResult], Answer]


def session_of(event: Event, session_id: int | None) -> Session | None:
    if session_id is None:
        return None
    for s in event.sessions:
        if s.id == session_id:
            return s
    raise InvalidChoice(_l("This session is not part of the event."), field="session")


def describe(registration: Registration) -> dict[str, Any]:
    """A registration as the door and the API show it: only what the door needs (who,
    from where, their status, sessions and check-ins), what anyone sees on the badge.
    Never the e-mail address; the job title only if the event prints it on badges; the
    answers only to the questions the organiser marked as shown at the door."""
    checkins = registration.checkins
    return {
        "id": registration.id,
        "first_name": registration.first_name,
        "last_name": registration.last_name,
        "organisation": registration.organisation.name,
        "organisation_type": registration.organisation_type.value,
        "job_title": registration.job_title if registration.event.badge_job_title else None,
        "status": registration.status.value,
        "source": registration.source.value,
        "sessions": [{"id": s.id, "title": s.title} for s in registration.sessions],
        "checked_in_at": next(
            (c.checked_in_at.isoformat() for c in checkins if c.scope == ENTRANCE), None
        ),
        "session_checkins": {
            str(c.session_id): c.checked_in_at.isoformat() for c in checkins if c.session_id
        },
        # The answers to the questions marked as shown at the door, and no other.
        "answers": qa.at_door(registration),
    }


# The statements of a scan, built once and run with parameters: building a statement
# with its values (coercing each, computing its cache key) costs more than running it.
# A registration comes with what describe() shows, in the same query.
_WITH_DOOR_VIEW = (joinedload(Registration.sessions), joinedload(Registration.checkins))
_BY_ID = select(Registration).where(Registration.id == bindparam("id")).options(*_WITH_DOOR_VIEW)
_BY_CODE = (
    select(Registration)
    .where(Registration.checkin_code == bindparam("code"))
    .options(*_WITH_DOOR_VIEW)
)
_BY_NONCE = select(ScanLog.result, ScanLog.status_code, ScanLog.response).where(
    ScanLog.event_id == bindparam("event_id"), ScanLog.nonce == bindparam("nonce")
)


def _find(
    db: DbSession, event: Event, code: str | None, registration_id: int | None
) -> tuple[Registration | None, UnknownReason | None]:
    """The registration, or None and why."""
    if registration_id is not None:
        found = db.scalars(_BY_ID, {"id": registration_id}).unique().one_or_none()
    elif code:
        found = db.scalars(_BY_CODE, {"code": normalise_code(code)}).unique().one_or_none()
    else:
        found = None
    if found is None:
        return None, UnknownReason.UNKNOWN_CODE
    if found.event_id != event.id:
        return None, UnknownReason.OTHER_EVENT
    return found, None


def check_in(
    db: DbSession,
    event: Event,
    *,
    actor: User | None,
    door: str,
    code: str | None = None,
    registration_id: int | None = None,
    session_id: int | None = None,
    nonce: str | None = None,
    registered_only: bool = False,
    answer: Answering | None = None,
    scanned_at: datetime | None = None,
    now: datetime | None = None,
) -> CheckInResult:
    """Check a person in at the entrance, or in `session_id`. With `registered_only`, a
    person not registered for that session is not checked in: NOT_REGISTERED (unless
    already checked in there, which is ALREADY as always). `scanned_at`, the device's
    time of a scan sent after a network cut, is the check-in's time; met with another
    check-in, the first by time stands and the other is recorded as a duplicate
    (tracker.checkin.conflicts). A check-in undone by another request between two
    statements of this one is tried again (RETRIES times)."""
    now = now or utcnow()
    door = (door or "").strip()[:100] or "?"
    nonce = (nonce or "").strip()[:64] or None
    session = session_of(event, session_id)
    for attempt in range(RETRIES):
        try:
            return _check_in(
                db, event, actor, door, code, registration_id, session, nonce,
                registered_only, answer, scanned_at, now,
            )  # fmt: skip
        except IntegrityError:
            # A check-in undone, or a first attempt with this nonce rolled back, between
            # two statements of ours: nothing of this attempt is left, try again.
            if attempt == RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _check_in(
    db: DbSession,
    event: Event,
    actor: User | None,
    door: str,
    code: str | None,
    registration_id: int | None,
    session: Session | None,
    nonce: str | None,
    registered_only: bool,
    answer: Answering | None,
    scanned_at: datetime | None,
    now: datetime,
) -> CheckInResult:
    # A retried request (its nonce already logged) is not looked for first: that would
    # cost every scan a query. It finds out when its scan log entry is refused, and
    # then takes back the check-in it may have made (one undone meanwhile).
    scope = session.id if session is not None else ENTRANCE
    registration, reason = _find(db, event, code, registration_id)
    duplicate = None

    if registration is None:
        outcome = CheckInResult(ScanResult.UNKNOWN, session=session, reason=reason)
    elif registration.status != RegistrationStatus.CONFIRMED:
        outcome = CheckInResult(ScanResult.NOT_CONFIRMED, registration, session)
    elif registered_only and session is not None and _not_registered(registration, session):
        outcome = CheckInResult(ScanResult.NOT_REGISTERED, registration, session)
    else:
        outcome, duplicate = _insert(
            db, event, registration, session, scope, door, actor, now, scanned_at
        )
    logged = _log(
        db,
        event,
        outcome,
        code=code,
        door=door,
        actor=actor,
        nonce=nonce,
        answer=answer,
        now=now,
        scanned_at=scanned_at,
    )
    if logged is not outcome and outcome.result == ScanResult.OK and registration is not None:
        _take_back(db, registration, scope)  # a retry: the first answer stands
    elif duplicate is not None and logged is outcome:
        conflicts.record(db, duplicate)
    return logged


def _not_registered(registration: Registration, session: Session) -> bool:
    """Not registered for the session, and not checked in to it yet (a second scan of
    someone let in anyway is "already checked in", as for anyone)."""
    return all(s.id != session.id for s in registration.sessions) and all(
        c.scope != session.id for c in registration.checkins
    )


def _take_back(db: DbSession, registration: Registration, scope: int) -> None:
    checkin = next(c for c in registration.checkins if c.scope == scope)
    db.execute(delete(CheckIn).where(CheckIn.id == checkin.id))
    db.expunge(checkin)
    set_committed_value(
        registration, "checkins", [c for c in registration.checkins if c is not checkin]
    )


def _insert(
    db: DbSession,
    event: Event,
    registration: Registration,
    session: Session | None,
    scope: int,
    door: str,
    actor: User | None,
    now: datetime,
    scanned_at: datetime | None = None,
) -> tuple[CheckInResult, conflicts.Duplicate | None]:
    values = {
        "event_id": event.id,
        "registration_id": registration.id,
        "session_id": session.id if session else None,
        "scope": scope,
        "checked_in_at": scanned_at or now,
        "recorded_at": now,
        "door": door,
        "user_id": actor.id if actor else None,
    }
    new_id = insert_or_ignore(db, CheckIn.__table__, values)
    if new_id is not None:
        checkin = CheckIn(**values, id=new_id)
        # The row is in: the object joins the session as loaded (no second INSERT) and
        # the registration's check-ins as if read again, without reading them again.
        make_transient_to_detached(checkin)
        db.add(checkin)
        set_committed_value(registration, "checkins", [*registration.checkins, checkin])
        return CheckInResult(ScanResult.OK, registration, session), None
    existing = db.scalar(
        select(CheckIn).where(CheckIn.registration_id == registration.id, CheckIn.scope == scope)
    )
    if existing is None:  # undone meanwhile: a rare race, the caller tries again
        raise IntegrityError("check-in", None, Exception("checked in and undone meanwhile"))
    duplicate = None
    if scanned_at is not None:
        duplicate = conflicts.settle(
            db, event, existing, session, door=door, actor=actor, scanned_at=scanned_at, now=now
        )
        db.refresh(existing)  # as it is now (another door's may have taken its place)
    checkins = [c for c in registration.checkins if c.scope != scope] + [existing]
    set_committed_value(registration, "checkins", checkins)
    if duplicate is not None and duplicate.incoming_stands:
        return CheckInResult(ScanResult.OK, registration, session), duplicate
    return CheckInResult(ScanResult.ALREADY, registration, session, existing=existing), duplicate


def _replay(db: DbSession, event: Event, nonce: str) -> CheckInResult | None:
    logged = db.execute(_BY_NONCE, {"event_id": event.id, "nonce": nonce}).first()
    if logged is None or logged.response is None:
        return None
    return CheckInResult(
        ScanResult(logged.result),
        answer=Answer(logged.status_code, logged.response),
        replayed=True,
    )


def _log(
    db: DbSession,
    event: Event,
    outcome: CheckInResult,
    *,
    code: str | None,
    door: str,
    actor: User | None,
    nonce: str | None,
    answer: Answering | None,
    now: datetime,
    scanned_at: datetime | None = None,
) -> CheckInResult:
    """Write the attempt, and the answer given, to the scan log; a nonce already logged
    gives back the first result and its answer instead."""
    if answer is not None:
        outcome.answer = answer(outcome)
    registration, session = outcome.registration, outcome.session
    entry = {
        "event_id": event.id,
        "at": now,
        "door": door,
        "user_id": actor.id if actor else None,
        "registration_id": registration.id if registration else None,
        "session_id": session.id if session else None,
        "session_title": session.title if session else None,
        "code": (code or None) and code[:64],
        "result": outcome.result.value,
        "nonce": nonce,
        "status_code": outcome.answer.status if outcome.answer else None,
        "response": outcome.answer.body if outcome.answer else None,
        "scanned_at": scanned_at,
    }
    if insert_or_ignore(db, ScanLog.__table__, entry) is not None:
        metrics.count_on_commit(db, metrics.CHECKINS, outcome.result)
        return outcome
    # The same nonce arrived concurrently: the first answer stands.
    replay = _replay(db, event, nonce) if nonce else None
    if replay is None:
        raise IntegrityError("scan log", None, Exception("the same nonce, and no answer yet"))
    return replay


def undo_check_in(
    db: DbSession,
    event: Event,
    *,
    actor: User | None,
    door: str,
    code: str | None = None,
    registration_id: int | None = None,
    session_id: int | None = None,
    answer: Answering | None = None,
    now: datetime | None = None,
) -> CheckInResult:
    now = now or utcnow()
    door = (door or "").strip()[:100] or "?"
    session = session_of(event, session_id)
    scope = session.id if session is not None else ENTRANCE
    registration, reason = _find(db, event, code, registration_id)
    if registration is None:
        outcome = CheckInResult(ScanResult.UNKNOWN, session=session, reason=reason)
    else:
        removed = rowcount(
            db.execute(
                delete(CheckIn).where(
                    CheckIn.registration_id == registration.id, CheckIn.scope == scope
                )
            )
        )
        kept = [c for c in registration.checkins if c.scope != scope]
        set_committed_value(registration, "checkins", kept)
        result = ScanResult.UNDONE if removed else ScanResult.NOT_CHECKED_IN
        outcome = CheckInResult(result, registration, session)
    return _log(
        db,
        event,
        outcome,
        code=code,
        door=door,
        actor=actor,
        nonce=None,
        answer=answer,
        now=now,
    )


def search(db: DbSession, event: Event, query: str, *, limit: int = 20) -> list[Registration]:
    """Registrations whose names, address or organisation contain every word typed
    (both folded alike: case, accents, apostrophes and hyphens ignored), the first
    `limit` by name in French alphabetical order."""
    words = fold(query).split()[:6]
    conditions = [Registration.event_id == event.id]
    conditions += [Registration.search_key.contains(word, autoescape=True) for word in words]
    ids = ids_by_name(db, *conditions, limit=limit)
    door_answers = (
        [selectinload(Registration.answers)] if any(q.at_door for q in event.questions) else []
    )
    return registrations_in_order(
        db,
        ids,
        selectinload(Registration.checkins),
        selectinload(Registration.sessions),
        *door_answers,
    )


def counters(db: DbSession, event: Event) -> dict[str, Any]:
    """Present / expected at the entrance and per session, for the door's live counters."""
    totals, _by_type = reports.totals_and_types(db, event)
    return _counters(event, totals, reports.session_counts(db, event))


def _counters(
    event: Event, totals: reports.Totals, per_session: dict[int, reports.SessionCount]
) -> dict[str, Any]:
    return {
        "present": totals.present,
        "expected": totals.confirmed,
        "sessions": [
            {
                "id": s.id,
                "title": s.title,
                "present": per_session[s.id].present,
                "expected": per_session[s.id].confirmed,
            }
            for s in event.sessions
        ],
    }


def stats(db: DbSession, event: Event) -> dict[str, Any]:
    """The headline figures of GET /api/v1/events/{slug}/stats (tracker.reports says
    what each word means; the dashboard shows the same numbers)."""
    totals, by_type = reports.totals_and_types(db, event)
    per_session = reports.session_counts(db, event)
    return {
        "registered": totals.registered,
        "confirmed": totals.confirmed,
        "waitlisted": totals.waitlisted,
        "cancelled": totals.cancelled,
        "checked_in": totals.present,
        "no_show": totals.no_show,  # not arrived yet while "started" is false
        "started": reports.has_started(event),
        "by_type": {
            t.value: {"confirmed": line.confirmed, "checked_in": line.present}
            for t, line in by_type.items()
        },
        "by_session": [
            {
                "id": s.id,
                "title": s.title,
                "registered": per_session[s.id].registered,
                "checked_in": per_session[s.id].present,
            }
            for s in event.sessions
        ],
        "counters": _counters(event, totals, per_session),
    }
