"""The organiser's pages of an event's questions: the list in order, add, edit, move,
delete (after a confirmation). On the organiser blueprint, with its access rule: an
organiser reaches the events they manage only (event_for)."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from werkzeug.wrappers import Response as BaseResponse
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)

from tracker.auth.access import MANAGE, event_for, require
from tracker.db import get_db
from tracker.errors import DomainError
from tracker.models import Event, OrganisationType, Question, QuestionKind
from tracker.organiser.views import bp
from tracker.organiser.views.common import INVALID, _actor, _show_domain_error
from tracker.questions import services
from tracker.questions.forms import KIND_LABELS, QuestionForm
from tracker.registration.forms import TYPE_SHORT_LABELS


@bp.app_template_global("question_limits")
def question_limits(question: Question) -> str:
    """Who a question is asked of, for the hint beside it ("" for everyone)."""
    parts = []
    if question.types:
        parts += [str(TYPE_SHORT_LABELS[OrganisationType(t)]) for t in question.types]
    if question.session_ids:
        titles = {s.id: s.title for s in question.event.sessions}
        parts += [titles[i] for i in question.session_ids if i in titles]
        if not any(i in titles for i in question.session_ids):
            parts.append(_("a session since deleted (nobody is asked)"))
    if not parts:
        return ""
    return _("Only for: %(who)s", who=", ".join(parts))


def _form(event: Event) -> QuestionForm:
    form = QuestionForm()
    form.session_ids.choices = [SelectChoice(s.id, s.title) for s in event.sessions]
    return form


def _spec(form: QuestionForm) -> services.QuestionSpec:
    return services.QuestionSpec(
        label=form.label.data or "",
        kind=form.kind.data or "",
        choices=form.option_lines(),
        required=bool(form.required.data),
        types=list(form.types.data or []),
        session_ids=list(form.session_ids.data or []),
        on_badge=bool(form.on_badge.data),
        at_door=bool(form.at_door.data),
    )


def _page(form: QuestionForm, event: Event, item: Question | None, status: int) -> tuple[str, int]:
    return render_template(
        "organiser/question_form.html", form=form, event=event, item=item
    ), status


def _back(event: Event) -> BaseResponse:
    return redirect(url_for(".questions", slug=event.slug), code=303)


@bp.route("/events/<slug>/questions")
@require(MANAGE)
def questions(slug: str) -> str:
    event = event_for(slug, MANAGE)
    return render_template(
        "organiser/questions.html",
        event=event,
        kind_labels={k.value: label for k, label in KIND_LABELS.items()},
        choice_kinds={k.value for k in services.CHOICE_KINDS},
    )


@bp.route("/events/<slug>/questions/new", methods=["GET", "POST"])
@require(MANAGE)
def new_question(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    form = _form(event)
    if request.method == "GET":
        return _page(form, event, None, 200)
    if form.validate_on_submit():
        try:
            services.add_question(get_db(), event, _spec(form), actor=_actor())
        except DomainError as e:
            _show_domain_error(form, e)
        else:
            flash(_("The question has been added."), "success")
            return _back(event)
    return _page(form, event, None, INVALID)


@bp.route("/events/<slug>/questions/<int:question_id>/edit", methods=["GET", "POST"])
@require(MANAGE)
def edit_question(slug: str, question_id: int) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    item = services.get_question(event, question_id)
    form = _form(event)
    if request.method == "GET":
        form.label.data = item.label
        form.kind.data = QuestionKind(item.kind).value
        form.choices.data = "\n".join(item.choices or [])
        form.required.data = item.required
        form.types.data = list(item.types or [])
        form.session_ids.data = list(item.session_ids or [])
        form.on_badge.data = item.on_badge
        form.at_door.data = item.at_door
        return _page(form, event, item, 200)
    if form.validate_on_submit():
        try:
            changes = services.edit_question(get_db(), item, _spec(form), actor=_actor())
        except DomainError as e:
            _show_domain_error(form, e)
        else:
            flash(
                _("The question has been saved.") if changes else _("Nothing was changed."),
                "success",
            )
            return _back(event)
    return _page(form, event, item, INVALID)


@bp.route("/events/<slug>/questions/<int:question_id>/move", methods=["POST"])
@require(MANAGE)
def move_question(slug: str, question_id: int) -> BaseResponse:
    event = event_for(slug, MANAGE)
    item = services.get_question(event, question_id)
    offset = -1 if request.form.get("direction") == "up" else 1
    services.move_question(get_db(), item, offset, actor=_actor())
    return _back(event)


@bp.route("/events/<slug>/questions/<int:question_id>/delete", methods=["GET", "POST"])
@require(MANAGE)
def delete_question(slug: str, question_id: int) -> BaseResponse | tuple[str, int]:
    """GET: the confirmation page (how many people answered); POST: delete."""
    event = event_for(slug, MANAGE)
    db = get_db()
    item = services.get_question(event, question_id)
    if request.method == "GET":
        return render_template(
            "organiser/question_delete.html",
            event=event,
            item=item,
            answered=services.answered_count(db, item),
        ), 200
    label = item.label
    answered = services.delete_question(db, item, actor=_actor())
    flash(
        ngettext(
            "The question “%(label)s” has been deleted, with the answer of %(num)d person.",
            "The question “%(label)s” has been deleted, with the answers of %(num)d people.",
            answered,
            label=label,
        )
        if answered
        else _("The question “%(label)s” has been deleted.", label=label),
        "success",
    )
    return _back(event)
