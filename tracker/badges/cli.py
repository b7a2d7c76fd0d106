"""tracker badges SLUG -o badges.pdf [--layout ...] [--type ...] [--session ID] [--not-printed]"""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from tracker.badges.layouts import DEFAULT_LAYOUT, LAYOUTS
from tracker.badges.services import record_printed, render_badges, select_registrations
from tracker.cli import one_line_errors
from tracker.events.services import get_event, session_filter
from tracker.models import OrganisationType


@click.command("badges")
@click.argument("slug")
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--layout", type=click.Choice(list(LAYOUTS)), default=DEFAULT_LAYOUT, show_default=True
)
@click.option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in OrganisationType]),
    help="Only this organisation type (repeatable)",
)
@click.option("--session", "session_id", type=int, help="Only people registered for it")
@click.option("--not-printed", is_flag=True, help="Only badges never printed")
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
    """Print the confirmed people's badges of an event into one PDF."""
    with current_app.extensions["db"].sessionmaker.begin() as db:
        event = get_event(db, slug)
        session_filter(event, session_id)
        people = select_registrations(
            db, event, types=types, session_id=session_id, not_printed=not_printed
        )
        pdf = render_badges(event, people, layout)
        output.write_bytes(pdf)
        record_printed(people)
        click.echo(f"{len(people)} badges ({layout}) written to {output}")
