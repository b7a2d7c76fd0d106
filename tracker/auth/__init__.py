"""Accounts: Flask-Login sessions for people, bearer tokens for the API."""

from __future__ import annotations

from flask import Flask, Request
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager

from tracker.auth.services import user_for_token
from tracker.db import get_db
from tracker.models import User

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.login_message_category = "warning"
login_manager.session_protection = "basic"


@login_manager.user_loader
def _load_user(user_id: str) -> User | None:
    if not user_id.isdigit():
        return None
    user = get_db().get(User, int(user_id))
    return user if user is not None and user.active else None


@login_manager.request_loader
def _load_from_token(request: Request) -> User | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(get_db(), token.strip())


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
