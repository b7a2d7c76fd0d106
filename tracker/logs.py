"""The application's logs: one JSON object per line in production (python-json-logger), a
readable line elsewhere (TRACKER_LOG_FORMAT chooses: json or text), and one line per
request with its id, method, route, status, duration and account id.

What a log line may say about a person: an account id and a registration id, nothing
else. No e-mail address, name, check-in code, private link, token or password: a request
is logged by its route (`/r/<token>`), never by the path it was sent to, and never with
its query string; SQL errors are raised without their parameters (tracker.db); and an
e-mail address that a message or a traceback quotes anyway (a mail server's refusal) is
written as <e-mail>.

Every request has an id: a sane X-Request-ID sent by the reverse proxy (letters, digits
and `._:-`, at most 128 characters) is kept, anything else is replaced by a new one; the
answer carries it back in X-Request-ID, and every line logged while the request is
handled carries it as `request_id`.
"""

from __future__ import annotations

import logging
import re
import sys
import time
import uuid
from typing import Any, TextIO

from flask import Flask, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import inspect

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The parts of a route that are shown as they were sent: an event's slug is public, and
# whole numbers are row ids. Every other part (tokens, codes, file names) stays `<name>`.
_SHOWN_ARGUMENTS = frozenset({"slug"})
_ARGUMENT = re.compile(r"<(?:[^:<>]+:)?([A-Za-z_][A-Za-z0-9_]*)>")
FORMATS = ("json", "text")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(account_id)s"
_HANDLER_NAME = "tracker"

log = logging.getLogger("tracker.request")


class _RequestContext(logging.Filter):
    """Adds the request's id and account id to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id() if has_request_context() else None
        if not hasattr(record, "account_id"):
            record.account_id = account_id() if has_request_context() else None
        return True


class _NoRequestLines(logging.Filter):
    """The development server's own line per request shows the path as sent, private
    tokens included: the app's request line replaces it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name == "werkzeug" and " - - [" in str(record.msg))


def check_format(value: object, production: bool) -> str:
    """TRACKER_LOG_FORMAT: json or text; unset, json in production and text elsewhere."""
    if value in (None, ""):
        return "json" if production else "text"
    if value not in FORMATS:
        raise RuntimeError(f"TRACKER_LOG_FORMAT must be json or text, not {value!r}")
    return str(value)


# An e-mail address, wherever it appears in a line: a mail server's reply quotes the
# address it refuses, and an error's text or traceback may quote a value. Said as
# <e-mail> instead.
_EMAIL = re.compile(r"[\w.!#$%&*+/=?^~-]+@[\w-]+(?:\.[\w-]+)+")


def redact(text: str) -> str:
    return _EMAIL.sub("<e-mail>", text)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class _JsonFormatter(JsonFormatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def make_formatter(kind: str) -> logging.Formatter:
    if kind == "json":
        return _JsonFormatter(
            JSON_FIELDS,
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            datefmt="%Y-%m-%dT%H:%M:%S%z",
            json_ensure_ascii=False,  # an address in any script is found and left out
        )
    return _TextFormatter(TEXT_FORMAT)


def make_handler(kind: str, stream: TextIO) -> logging.Handler:
    """A handler writing to `stream` in the format `kind`, each record with its request's
    id and account id."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(kind))
    handler.addFilter(_RequestContext())
    handler.addFilter(_NoRequestLines())
    return handler


def configure(kind: str, level: str = "INFO") -> None:
    """One handler on the root logger, on standard error, in the chosen format; made
    again (not added twice) when the app is made again."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = make_handler(kind, sys.stderr)
    handler.set_name(_HANDLER_NAME)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic says at INFO each time it looks at the schema (/readyz does).
    logging.getLogger("alembic").setLevel(max(logging.WARNING, root.level))


def request_id() -> str:
    """The current request's id: the X-Request-ID sent, when sane, or a new one."""
    found = g.get("request_id")
    if found is None:
        sent = request.headers.get(REQUEST_ID_HEADER, "")
        found = sent if _SANE_REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        g.request_id = found
    return str(found)


def account_id() -> int | None:
    """The logged-in account's id, when the request has already looked it up (the log
    never loads it itself)."""
    user = g.get("_login_user")
    if user is None:
        return None
    # Its key as the session knew it: reading `user.id` would load the row again once
    # the request's transaction has ended (rolled back, its objects expired).
    state = inspect(user, raiseerr=False)
    identity = state.identity if state is not None else None
    return int(identity[0]) if identity else None


def route() -> str | None:
    """The request's route with its public parts filled in (`/events/bercy-2012/door`,
    `/r/<token>`), or None for a path that matched no route."""
    rule = request.url_rule
    if rule is None:
        return None
    values = request.view_args or {}

    def fill(found: re.Match[str]) -> str:
        name = found[1]
        value = values.get(name)
        if name in _SHOWN_ARGUMENTS or (isinstance(value, int) and not isinstance(value, bool)):
            return str(value)
        return f"<{name}>"

    return _ARGUMENT.sub(fill, rule.rule)


def started() -> float:
    return float(g.get("request_started") or time.perf_counter())


def _start() -> None:
    g.request_started = time.perf_counter()
    request_id()


def _finish(response: Any) -> Any:
    duration_ms = round((time.perf_counter() - started()) * 1000, 1)
    response.headers[REQUEST_ID_HEADER] = request_id()
    path = route()
    log.info(
        "%s %s %s %.1f ms",
        request.method,
        path or "-",
        response.status_code,
        duration_ms,
        extra={
            "method": request.method,
            "path": path,
            "endpoint": request.endpoint,
            "status": response.status_code,
            "duration_ms": duration_ms,
        },
    )
    return response


def init_app(app: Flask) -> None:
    """The request's clock and id start before any other check of the request, and its
    line is written after every other step (the commit included): called first."""
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request_funcs.setdefault(None, []).insert(0, _finish)
