"""The event's questions as form fields, named `q_<id>`, added to a registration form
(public, organiser's, private edit, walk-in), and the organiser's question form.

A question's field is checked only when the question applies to the type and sessions
chosen in the same form (tracker.questions.answers.is_asked), with the rules of
tracker.questions.services.clean_answer, the one the services apply again.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    Field,
    Form,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice  # type: ignore[attr-defined]  # (WTForms 3.2; its stubs lag)
from wtforms.form import BaseForm
from wtforms.validators import DataRequired, InputRequired, StopValidation

from tracker.errors import InvalidChoice
from tracker.i18n import lazy_gettext as _l
from tracker.models import Event, OrganisationType, Question, QuestionKind
from tracker.questions.answers import NO, YES, YES_NO_LABELS, is_asked
from tracker.questions.services import LONG_TEXT_LENGTH, TEXT_LENGTH, clean_answer
from tracker.registration.forms import (
    REQUIRED,
    TYPE_SHORT_LABELS,
    MultiCheckboxField,
    at_most,
    no_control_characters,
    not_blank,
)

F = TypeVar("F", bound=Form)

KIND_LABELS = {
    QuestionKind.TEXT: _l("Short text (one line)"),
    QuestionKind.LONG_TEXT: _l("Long text"),
    QuestionKind.YES_NO: _l("Yes or no"),
    QuestionKind.CHOICE: _l("One choice among options"),
    QuestionKind.CHOICES: _l("Several choices among options"),
}


class _Check:
    """A question's rules, when it applies to what the form says of the person: its
    organisation type, and its sessions (the `sessions` ticked, or the door's one
    `session`)."""

    def __init__(self, question: Question) -> None:
        self.question = question

    def __call__(self, form: Form, field: Field) -> None:
        type_field = getattr(form, "organisation_type", None)
        type_value = type_field.data if type_field is not None else None
        if type_value not in {t.value for t in OrganisationType}:
            type_value = None
        field.errors = []
        if not is_asked(self.question, type_value, form_sessions(form)):
            field.asked = False  # type: ignore[attr-defined]
            raise StopValidation()
        field.asked = True  # type: ignore[attr-defined]
        try:
            field.cleaned = clean_answer(self.question, values_of(field))  # type: ignore[attr-defined]
        except InvalidChoice as e:
            raise StopValidation(str(e.message)) from None


class _Radio(RadioField):
    def pre_validate(self, form: BaseForm) -> None:  # the options are checked by _Check
        pass


class _Checkboxes(MultiCheckboxField):
    def pre_validate(self, form: BaseForm) -> None:
        pass


def values_of(field: Field) -> list[str]:
    data = field.data
    if data is None:
        return []
    if isinstance(data, list | tuple):
        return [str(v) for v in data]
    return [str(data)]


def form_sessions(form: Form) -> list[int]:
    sessions = getattr(form, "sessions", None)
    if sessions is not None:
        return [i for i in (sessions.data or []) if isinstance(i, int)]
    session = getattr(form, "session", None)  # the door's walk-in
    if session is not None and isinstance(session.data, int):
        return [session.data]
    return []


def question_field(question: Question) -> Field:
    label = (
        question.label if question.required else _l("%(label)s (optional)", label=question.label)
    )
    check = _Check(question)
    kind = QuestionKind(question.kind)
    if kind is QuestionKind.TEXT:
        return StringField(label, validators=[check], render_kw={"maxlength": TEXT_LENGTH})
    if kind is QuestionKind.LONG_TEXT:
        return TextAreaField(
            label, validators=[check], render_kw={"maxlength": LONG_TEXT_LENGTH, "rows": 4}
        )
    if kind is QuestionKind.YES_NO:
        return _Radio(
            label,
            choices=[SelectChoice(YES, YES_NO_LABELS[YES]), SelectChoice(NO, YES_NO_LABELS[NO])],
            validators=[check],
            validate_choice=False,
        )
    if kind is QuestionKind.CHOICE:
        return _Radio(
            label,
            choices=[SelectChoice(c, c) for c in question.choices],
            validators=[check],
            validate_choice=False,
        )
    return _Checkboxes(
        label,
        choices=[SelectChoice(c, c) for c in question.choices],
        validators=[check],
        validate_choice=False,
    )


def with_questions(form_class: type[F], questions: Iterable[Question]) -> type[F]:
    """`form_class` with a `q_<id>` field for each of `questions`."""
    fields = {q.field_name: question_field(q) for q in questions}
    if not fields:
        return form_class
    return type(form_class.__name__, (form_class,), fields)


def answers_of_form(form: Form, questions: Iterable[Question]) -> dict[int, list[str]]:
    """The answers of a validated form: one entry per question that applies (possibly
    empty: no answer), none for the others (their answers go)."""
    found: dict[int, list[str]] = {}
    for question in questions:
        field = getattr(form, question.field_name, None)
        if field is not None and getattr(field, "asked", False):
            found[question.id] = list(getattr(field, "cleaned", []))
    return found


def fill_answers(form: Form, questions: Iterable[Question], stored: dict[int, list[str]]) -> None:
    """Show the stored answers in a form shown for editing."""
    for question in questions:
        field = getattr(form, question.field_name, None)
        if field is None:
            continue
        values = stored.get(question.id, [])
        if QuestionKind(question.kind) is QuestionKind.CHOICES:
            field.data = values
        else:
            field.data = values[0] if values else None


def rules_of(event: Event) -> dict[int, dict[str, Any]]:
    """For the page's script: per question id, the types and sessions it is limited to."""
    return {
        q.id: {"types": q.types or [], "sessions": q.session_ids or []} for q in event.questions
    }


# --- the organiser's question form ------------------------------------------------------


class QuestionForm(FlaskForm):
    label = StringField(
        _l("Question"),
        validators=[DataRequired(REQUIRED), not_blank, at_most(300), no_control_characters],
        render_kw={"maxlength": 300},
    )
    kind = RadioField(
        _l("Kind of answer"),
        choices=[SelectChoice(k.value, label) for k, label in KIND_LABELS.items()],
        default=QuestionKind.TEXT.value,
        validators=[InputRequired(_l("Choose the kind of answer."))],
    )
    choices = TextAreaField(
        _l("Options, one a line (for a choice)"),
        validators=[at_most(10_000)],
        render_kw={"rows": 5},
    )
    required = BooleanField(_l("An answer is required"))
    types = MultiCheckboxField(
        _l("Only for these types of organisation"),
        choices=[SelectChoice(t.value, label) for t, label in TYPE_SHORT_LABELS.items()],
    )
    session_ids = MultiCheckboxField(
        _l("Only for people attending one of these sessions"), coerce=int, choices=[]
    )
    on_badge = BooleanField(_l("Printed on the badge"))
    at_door = BooleanField(_l("Shown at the door"))

    def option_lines(self) -> list[str]:
        return (self.choices.data or "").splitlines()
