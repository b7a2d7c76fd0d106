"""Languages: French and English, chosen by cookie, then Accept-Language."""

from __future__ import annotations

import copy
import os
from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import (
    format_date,
    format_interval,
    format_time,
    get_datetime_format,
    get_time_format,
)
from flask import Blueprint, Flask, current_app, has_request_context, redirect, request, url_for
from flask.json.provider import DefaultJSONProvider
from flask_babel import Babel, get_locale, gettext
from flask_babel.speaklater import LazyString
from markupsafe import Markup, escape
from werkzeug.wrappers import Response

LANG_COOKIE = "lang"
bp = Blueprint("i18n", __name__)


class TextLazyString(LazyString):
    """A message translated when it is used, which is plain text: a page shows it
    escaped, its interpolated values included.

    Flask-Babel's LazyString answers `__html__` with the bare text, so Jinja, WTForms
    and `markupsafe.escape` take it for markup that is already safe: a session title or
    a query parameter in a message was written into the page as HTML."""

    def __html__(self) -> Markup:
        return escape(str(self))


# A date's width, as Babel names it.
Width = Literal["full", "long", "medium", "short"]

# What a label or message may be: text, or a message translated when it is shown.
Text = str | LazyString


def lazy_gettext(string: str, **variables: object) -> LazyString:
    """The lazy gettext of the whole app (imported as `_l`): never Flask-Babel's."""
    return TextLazyString(gettext, string, **variables)


class JSONProvider(DefaultJSONProvider):
    """A lazy message in JSON is its text, not the escaped HTML that the default
    provider makes of anything with an `__html__`."""

    @staticmethod
    def default(o: object) -> object:
        if isinstance(o, LazyString):
            return str(o)
        return DefaultJSONProvider.default(o)


def select_locale() -> str:
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # the command line speaks the shell's language
        return _environment_locale() or current_app.config["BABEL_DEFAULT_LOCALE"]
    chosen = request.cookies.get(LANG_COOKIE)
    if chosen is not None and chosen in languages:
        return chosen
    return (
        request.accept_languages.best_match(languages) or current_app.config["BABEL_DEFAULT_LOCALE"]
    )


def _environment_locale() -> str | None:
    """The shell's language, read as gettext reads it (and click's own words with it:
    tracker.cli.translate_click): LANGUAGE (a list such as "fr:en", its first supported
    language), then LC_ALL, LC_MESSAGES, LANG."""
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name)
        if not value:
            continue
        for language in value.split(":") if name == "LANGUAGE" else [value]:
            code = language.lower()
            if code.startswith("fr"):
                return "fr"
            if code.startswith("en") or code in {"c", "posix"} or name != "LANGUAGE":
                return "en"
    return None


def is_local_path(target: str) -> bool:
    """A path on this site: browsers drop tabs and newlines and read "\\" as "/",
    so "/\t/evil.example" would leave the site."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in target) or "\\" in target:
        return False
    parts = urlsplit(target)
    return (
        target.startswith("/")
        and not target.startswith("//")
        and not parts.netloc
        and not parts.scheme
    )


@bp.route("/lang/<code>")
def switch(code: str) -> Response:
    target = request.args.get("next", "")
    if not is_local_path(target):  # never an open redirect
        target = url_for("events.index")
    response = redirect(target)
    if code in current_app.config["LANGUAGES"]:
        response.set_cookie(
            LANG_COOKIE,
            code,
            max_age=365 * 24 * 3600,
            samesite="Lax",
            httponly=True,
            secure=current_app.config.get("SESSION_COOKIE_SECURE", False),  # HTTPS only
        )
    return response


def local_datetime(value: datetime, tz: str, fmt: Width = "long") -> str:
    """A UTC datetime shown in the event's time zone, in the reader's language: the date
    at the width `fmt` and the time to the minute, joined by the locale's own pattern
    ("4 janvier 2027, 09:00"). Never seconds, never a zone ("+0100"): a page shows the
    event's zone once, where it shows the event's time."""
    locale = str(get_locale())
    local = value.astimezone(ZoneInfo(tz))
    return (
        str(get_datetime_format(fmt, locale=locale))
        .replace("{0}", format_time(local, "short", locale=locale))
        .replace("{1}", format_date(local, fmt, locale=locale))
    )


def local_date(value: datetime, tz: str, fmt: Width | str = "full") -> str:
    return format_date(value.astimezone(ZoneInfo(tz)), fmt, locale=str(get_locale()))


def local_time(value: datetime, tz: str, fmt: Width | str = "short") -> str:
    return format_time(value, fmt, tzinfo=ZoneInfo(tz), locale=str(get_locale()))


def time_span(start: datetime, end: datetime | None, tz: str, fmt: Width = "full") -> str:
    """From `start` to `end` in the zone `tz`, as the reader's language writes it: the
    date once and both times on one day ("lundi 4 janvier 2027, 09:00 – 17:00"), both
    dates and times across days; `start` alone without an end. The one way an event's or
    a session's time span is shown (pages, e-mails, PDFs)."""
    if end is None:
        return local_datetime(start, tz, fmt)
    locale = str(get_locale())
    zone = ZoneInfo(tz)
    first, last = start.astimezone(zone), end.astimezone(zone)
    if first.date() != last.date():
        return (
            Locale.parse(locale)
            .interval_formats[None]
            .replace("{0}", local_datetime(start, tz, fmt))
            .replace("{1}", local_datetime(end, tz, fmt))
        )
    # The locale's clock: 24 hours in French, 12 in English.
    clock = "H" if "H" in get_time_format("short", locale=locale).pattern else "h"
    times = format_interval(first, last, f"{clock}m", tzinfo=zone, locale=locale)
    return (
        str(get_datetime_format(fmt, locale=locale))
        .replace("{0}", times)
        .replace("{1}", format_date(first, fmt, locale=locale))
    )


def event_span(event: Any, fmt: Width = "full") -> str:
    """An event's (or a session's, given its event's zone) time span: see time_span."""
    return time_span(event.starts_at, event.ends_at, event.timezone, fmt)


def percent(value: float | None) -> str:
    """A rate as a percentage in the reader's language, to one decimal at most, in the
    locale's own pattern ("39,5 %" in French, "39.5%" in English); a dash when there is
    none."""
    if value is None:
        return "–"
    locale = Locale.parse(str(get_locale()))
    pattern = copy.copy(locale.percent_formats[None])
    pattern.frac_prec = (0, 1)
    return pattern.apply(value, locale)


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)
    app.json = JSONProvider(app)
    app.register_blueprint(bp)
    app.jinja_env.filters.update(
        local_datetime=local_datetime,
        local_date=local_date,
        local_time=local_time,
        time_span=time_span,
        event_span=event_span,
        percent=percent,
    )
    app.jinja_env.globals.update(get_locale=get_locale)
