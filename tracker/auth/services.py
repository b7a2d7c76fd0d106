"""Accounts and API tokens.

Passwords: PBKDF2-SHA256 with PASSWORD_HASH_METHOD's iterations (1,000,000 by default,
above OWASP ASVS's 600,000). An unknown address is checked against a dummy hash so
that it costs the same time as a wrong password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.db import utcnow
from tracker.errors import DomainError, NotFound
from tracker.models import ApiToken, Event, Role, User

MIN_PASSWORD_LENGTH = 12
_dummy_hashes: dict[str, str] = {}


def _method() -> str:
    return current_app.config["PASSWORD_HASH_METHOD"]


def hash_password(password: str) -> str:
    return generate_password_hash(password, method=_method())


def _dummy_hash() -> str:
    method = _method()
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_hex(16), method=method)
    return _dummy_hashes[method]


def account_key(email: str) -> str:
    return email.strip().casefold()


def create_user(
    db: DbSession, email: str, password: str, role: Role, events: list[Event] | None = None
) -> User:
    if "@" not in email or len(email) > 254:
        raise DomainError(_l("Enter a valid e-mail address."), field="email")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            field="password",
        )
    key = account_key(email)
    if db.scalar(select(User.id).where(User.email_key == key)) is not None:
        raise DomainError(_l("An account with this address already exists."), field="email")
    user = User(
        email=email.strip(),
        email_key=key,
        password_hash=hash_password(password),
        role=role,
        events=list(events or []),
    )
    db.add(user)
    db.flush()
    return user


def authenticate(
    db: DbSession, email: str, password: str, *, now: datetime | None = None
) -> User | None:
    """The user for these credentials, or None; the same work either way."""
    user = db.scalar(select(User).where(User.email_key == account_key(email)))
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = now or utcnow()
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def create_token(db: DbSession, user: User, name: str) -> tuple[str, ApiToken]:
    """A new bearer token; the clear value is returned once and never stored."""
    token = "trk_" + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name.strip()[:100] or "token", token_hash=_token_hash(token))
    db.add(record)
    db.flush()
    return token, record


def user_for_token(db: DbSession, token: str, *, now: datetime | None = None) -> User | None:
    if len(token) > 200:
        return None
    record = db.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token)))
    if record is None or record.revoked_at is not None or not record.user.active:
        return None
    record.last_used_at = now or utcnow()
    return record.user


def revoke_token(db: DbSession, user: User, name: str, *, now: datetime | None = None) -> int:
    """Revoke the user's live tokens of that name; returns how many."""
    tokens = db.scalars(
        select(ApiToken).where(
            ApiToken.user_id == user.id, ApiToken.name == name, ApiToken.revoked_at.is_(None)
        )
    ).all()
    if not tokens:
        raise NotFound(_l("No such token."))
    for token in tokens:
        token.revoked_at = now or utcnow()
    return len(tokens)
