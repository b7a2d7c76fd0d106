"""tracker mail SLUG --subject TEXT --body-file FILE [filters] | --certificates;
tracker reminders: the organiser screens' mailings from the command line."""

from __future__ import annotations

from typing import IO

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from flask_babel import ngettext

from tracker.cli import one_line_errors, option
from tracker.errors import NotFound
from tracker.events.services import get_event, session_filter
from tracker.i18n import lazy_gettext as _l
from tracker.mailings import services
from tracker.models import OrganisationType, RegistrationStatus
from tracker.organiser.services import Filters


def _show(preview: services.Preview) -> None:
    click.echo(
        ngettext(
            "This e-mail goes to %(num)d person.",
            "This e-mail goes to %(num)d people.",
            preview.recipients.count,
        )
    )
    for language, count, message in preview.samples:
        name = services.LANGUAGE_NAMES.get(language, language)
        people = ngettext("%(num)d person", "%(num)d people", count)
        click.echo("")
        click.echo(click.style(f"{name} · {people}", bold=True))
        click.echo(_("Subject") + ": " + message.subject)
        click.echo(message.text)


@click.command(
    "mail",
    help=_l(
        "E-mail the registrations of an event that the filters select (as the "
        "registrations list does), or everyone present their certificate of attendance. "
        "Shows the count and a preview, then asks before sending."
    ),
)
@click.argument("slug")
@option("--subject", help=_l("The message’s subject."))
@option(
    "--body-file",
    type=click.File("r", encoding="utf-8"),
    help=_l("The message, as plain text (- reads standard input)."),
)
@option("--type", "type_", type=click.Choice([t.value for t in OrganisationType]))
@option("--status", type=click.Choice([s.value for s in RegistrationStatus]))
@option("--session", "session", help=_l("One session (its id)."))
@option("--checked-in", "checked_in", type=click.Choice(["yes", "no"]))
@option(
    "--certificates",
    is_flag=True,
    help=_l("Send everyone checked in their certificate of attendance instead."),
)
@option("--dry-run", is_flag=True, help=_l("Show the count and the preview; send nothing."))
@option("--yes", is_flag=True, help=_l("Send without asking."))
@with_appcontext
@one_line_errors
def mail_command(
    slug: str,
    subject: str | None,
    body_file: IO[str] | None,
    type_: str | None,
    status: str | None,
    session: str | None,
    checked_in: str | None,
    certificates: bool,
    dry_run: bool,
    yes: bool,
) -> None:
    with current_app.extensions["db"].sessionmaker.begin() as db:
        try:
            event = get_event(db, slug)
        except NotFound:
            raise click.ClickException(_("No event has the slug %(slug)s.", slug=slug)) from None
        if certificates:
            preview = services.preview_certificates(db, event)
            _show(preview)
            if dry_run or not _confirm(preview, yes):
                return
            sent = services.send_certificates(
                db,
                event,
                actor=None,
                nonce=services.new_nonce(),
                expected=preview.recipients.count,
            )
        else:
            if not subject or body_file is None:
                raise click.UsageError(_("Give --subject and --body-file (or --certificates)."))
            filters = Filters(
                type=type_ or "",
                status=status or "",
                session=session_filter(event, session),
                checked_in=checked_in or "",
            )
            draft, preview = services.preview_message(
                db, event, filters, services.Draft(subject, body_file.read())
            )
            _show(preview)
            if dry_run or not _confirm(preview, yes):
                return
            sent = services.send_message(
                db,
                event,
                filters,
                draft,
                actor=None,
                nonce=services.new_nonce(),
                expected=preview.recipients.count,
            )
    click.echo(
        ngettext(
            "The e-mail is on its way to %(num)d person.",
            "The e-mail is on its way to %(num)d people.",
            sent.mailing.recipients,
        )
    )


def _confirm(preview: services.Preview, yes: bool) -> bool:
    if not preview.recipients.count:
        return False
    return yes or click.confirm(
        ngettext("Send to %(num)d person", "Send to %(num)d people", preview.recipients.count) + "?"
    )


@click.command(
    "reminders",
    help=_l(
        "Send the reminders that are due now (the worker does it every five minutes; "
        "each person gets one once)."
    ),
)
@with_appcontext
@one_line_errors
def reminders_command() -> None:
    with current_app.extensions["db"].sessionmaker.begin() as db:
        sent = services.send_due_reminders(db)
    for slug, count in sent.items():
        click.echo(_("%(slug)s: %(num)d reminded", slug=slug, num=count))
    if not sent:
        click.echo(_("No reminder is due."))
