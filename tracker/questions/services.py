"""An event's questions: adding, editing, moving and deleting them (organisers), and
checking and saving the answers a registration gives (every registration path).

Answers are stored as tracker.questions.answers reads them: one row per value. A
question asked only of some organisation types or sessions (`is_asked`) is checked and
saved only when it applies; when it no longer does, its answers go.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session as DbSession

from tracker import audit
from tracker.db import utcnow
from tracker.errors import InvalidChoice, NotFound
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    Answer,
    Event,
    OrganisationType,
    Question,
    QuestionKind,
    Registration,
    User,
)
from tracker.questions.answers import NO, YES, is_asked, stored_values
from tracker.text import fold

LABEL_LENGTH = 300
OPTION_LENGTH = 200
MAX_OPTIONS = 50
TEXT_LENGTH = 300  # a one-line answer
LONG_TEXT_LENGTH = 4000
CHOICE_KINDS = (QuestionKind.CHOICE, QuestionKind.CHOICES)

# Control characters (C0, C1, DEL), line/paragraph separators and lone surrogates: as
# the registration form refuses them (a long text keeps its line breaks).
_REFUSED_CATEGORIES = {"Cc", "Cs", "Zl", "Zp"}


def has_control_characters(value: str, *, line_breaks: bool = False) -> bool:
    return any(
        unicodedata.category(c) in _REFUSED_CATEGORIES and not (line_breaks and c == "\n")
        for c in value
    )


# --- the questions ------------------------------------------------------------------


@dataclass
class QuestionSpec:
    """What an organiser says of a question (the form, the command line)."""

    label: str
    kind: QuestionKind | str
    choices: list[str] = field(default_factory=list)
    required: bool = False
    types: list[str] = field(default_factory=list)
    session_ids: list[int] = field(default_factory=list)
    on_badge: bool = False
    at_door: bool = False


def _clean_spec(event: Event, spec: QuestionSpec, question: Question | None) -> QuestionSpec:
    label = " ".join((spec.label or "").split())  # one line, single spaces
    if not label:
        raise InvalidChoice(_l("This field is required."), field="label")
    if has_control_characters(spec.label or ""):
        raise InvalidChoice(
            _l("Control characters and line breaks are not allowed here."), field="label"
        )
    if len(label) > LABEL_LENGTH:
        raise InvalidChoice(
            _l("At most %(max)d characters, please.", max=LABEL_LENGTH), field="label"
        )
    for other in event.questions:
        if other is not question and fold(other.label) == fold(label):
            raise InvalidChoice(_l("Another question of this event has this label."), field="label")
    try:
        kind = QuestionKind(spec.kind)
    except ValueError:
        raise InvalidChoice(_l("Choose the kind of answer."), field="kind") from None
    choices: list[str] = []
    if kind in CHOICE_KINDS:
        for raw in spec.choices:
            if has_control_characters(raw):
                raise InvalidChoice(
                    _l("Control characters are not allowed in an option."), field="choices"
                )
            option = " ".join(raw.split())
            if not option:
                continue
            if len(option) > OPTION_LENGTH:
                raise InvalidChoice(
                    _l("An option is at most %(max)d characters long.", max=OPTION_LENGTH),
                    field="choices",
                )
            if any(fold(option) == fold(c) for c in choices):
                raise InvalidChoice(
                    _l("The option “%(option)s” is given twice.", option=option[:40]),
                    field="choices",
                )
            choices.append(option)
        if not choices:
            raise InvalidChoice(_l("Give at least one option, one a line."), field="choices")
        if len(choices) > MAX_OPTIONS:
            raise InvalidChoice(_l("At most %(max)d options.", max=MAX_OPTIONS), field="choices")
    valid_types = {t.value for t in OrganisationType}
    types = list(dict.fromkeys(str(t) for t in spec.types))
    if any(t not in valid_types for t in types):
        raise InvalidChoice(_l("Choose types of organisation from the list."), field="types")
    session_ids = list(dict.fromkeys(spec.session_ids))
    own = {s.id for s in event.sessions}
    if any(i not in own for i in session_ids):
        raise InvalidChoice(_l("Choose sessions of this event only."), field="session_ids")
    return QuestionSpec(
        label=label,
        kind=kind,
        choices=choices,
        required=bool(spec.required),
        types=[t.value for t in OrganisationType if t.value in types],  # in the usual order
        session_ids=[s.id for s in event.sessions if s.id in session_ids],
        on_badge=bool(spec.on_badge),
        at_door=bool(spec.at_door),
    )


def snapshot(question: Question) -> dict[str, Any]:
    """A question as the audit log keeps it."""
    return {
        "label": question.label,
        "kind": QuestionKind(question.kind).value,
        "choices": list(question.choices or []),
        "required": question.required,
        "types": list(question.types or []),
        "sessions": list(question.session_ids or []),
        "on_badge": question.on_badge,
        "at_door": question.at_door,
    }


def get_question(event: Event, question_id: int) -> Question:
    for q in event.questions:
        if q.id == question_id:
            return q
    raise NotFound()


def _lock(db: DbSession, event: Event) -> Event:
    from tracker.registration.services import lock_event  # (it imports this module)

    return lock_event(db, event)


def add_question(
    db: DbSession, event: Event, spec: QuestionSpec, *, actor: User | None
) -> Question:
    """A new question, last on the form. Raises InvalidChoice (its field named) for a
    label, kind, option, type or session that cannot be."""
    event = _lock(db, event)
    clean = _clean_spec(event, spec, None)
    question = Question(
        event=event,
        label=clean.label,
        kind=QuestionKind(clean.kind),
        choices=clean.choices,
        required=clean.required,
        types=clean.types,
        session_ids=clean.session_ids,
        on_badge=clean.on_badge,
        at_door=clean.at_door,
        position=max((q.position for q in event.questions), default=-1) + 1,
    )
    db.add(question)
    db.flush()
    db.refresh(event, ["questions"])
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.QUESTION_ADD,
        event=event,
        changes={"question": question.id, **{k: [None, v] for k, v in snapshot(question).items()}},
    )
    return question


def _answered(db: DbSession, question: Question, values: Collection[str]) -> dict[str, int]:
    """How many answers hold each of `values`."""
    found: dict[str, int] = {}
    for value in db.scalars(
        select(Answer.value).where(Answer.question_id == question.id, Answer.value.in_(values))
    ):
        found[value] = found.get(value, 0) + 1
    return found


def edit_question(
    db: DbSession,
    question: Question,
    spec: QuestionSpec,
    *,
    actor: User | None,
    renames: Mapping[str, str] | None = None,
) -> dict[str, list[Any]]:
    """Change a question; returns the changes (empty: nothing changed).

    Options are matched by position: an option whose text changes at the same place
    (or one named in `renames`, old text -> new) is renamed in the stored answers too.
    Removing an option that people chose is refused (say who chose it first). Changing
    the kind of a question that has answers is refused unless the answers still fit
    (text <-> long text, one choice -> several choices). Answers that no longer apply
    (types or sessions narrowed) are removed."""
    event = _lock(db, question.event)
    clean = _clean_spec(event, spec, question)
    before = snapshot(question)
    old_kind = QuestionKind(question.kind)
    new_kind = QuestionKind(clean.kind)
    has_answers = (
        db.scalar(select(Answer.id).where(Answer.question_id == question.id).limit(1)) is not None
    )
    if has_answers and old_kind != new_kind:
        fits = {
            (QuestionKind.TEXT, QuestionKind.LONG_TEXT),
            (QuestionKind.CHOICE, QuestionKind.CHOICES),
        }
        if (old_kind, new_kind) not in fits:
            raise InvalidChoice(
                _l(
                    "People have already answered this question: its kind of answer can "
                    "no longer change (delete the question and add a new one instead)."
                ),
                field="kind",
            )
    if new_kind in CHOICE_KINDS and old_kind in CHOICE_KINDS:
        _rename_options(db, question, list(question.choices or []), clean.choices, renames or {})
    question.label = clean.label
    question.kind = new_kind
    question.choices = clean.choices
    question.required = clean.required
    question.types = clean.types
    question.session_ids = clean.session_ids
    question.on_badge = clean.on_badge
    question.at_door = clean.at_door
    db.flush()
    _drop_answers_not_asked(db, question)
    changes = audit.diff(before, snapshot(question))
    if changes:
        audit.record(
            db,
            actor=actor,
            action=audit.AuditAction.QUESTION_EDIT,
            event=event,
            changes={"question": question.id, **changes},
        )
    return changes


def _rename_options(
    db: DbSession,
    question: Question,
    old: list[str],
    new: list[str],
    renames: Mapping[str, str],
) -> None:
    """Rename answers whose option was renamed; refuse to drop an option people chose."""
    mapping: dict[str, str] = {}
    kept = set(new)
    for before, after in renames.items():
        if before in old and after in kept:
            mapping[before] = after
    for index, before in enumerate(old):
        if before in kept or before in mapping:
            continue
        # The same place in the new list, if that text is new: a renamed option.
        if index < len(new) and new[index] not in old and new[index] not in mapping.values():
            mapping[before] = new[index]
    removed = [o for o in old if o not in kept and o not in mapping]
    used = _answered(db, question, removed) if removed else {}
    if used:
        option = next(o for o in removed if o in used)
        raise InvalidChoice(
            _l(
                "The option “%(option)s” cannot be removed: %(count)d people chose it. "
                "Rename it instead, or delete the question.",
                option=option[:40],
                count=used[option],
            ),
            field="choices",
        )
    for before, after in mapping.items():
        if before != after:
            db.execute(
                update(Answer)
                .where(Answer.question_id == question.id, Answer.value == before)
                .values(value=after)
                .execution_options(synchronize_session=False)
            )


def _drop_answers_not_asked(db: DbSession, question: Question) -> int:
    """Remove the answers of people the question no longer applies to."""
    if not question.types and not question.session_ids:
        return 0
    answered = db.scalars(
        select(Registration)
        .join(Answer, Answer.registration_id == Registration.id)
        .where(Answer.question_id == question.id)
        .distinct()
    ).all()
    gone = [
        r.id
        for r in answered
        if not is_asked(question, r.organisation_type, [s.id for s in r.sessions])
    ]
    if gone:
        db.execute(
            delete(Answer)
            .where(Answer.question_id == question.id, Answer.registration_id.in_(gone))
            .execution_options(synchronize_session=False)
        )
        for r in answered:
            if r.id in gone:
                db.expire(r, ["answers"])
    return len(gone)


def move_question(db: DbSession, question: Question, offset: int, *, actor: User | None) -> bool:
    """Move a question up (offset -1) or down (+1) on the form; False at an end."""
    event = _lock(db, question.event)
    ordered = sorted(event.questions, key=lambda q: (q.position, q.id))
    index = ordered.index(question)
    target = index + offset
    if not 0 <= target < len(ordered):
        return False
    before = [q.label for q in ordered]
    ordered[index], ordered[target] = ordered[target], ordered[index]
    for position, q in enumerate(ordered):
        q.position = position
    db.flush()
    db.refresh(event, ["questions"])
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.QUESTION_MOVE,
        event=event,
        changes={"order": [before, [q.label for q in event.questions]]},
    )
    return True


def answered_count(db: DbSession, question: Question) -> int:
    """How many registrations answered the question."""
    return (
        db.scalar(
            select(func.count(func.distinct(Answer.registration_id))).where(
                Answer.question_id == question.id
            )
        )
        or 0
    )


def delete_question(db: DbSession, question: Question, *, actor: User | None) -> int:
    """Delete a question and its answers; returns how many registrations had answered."""
    event = _lock(db, question.event)
    answered = answered_count(db, question)
    before = snapshot(question)
    question_id = question.id
    db.execute(
        delete(Answer)
        .where(Answer.question_id == question_id)
        .execution_options(synchronize_session=False)
    )
    event.questions.remove(question)
    db.delete(question)
    db.flush()
    audit.record(
        db,
        actor=actor,
        action=audit.AuditAction.QUESTION_DELETE,
        event=event,
        changes={
            "question": question_id,
            "answers": answered,
            **{k: [v, None] for k, v in before.items()},
        },
    )
    return answered


# --- answers --------------------------------------------------------------------------


def _field(question: Question) -> str:
    return question.field_name


def clean_answer(question: Question, values: Collection[str]) -> list[str]:
    """A question's answer as it is stored: values stripped, empty ones dropped, each
    checked (length, control characters, an option of the question). Raises
    InvalidChoice naming the field `q_<id>`. A required question must be answered."""
    name = _field(question)
    kind = QuestionKind(question.kind)
    cleaned: list[str] = []
    for raw in values:
        if raw is None:
            continue
        value = str(raw)
        if kind is QuestionKind.LONG_TEXT:
            value = value.replace("\r\n", "\n").replace("\r", "\n")
        if has_control_characters(value, line_breaks=kind is QuestionKind.LONG_TEXT):
            message = (
                _l("Control characters are not allowed here.")
                if kind is QuestionKind.LONG_TEXT
                else _l("Control characters and line breaks are not allowed here.")
            )
            raise InvalidChoice(message, field=name)
        value = value.strip()
        if value:
            cleaned.append(value)
    if kind in (
        QuestionKind.TEXT,
        QuestionKind.LONG_TEXT,
        QuestionKind.YES_NO,
        QuestionKind.CHOICE,
    ):
        if len(cleaned) > 1:
            raise InvalidChoice(_l("Give one answer only."), field=name)
    if kind is QuestionKind.TEXT and cleaned and len(cleaned[0]) > TEXT_LENGTH:
        raise InvalidChoice(_l("At most %(max)d characters, please.", max=TEXT_LENGTH), field=name)
    if kind is QuestionKind.LONG_TEXT and cleaned and len(cleaned[0]) > LONG_TEXT_LENGTH:
        raise InvalidChoice(
            _l("At most %(max)d characters, please.", max=LONG_TEXT_LENGTH), field=name
        )
    if kind is QuestionKind.YES_NO and cleaned and cleaned[0] not in (YES, NO):
        raise InvalidChoice(_l("Answer yes or no."), field=name)
    if kind in CHOICE_KINDS:
        options = list(question.choices or [])
        unknown = [v for v in cleaned if v not in options]
        if unknown:
            raise InvalidChoice(
                _l("Choose among the options offered."),
                field=name,
            )
        cleaned = [o for o in options if o in cleaned]  # in the question's order, once
    if question.required and not cleaned:
        raise InvalidChoice(_l("This field is required."), field=name)
    return cleaned


def check_answers(
    event: Event,
    organisation_type: OrganisationType | str | None,
    session_ids: Collection[int],
    answers: Mapping[int, Collection[str]] | None,
) -> dict[int, list[str]] | None:
    """The answers given, checked, for the event's questions that apply to this type
    and these sessions. A question not in `answers` was not asked on this path (an
    import without its column): it is left as it was. Ids of questions that are not the
    event's, or that do not apply, are ignored. None: no answers given at all."""
    if answers is None:
        return None
    checked: dict[int, list[str]] = {}
    for question in event.questions:
        if question.id not in answers:
            continue
        if not is_asked(question, organisation_type, session_ids):
            continue
        checked[question.id] = clean_answer(question, answers[question.id])
    return checked


def save_answers(
    db: DbSession, registration: Registration, answers: Mapping[int, Collection[str]] | None
) -> None:
    """Store a registration's answers (after its type and sessions are set): each
    question in `answers` gets exactly these values (checked as check_answers does);
    answers to questions that no longer apply to the registration are removed."""
    event = registration.event
    if not event.questions:
        return  # (their answers went with them)
    session_ids = [s.id for s in registration.sessions]
    type_ = registration.organisation_type
    checked = check_answers(event, type_, session_ids, answers) or {}
    asked = {q.id for q in event.questions if is_asked(q, type_, session_ids)}
    if registration.id is None:
        db.flush()
    stored = list(registration.answers) if registration.id is not None else []
    by_question: dict[int, list[Answer]] = {}
    for answer in stored:
        by_question.setdefault(answer.question_id, []).append(answer)

    def same(question_id: int, values: Collection[str]) -> bool:
        return [row.value for row in by_question.get(question_id, [])] == list(values)

    changed = False
    for question_id, rows in by_question.items():
        gone = question_id not in asked
        replaced = question_id in checked and not same(question_id, checked[question_id])
        if gone or replaced:
            for row in rows:
                registration.answers.remove(row)
            changed = True
    for question_id, values in checked.items():
        if question_id in asked and not same(question_id, values):
            registration.answers.extend(Answer(question_id=question_id, value=v) for v in values)
            changed = True
    if changed:
        # A change of answers alone is a change of the registration: the door's
        # snapshot pulls the people whose row changed since its cursor.
        registration.updated_at = utcnow()
    db.flush()


def answer_snapshot(registration: Registration) -> dict[str, str | None]:
    """`{"q_<id>": the values joined by ", ", or None}` for each of the event's
    questions: what the audit log keeps of a registration's answers (as they are
    stored: "yes"/"no", the options' text)."""
    questions = registration.event.questions
    if not questions:
        return {}
    stored = stored_values(registration)
    return {q.field_name: ", ".join(stored[q.id]) if q.id in stored else None for q in questions}
