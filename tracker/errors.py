"""Domain errors (typed codes, translated messages) and the HTTP error pages."""

from __future__ import annotations

import logging

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

from tracker.i18n import lazy_gettext as _l

log = logging.getLogger(__name__)


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

    def __init__(self, registration: object) -> None:
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
    def wants_json() -> bool:
        return request.path.startswith("/api/") or (
            request.accept_mimetypes.best_match(["application/json", "text/html"])
            == "application/json"
        )

    def render(status: int, title: object, message: object):  # type: ignore[no-untyped-def]
        if wants_json():
            return jsonify({"error": str(title), "message": str(message)}), status
        return render_template(
            "errors/error.html", status=status, title=title, message=message
        ), status

    @app.errorhandler(CSRFError)
    def _csrf(_e: CSRFError):  # type: ignore[no-untyped-def]
        return render(
            400,
            _l("The form has expired"),
            _l("For your security the form expired. Go back, reload the page and send it again."),
        )

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException):  # type: ignore[no-untyped-def]
        if e.code is None or e.code < 400:
            return e
        titles = {
            400: _l("Bad request"),
            403: _l("Forbidden"),
            404: _l("Page not found"),
            405: _l("Method not allowed"),
            413: _l("Request too large"),
            429: _l("Too many requests"),
        }
        messages = {
            404: _l("The page you asked for does not exist, or the link is no longer valid."),
            413: _l("What you sent is too large."),
        }
        title = titles.get(e.code, _l("Error"))
        message = messages.get(e.code, _l("The request could not be handled."))
        return render(e.code, title, message)

    @app.errorhandler(DomainError)
    def _domain(e: DomainError):  # type: ignore[no-untyped-def]
        return render(e.status, _l("Error"), e.message)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception):  # type: ignore[no-untyped-def]
        if isinstance(e, HTTPException):
            return _http(e)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return render(
            InternalServerError.code,
            _l("Something went wrong"),
            _l("An unexpected error occurred and was logged. Please try again in a moment."),
        )
