"""tracker badges SLUG -o badges.pdf [--layout ...] [--type ...] [--session ID] [--not-printed]"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from tracker.badges.layouts import DEFAULT_LAYOUT, LAYOUTS
from tracker.badges.services import record_printed, render_badges, select_registrations
from tracker.cli import one_line_errors, option, progress_bar
from tracker.events.services import get_event, session_filter
from tracker.i18n import lazy_gettext as _l
from tracker.models import OrganisationType


@click.command("badges", help=_l("Print the confirmed people’s badges of an event into one PDF."))
@click.argument("slug")
@option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help=_l("The PDF file to write."),
)
@option(
    "--layout",
    type=click.Choice(list(LAYOUTS)),
    default=DEFAULT_LAYOUT,
    show_default=True,
    help=_l("The badge layout."),
)
@option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in OrganisationType]),
    help=_l("Only this organisation type (repeatable)"),
)
@option("--session", "session_id", type=int, help=_l("Only people registered for it"))
@option("--not-printed", is_flag=True, help=_l("Only badges never printed"))
@with_appcontext
@one_line_errors
def badges_command(
    slug: str,
    output: Path,
    layout: str,
    types: tuple[str, ...],
    session_id: int | None,
    not_printed: bool,
) -> None:
    with current_app.extensions["db"].sessionmaker.begin() as db:
        event = get_event(db, slug)
        session_filter(event, session_id)
        people = select_registrations(
            db, event, types=types, session_id=session_id, not_printed=not_printed
        )
        pdf = render_badges(db, event, people, layout, progress=progress_bar(_("Pages")))
        output.write_bytes(pdf)
        record_printed(people)
        click.echo(
            ngettext(
                "%(num)d badge (%(layout)s) written to %(file)s",
                "%(num)d badges (%(layout)s) written to %(file)s",
                len(people),
                layout=layout,
                file=output,
            )
        )
