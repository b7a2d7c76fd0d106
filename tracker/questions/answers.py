"""Reading answers: who is asked what, and what they answered, as stored and as text.

Answers are rows of models.Answer, one per value: text as typed, "yes"/"no", and the
text of each option chosen. Every screen, export and count reads them from here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker.i18n import lazy_gettext as _l
from tracker.models import Answer, OrganisationType, Question, QuestionKind

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
