"""Configuration: defaults here, overridden by TRACKER_* environment variables.

Every variable is documented in the README. Production refuses to start without a
real TRACKER_SECRET_KEY; development keeps a generated one under instance/.
"""

from __future__ import annotations

import math
import os
import secrets
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent
INSTANCE_DIR = Path(os.environ.get("TRACKER_INSTANCE_PATH", PROJECT_ROOT / "instance"))


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(f"TRACKER_{name}")
    return value if value not in (None, "") else default


def _dev_secret_key() -> str:
    """A per-checkout secret kept in instance/ so sessions survive restarts."""
    path = INSTANCE_DIR / "secret_key"
    if path.exists():
        return path.read_text().strip()
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key


# The limits of the work done in child processes (seconds, MiB, MB), checked at start-up;
# gunicorn.conf.py reads them too, to keep its worker timeout above them.
LIMIT_DEFAULTS = {
    "PDF_TIMEOUT": "120",
    "PDF_MEMORY_LIMIT": "1024",
    "IMPORT_TIMEOUT": "30",
    "IMPORT_MEMORY_LIMIT": "512",
    "IMPORT_MAX_UNZIPPED_MB": "50",
}
WHOLE_LIMITS = {"PDF_MEMORY_LIMIT", "IMPORT_MEMORY_LIMIT", "IMPORT_MAX_UNZIPPED_MB"}
# What a request may spend beyond its longest limit: a 10,000-row import checks every row
# after reading the file (about 45 s of CPU on a 2-core machine, several times that in
# wall-clock time when the machine is busy); gunicorn kills a worker silent for longer.
WORKER_TIMEOUT_MARGIN = 300


class Config:
    ENV_NAME = "development"
    SECRET_KEY = _env("SECRET_KEY")
    DATABASE_URL = _env("DATABASE_URL", f"sqlite:///{INSTANCE_DIR / 'tracker.sqlite3'}")
    SQL_ECHO = _env("SQL_ECHO") == "1"

    BABEL_DEFAULT_LOCALE = "fr"
    LANGUAGES = ("fr", "en")
    BABEL_TRANSLATION_DIRECTORIES = str(PROJECT_ROOT / "tracker" / "translations")

    WTF_CSRF_ENABLED = True
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024

    # Outgoing mail: SMTP when MAIL_SERVER is set, otherwise .eml files in MAIL_OUTBOX.
    MAIL_SERVER = _env("MAIL_SERVER")
    MAIL_PORT = int(_env("MAIL_PORT", "25") or 25)
    MAIL_USERNAME = _env("MAIL_USERNAME")
    MAIL_PASSWORD = _env("MAIL_PASSWORD")
    MAIL_USE_TLS = _env("MAIL_USE_TLS") == "1"
    MAIL_USE_SSL = _env("MAIL_USE_SSL") == "1"
    MAIL_TIMEOUT = float(_env("MAIL_TIMEOUT", "10") or 10)
    MAIL_SENDER = _env("MAIL_SENDER", "tracker <no-reply@localhost>")
    MAIL_OUTBOX = _env("MAIL_OUTBOX", str(INSTANCE_DIR / "outbox"))
    # A mail the server does not take (down, silent, 4xx) is tried again, each time after
    # twice as long (a minute to an hour), for this many hours; then it has failed.
    MAIL_RETRY_HOURS = float(_env("MAIL_RETRY_HOURS", "48") or 48)

    # Background jobs (tracker.jobs): where the queue is kept, shared by the web processes
    # and `tracker worker`. Unset: a SQLite file in the instance folder (one machine);
    # several machines: Redis ("redis://127.0.0.1:6379/0").
    QUEUE_URL = _env("QUEUE_URL", f"sqlite:///{INSTANCE_DIR / 'queue.sqlite3'}")
    # Jobs one `tracker worker` runs at once (threads).
    WORKER_THREADS = _env("WORKER_THREADS", "2")  # checked at start-up

    # PBKDF2-SHA256 at 1,000,000 iterations: above OWASP ASVS's 600,000 (~0.3 s a check).
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000000"  # noqa: S105 - a method, not a secret

    # Accounts: a logged-in session ends after this many minutes without a request.
    SESSION_IDLE_MINUTES = _env("SESSION_IDLE_MINUTES", "60")  # checked at start-up
    # Failed logins allowed per account from one client address, per client address, and
    # per account from all addresses (a ceiling well above the first, so that an attacker
    # does not lock the owner out), in the `limits` notation ("5 per 15 minutes; 8 per
    # hour"); the storage is shared by every process when it is Redis
    # ("redis://127.0.0.1:6379"), counted per process with "memory://".
    LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS = _env(
        "LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS", "5 per 15 minutes"
    )
    LOGIN_LIMIT_PER_ADDRESS = _env("LOGIN_LIMIT_PER_ADDRESS", "20 per 15 minutes")
    LOGIN_LIMIT_PER_ACCOUNT = _env("LOGIN_LIMIT_PER_ACCOUNT", "100 per hour")
    # Registration forms sent from one client address (an office behind one address
    # registering its team stays well below it).
    REGISTER_LIMIT_PER_ADDRESS = _env("REGISTER_LIMIT_PER_ADDRESS", "20 per minute; 200 per hour")
    RATELIMIT_STORAGE_URI = _env("RATELIMIT_STORAGE_URL", "memory://")
    # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (nginx: 1).
    PROXY_COUNT = _env("PROXY_COUNT", "0")

    # The most badges one PDF may hold: a larger batch is refused with a clear message.
    BADGE_MAX_BATCH = int(_env("BADGE_MAX_BATCH", "5000") or 5000)
    # Every PDF is made in a child process stopped after PDF_TIMEOUT seconds or when it
    # needs more than PDF_MEMORY_LIMIT MiB; a badge batch is split over PDF_PROCESSES
    # processes (default: one per CPU).
    PDF_TIMEOUT = _env("PDF_TIMEOUT", LIMIT_DEFAULTS["PDF_TIMEOUT"])
    PDF_MEMORY_LIMIT = _env("PDF_MEMORY_LIMIT", LIMIT_DEFAULTS["PDF_MEMORY_LIMIT"])
    PDF_PROCESSES = int(_env("PDF_PROCESSES", "0") or 0) or None
    # Badges rendered ahead by the worker when a person registers or their badge data
    # changes (tracker.badges.ahead): BADGES_AHEAD=0 turns it off (a batch then renders
    # what is not kept); the worker waits BADGES_AHEAD_DELAY seconds after a change, so
    # that a burst of registrations is rendered in one go.
    BADGES_AHEAD = _env("BADGES_AHEAD", "1") not in ("0", "false", "no", "")
    BADGES_AHEAD_DELAY = int(_env("BADGES_AHEAD_DELAY", "10") or 0)
    # Above these sizes a badge batch or an export is made by the worker, with a page
    # that shows its progress and offers the file (tracker.downloads): badges, rows of a
    # CSV or XLSX export, people on a sign-in sheet (PDF).
    DOWNLOAD_JOB_BADGES = int(_env("DOWNLOAD_JOB_BADGES", "200") or 200)
    DOWNLOAD_JOB_ROWS = int(_env("DOWNLOAD_JOB_ROWS", "20000") or 20000)
    DOWNLOAD_JOB_PDF_PEOPLE = int(_env("DOWNLOAD_JOB_PDF_PEOPLE", "500") or 500)
    # An imported list is read in a child process stopped after IMPORT_TIMEOUT seconds or
    # when it needs more than IMPORT_MEMORY_LIMIT MiB; a workbook that unpacks to more
    # than IMPORT_MAX_UNZIPPED_MB is refused before it is read.
    IMPORT_TIMEOUT = _env("IMPORT_TIMEOUT", LIMIT_DEFAULTS["IMPORT_TIMEOUT"])
    IMPORT_MEMORY_LIMIT = _env("IMPORT_MEMORY_LIMIT", LIMIT_DEFAULTS["IMPORT_MEMORY_LIMIT"])
    IMPORT_MAX_UNZIPPED_MB = _env(
        "IMPORT_MAX_UNZIPPED_MB", LIMIT_DEFAULTS["IMPORT_MAX_UNZIPPED_MB"]
    )

    # Where people reach the app: every absolute link (e-mails, calendar files, PDFs)
    # starts with it, never with the request's Host. Unset: http://127.0.0.1:5000,
    # except in production, which refuses to start without it (checked by tracker.links).
    BASE_URL = _env("BASE_URL")
    # Host names the app answers to, separated by commas (Flask's TRUSTED_HOSTS); any
    # other Host header gets a 400. Unset: any host, except in production: BASE_URL's.
    TRUSTED_HOSTS = _env("TRUSTED_HOSTS")
    STRICT_TRANSPORT_SECURITY: str | None = None  # the HSTS header, in production only
    PRIVACY_URL = _env("PRIVACY_URL")  # None: the built-in privacy notice
    # The privacy notice: its version (recorded with each registration's consent; raise
    # it when the notice changes), and who the controller is, as the notice names them.
    PRIVACY_VERSION = _env("PRIVACY_VERSION", "2")
    CONTROLLER_NAME = _env("CONTROLLER_NAME")
    CONTROLLER_ADDRESS = _env("CONTROLLER_ADDRESS")
    CONTROLLER_EMAIL = _env("CONTROLLER_EMAIL")
    CONTROLLER_DPO_EMAIL = _env("CONTROLLER_DPO_EMAIL")  # the data protection officer
    # Days after an event's end when its personal data is anonymised (each event may set
    # its own on its settings page); checked at start-up.
    RETENTION_DAYS = _env("RETENTION_DAYS", "90")

    # Logs on standard error: "json" (one object per line) or "text"; unset, json in
    # production and text elsewhere. LOG_LEVEL: DEBUG, INFO, WARNING, ERROR.
    LOG_FORMAT = _env("LOG_FORMAT")
    LOG_LEVEL = _env("LOG_LEVEL", "INFO")
    # /metrics answers a request carrying "Authorization: Bearer <METRICS_TOKEN>", and
    # without a token only requests from this machine (127.0.0.1, ::1).
    METRICS_TOKEN = _env("METRICS_TOKEN")

    @classmethod
    def finalise(cls, values: dict) -> None:
        """Fill what can only be decided at start-up (called by create_app)."""
        if not values.get("SECRET_KEY"):
            values["SECRET_KEY"] = _dev_secret_key()


class TestConfig(Config):
    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "test-secret-key"  # noqa: S105 - tests only
    WTF_CSRF_ENABLED = False
    MAIL_SERVER = None
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105 - fast tests; Config is tested
    # Every test client is 127.0.0.1: the suite must not lock itself out. The login and
    # registration tests set the real limits (Config's) themselves.
    LOGIN_LIMIT_PER_ACCOUNT_AND_ADDRESS = "1000 per 15 minutes"
    LOGIN_LIMIT_PER_ACCOUNT = "1000 per 15 minutes"
    LOGIN_LIMIT_PER_ADDRESS = "1000 per 15 minutes"
    REGISTER_LIMIT_PER_ADDRESS = "1000000 per minute"
    RATELIMIT_STORAGE_URI = "memory://"
    DATABASE_URL = os.environ.get("TRACKER_TEST_DATABASE_URL", "sqlite://")
    # A job runs as soon as it is queued (after the commit): a test that needs jobs to
    # wait sets "memory://" and runs them with tracker.jobs.run_pending().
    QUEUE_URL = "immediate://"
    # Tests that are about badges kept ahead turn it on (tests/test_badges_ahead.py).
    BADGES_AHEAD = False
    BADGES_AHEAD_DELAY = 0


class ProductionConfig(Config):
    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True  # the language cookie follows it
    PREFERRED_URL_SCHEME = "https"
    STRICT_TRANSPORT_SECURITY = "max-age=31536000; includeSubDomains"  # one year

    @classmethod
    def finalise(cls, values: dict) -> None:
        key = values.get("SECRET_KEY") or ""
        if len(key) < 32 or key in {"change-me", "dev", "secret"}:
            raise RuntimeError(
                "TRACKER_SECRET_KEY must be set to a random string of at least 32 characters "
                "in production (python -c 'import secrets; print(secrets.token_hex(32))')."
            )


def check_limits(values: dict[str, Any]) -> dict[str, float]:
    """The limits of LIMIT_DEFAULTS in `values` made numbers above 0 (whole numbers of MiB
    and MB) in place, and returned; or a RuntimeError that names the variable."""
    numbers: dict[str, float] = {}
    for name in LIMIT_DEFAULTS:
        value = values.get(name)
        try:
            number = int(str(value)) if name in WHOLE_LIMITS else float(str(value))
        except ValueError:
            number = 0
        if not (number > 0 and math.isfinite(number)):
            kind = "a whole number above 0" if name in WHOLE_LIMITS else "a number above 0"
            raise RuntimeError(f"TRACKER_{name} must be {kind}, not {value!r}")
        values[name] = numbers[name] = number
    return numbers


def check_worker_threads(values: dict) -> None:
    """WORKER_THREADS in `values` as a whole number above 0, or a RuntimeError."""
    threads = str(values.get("WORKER_THREADS"))
    if not threads.isdigit() or int(threads) < 1:
        raise RuntimeError(
            f"TRACKER_WORKER_THREADS must be a whole number above 0, not {threads!r}"
        )
    values["WORKER_THREADS"] = int(threads)


def server_settings() -> dict:
    """What gunicorn.conf.py needs, read from the environment now: TRACKER_BIND,
    TRACKER_WORKERS, and a worker timeout above the app's own limits."""
    limits = {name: _env(name, default) for name, default in LIMIT_DEFAULTS.items()}
    numbers = check_limits(limits)
    longest = max(numbers["PDF_TIMEOUT"], numbers["IMPORT_TIMEOUT"])
    workers = _env("WORKERS", "2")
    try:
        count = int(str(workers))
    except ValueError:
        count = 0
    if count < 1:
        raise RuntimeError(f"TRACKER_WORKERS must be a whole number above 0, not {workers!r}")
    bind = [b.strip() for b in (_env("BIND", "127.0.0.1:8000") or "").split(",") if b.strip()]
    return {
        "bind": bind,
        "workers": count,
        "timeout": math.ceil(longest) + WORKER_TIMEOUT_MARGIN,
    }


CONFIGS = {"development": Config, "testing": TestConfig, "production": ProductionConfig}


def config_from_env() -> type[Config]:
    name = _env("ENV", "development") or "development"
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(
            f"TRACKER_ENV must be one of {', '.join(CONFIGS)}, not {name!r}"
        ) from None
