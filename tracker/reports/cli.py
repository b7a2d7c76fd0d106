"""tracker export SLUG --what WHAT --format FMT -o FILE [--session ID] [--bom] [--separator ';']"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import format_number
from flask_babel import gettext as _

from tracker.cli import one_line_errors, option, progress_bar
from tracker.errors import NotFound
from tracker.events.services import get_event
from tracker.i18n import lazy_gettext as _l
from tracker.reports.exports import EXPORTS, FORMATS, SEPARATORS, parse_options


@click.command(
    "export",
    help=_l(
        "Export an event’s headcount, attendees or check-in log (CSV, XLSX), or its "
        "headcount report or sign-in sheet (PDF). Texts follow the shell’s language."
    ),
)
@click.argument("slug")
@option("--what", required=True, type=click.Choice(list(EXPORTS)), help=_l("What to export"))
@option("--format", "fmt", required=True, type=click.Choice(FORMATS), help=_l("The file format."))
@option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_l("The file to write."),
)
@option("--session", "session_id", type=int, help=_l("One session (sign-in sheet only)"))
@option("--bom", is_flag=True, help=_l("CSV: start with a UTF-8 byte-order mark (Excel)"))
@option(
    "--separator",
    type=click.Choice(SEPARATORS),
    default=",",
    show_default=True,
    help=_l("CSV: the field separator (';' for French Excel, with decimal commas)"),
)
@with_appcontext
@one_line_errors
def export_command(
    slug: str,
    what: str,
    fmt: str,
    output: Path,
    session_id: int | None,
    bom: bool,
    separator: str,
) -> None:
    export, options = parse_options(what, fmt, session=session_id, bom=bom, separator=separator)
    # Reading only: on SQLite the doors keep checking in while a large export runs.
    with current_app.extensions["db"].read_session() as db:
        try:
            event = get_event(db, slug)
        except NotFound:
            raise click.ClickException(_("No event has the slug %(slug)s.", slug=slug)) from None
        # TRANSLATORS: the label of the command's progress bar (rows of a list, people of a PDF)
        label = _("People") if fmt == "pdf" else _("Rows")
        rendered = export.render(db, event, options, progress=progress_bar(label))
    output.write_bytes(rendered.body)
    click.echo(
        _(
            "%(what)s (%(format)s, %(size)s bytes) written to %(file)s",
            what=export.label,
            format=fmt,
            size=format_number(len(rendered.body)),
            file=output,
        )
    )
