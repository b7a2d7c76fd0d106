"""What the door is answered for a check-in result: its HTTP status and JSON body, one
place for the JSON API and the door's own views (walk-ins, undo from the search).

The bodies are the API's contract (tracker.api.openapi): `"result"` always, then what
the door shows for that result. The scan log keeps each answer as it was given, so that a
retried request (the same nonce) gets it back byte for byte.
"""

from __future__ import annotations

from typing import Any

from tracker.checkin.services import Answer, CheckInResult, ScanResult, UnknownReason, describe

STATUS_CODES = {
    ScanResult.OK: 201,
    ScanResult.ALREADY: 409,
    ScanResult.UNKNOWN: 404,
    ScanResult.NOT_CONFIRMED: 422,
    ScanResult.UNDONE: 200,
    ScanResult.NOT_CHECKED_IN: 404,
    ScanResult.NOT_REGISTERED: 409,
}


def checkin_answer(outcome: CheckInResult) -> Answer:
    """The status and body of a check-in or undo result."""
    result = outcome.result
    body: dict[str, Any] = {"result": result.value}
    registration = outcome.registration
    if result == ScanResult.UNKNOWN or registration is None:
        body["reason"] = (outcome.reason or UnknownReason.UNKNOWN_CODE).value
    elif result == ScanResult.NOT_CONFIRMED:
        body["status"] = registration.status.value
    elif result == ScanResult.NOT_REGISTERED and outcome.session is not None:
        body["session"] = {"id": outcome.session.id, "title": outcome.session.title}
    elif result == ScanResult.ALREADY and outcome.existing is not None:
        existing = outcome.existing
        body["checked_in_at"] = existing.checked_in_at.isoformat()
        body["door"] = existing.door
        body["by"] = existing.user.email if existing.user else None
    if registration is not None:
        body["registration"] = describe(registration)
    return Answer(STATUS_CODES[result], body)


def answer_of(outcome: CheckInResult) -> Answer:
    """The answer the services kept with the attempt (the first one, for a retried
    request), or made now."""
    return outcome.answer if outcome.answer is not None else checkin_answer(outcome)
