"""tracker: event registration and attendance tracking."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from flask_login import current_user

import config as config_module
from tracker import auth, health, i18n, jobs, links, logs, mail, metrics
from tracker.badges import jobs as badge_jobs
from tracker.db import Database, make_engine
from tracker.errors import register_error_handlers
from tracker.privacy import notice as privacy

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: type[config_module.Config] | dict[str, Any] | None = None) -> Flask:
    """Build the app. `config` is a Config class, or a dict of overrides on the default."""
    app = Flask(
        __name__,
        template_folder=str(PROJECT_ROOT / "templates"),
        instance_path=str(config_module.INSTANCE_DIR),
    )
    if isinstance(config, dict):
        base = config_module.CONFIGS.get(
            config.get("ENV_NAME", ""), config_module.config_from_env()
        )
        app.config.from_object(base)
        app.config.update(config)
    else:
        base = config or config_module.config_from_env()
        app.config.from_object(base)
    values = dict(app.config)
    base.finalise(values)
    config_module.check_limits(values)
    config_module.check_worker_threads(values)
    app.config.update(values)

    app.config["LOG_FORMAT"] = logs.check_format(
        app.config.get("LOG_FORMAT"), production=app.config.get("ENV_NAME") == "production"
    )
    level = str(app.config.get("LOG_LEVEL") or "INFO").upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise RuntimeError(
            f"TRACKER_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}"
        )
    logs.configure(app.config["LOG_FORMAT"], level)

    logs.init_app(app)  # the request's id and clock first, its log line last
    privacy.init_app(app)  # the notice's version, the retention period
    links.init_app(app)  # BASE_URL and the host names answered to
    register_error_handlers(app)  # first: its check of the request runs before any other

    from flask_wtf.csrf import CSRFProtect

    CSRFProtect(app)
    i18n.init_app(app)
    mail.check_sender(app.config["MAIL_SENDER"])
    auth.init_app(app)
    Database(make_engine(app.config["DATABASE_URL"], echo=app.config["SQL_ECHO"])).init_app(app)
    jobs.init_app(app)  # the queue of background jobs (TRACKER_QUEUE_URL)
    badge_jobs.init_app(app)  # badges rendered ahead when their data changes

    from tracker.events.views import bp as events_bp
    from tracker.registration import delegation_views  # noqa: F401  (its routes: /d/<token>, ...)
    from tracker.registration.views import bp as registration_bp

    app.register_blueprint(events_bp)
    app.register_blueprint(registration_bp)

    from tracker.auth.views import init_app as init_accounts

    init_accounts(app)  # /login, /logout, /users, and the login's rate limits

    from tracker import api

    api.init_app(app)

    from tracker.door.views import bp as door_bp

    app.register_blueprint(door_bp)  # /events/<slug>/door, its walk-ins and undo

    from tracker.organiser.views import bp as organiser_bp

    app.register_blueprint(organiser_bp)  # /manage, /events/new, /events/<slug>/edit, ...

    from tracker.badges.views import bp as badges_bp

    app.register_blueprint(badges_bp)  # /events/<slug>/badges, one badge on demand

    from tracker.downloads.views import bp as downloads_bp

    app.register_blueprint(downloads_bp)  # /events/<slug>/downloads/<token>: the worker's files

    from tracker.privacy.views import bp as privacy_bp

    app.register_blueprint(privacy_bp)  # the person's data and its erasure, retention

    from tracker.reports.views import bp as reports_bp

    app.register_blueprint(reports_bp)  # /events/<slug>/stats, /events/<slug>/export

    health.init_app(app)  # /healthz, /readyz
    metrics.init_app(app)  # /metrics

    from tracker.mailings.views import bp as mailings_bp

    app.register_blueprint(mailings_bp)  # /events/<slug>/mailings, certificates

    from tracker.invitations.views import bp as invitations_bp

    app.register_blueprint(invitations_bp)  # /i/<token>, /events/<slug>/invitations

    from tracker.cli import register_commands

    register_commands(app)
    app.after_request(_security_headers)
    if app.config.get("ENV_NAME") == "production":
        # What the process has built so far (the app, its templates' environment,
        # WeasyPrint, SQLAlchemy's metadata) lives as long as it does: out of the
        # garbage collector's sight, the full collections that requests building large
        # pages set off (the statistics, every few requests) no longer walk through it
        # all, which was 60 ms of the dashboard's slowest answers.
        gc.freeze()
    return app


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def _security_headers(response: Any) -> Any:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    hsts = current_app.config.get("STRICT_TRANSPORT_SECURITY")
    if hsts:
        headers.setdefault("Strict-Transport-Security", hsts)
    # Whatever is answered to an account (a page, a download, the API) is for it alone:
    # every page of a logged-in person shows at least who they are, and most show
    # attendees' personal data. One rule for all of them, rather than a list of views
    # that a new page would be missing from. A response that chose its own
    # Cache-Control (a static file) keeps it.
    if "Cache-Control" not in headers and current_user.is_authenticated:
        headers["Cache-Control"] = "no-store"
    return response
