"""`tracker question add SLUG --label TEXT --kind KIND ...` and `tracker question list SLUG`."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from flask_babel import gettext as _
from sqlalchemy.orm import Session as DbSession

from tracker.cli import option
from tracker.errors import DomainError, NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.models import Event, OrganisationType, QuestionKind

question_group = click.Group("question", help=_l("The questions of an event's registration form."))

# The option that gives each field of a question (for an error's hint).
_OPTION_OF_FIELD = {
    "label": "--label",
    "kind": "--kind",
    "choices": "--choice",
    "types": "--type",
    "session_ids": "--session",
}


def _event(db: DbSession, slug: str) -> Event:
    from tracker.events.services import get_event

    try:
        return get_event(db, slug)
    except NotFound:
        raise click.BadParameter(
            _("No event has the slug %(slug)s.", slug=slug), param_hint="SLUG"
        ) from None


@question_group.command(
    "add",
    help=_l(
        "Add a question at the end of the registration form of the event SLUG. Its "
        "field is q_<id> in every form, and an imported list's column is headed by its "
        "label."
    ),
)
@click.argument("slug")
@option("--label", required=True, help=_l("The question, as people read it (1 to 300 characters)."))
@option(
    "--kind",
    required=True,
    type=click.Choice([k.value for k in QuestionKind]),
    help=_l("The kind of answer: one line, long text, yes or no, one or several choices."),
)
@option(
    "--choice",
    "choices",
    multiple=True,
    help=_l("An option of a choice (repeat the option for each, in their order)."),
)
@option("--required", is_flag=True, help=_l("An answer is required."))
@option(
    "--type",
    "types",
    multiple=True,
    type=click.Choice([t.value for t in OrganisationType]),
    help=_l("Asked only of this type of organisation (repeat for several; none: everyone)."),
)
@option(
    "--session",
    "sessions",
    multiple=True,
    type=int,
    help=_l("Asked only of people attending this session, by its id (repeat for several)."),
)
@option("--on-badge", is_flag=True, help=_l("Print the answer on the badge."))
@option("--at-door", is_flag=True, help=_l("Show the answer at the door."))
@with_appcontext
def add_command(
    slug: str,
    label: str,
    kind: str,
    choices: tuple[str, ...],
    required: bool,
    types: tuple[str, ...],
    sessions: tuple[int, ...],
    on_badge: bool,
    at_door: bool,
) -> None:
    from tracker.questions.services import QuestionSpec, add_question

    spec = QuestionSpec(
        label=label,
        kind=kind,
        choices=list(choices),
        required=required,
        types=list(types),
        session_ids=list(sessions),
        on_badge=on_badge,
        at_door=at_door,
    )
    if choices and QuestionKind(kind) not in (QuestionKind.CHOICE, QuestionKind.CHOICES):
        raise click.BadParameter(
            _("Options are only for a question of kind choice or choices."), param_hint="--choice"
        )
    with current_app.extensions["db"].sessionmaker.begin() as db:
        event = _event(db, slug)
        try:
            question = add_question(db, event, spec, actor=None)
        except DomainError as e:
            hint = _OPTION_OF_FIELD.get(e.field or "")
            raise click.BadParameter(str(e.message), param_hint=hint) from None
        click.echo(
            _(
                "question %(id)d added to %(slug)s: %(label)s (field %(field)s)",
                id=question.id,
                slug=slug,
                label=question.label,
                field=question.field_name,
            )
        )


@question_group.command("list", help=_l("List the questions of the event SLUG, in order."))
@click.argument("slug")
@with_appcontext
def list_command(slug: str) -> None:
    with current_app.extensions["db"].sessionmaker.begin() as db:
        event = _event(db, slug)
        if not event.questions:
            click.echo(_("No questions."))
        for q in event.questions:
            details = [QuestionKind(q.kind).value]
            if q.required:
                details.append(_("required"))
            if q.types:
                details.append(",".join(q.types))
            if q.session_ids:
                details.append(_("sessions %(ids)s", ids=",".join(str(i) for i in q.session_ids)))
            if q.on_badge:
                details.append(_("on the badge"))
            if q.at_door:
                details.append(_("at the door"))
            line = f"{q.field_name}\t{q.label}\t{' '.join(details)}"
            if q.choices:
                line += "\t" + " | ".join(q.choices)
            click.echo(line)
