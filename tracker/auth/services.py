"""Accounts and API tokens.

Passwords: PBKDF2-SHA256 with PASSWORD_HASH_METHOD's iterations (1,000,000 by default,
above OWASP ASVS's 600,000). An unknown address is checked against a dummy hash so
that it costs the same time as a wrong password.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session as DbSession
from werkzeug.security import check_password_hash, generate_password_hash

from tracker.audit import AuditAction, diff, record
from tracker.db import utcnow
from tracker.errors import DomainError, NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.models import ApiToken, Event, Role, User

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
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


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, e.g. from undecodable standard input
        return False
    return True


def _check_email(email: str) -> None:
    email = email.strip()
    if (
        "@" not in email
        or len(email) > 254
        or not _encodable(email)
        or any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in email)
    ):
        raise DomainError(_l("Enter a valid e-mail address."), field="email")


def check_password(password: str) -> None:
    """Refuse a password too short to keep, or one that cannot be hashed."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise DomainError(
            _l("The password must have at least %(n)d characters.", n=MIN_PASSWORD_LENGTH),
            field="password",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise DomainError(
            _l("The password must have at most %(n)d characters.", n=MAX_PASSWORD_LENGTH),
            field="password",
        )
    if not _encodable(password):
        raise DomainError(
            _l("The password holds characters that cannot be used."), field="password"
        )


def check_new_account(db: DbSession, email: str) -> None:
    """Refuse an address that is invalid or already has an account."""
    _check_email(email)
    key = account_key(email)
    if db.scalar(select(User.id).where(User.email_key == key)) is not None:
        raise DomainError(_l("An account with this address already exists."), field="email")


def create_user(
    db: DbSession, email: str, password: str, role: Role, events: list[Event] | None = None
) -> User:
    check_new_account(db, email)
    check_password(password)
    key = account_key(email)
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
    """The user for these credentials, or None; the same work either way.

    A hash made with a weaker method than PASSWORD_HASH_METHOD (fewer iterations, say)
    is replaced by a new one on a successful login."""
    user = None
    if (
        len(email) <= 254
        and "\x00" not in email
        and _encodable(email)
        and _encodable(password)
        and len(password) <= MAX_PASSWORD_LENGTH
    ):
        user = db.scalar(select(User).where(User.email_key == account_key(email)))
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password if _encodable(password) else "")
        return None
    if not check_password_hash(user.password_hash, password):
        return None
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = now or utcnow()
    return user


def _method_parts(method: str) -> tuple[str, str, list[int]]:
    """("pbkdf2", "sha256", [iterations]) or ("scrypt", "", [n, r, p]) from a method."""
    parts = method.split(":")
    try:
        if parts[0] == "pbkdf2" and len(parts) == 3:
            return "pbkdf2", parts[1], [int(parts[2])]
        if parts[0] == "scrypt" and len(parts) == 4:
            return "scrypt", "", [int(p) for p in parts[1:]]
    except ValueError:
        pass
    return parts[0], "", []


def needs_rehash(stored_hash: str) -> bool:
    """Whether a stored hash is weaker than one made now with PASSWORD_HASH_METHOD."""
    stored = _method_parts(stored_hash.split("$", 1)[0])
    # The dummy hash spells the configured method out in full (defaults included).
    wanted = _method_parts(_dummy_hash().split("$", 1)[0])
    if stored[:2] != wanted[:2] or not stored[2] or not wanted[2]:
        return stored != wanted
    return any(have < want for have, want in zip(stored[2], wanted[2], strict=True))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


TOKEN_USE_PRECISION = timedelta(minutes=1)


def create_token(db: DbSession, user: User, name: str) -> tuple[str, ApiToken]:
    """A new bearer token; the clear value is returned once and never stored."""
    token = "trk_" + secrets.token_urlsafe(32)
    record = ApiToken(user=user, name=name.strip()[:100] or "token", token_hash=_token_hash(token))
    db.add(record)
    db.flush()
    return token, record


# Built once, run with a parameter: a door sends a request a second.
_TOKEN_BY_HASH = select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"))


def token_lookup_hash(token: str) -> str | None:
    """What a token is looked up by (None: too long to be one)."""
    return _token_hash(token) if len(token) <= 200 else None


def user_for_token(db: DbSession, token: str, *, now: datetime | None = None) -> User | None:
    hashed = token_lookup_hash(token)
    record = db.scalar(_TOKEN_BY_HASH, {"token_hash": hashed}) if hashed else None
    return live_token_user(record, now=now)


def live_token_user(record: ApiToken | None, *, now: datetime | None = None) -> User | None:
    """The account of a token found by its hash, unless the token is revoked or the
    account disabled; notes the token's use."""
    if record is None or record.revoked_at is not None or not record.user.active:
        return None
    # To the minute: a door sends a request a second, and writing the token's row at
    # each one would add a write (and on SQLite the write lock) to every read.
    now = now or utcnow()
    if record.last_used_at is None or now - record.last_used_at >= TOKEN_USE_PRECISION:
        record.last_used_at = now
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


# --- account management (the /users screen and the command line) --------------------
#
# The audit log's user column is the actor; the account changed is named in `changes`.


def get_user(db: DbSession, email: str) -> User:
    user = db.scalar(select(User).where(User.email_key == account_key(email)))
    if user is None:
        raise NotFound(_l("No account with the address %(email)s.", email=email.strip()))
    return user


def list_users(db: DbSession) -> list[User]:
    return list(db.scalars(select(User).order_by(User.email_key)))


def events_by_slugs(db: DbSession, slugs: list[str]) -> list[Event]:
    found = {e.slug: e for e in db.scalars(select(Event).where(Event.slug.in_(slugs)))}
    for slug in slugs:
        if slug not in found:
            raise DomainError(_l("No event with the slug %(slug)s.", slug=slug), field="events")
    return [found[slug] for slug in dict.fromkeys(slugs)]


def _slugs(events: list[Event]) -> list[str]:
    return sorted(e.slug for e in events)


def _account(user: User) -> dict[str, Any]:
    return {"account": user.email, "account_id": user.id}


def add_user(
    db: DbSession,
    email: str,
    password: str,
    role: Role,
    events: list[Event] | None = None,
    *,
    actor: User | None,
) -> User:
    user = create_user(db, email, password, role, events)
    record(
        db,
        actor=actor,
        action=AuditAction.USER_CREATED,
        changes={**_account(user), "role": role.value, "events": _slugs(user.events)},
    )
    return user


def _refuse_last_admin(db: DbSession, user: User) -> None:
    """Called before `user` stops being an active admin."""
    if user.role != Role.ADMIN or not user.active:
        return
    others = db.scalar(
        select(func.count(User.id)).where(
            User.role == Role.ADMIN, User.active.is_(True), User.id != user.id
        )
    )
    if not others:
        raise DomainError(_l("At least one active administrator must remain."))


def _refuse_own(user: User, actor: User | None) -> None:
    if actor is not None and actor.id == user.id:
        raise DomainError(
            _l("You cannot change your own role or disable your own account."), field="role"
        )


def update_user(
    db: DbSession, user: User, *, role: Role, events: list[Event], actor: User | None
) -> dict[str, list[Any]]:
    """Change an account's role and events; returns what changed (also audited)."""
    before = {"role": user.role.value, "events": _slugs(user.events)}
    after = {"role": role.value, "events": _slugs(events)}
    changes = diff(before, after)
    if not changes:
        return changes
    if role != user.role:
        _refuse_own(user, actor)
        _refuse_last_admin(db, user)
    user.role = role
    user.events = list(events)
    db.flush()
    record(db, actor=actor, action=AuditAction.USER_UPDATED, changes={**_account(user), **changes})
    return changes


def end_sessions(db: DbSession, user: User) -> None:
    """Every session of the account opened so far stops working at its next request
    (each keeps the version it was opened with; see tracker.auth)."""
    # In SQL: two changes at once both count.
    user.session_version = User.session_version + 1
    db.flush()


def revoke_all_tokens(db: DbSession, user: User, *, now: datetime | None = None) -> int:
    """Revoke every live token of the account, for good; returns how many."""
    tokens = db.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
    ).all()
    for token in tokens:
        token.revoked_at = now or utcnow()
    return len(tokens)


def set_active(db: DbSession, user: User, active: bool, *, actor: User | None) -> bool:
    """Disable or enable an account; returns whether anything changed. Either way its
    open sessions end; disabling also revokes its tokens, and enabling the account
    again does not bring them back."""
    if user.active == active:
        return False
    if not active:
        _refuse_own(user, actor)
        _refuse_last_admin(db, user)
    user.active = active
    end_sessions(db, user)
    revoked = 0 if active else revoke_all_tokens(db, user)
    db.flush()
    record(
        db,
        actor=actor,
        action=AuditAction.USER_ENABLED if active else AuditAction.USER_DISABLED,
        changes={
            **_account(user),
            "active": [not active, active],
            **({} if active else {"tokens_revoked": revoked}),
        },
    )
    return True


def set_password(db: DbSession, user: User, password: str, *, actor: User | None) -> int:
    """A new password: every open session of the account ends and its tokens are
    revoked; returns how many tokens."""
    check_password(password)
    user.password_hash = hash_password(password)
    end_sessions(db, user)
    revoked = revoke_all_tokens(db, user)
    db.flush()
    record(
        db,
        actor=actor,
        action=AuditAction.USER_PASSWORD_CHANGED,
        changes={**_account(user), "tokens_revoked": revoked},
    )
    return revoked


def issue_token(db: DbSession, user: User, name: str, *, actor: User | None) -> str:
    """create_token for an active account, audited; returns the clear token."""
    if not user.active:
        raise DomainError(_l("This account is disabled."))
    if not name.strip():
        raise DomainError(_l("Give the token a name, e.g. the door it is for."), field="name")
    if len(name.strip()) > 100:
        raise DomainError(_l("At most %(max)d characters, please.", max=100), field="name")
    token, record_ = create_token(db, user, name)
    record(
        db,
        actor=actor,
        action=AuditAction.TOKEN_CREATED,
        changes={**_account(user), "name": record_.name},
    )
    return token


def withdraw_token(db: DbSession, user: User, name: str, *, actor: User | None) -> int:
    """revoke_token, audited."""
    count = revoke_token(db, user, name.strip())
    record(
        db,
        actor=actor,
        action=AuditAction.TOKEN_REVOKED,
        changes={**_account(user), "name": name.strip(), "count": count},
    )
    return count


def list_tokens(db: DbSession, user: User) -> list[ApiToken]:
    return list(
        db.scalars(select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id))
    )
