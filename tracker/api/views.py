"""JSON API v1: check in, undo, search and live figures for one event.

Authentication: `Authorization: Bearer <token>` (an API token), or the browser's
logged-in session, whose unsafe requests must carry the page's CSRF token in the
`X-CSRFToken` header. A request that sends an Authorization header is judged by its
token alone, even if it also carries a session cookie.

Every answer is JSON, errors too: `{"error": <stable code>, "message": <translated>}`
(and `"field"` when one input is at fault). Check-in results are not errors: their
bodies carry `"result"` and are what the scan log keeps, so that a retried request with
the same nonce gets the first answer back, byte for byte.
"""

from __future__ import annotations

import gzip
import unicodedata
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_login import current_user
from flask_wtf.csrf import validate_csrf
from sqlalchemy import bindparam, select
from werkzeug.exceptions import HTTPException
from wtforms.validators import ValidationError

from tracker.api.answers import answer_of, checkin_answer
from tracker.api.openapi import openapi_document
from tracker.auth import login_manager
from tracker.auth.access import DOOR
from tracker.auth.services import live_token_user, token_lookup_hash, user_for_token
from tracker.checkin import services
from tracker.checkin import snapshot as door_snapshot
from tracker.db import get_db, keep_writes_on_refusal, utcnow
from tracker.errors import DomainError, NotFound, error_code, exception_headers, json_error
from tracker.events.services import SLUG_RE, assigned, get_event_and_assignment
from tracker.i18n import lazy_gettext as _l
from tracker.models import ApiToken, Event, Role, User
from tracker.registration.forms import has_control_characters

bp = Blueprint("api", __name__, url_prefix="/api/v1")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
MAX_ID = 2**31 - 1  # the largest id an INTEGER column holds on every database
MAX_BODY = 16 * 1024  # a check-in is a few hundred bytes
CODE_LENGTH = 64
DOOR_LENGTH = 100
NONCE_LENGTH = 64
QUERY_LENGTH = 200
DEFAULT_LIMIT = 20
MAX_LIMIT = 100
CHECKIN_FIELDS = frozenset(
    {"code", "registration", "session", "door", "nonce", "registered_only", "scanned_at"}
)
SCANNED_AT_LENGTH = 40
# How old a check-in sent after a network cut may be, and how far ahead of the server's
# clock a device's may run (a phone's clock a little fast is not "in the future").
SCANNED_AT_MAX_AGE = timedelta(hours=24)
CLOCK_SKEW = timedelta(minutes=2)
CURSOR_LENGTH = 40
GZIP_FROM = 1024  # bytes: a smaller answer is sent as it is


class ApiError(Exception):
    """An answer of the form {"error": code, "message": ..., "field"?: ...}."""

    def __init__(
        self,
        status: int,
        error: str,
        message: object,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(str(message))
        self.status = status
        self.error = error
        self.message = message
        self.field = field
        self.headers = headers or {}


@bp.errorhandler(ApiError)
def _api_error(e: ApiError) -> Response:
    return json_error(e.status, e.error, e.message, field=e.field, headers=e.headers)


@bp.errorhandler(DomainError)
def _domain_error(e: DomainError) -> Response:
    return json_error(e.status, e.code, e.message, field=e.field)


# The API's own wording; the codes are tracker.errors' (as for a 404 or 405 met while
# routing, which the app's handler answers, since no view of the API was found).
HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    401: _l("Log in, or send a valid API token."),
    403: _l("Your account may not do this."),
    404: _l("Not found."),
    405: _l("This method is not allowed here."),
    413: _l("What you sent is too large."),
    414: _l("The address of this request is too long."),
}


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Response | HTTPException:
    if e.code is not None and e.code < 400:  # a redirect, not an error
        return e
    status = e.code or 500
    message = HTTP_MESSAGES.get(status, _l("The request could not be handled."))
    return json_error(status, error_code(status), message, headers=exception_headers(e))


# --- authentication --------------------------------------------------------------------


def _unauthorized(error: str, message: object) -> ApiError:
    return ApiError(401, error, message, headers={"WWW-Authenticate": 'Bearer realm="tracker"'})


@bp.before_request
def _authenticate() -> None:
    """Who is asking: the token's user, or the session's (CSRF-checked when unsafe)."""
    if request.endpoint == "api.openapi":
        return
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        user = None
        if scheme.lower() == "bearer" and token:
            user = _token_user(token)
        if user is None:
            raise _unauthorized(
                "invalid_token", _l("This API token is not valid, or it has been revoked.")
            )
        # The token decides, not a session cookie that may come along with it.
        login_manager._update_request_context_with_user(user)
        return
    if not current_user.is_authenticated:
        raise _unauthorized(
            "unauthorized",
            _l("Log in, or send an API token in the header Authorization: Bearer <token>."),
        )
    if request.method in UNSAFE_METHODS and current_app.config.get("WTF_CSRF_ENABLED", True):
        csrf_token = request.headers.get("X-CSRFToken") or request.headers.get("X-CSRF-Token")
        try:
            validate_csrf(csrf_token)
        except ValidationError:
            raise ApiError(
                403,
                "csrf_failed",
                _l("The security token of this page is missing or has expired. Reload the page."),
            ) from None


# A door's request names its token and its event: the token, its account, the event and
# whether the account is assigned to it come in one query (a door scans every second).
_TOKEN_AND_EVENT = (
    select(ApiToken, Event, assigned(ApiToken.user_id))
    .outerjoin(Event, Event.slug == bindparam("slug"))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)
_PREFETCHED = "tracker.api_event"  # g's key: (event or None, assigned)


def _token_user(token: str) -> User | None:
    slug = (request.view_args or {}).get("slug")
    hashed = token_lookup_hash(token)
    if slug is None or hashed is None or not SLUG_RE.match(slug):
        return user_for_token(get_db(), token)
    row = get_db().execute(_TOKEN_AND_EVENT, {"token_hash": hashed, "slug": slug}).first()
    if row is None:
        return None
    user = live_token_user(row[0])
    if user is not None:
        setattr(g, _PREFETCHED, (row[1], bool(row[2])))
    return user


def _event(slug: str) -> tuple[Event, User]:
    """The event, if the current user is door staff (or more) and may act on it."""
    user: User = current_user._get_current_object()
    if user.role not in DOOR:
        raise ApiError(403, "forbidden", _l("Your account may not do this."))
    prefetched = g.pop(_PREFETCHED, None)
    try:
        if prefetched is None:
            event, assigned = get_event_and_assignment(get_db(), slug, user)
        elif prefetched[0] is None:
            raise NotFound()
        else:
            event, assigned = prefetched
    except NotFound:
        raise ApiError(404, "not_found", _l("There is no event at this address.")) from None
    allowed = user.active and (user.role == Role.ADMIN or assigned)
    if not allowed:
        raise ApiError(403, "forbidden", _l("Your account has no access to this event."))
    return event, user


def _door_roles(view: Any) -> Any:
    view.required_roles = DOOR  # read by the tests that walk the URL map
    return view


# --- input -------------------------------------------------------------------------------


def _invalid(field: str, message: object) -> ApiError:
    return ApiError(422, "invalid", message, field=field)


def _text(value: Any, field: str, max_length: int, *, required: bool = False) -> str | None:
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise _invalid(field, _l("%(field)s must be text.", field=field))
    if required and not value.strip():
        raise _invalid(field, _l("%(field)s must not be empty.", field=field))
    if len(value) > max_length:
        raise _invalid(
            field,
            _l("%(field)s must be at most %(n)d characters long.", field=field, n=max_length),
        )
    if has_control_characters(value):
        raise _invalid(
            field, _l("%(field)s contains characters that are not allowed.", field=field)
        )
    return value


def _integer(value: Any, field: str, low: int, high: int) -> int:
    """A whole number in [low, high] (a JSON number: not a string, not a boolean)."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _invalid(
            field,
            _l(
                "%(field)s must be a whole number from %(low)d to %(high)d.",
                field=field,
                low=low,
                high=high,
            ),
        )
    return value


def _boolean(value: Any, field: str) -> bool:
    """An optional JSON boolean (absent or null: false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _invalid(field, _l("%(field)s must be true or false.", field=field))
    return value


def _query_integer(name: str, low: int, high: int) -> int | None:
    """An optional whole number from the query string."""
    raw = request.args.get(name)
    if raw is None:
        return None
    text = raw.strip()
    value: Any = int(text) if text.isascii() and text.isdigit() and len(text) <= 12 else raw
    return _integer(value, name, low, high)


def _identifier(value: Any, field: str) -> int | None:
    """An optional id (null or absent is allowed)."""
    if value is None:
        return None
    return _integer(value, field, 1, MAX_ID)


def _scanned_at(value: Any) -> datetime | None:
    """The device's time of a scan (ISO 8601 with its offset): at most 24 hours old,
    not in the future."""
    text = _text(value, "scanned_at", SCANNED_AT_LENGTH)
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise _invalid(
            "scanned_at",
            _l("scanned_at must be a date and time with its time zone (ISO 8601)."),
        )
    now = utcnow()
    if when > now + CLOCK_SKEW:
        raise _invalid("scanned_at", _l("scanned_at is in the future: check the device’s clock."))
    if when < now - SCANNED_AT_MAX_AGE:
        raise _invalid(
            "scanned_at", _l("scanned_at is more than 24 hours old: this check-in is not kept.")
        )
    return when


def _json_object() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ApiError(413, "too_large", _l("What you sent is too large."))
    try:
        body = request.get_json(force=True, silent=True)
    except RecursionError:  # "[[[[...": nested deeper than the decoder goes
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", _l("The request body must be a JSON object."))
    return body


# --- endpoints ---------------------------------------------------------------------------


def _outcome_response(outcome: services.CheckInResult) -> Response:
    """A check-in or undo result, as the scan log keeps it. Refused attempts are
    answered with a 4xx status but are results, not failures: their views keep what
    they wrote (`keep_writes_on_refusal`)."""
    answer = answer_of(outcome)
    response = jsonify(answer.body)
    response.status_code = answer.status
    return response


@bp.post("/events/<slug>/checkins")
@_door_roles
@keep_writes_on_refusal
def check_in(slug: str) -> Response:
    event, user = _event(slug)
    body = _json_object()
    unknown = sorted(set(body) - CHECKIN_FIELDS)
    if unknown:
        raise _invalid(unknown[0], _l("Unknown field: %(field)s.", field=unknown[0]))
    code = _text(body.get("code"), "code", CODE_LENGTH)
    registration_id = _identifier(body.get("registration"), "registration")
    if (code is None) == (registration_id is None):
        raise _invalid(
            "code",
            _l("Send either a check-in code (code) or a registration number (registration)."),
        )
    if code is not None and not code.strip():
        raise _invalid("code", _l("%(field)s must not be empty.", field="code"))
    door = _text(body.get("door"), "door", DOOR_LENGTH) or ""
    session_id = _identifier(body.get("session"), "session")
    nonce = _text(body.get("nonce"), "nonce", NONCE_LENGTH)
    registered_only = _boolean(body.get("registered_only"), "registered_only")
    scanned_at = _scanned_at(body.get("scanned_at"))
    outcome = services.check_in(
        get_db(),
        event,
        actor=user,
        door=door,
        code=code,
        registration_id=registration_id,
        session_id=session_id,
        nonce=nonce,
        registered_only=registered_only,
        answer=checkin_answer,
        scanned_at=scanned_at,
    )
    return _outcome_response(outcome)


@bp.delete("/events/<slug>/checkins/<path:code>")
@_door_roles
@keep_writes_on_refusal
def undo_check_in(slug: str, code: str) -> Response:
    event, user = _event(slug)
    code = _text(code, "code", CODE_LENGTH, required=True) or ""
    outcome = services.undo_check_in(
        get_db(),
        event,
        actor=user,
        door=_text(request.args.get("door"), "door", DOOR_LENGTH) or "",
        code=code,
        session_id=_query_integer("session", 1, MAX_ID),
        answer=checkin_answer,
    )
    return _outcome_response(outcome)


@bp.get("/events/<slug>/registrations")
@_door_roles
def search(slug: str) -> Response:
    event, _user = _event(slug)
    query = request.args.get("q", "")
    if len(query) > QUERY_LENGTH:
        raise _invalid(
            "q", _l("%(field)s must be at most %(n)d characters long.", field="q", n=QUERY_LENGTH)
        )
    # What a search box may hold: control characters and broken surrogates are dropped.
    query = "".join(c for c in query if unicodedata.category(c) not in ("Cc", "Cs"))
    limit = _query_integer("limit", 1, MAX_LIMIT) or DEFAULT_LIMIT
    found = services.search(get_db(), event, query, limit=limit)
    return jsonify({"registrations": [services.describe(r) for r in found]})


@bp.get("/events/<slug>/door-snapshot")
@_door_roles
def snapshot(slug: str) -> Response:
    """What a door keeps to work offline: everyone, or (with `since`, the cursor of the
    previous answer) who changed since. Gzipped for a client that takes it."""
    event, _user = _event(slug)
    since = _text(request.args.get("since"), "since", CURSOR_LENGTH)
    try:
        found = door_snapshot.snapshot(get_db(), event, since or None)
    except door_snapshot.BadCursor:
        raise _invalid(
            "since", _l("This cursor is not one this server gave: pull again without it.")
        ) from None
    response = jsonify(found.as_json(event))
    response.vary.add("Accept-Encoding")
    data = response.get_data()
    if len(data) >= GZIP_FROM and "gzip" in request.headers.get("Accept-Encoding", ""):
        response.set_data(gzip.compress(data, compresslevel=6))
        response.headers["Content-Encoding"] = "gzip"
    return response


@bp.get("/events/<slug>/stats")
@_door_roles
def stats(slug: str) -> Response:
    event, _user = _event(slug)
    db = get_db()
    return jsonify(services.stats(db, event))


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
