"""`tracker retention run [--dry-run]`: what the scheduled job does, at once."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from tracker.cli import one_line_errors, option
from tracker.i18n import lazy_gettext as _l
from tracker.i18n import local_date
from tracker.privacy.retention import RetentionReport, anonymisation_date


@click.group("retention", help=_l("Anonymise personal data whose retention period has passed."))
def retention_group() -> None:
    pass


@retention_group.command(
    "run",
    help=_l(
        "Warn the organisers of events anonymised within 14 days, anonymise the personal "
        "data of events whose retention period has passed, and remove the files written "
        "more than a day ago. Prints what it does."
    ),
)
@option("--dry-run", is_flag=True, help=_l("Print what would be done; change nothing."))
@with_appcontext
@one_line_errors
def retention_run(dry_run: bool) -> None:
    from tracker.privacy import retention

    db = current_app.extensions["db"].sessionmaker()
    try:
        report = retention.run(db, dry_run=dry_run)
        lines = describe(report)
        if dry_run:
            db.rollback()
        else:
            db.commit()
    finally:
        db.close()
    for line in lines:
        click.echo(line)


def describe(report: RetentionReport) -> list[str]:
    """What the run did (or, dry, would do), one line each."""
    dry = report.dry_run
    lines = []
    for event, addresses in report.warned:
        values: dict[str, object] = {
            "title": event.title,
            "slug": event.slug,
            "date": local_date(anonymisation_date(event), event.timezone, "medium"),
            "to": ", ".join(addresses) or "—",
        }
        if dry:
            lines.append(
                _("Would warn “%(title)s” (%(slug)s): anonymised on %(date)s; to %(to)s.", **values)
            )
        else:
            lines.append(
                _("Warned “%(title)s” (%(slug)s): anonymised on %(date)s; to %(to)s.", **values)
            )
    for done in report.anonymised:
        values = {
            "title": done.event.title,
            "slug": done.event.slug,
            "registrations": done.registrations,
            "scans": done.scans,
            "history": done.history,
            "files": len(done.files),
            "emails": done.emails,
        }
        if dry:
            lines.append(
                _(
                    "Would anonymise “%(title)s” (%(slug)s): %(registrations)d registrations, "
                    "%(scans)d scans, %(history)d history entries, %(emails)d e-mails in the "
                    "outbox, %(files)d in the outbox folder.",
                    **values,
                )
            )
        else:
            lines.append(
                _(
                    "Anonymised “%(title)s” (%(slug)s): %(registrations)d registrations, "
                    "%(scans)d scans, %(history)d history entries, %(emails)d e-mails in the "
                    "outbox, %(files)d in the outbox folder.",
                    **values,
                )
            )
    count = len(report.stale_files)
    if count:
        if dry:
            lines.append(_("Would remove %(num)d files written more than a day ago.", num=count))
        else:
            lines.append(_("Removed %(num)d files written more than a day ago.", num=count))
    if not lines:
        lines.append(_("Nothing to do."))
    return lines
