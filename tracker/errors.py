"""Domain errors (typed codes, translated messages) and the HTTP error pages."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import (
    HTTPException,
    InternalServerError,
    RequestURITooLarge,
    SecurityError,
)

from tracker.i18n import lazy_gettext as _l
from tracker.models import Registration

log = logging.getLogger(__name__)

# The stable `error` code of a JSON answer per HTTP status, when no more precise one
# applies (the JSON API's contract: README, "JSON API v1").
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    414: "uri_too_long",
    429: "too_many_requests",
    500: "internal_error",
}
UNKNOWN_HOST = "unknown_host"
# The longest path and query string served (bytes, as sent): below the request line
# that gunicorn accepts (4094 bytes by default, method and protocol included), so that
# the app's own 414 answers first.
MAX_URI_LENGTH = 4000


def error_code(status: int) -> str:
    return ERROR_CODES.get(status, "error")


def json_error(
    status: int,
    error: str,
    message: object,
    *,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """`{"error": <stable code>, "message": <translated>, "field"?: ...}`."""
    body: dict[str, Any] = {"error": error, "message": str(message)}
    if field is not None:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def exception_headers(e: HTTPException) -> dict[str, str]:
    """What an HTTP error says beside its body, such as a 405's Allow."""
    return {k: v for k, v in e.get_headers() if k.lower() != "content-type"}


def _raw_uri_length() -> int:
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is not None:
        return len(raw)
    query = environ.get("QUERY_STRING", "")
    return len(environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)


def _refuse_early() -> None:
    """Before anything else reads the request: a Host the app does not answer to
    (Flask found it out against TRUSTED_HOSTS while routing), a URI too long."""
    if isinstance(request.routing_exception, SecurityError):
        raise request.routing_exception
    if _raw_uri_length() > MAX_URI_LENGTH:
        raise RequestURITooLarge()


class DomainError(Exception):
    """A use case refused: `code` is stable for machines, `message` is for people."""

    code = "error"
    status = 400
    field: str | None = None

    def __init__(self, message: object | None = None, *, field: str | None = None) -> None:
        self.message = message if message is not None else self.default_message()
        if field is not None:
            self.field = field
        super().__init__(self.message)

    def default_message(self) -> object:
        return _l("This request could not be completed.")


class NotFound(DomainError):
    code = "not_found"
    status = 404

    def default_message(self) -> object:
        return _l("Not found.")


class RegistrationClosed(DomainError):
    code = "registration_closed"
    status = 409

    def default_message(self) -> object:
        return _l("Registration is not open for this event.")


class EditClosed(DomainError):
    code = "edit_closed"
    status = 409

    def default_message(self) -> object:
        return _l("The deadline for changes has passed.")


class AlreadyRegistered(DomainError):
    code = "already_registered"
    status = 409
    field = "email"

    def __init__(self, registration: Registration) -> None:
        self.registration = registration
        super().__init__()

    def default_message(self) -> object:
        return _l("This e-mail address is already registered for this event.")


class SessionFull(DomainError):
    code = "session_full"
    status = 409
    field = "sessions"


class InvalidChoice(DomainError):
    code = "invalid_choice"
    status = 422


def register_error_handlers(app: Flask) -> None:
    """Called first in create_app, so that its check runs before any other."""
    app.before_request(_refuse_early)

    def wants_json() -> bool:
        return request.path.startswith("/api/") or (
            request.accept_mimetypes.best_match(["application/json", "text/html"])
            == "application/json"
        )

    def render(
        status: int,
        title: object,
        message: object,
        *,
        code: str,
        headers: dict[str, str] | None = None,
        plain: bool = False,
    ) -> ResponseReturnValue:
        if wants_json():
            return json_error(status, code, message, headers=headers)
        # plain: no link to build, since the request's host is not one to build it on.
        template = "errors/plain.html" if plain else "errors/error.html"
        page = render_template(template, status=status, title=title, message=message)
        return page, status, headers or {}

    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError) -> ResponseReturnValue:
        return render(
            400,
            _l("The form has expired"),
            _l("For your security the form expired. Go back, reload the page and send it again."),
            code="csrf_failed",
        )

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> ResponseReturnValue:
        if e.code is None or e.code < 400:
            return e
        if isinstance(e, SecurityError):
            return render(
                400,
                _l("Bad request"),
                _l("This site does not answer at this address."),
                code=UNKNOWN_HOST,
                plain=True,
            )
        titles = {
            400: _l("Bad request"),
            403: _l("Forbidden"),
            404: _l("Page not found"),
            405: _l("Method not allowed"),
            413: _l("Request too large"),
            414: _l("Address too long"),
            429: _l("Too many requests"),
        }
        messages = {
            404: _l("The page you asked for does not exist, or the link is no longer valid."),
            405: _l("This method is not allowed here."),
            413: _l("What you sent is too large."),
            414: _l("The address of this request is too long."),
        }
        title = titles.get(e.code, _l("Error"))
        message = messages.get(e.code, _l("The request could not be handled."))
        return render(e.code, title, message, code=error_code(e.code), headers=exception_headers(e))

    @app.errorhandler(DomainError)
    def _domain(e: DomainError) -> ResponseReturnValue:
        return render(e.status, _l("Error"), e.message, code=e.code)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> ResponseReturnValue:
        if isinstance(e, HTTPException):
            return _http(e)
        from tracker.logs import route

        log.exception("unhandled error on %s %s", request.method, route() or "-")
        return render(
            InternalServerError.code,
            _l("Something went wrong"),
            _l("An unexpected error occurred and was logged. Please try again in a moment."),
            code=error_code(InternalServerError.code),
        )
