"""`tracker import SLUG FILE [--dry-run]`: the organiser page's import, from a shell."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _

from tracker.cli import one_line_errors, option
from tracker.errors import NotFound
from tracker.i18n import lazy_gettext as _l

MAX_FILE_BYTES = 50 * 1024 * 1024


@click.command(
    "import",
    help=_l(
        "Import a CSV or XLSX list of invitees into the event SLUG (columns: the "
        "registration form’s field names, or their French names). Prints the refused "
        "rows and the counts."
    ),
)
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@option("--dry-run", is_flag=True, help=_l("Show what would be imported; change nothing."))
@option("--send-emails", is_flag=True, help=_l("E-mail each imported person a confirmation."))
@with_appcontext
@one_line_errors
def import_command(slug: str, file: Path, dry_run: bool, send_emails: bool) -> None:
    from tracker.events.services import get_event
    from tracker.registration.importer import import_file

    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.ClickException(_("%(file)s is too large.", file=file.name))
    content = file.read_bytes()
    with current_app.extensions["db"].sessionmaker.begin() as db:
        try:
            event = get_event(db, slug)
        except NotFound:
            raise click.ClickException(_("No event has the slug %(slug)s.", slug=slug)) from None
        report = import_file(
            db, event, file.name, content, actor=None, dry_run=dry_run, send_emails=send_emails
        )
    for row in report.refused:
        click.echo(_("line %(line)d: %(reasons)s", line=row.line, reasons=" ".join(row.reasons)))
    if report.ignored_columns:
        click.echo(_("Columns ignored: %(names)s.", names=", ".join(report.ignored_columns)))
    counts = report.counts()
    if dry_run:
        click.echo(
            _(
                "Dry run, nothing changed. Would import: %(imported)d (confirmed: "
                "%(confirmed)d, waitlisted: %(waitlisted)d), already registered: "
                "%(already_registered)d, refused: %(refused)d.",
                **counts,
            )
        )
    else:
        click.echo(
            _(
                "Imported: %(imported)d (confirmed: %(confirmed)d, waitlisted: "
                "%(waitlisted)d), already registered: %(already_registered)d, refused: "
                "%(refused)d.",
                **counts,
            )
        )
