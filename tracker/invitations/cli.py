"""`tracker invite SLUG FILE [--send]`: record the invitees of a list and print their
personal links."""

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
    "invite",
    help=_l(
        "Invite the people of a CSV or XLSX list to the event SLUG (the columns of "
        "`tracker import`, and an optional locale column for the language of their "
        "e-mails). Addresses already invited are skipped; each invitee's personal link "
        "is printed. A refused row saves nothing."
    ),
)
@click.argument("slug")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@option("--send", is_flag=True, help=_l("E-mail the new invitees their invitation."))
@with_appcontext
@one_line_errors
def invite_command(slug: str, file: Path, send: bool) -> None:
    from tracker.events.services import get_event
    from tracker.invitations import services
    from tracker.registration.importer import ImportFileError

    if file.stat().st_size > MAX_FILE_BYTES:
        raise click.UsageError(_("%(file)s is too large.", file=file.name))
    content = file.read_bytes()
    with current_app.extensions["db"].sessionmaker.begin() as db:
        try:
            event = get_event(db, slug)
        except NotFound:
            raise click.UsageError(_("No event has the slug %(slug)s.", slug=slug)) from None
        try:
            report = services.import_invitations(db, event, file.name, content, actor=None)
        except ImportFileError as e:
            raise click.UsageError(str(e.message)) from None
        if report.refused:
            for line, label, reasons in report.refused:
                click.echo(
                    _(
                        "line %(line)d (%(label)s): %(reasons)s",
                        line=line,
                        label=label,
                        reasons=" ".join(reasons),
                    ),
                    err=True,
                )
            raise click.UsageError(
                _("%(num)d row(s) refused: nothing was saved.", num=len(report.refused))
            )  # leaving the block rolls the transaction back
        sent = services.send_invitations(db, event, report.created, actor=None) if send else 0
        for invitation in report.created:
            url = services.invitation_url(invitation)
            # For scripts as much as people: the same shape in every language.
            click.echo("\t".join((f"{invitation.full_name} <{invitation.email}>", url)))
        for line, email in report.already:
            known = services.invitation_of(db, event, email)
            click.echo(
                _(
                    "line %(line)d: %(email)s is already invited: skipped (%(url)s).",
                    line=line,
                    email=email,
                    url=services.invitation_url(known) if known else "-",
                ),
            )
    if report.ignored_columns:
        click.echo(_("Columns ignored: %(names)s.", names=", ".join(report.ignored_columns)))
    click.echo(
        _(
            "Invited: %(invited)d, already invited: %(already)d, e-mailed: %(sent)d.",
            invited=len(report.created),
            already=len(report.already),
            sent=sent,
        )
    )
