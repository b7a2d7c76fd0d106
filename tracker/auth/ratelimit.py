"""Rate limits: failed logins, and the public registration form (`limits` counters).

Every counter is a window that starts at its first hit. An attempt is counted before it
is let through, by one atomic increment of the shared storage (INCRBY in Redis), and
refused when that count is over the limit; so concurrent attempts each see a different
count and exactly the limit get through, however many processes share the storage.
An attempt that turns out not to count (a refused one, a successful login) is taken
back off with a second increment.

Logins. Failures are counted:
- per account and client address (LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS, 5 per 15
  minutes): an attacker's failures lock the account from the attacker's address only;
- per client address, all accounts (LOGIN_LIMIT_PER_ADDRESS);
- per account, all addresses (LOGIN_LIMIT_PER_ACCOUNT): a much higher ceiling. Once an
  account has failed more often than one address may fail, an address that has failed
  on it waits before its next try, 1 second doubling with each failure of the account,
  up to a minute; an address that has not failed on it does not wait.
During a lock even the right password is refused, so the lock reveals nothing about
it. The account is the address typed in the form, whether or not an account has it
(hashed: the storage holds no e-mail address), so a lock says nothing about which
addresses exist either. `tracker user unlock` lifts an account's locks.

The counters live in RATELIMIT_STORAGE_URI: "memory://" (one process: with several
workers each counts on its own) or Redis, shared by every process of the app. If Redis
cannot be reached, each process counts in its own memory until it can again. Behind a
reverse proxy, PROXY_COUNT says how many to trust for the client's address.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, current_app, make_response, render_template, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from werkzeug.middleware.proxy_fix import ProxyFix

from tracker.auth.services import account_key

log = logging.getLogger(__name__)

EXTENSION_KEY = "tracker.limiter"
LOGIN_LIMIT_SETTINGS = (
    "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS",
    "LOGIN_LIMIT_PER_ACCOUNT",
    "LOGIN_LIMIT_PER_ADDRESS",
)
LIMIT_SETTINGS = (*LOGIN_LIMIT_SETTINGS, "REGISTER_LIMIT_PER_ADDRESS")
MAX_DELAY = 60  # seconds: the longest wait between two tries on a much-attacked account
RETRY_STORAGE = 30  # seconds before an unreachable storage is tried again


@dataclass(frozen=True)
class Counter:
    key: str
    limit: RateLimitItem

    @property
    def expiry(self) -> int:
        return int(self.limit.get_expiry())


def _counters(key: str, setting: str) -> list[Counter]:
    return [
        Counter(f"{key}:{item.amount}/{item.get_expiry()}", item)
        for item in parse_many(current_app.config[setting])
    ]


class Limiter:
    """The app's counters, in its storage (with a memory fallback)."""

    def __init__(self, uri: str, options: dict[str, Any]) -> None:
        options = {"key_prefix": "tracker", **options} if not uri.startswith("memory") else {}
        storage = storage_from_string(uri, wrap_exceptions=True, **options)
        if not isinstance(storage, Storage):  # async+redis://: not for a WSGI app
            raise RuntimeError(f"TRACKER_RATELIMIT_STORAGE_URL cannot be asynchronous: {uri!r}")
        self.storage = storage
        self.shared = not isinstance(self.storage, MemoryStorage)
        self.fallback = MemoryStorage()
        self._down_until = 0.0

    def _call(self, method: str, *args: Any) -> Any:
        if time.monotonic() >= self._down_until:
            try:
                return getattr(self.storage, method)(*args)
            except StorageError as e:
                log.warning("rate limit storage unreachable, counting in memory: %s", e)
                self._down_until = time.monotonic() + RETRY_STORAGE
        return getattr(self.fallback, method)(*args)

    def get(self, key: str) -> int:
        return int(self._call("get", key))

    def seconds_left(self, key: str) -> int:
        return max(1, math.ceil(float(self._call("get_expiry", key)) - time.time()))

    def hit(self, counters: list[Counter]) -> int | None:
        """Count one attempt on each counter. None: let it through. Otherwise a
        counter is over its limit: nothing is counted, and the attempt may be made
        again in that many seconds."""
        counted: list[Counter] = []
        for counter in counters:
            count = int(self._call("incr", counter.key, counter.expiry, 1))
            counted.append(counter)
            if count > counter.limit.amount:
                seconds = self.seconds_left(counter.key)
                self.uncount(counted)
                return seconds
        return None

    def uncount(self, counters: list[Counter]) -> None:
        """Take back an attempt counted by hit()."""
        for counter in counters:
            if int(self._call("incr", counter.key, counter.expiry, -1)) < 0:
                self._call("clear", counter.key)  # the window had ended in between

    def set_for(self, key: str, seconds: int, value: int = 1) -> None:
        """A key that holds `value` for that many seconds (a wait, an epoch)."""
        self._call("clear", key)
        self._call("incr", key, seconds, value)

    def reset(self) -> None:
        """Forget every counter (of this app's key prefix, in Redis)."""
        for storage in (self.storage, self.fallback):
            try:
                storage.reset()
            except StorageError:
                pass


def limiter_for(app: Flask) -> Limiter:
    return app.extensions[EXTENSION_KEY]


def _client_address() -> str:
    return request.remote_addr or "unknown"


# --- logins ----------------------------------------------------------------------


def _account_hash(email: str) -> str:
    return hashlib.sha256(account_key(email).encode("utf-8", "replace")).hexdigest()[:32]


def _epoch_key(account: str) -> str:
    return f"login:epoch:{account}"


def _account_counters(account: str, epoch: int) -> list[Counter]:
    return _counters(f"login:account:{account}:{epoch}", "LOGIN_LIMIT_PER_ACCOUNT")


@dataclass
class LoginAttempt:
    """One login attempt, counted up front; the view says how it ended."""

    limiter: Limiter
    wait_key: str
    counters: list[Counter] = field(default_factory=list)
    account_counters: list[Counter] = field(default_factory=list)
    pair_limit: int = 0  # the most failures one address may make on one account
    retry_after: int | None = None  # set: refused, try again in that many seconds

    def failed(self) -> None:
        """Wrong credentials: the attempt stays counted. Beyond what one address may
        fail, the address waits before its next try on the account."""
        failures = max(self.limiter.get(c.key) for c in self.account_counters)
        beyond = failures - self.pair_limit
        if beyond > 0:
            self.limiter.set_for(self.wait_key, min(2 ** (beyond - 1), MAX_DELAY))

    def succeeded(self) -> None:
        """Only failures count."""
        self.limiter.uncount(self.counters)


def login_attempt(email: str) -> LoginAttempt:
    """Count a login attempt for `email` from the client's address, or refuse it."""
    limiter = limiter_for(current_app)
    account = _account_hash(email)
    address = _client_address()
    # Every key of the account carries its epoch: unlock() moves to a new one.
    epoch = limiter.get(_epoch_key(account))
    attempt = LoginAttempt(limiter, wait_key=f"login:wait:{account}:{epoch}:{address}")
    if limiter.get(attempt.wait_key):
        attempt.retry_after = limiter.seconds_left(attempt.wait_key)
        return attempt
    pair = _counters(
        f"login:pair:{account}:{epoch}:{address}", "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS"
    )
    attempt.pair_limit = min(c.limit.amount for c in pair)
    attempt.account_counters = _account_counters(account, epoch)
    attempt.counters = [
        *pair,
        *_counters(f"login:address:{address}", "LOGIN_LIMIT_PER_ADDRESS"),
        *attempt.account_counters,
    ]
    attempt.retry_after = limiter.hit(attempt.counters)
    return attempt


def unlock(email: str) -> int:
    """Lift every lock and wait of an account, from every address; returns how many
    failures were counted for it."""
    limiter = limiter_for(current_app)
    account = _account_hash(email)
    epoch = limiter.get(_epoch_key(account))
    failures = max(limiter.get(c.key) for c in _account_counters(account, epoch))
    # A new epoch (the time, never the same twice): the old epoch's keys are left
    # behind and expire on their own, before the new epoch does.
    longest = max(c.expiry for name in LOGIN_LIMIT_SETTINGS for c in _counters("", name))
    limiter.set_for(_epoch_key(account), longest + MAX_DELAY, time.time_ns() // 1000)
    return failures


def locked_page(seconds: int) -> Response:
    """429 with Retry-After: the login page's answer while its attempts are refused."""
    minutes = max(1, math.ceil((seconds - 5) / 60))
    response = make_response(
        render_template("auth/locked.html", minutes=minutes, seconds=seconds), 429
    )
    response.headers["Retry-After"] = str(seconds)
    response.headers["Cache-Control"] = "no-store"
    return response


# --- the public registration form -------------------------------------------------


def registration_attempt() -> int | None:
    """Count a registration form sent from the client's address. None: let it
    through; otherwise it may be sent again in that many seconds."""
    return limiter_for(current_app).hit(
        _counters(f"register:address:{_client_address()}", "REGISTER_LIMIT_PER_ADDRESS")
    )


# --- set-up ----------------------------------------------------------------------


def _check_limits(app: Flask) -> None:
    for name in LIMIT_SETTINGS:
        value = app.config.get(name)
        try:
            if not value or not parse_many(value):
                raise ValueError(value)
        except ValueError:
            raise RuntimeError(
                f"TRACKER_{name} must be a rate like '5 per 15 minutes', not {value!r}"
            ) from None


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
    _check_limits(app)
    _trust_proxies(app)
    uri = app.config.get("RATELIMIT_STORAGE_URI") or "memory://"
    try:
        limiter = Limiter(uri, dict(app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}))
    except Exception as e:  # noqa: BLE001 - an unknown scheme, a missing driver
        raise RuntimeError(
            f"TRACKER_RATELIMIT_STORAGE_URL must be memory:// or redis://HOST:PORT[/DB], "
            f"not {uri!r} ({e})"
        ) from None
    app.extensions[EXTENSION_KEY] = limiter
    if app.config.get("ENV_NAME") == "production" and not limiter.shared:
        log.warning(
            "TRACKER_RATELIMIT_STORAGE_URL is memory://: each worker process counts failed "
            "logins and registrations on its own, so with several workers the limits let "
            "that many times more through; set it to redis://HOST:PORT for exact limits"
        )
