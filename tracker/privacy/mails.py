"""The e-mail that warns an event's organisers that its personal data will be anonymised."""

from __future__ import annotations

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession

from tracker import mail
from tracker.links import absolute_url
from tracker.models import Event, User
from tracker.privacy.retention import anonymisation_date


def send_retention_warning(db: DbSession, event: Event, recipients: list[User]) -> None:
    """One e-mail to each of `recipients`, in the app's default language, with the date
    and the links to the exports to download before it."""
    locale = str(current_app.config.get("BABEL_DEFAULT_LOCALE") or "fr")
    with force_locale(locale):
        context = {
            "event": event,
            "when": anonymisation_date(event),
            "stats_url": absolute_url("reports.dashboard", slug=event.slug),
            "exports": [
                (_("Headcount (XLSX)"), _export(event, "headcount", "xlsx")),
                (_("Attendance report (PDF)"), _export(event, "headcount", "pdf")),
                (_("Attendees (XLSX)"), _export(event, "attendees", "xlsx")),
                (_("Check-in log (XLSX)"), _export(event, "checkins", "xlsx")),
            ],
            "settings_url": absolute_url("organiser.edit_event", slug=event.slug),
        }
        subject = _("Personal data to be anonymised: %(title)s", title=event.title)
        text = render_template("email/retention_warning.txt", **context)
        html = render_template("email/retention_warning.html", **context)
    for user in recipients:
        composed = mail.Mail(to=user.email, subject=subject, text=text, html=html)
        mail.queue(db, kind="retention_warning", composed=composed)


def _export(event: Event, what: str, fmt: str) -> str:
    return absolute_url("reports.download", slug=event.slug, what=what, format=fmt)
