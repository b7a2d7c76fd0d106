"""Health answers for a load balancer or an orchestrator, JSON, never behind a login nor a
rate limit, and saying nothing secret (no address, no version, no error text):

- `GET /healthz`: the process answers (200 `{"status": "ok"}`).
- `GET /readyz`: every check of READY_CHECKS passes (the database answers, its schema is
  at the migrations' head, the task queue answers): 200 `{"status": "ready", ...}`,
  or 503 `{"status": "unready", "checks": {"database": "unreachable", ...}}`. Each check
  is one entry of the list: a name and a function that raises when it fails.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from flask import Blueprint, Flask, Response, current_app, jsonify
from sqlalchemy import Engine, text

from tracker.db import READ_ONLY

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)


class NotReady(Exception):
    """A check failed: `reason` is the short word shown in the answer."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _engine() -> Engine:
    return current_app.extensions["db"].engine


def check_database() -> None:
    try:
        with _engine().connect().execution_options(**{READ_ONLY: True}) as connection:
            connection.execute(text("SELECT 1"))
    except Exception as e:  # noqa: BLE001 - whatever it is, the database cannot be used
        log.warning("readiness: database unreachable (%s)", type(e).__name__)
        raise NotReady("unreachable") from None


@functools.cache
def migration_heads() -> frozenset[str]:
    """The revisions the code expects (the heads of migrations/versions)."""
    from alembic.script import ScriptDirectory

    from tracker.cli import alembic_config

    return frozenset(ScriptDirectory.from_config(alembic_config()).get_heads())


def check_migrations() -> None:
    from alembic.runtime.migration import MigrationContext

    try:
        with _engine().connect().execution_options(**{READ_ONLY: True}) as connection:
            current = frozenset(MigrationContext.configure(connection).get_current_heads())
    except Exception as e:  # noqa: BLE001
        log.warning("readiness: migrations unknown (%s)", type(e).__name__)
        raise NotReady("unknown") from None
    if current != migration_heads():
        raise NotReady("not at head")


def check_queue() -> None:
    """The task queue's storage answers (the SQLite file or Redis of TRACKER_QUEUE_URL)."""
    from tracker import jobs

    try:
        jobs.huey.pending_count()
    except Exception as e:  # noqa: BLE001 - whatever it is, jobs cannot be queued
        log.warning("readiness: task queue unreachable (%s)", type(e).__name__)
        raise NotReady("unreachable") from None


# name, check: what /readyz runs, in this order.
READY_CHECKS: list[tuple[str, Callable[[], None]]] = [
    ("database", check_database),
    ("migrations", check_migrations),
    ("queue", check_queue),
]


def run_checks() -> dict[str, str]:
    results = {}
    for name, check in READY_CHECKS:
        try:
            check()
        except NotReady as e:
            results[name] = e.reason
        else:
            results[name] = "ok"
    return results


@bp.get("/healthz")
def healthz() -> Response:
    return _answer(200, status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    checks = run_checks()
    ready = all(result == "ok" for result in checks.values())
    return _answer(200 if ready else 503, status="ready" if ready else "unready", checks=checks)


def _answer(http_status: int, **body: object) -> Response:
    response = jsonify(body)
    response.status_code = http_status
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
