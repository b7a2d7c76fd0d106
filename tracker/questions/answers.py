"""Reading answers: who is asked what, and what they answered, as stored and as text.

Answers are rows of models.Answer, one per value: text as typed, "yes"/"no", and the
text of each option chosen. Every screen, export and count reads them from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, distinct, exists, func, select
from sqlalchemy.orm import Session as DbSession

from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    ENTRANCE,
    Answer,
    CheckIn,
    Event,
    OrganisationType,
    Question,
    QuestionKind,
    Registration,
    RegistrationStatus,
)

YES, NO = "yes", "no"
YES_NO_LABELS = {YES: _l("Yes"), NO: _l("No")}

# {registration id: {question id: [values]}}
AnswerMap = dict[int, dict[int, list[str]]]


def is_asked(
    question: Question, type_: OrganisationType | str | None, session_ids: Collection[int]
) -> bool:
    """Whether the question is asked of a person of this type registering for these
    sessions (a question limited to types or sessions is asked when one matches)."""
    if question.types and (type_ is None or OrganisationType(type_).value not in question.types):
        return False
    if question.session_ids and not set(question.session_ids) & set(session_ids):
        return False
    return True


def asked(
    questions: Iterable[Question],
    type_: OrganisationType | str | None,
    session_ids: Collection[int],
) -> list[Question]:
    return [q for q in questions if is_asked(q, type_, session_ids)]


def answers_of(db: DbSession, registration_ids: Collection[int]) -> AnswerMap:
    """The answers of these registrations, in the order they were given."""
    found: AnswerMap = defaultdict(lambda: defaultdict(list))
    ids = list(registration_ids)
    for start in range(0, len(ids), 500):  # within every database's bound parameters
        rows = db.execute(
            select(Answer.registration_id, Answer.question_id, Answer.value)
            .where(Answer.registration_id.in_(ids[start : start + 500]))
            .order_by(Answer.id)
        )
        for registration_id, question_id, value in rows:
            found[registration_id][question_id].append(value)
    return {r: dict(by_question) for r, by_question in found.items()}


def answer_text(question: Question, values: list[str] | None) -> str:
    """An answer as a person reads it (in the current language): yes/no translated,
    several options joined by ", ", nothing for no answer."""
    if not values:
        return ""
    if question.kind is QuestionKind.YES_NO:
        return str(YES_NO_LABELS.get(values[0], values[0]))
    if question.kind is QuestionKind.CHOICES:
        order = {choice: i for i, choice in enumerate(question.choices)}
        return ", ".join(sorted(values, key=lambda v: order.get(v, len(order))))
    return values[0]


# --- what each screen shows -------------------------------------------------------

# The questions whose answers are options: the ones the registrations list filters on
# and the statistics count.
COUNTED_KINDS = (QuestionKind.YES_NO, QuestionKind.CHOICE, QuestionKind.CHOICES)


def options_of(question: Question) -> list[str]:
    """The values an answer to a counted question may hold, in their order."""
    if question.kind is QuestionKind.YES_NO:
        return [YES, NO]
    return list(question.choices or [])


def option_text(question: Question, value: str) -> str:
    """One stored value as a person reads it (yes/no translated)."""
    if question.kind is QuestionKind.YES_NO:
        return str(YES_NO_LABELS.get(value, value))
    return value


def counted(questions: Iterable[Question]) -> list[Question]:
    return [q for q in questions if q.kind in COUNTED_KINDS]


@dataclass(frozen=True)
class Shown:
    """One answer as a screen shows it: the question's label and the answer's text."""

    question: Question
    label: str
    value: str

    def as_json(self) -> dict[str, str]:
        return {"label": self.label, "value": self.value}


def shown(questions: Iterable[Question], values: dict[int, list[str]] | None) -> list[Shown]:
    """The answers given to these questions, in the questions' order (a question not
    answered is left out)."""
    values = values or {}
    return [
        Shown(q, q.label, text) for q in questions if (text := answer_text(q, values.get(q.id)))
    ]


def stored_values(registration: Registration) -> dict[int, list[str]]:
    """A registration's values by question id, from its loaded answers, in the order
    they were given (to fill a form again, print a badge, show them)."""
    found: dict[int, list[str]] = defaultdict(list)
    for answer in registration.answers:
        found[answer.question_id].append(answer.value)
    return dict(found)


def registration_answers(registration: Registration) -> list[Shown]:
    """Every answer of a registration (its page and the private page), from its own
    answers (loaded once, as the forms filled again from them use them too)."""
    questions = registration.event.questions
    if not questions:
        return []
    return shown(questions, stored_values(registration))


def on_badge(registration: Registration) -> list[str]:
    """What the badge prints of the answers to the questions marked for it: a yes/no
    question's label when the answer is yes (nothing for no: "Speaker"), the answer's
    text otherwise. Reads the registration's answers only when a question is marked."""
    questions = [q for q in registration.event.questions if q.on_badge]
    if not questions:
        return []
    values = stored_values(registration)
    lines = []
    for q in questions:
        given = values.get(q.id)
        if q.kind is QuestionKind.YES_NO:
            if given and given[0] == YES:
                lines.append(q.label)
        elif text := answer_text(q, given):
            lines.append(text)
    return lines


def at_door(registration: Registration) -> list[dict[str, str]]:
    """The answers to the questions marked as shown at the door, as the door's JSON
    gives them ({"label", "value"}); none of the others. Reads the registration's
    answers only when a question is marked."""
    questions = [q for q in registration.event.questions if q.at_door]
    if not questions:
        return []
    return [a.as_json() for a in shown(questions, stored_values(registration))]


def at_door_of(
    db: DbSession, event: Event, registration_ids: Collection[int]
) -> dict[int, list[dict[str, str]]]:
    """at_door() for many registrations at once (the door's snapshot): one query per
    500 registrations, none when no question is marked."""
    questions = [q for q in event.questions if q.at_door]
    if not questions or not registration_ids:
        return {}
    ids = {q.id for q in questions}
    found: dict[int, list[dict[str, str]]] = {}
    for registration_id, values in answers_of(db, registration_ids).items():
        mine = {qid: v for qid, v in values.items() if qid in ids}
        if mine:
            found[registration_id] = [a.as_json() for a in shown(questions, mine)]
    return found


# --- filters ----------------------------------------------------------------------


def filter_choices(event: Event) -> list[tuple[Question, list[tuple[str, str]]]]:
    """The registrations list's filter per yes/no or choice question: the question and
    its options as (value of q_<id>, text shown)."""
    return [(q, [(v, option_text(q, v)) for v in options_of(q)]) for q in counted(event.questions)]


def answered(question: Question, value: str) -> Any:
    """The SQL condition: the registration answered `value` to the question (one of
    the options, for a question of several)."""
    return exists().where(
        Answer.registration_id == Registration.id,
        Answer.question_id == question.id,
        Answer.value == value,
    )


# --- counts -----------------------------------------------------------------------


@dataclass
class OptionCount:
    value: str
    text: str
    confirmed: int = 0
    present: int = 0


@dataclass
class QuestionCount:
    question: Question
    options: list[OptionCount] = field(default_factory=list)


def option_counts(db: DbSession, event: Event) -> list[QuestionCount]:
    """Per yes/no or choice question, in order, how many people chose each option:
    among the confirmed, and among the present (checked in at the entrance, whatever
    their status now, as the statistics count the present). Every option is listed,
    with zeros; a value no longer among the options (changed since) comes after them.
    One GROUP BY (question, value) over the answers joined with the registrations."""
    questions = counted(event.questions)
    if not questions:
        return []
    present = (
        select(CheckIn.registration_id)
        .where(CheckIn.event_id == event.id, CheckIn.scope == ENTRANCE)
        .subquery()
    )
    rows = db.execute(
        select(
            Answer.question_id,
            Answer.value,
            func.count(
                distinct(
                    case((Registration.status == RegistrationStatus.CONFIRMED, Registration.id))
                )
            ),
            func.count(distinct(present.c.registration_id)),
        )
        .join(Registration, Registration.id == Answer.registration_id)
        .outerjoin(present, present.c.registration_id == Answer.registration_id)
        .where(
            Registration.event_id == event.id,
            Answer.question_id.in_([q.id for q in questions]),
        )
        .group_by(Answer.question_id, Answer.value)
    )
    found: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for question_id, value, confirmed, here in rows:
        found[question_id][value] = (confirmed, here)
    result = []
    for q in questions:
        values = found.get(q.id, {})
        options = options_of(q)
        extra = sorted(v for v in values if v not in options)
        line = QuestionCount(q)
        for value in [*options, *extra]:
            confirmed, here = values.get(value, (0, 0))
            line.options.append(OptionCount(value, option_text(q, value), confirmed, here))
        result.append(line)
    return result
