"""Prometheus metrics at `/metrics` (prometheus_client).

Counted by the processes that serve requests: requests and their latency by endpoint,
registrations by the status they were given, check-ins by result (counted once their
transaction has committed). Read at each scrape (SCRAPE_GAUGES, one query each, so the
figures are the same whichever process or host answers): registrations by status,
e-mails of the outbox by state (queued, sent, failed), jobs waiting in the task queue.

Under gunicorn every worker counts on its own: gunicorn.conf.py gives them a folder
(PROMETHEUS_MULTIPROC_DIR) where prometheus_client's multiprocess mode keeps each one's
figures, and the worker that answers a scrape adds them all up.

Who may read them: a request with `Authorization: Bearer <TRACKER_METRICS_TOKEN>`; with
no token set, only a request from this machine that no proxy forwarded.
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from ipaddress import ip_address

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session as DbSession

from tracker import logs
from tracker.db import after_commit
from tracker.errors import json_error
from tracker.i18n import lazy_gettext as _l
from tracker.models import MailState, OutgoingMail, Registration

log = logging.getLogger(__name__)
MULTIPROC_DIR = "PROMETHEUS_MULTIPROC_DIR"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "tracker_http_requests",
    "HTTP requests answered, by endpoint, method and status.",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "tracker_http_request_duration_seconds",
    "Time from the request's arrival in the app to its answer (commit included).",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
REGISTRATIONS = Counter(
    "tracker_registrations",
    "Registrations made, by the status they were given (confirmed, waitlisted...).",
    ["status"],
)
CHECKINS = Counter(
    "tracker_checkins",
    "Check-in scans, by result (ok, already_checked_in, unknown, not_confirmed...).",
    ["result"],
)


def count_on_commit(db: DbSession, counter: Counter, *labels: str) -> None:
    """Count one in `counter` once `db` has committed (nothing for a rolled-back one)."""
    after_commit(db, lambda: counter.labels(*labels).inc())


def _registrations_by_status(db: DbSession) -> Iterable[tuple[tuple[str, ...], float]]:
    rows = db.execute(select(Registration.status, func.count()).group_by(Registration.status)).all()
    return [((str(status),), float(count)) for status, count in rows]


def _mail_by_state(db: DbSession) -> Iterable[tuple[tuple[str, ...], float]]:
    rows = db.execute(select(OutgoingMail.state, func.count()).group_by(OutgoingMail.state)).all()
    found = {str(state): float(count) for state, count in rows}
    return [((str(state),), found.get(str(state), 0.0)) for state in MailState]


def _queue(_db: DbSession) -> Iterable[tuple[tuple[str, ...], float]]:
    from tracker import jobs

    try:
        return [
            (("queued",), float(jobs.huey.pending_count())),
            (("scheduled",), float(jobs.huey.scheduled_count())),
        ]
    except Exception as e:  # noqa: BLE001 - the queue down: said by /readyz
        log.warning("metrics: the task queue could not be read (%s)", type(e).__name__)
        return []


# name, help, labels, query: a gauge read from the database at each scrape.
SCRAPE_GAUGES: list[
    tuple[str, str, list[str], Callable[[DbSession], Iterable[tuple[tuple[str, ...], float]]]]
] = [
    (
        "tracker_registrations_stored",
        "Registrations in the database, by status.",
        ["status"],
        _registrations_by_status,
    ),
    (
        "tracker_emails",
        "E-mails of the outbox, by state (queued, sent, failed: given up after retries "
        "or refused for good).",
        ["state"],
        _mail_by_state,
    ),
    (
        "tracker_queue_jobs",
        "Jobs waiting in the task queue: queued (to run now) and scheduled (later).",
        ["kind"],
        _queue,
    ),
]


class DatabaseCollector(Collector):
    def __init__(self, session: Callable[[], DbSession]) -> None:
        self.session = session  # a read-only session (Database.read_session)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        families = []
        try:
            with self.session() as db:
                for name, help_text, labels, query in SCRAPE_GAUGES:
                    family = GaugeMetricFamily(name, help_text, labels=labels)
                    for values, figure in query(db):
                        family.add_metric(list(values), figure)
                    families.append(family)
            up = 1.0
        except SQLAlchemyError as e:  # the process's own figures are still worth reading
            log.warning("metrics: the database could not be read (%s)", type(e).__name__)
            up = 0.0
        yield GaugeMetricFamily(
            "tracker_database_up", "1 when the last scrape could read the database.", value=up
        )
        yield from families


def _allowed() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if token:
        sent = request.headers.get("Authorization", "")
        return hmac.compare_digest(sent.encode(), f"Bearer {token}".encode())
    if request.headers.get("X-Forwarded-For") or request.headers.get("Forwarded"):
        return False  # through a proxy on this machine: from anywhere
    try:
        return ip_address(request.remote_addr or "").is_loopback
    except ValueError:
        return False


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def metrics() -> Response:
    if not _allowed():
        return json_error(403, "forbidden", _l("The metrics need their token."))
    if os.environ.get(MULTIPROC_DIR):
        process_registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(process_registry)
    else:
        process_registry = REGISTRY
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(current_app.extensions["db"].read_session))
    body = generate_latest(process_registry) + generate_latest(database)
    return Response(body, content_type=CONTENT_TYPE_LATEST, headers={"Cache-Control": "no-store"})


def _count_request(response: Response) -> Response:
    endpoint = request.endpoint or "none"
    method = request.method if request.method in _METHODS else "other"
    REQUESTS.labels(endpoint, method, str(response.status_code)).inc()
    LATENCY.labels(endpoint).observe(max(0.0, time.perf_counter() - logs.started()))
    return response


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_count_request)
