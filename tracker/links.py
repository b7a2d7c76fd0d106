"""Absolute links, and the host names the app answers to.

Every absolute URL that leaves the app (in an e-mail, a calendar file, a PDF) starts
with BASE_URL, in a request or not: the request's Host header is chosen by whoever
sends it, and a link built from it would send an attendee's private link to their host.

TRUSTED_HOSTS is Flask's own setting: a request whose Host is not in the list is
refused with a 400 before any view runs (see tracker.errors). Production answers only
the host of BASE_URL unless TRACKER_TRUSTED_HOSTS names others.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response, current_app

DEFAULT_BASE_URL = "http://127.0.0.1:5000"


def check_base_url(value: object, *, required: bool) -> str:
    """The base URL without its trailing slash; RuntimeError if it cannot be one."""
    if value in (None, ""):
        if required:
            raise RuntimeError(
                "TRACKER_BASE_URL must be set in production: the address people reach the "
                "app at, such as https://events.example.org (every link in e-mails, calendar "
                "files and PDFs starts with it)."
            )
        value = DEFAULT_BASE_URL
    text = str(value).strip()
    problem = None
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError:
        problem = "it cannot be read as a URL"
    else:
        if parts.scheme not in ("http", "https"):
            problem = "it must start with https:// or http://"
        elif not parts.hostname:
            problem = "it has no host name"
        elif parts.username is not None or parts.password is not None:
            problem = "it must not hold a user name or password"
        elif parts.query or parts.fragment or text.endswith(("?", "#")):
            problem = "it must not have a query string or a fragment"
        elif any(c.isspace() for c in text):
            problem = "it must not contain spaces"
    if problem:
        raise RuntimeError(
            f"TRACKER_BASE_URL must be an absolute http(s) URL such as "
            f"https://events.example.org, not {text!r}: {problem}."
        )
    return text.rstrip("/")


def check_trusted_hosts(value: object, base_url: str, *, production: bool) -> list[str] | None:
    """Flask's TRUSTED_HOSTS: a list of host names (".example.org" also allows its
    subdomains), or None for any host. Production defaults to BASE_URL's host."""
    if isinstance(value, str):
        value = value.split(",")
    # werkzeug compares with the request's host in lower case, and reads an empty list
    # as "any host": an empty setting is no setting.
    hosts = [str(name).strip().lower() for name in value or ()]  # type: ignore[attr-defined]
    hosts = [name for name in hosts if name]
    if not hosts:
        return [urlsplit(base_url).hostname or ""] if production else None
    for name in hosts:
        if not name or any(c in name for c in "/:@ \t") or name.strip(".") == "":
            raise RuntimeError(
                "TRACKER_TRUSTED_HOSTS must be host names separated by commas, such as "
                f"events.example.org,www.events.example.org (no scheme, no port), not {name!r}."
            )
    return hosts


def absolute_url(endpoint: str, **values: object) -> str:
    """The absolute URL of `endpoint`, on BASE_URL (never on the request's host)."""
    parts = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme
    )
    return adapter.build(endpoint, values, force_external=True)


def init_app(app: Flask) -> None:
    production = app.config.get("ENV_NAME") == "production"
    base_url = check_base_url(app.config.get("BASE_URL"), required=production)
    app.config["BASE_URL"] = base_url
    app.config["TRUSTED_HOSTS"] = check_trusted_hosts(
        app.config.get("TRUSTED_HOSTS"), base_url, production=production
    )


def private_page(response: Response) -> Response:
    """A page reached through a private link (its token in the URL, personal data in the
    page): kept out of caches, Referer headers and search engines."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
