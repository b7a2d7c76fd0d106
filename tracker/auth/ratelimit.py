"""Failed logins are limited per account and per client address (Flask-Limiter).

Only failures count (`deduct_when`), but every login attempt is checked first: during a
lock even the right password is refused, so the lock reveals nothing about it. The
account key is the submitted address, whether or not an account has it, so a lock
says nothing about which addresses exist either.

The counters live in RATELIMIT_STORAGE_URI: "memory://" (one process) or Redis, shared
by every process of the app (gunicorn workers, several hosts). Each app gets its own
Limiter: the storage belongs to the app, not to the module. Behind a reverse proxy,
PROXY_COUNT says how many to trust for the client's address.
"""

from __future__ import annotations

import hashlib
import math
import time

from flask import Flask, Response, current_app, g, make_response, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import parse_many
from werkzeug.middleware.proxy_fix import ProxyFix

from tracker.auth.services import account_key

EXTENSION_KEY = "tracker.limiter"
LOGIN_ENDPOINT = "auth.login"
_FAILED = "tracker.login_failed"


def limiter_for(app: Flask) -> Limiter:
    return app.extensions[EXTENSION_KEY]  # type: ignore[no-any-return]


def record_failure() -> None:
    """Called by the login view when the credentials were refused: the attempt counts."""
    g.setdefault(_FAILED, True)


def _failed(_response: Response) -> bool:
    return bool(g.get(_FAILED))


def _address_key() -> str:
    return "address:" + (request.remote_addr or "unknown")


def _account_key() -> str:
    # Hashed: the counters' storage holds no e-mail address.
    email = request.form.get("email", "")
    digest = hashlib.sha256(account_key(email).encode("utf-8", "replace")).hexdigest()
    return "account:" + digest[:32]


def _account_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]  # type: ignore[no-any-return]


def _address_limit() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]  # type: ignore[no-any-return]


def _check_limits(app: Flask) -> None:
    for name in ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS"):
        value = app.config.get(name)
        try:
            if not value or not parse_many(value):
                raise ValueError(value)
        except ValueError:
            raise RuntimeError(
                f"TRACKER_{name} must be a rate like '5 per 15 minutes', not {value!r}"
            ) from None


def _seconds_left(limiter: Limiter) -> int:
    """Until the breached limit lets one more attempt through."""
    limit = limiter.current_limit
    if limit is None:
        return 60
    try:
        return max(1, math.ceil(limit.reset_at - time.time()))
    except Exception:  # noqa: BLE001 - the storage went away: say the whole window
        return int(limit.limit.get_expiry())


def _locked(_error: RateLimitExceeded) -> Response:
    seconds = _seconds_left(limiter_for(current_app))
    response = make_response(
        render_template("auth/locked.html", minutes=max(1, math.ceil((seconds - 5) / 60))),
        429,
    )
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    return response


def _trust_proxies(app: Flask) -> None:
    """Behind a reverse proxy every request comes from the proxy's address: the limit
    per address would then lock everybody out at once. PROXY_COUNT proxies' headers
    give the client's real address (and scheme) instead."""
    value = app.config.get("PROXY_COUNT") or 0
    try:
        count = int(str(value))
    except ValueError:
        count = -1
    if count < 0:
        raise RuntimeError(f"TRACKER_PROXY_COUNT must be 0 or more, not {value!r}")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)  # type: ignore[method-assign]


def init_app(app: Flask) -> None:
    """Limit the login view (its blueprint must be registered already)."""
    _check_limits(app)
    _trust_proxies(app)
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "tracker")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    # Redis unreachable: keep limiting, per process, rather than fail every login.
    app.config.setdefault("RATELIMIT_IN_MEMORY_FALLBACK_ENABLED", True)

    limiter = Limiter(key_func=_address_key, default_limits=[], application_limits=[])
    limiter.init_app(app)
    app.extensions[EXTENSION_KEY] = limiter

    view = app.view_functions[LOGIN_ENDPOINT]
    for provider, key_func in ((_account_limit, _account_key), (_address_limit, _address_key)):
        view = limiter.limit(provider, key_func=key_func, methods=["POST"], deduct_when=_failed)(
            view
        )
    app.view_functions[LOGIN_ENDPOINT] = view
    app.register_error_handler(RateLimitExceeded, _locked)
