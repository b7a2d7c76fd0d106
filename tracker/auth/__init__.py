"""Accounts: Flask-Login sessions for people, bearer tokens for the API.

A logged-in session ends after SESSION_IDLE_MINUTES without a request. The cookie's
own expiry (PERMANENT_SESSION_LIFETIME, pushed back on every request) only tells the
browser when to drop it; the time of the last request is also kept inside the signed
session and checked here, so a copied or replayed cookie expires all the same.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import Flask, Request, abort, flash, g, redirect, request, session, url_for
from flask_login import LoginManager
from werkzeug.wrappers import Response

from tracker.auth.services import user_for_token
from tracker.db import get_db
from tracker.i18n import lazy_gettext as _l
from tracker.models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "warning"
login_manager.session_protection = "basic"

SESSION_EXPIRED = _l("Your session has expired. Please log in again.")
LAST_SEEN_KEY = "_seen"  # Unix time of the session's last request
VERSION_KEY = "_version"  # the account's session version at login


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_db().get(User, int(user_id))
    if user is None or not user.active:
        return None
    if session.get(VERSION_KEY) != user.session_version:
        # Ended by a logout, a password change, disabling or enabling since.
        session.clear()
        g.session_expired = True
        return None
    return user


@login_manager.request_loader
def _load_from_token(request: Request) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(get_db(), token.strip())


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best_match(["application/json", "text/html"]) == "application/json"
    )


@login_manager.unauthorized_handler
def _unauthorized() -> Response:
    """Anonymous on a protected page: the login page, then back (401 for scripts)."""
    if _wants_json():
        abort(401)
    message = SESSION_EXPIRED if g.get("session_expired") else login_manager.login_message
    flash(str(message), "warning")
    target = None
    if request.method in ("GET", "HEAD"):
        target = request.full_path if request.query_string else request.path
    return redirect(url_for("auth.login", next=target))


def start_session(user: User) -> None:
    """Called right after login_user: the session is permanent, its clock starts and
    it keeps the account's session version."""
    session.permanent = True
    session[LAST_SEEN_KEY] = int(time.time())
    session[VERSION_KEY] = user.session_version


def _enforce_idle_timeout() -> None:
    if "_user_id" not in session:
        return
    from flask import current_app

    now = int(time.time())
    seen = session.get(LAST_SEEN_KEY)
    idle = current_app.config["SESSION_IDLE_MINUTES"] * 60
    # (a few minutes ahead is tolerated: processes on several hosts)
    if not isinstance(seen, int) or now - seen > idle or seen - now > 300:
        session.clear()  # before Flask-Login reads it: the request is anonymous
        g.session_expired = True
        return
    session.permanent = True
    if seen != now:
        session[LAST_SEEN_KEY] = now


def _idle_minutes(value: object) -> int:
    try:
        minutes = int(str(value))
    except ValueError:
        minutes = 0
    if minutes <= 0:
        raise RuntimeError(
            f"TRACKER_SESSION_IDLE_MINUTES must be a whole number of minutes, not {value!r}"
        )
    return minutes


def init_app(app: Flask) -> None:
    minutes = _idle_minutes(app.config.get("SESSION_IDLE_MINUTES", 60))
    app.config["SESSION_IDLE_MINUTES"] = minutes
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=minutes)
    app.config["SESSION_REFRESH_EACH_REQUEST"] = True
    login_manager.init_app(app)
    app.before_request(_enforce_idle_timeout)
