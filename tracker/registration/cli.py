"""`tracker capacity recompute [SLUG]`: count the place counters again from the rows."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy import select

from tracker.cli import one_line_errors
from tracker.errors import NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.models import Event

capacity_group = click.Group("capacity", help=_l("The counters of confirmed places."))


@capacity_group.command(
    "recompute",
    help=_l(
        "Count the confirmed places of the event SLUG (of every event without it) again "
        "from its registrations, per event, organisation type and session, and the "
        "registrations per type, status and session that the statistics read, and "
        "correct the counters that differ. Prints what it changed."
    ),
)
@click.argument("slug", required=False)
@with_appcontext
@one_line_errors
def recompute_command(slug: str | None) -> None:
    from tracker.events.services import get_event
    from tracker.registration.capacity import recompute
    from tracker.registration.services import lock_event
    from tracker.reports import counts

    changed_events = 0
    with current_app.extensions["db"].sessionmaker.begin() as db:
        if slug is not None:
            try:
                chosen = [get_event(db, slug)]
            except NotFound:
                raise click.ClickException(
                    _("No event has the slug %(slug)s.", slug=slug)
                ) from None
        else:
            chosen = list(db.scalars(select(Event).order_by(Event.id)))
        for event in chosen:
            event = lock_event(db, event)
            changed = recompute(db, event) | counts.recompute(db, event)
            if changed:
                changed_events += 1
            for scope, (stored, counted) in changed.items():
                click.echo(
                    _(
                        "%(slug)s: %(scope)s was %(stored)d, counted %(counted)d.",
                        slug=event.slug,
                        scope=scope,
                        stored=stored,
                        counted=counted,
                    )
                )
    click.echo(
        _(
            "Events checked: %(checked)d, corrected: %(changed)d.",
            checked=len(chosen),
            changed=changed_events,
        )
    )
