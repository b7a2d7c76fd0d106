"""The worker keeps badges ready: when a confirmed registration is made or what its
badge prints changes (names, organisation, type, job title, check-in code, an answer to
a question printed on the badge, or the event's title, date or colours, or which
questions it prints), the event's badges are rendered ahead
(tracker.badges.ahead.prepare_event) once the change is committed.

One rule for every path that changes a registration (the form, the organiser, the door,
an import, the API, a command): the app's database sessions note the events whose badge
data a flush changed, and queue one job per event after the commit. A burst of
registrations queues one job, BADGES_AHEAD_DELAY seconds later, which renders every
badge not kept yet in one go.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event as sa_event
from sqlalchemy import inspect
from sqlalchemy.orm import Session as DbSession

from tracker import jobs
from tracker.db import after_commit
from tracker.models import Answer, Event, Question, Registration, RegistrationStatus

log = logging.getLogger(__name__)

PENDING_KEY = "tracker.badges.pending"
# What a badge prints, on the registration and on the event.
REGISTRATION_FIELDS = (
    "first_name",
    "last_name",
    "organisation_id",
    "organisation_type",
    "job_title",
    "status",
    "checkin_code",
    "qr_png",
)
EVENT_FIELDS = ("title", "starts_at", "timezone", "badge_colours")
# A question whose answers the badge prints (or did): its label, kind and options too.
QUESTION_FIELDS = ("on_badge", "label", "kind", "choices", "position")


@jobs.task(retries=2, retry_delay=60)
def prepare_badges(event_id: int) -> None:
    """Render and keep the event's badges that are not kept yet or are stale."""
    from tracker.badges.ahead import prepare_event

    jobs.huey.get(_flag(event_id))  # a change from now on queues another job
    with jobs.session() as db:
        event = db.get(Event, event_id)
        if event is not None:
            prepare_event(db, event)


def _flag(event_id: int) -> str:
    return f"badges-ahead:{event_id}"


def queue(event_id: int) -> None:
    """Queue prepare_badges for the event, unless one is already waiting."""
    delay = current_app.config["BADGES_AHEAD_DELAY"]
    if not delay:
        prepare_badges(event_id)
    elif jobs.huey.put_if_empty(_flag(event_id), "1"):
        prepare_badges.schedule(args=(event_id,), delay=delay)


def _changed(target: Any, fields: tuple[str, ...]) -> bool:
    state = inspect(target)
    return any(state.attrs[name].history.has_changes() for name in fields)


def _badge_question_changed(db: DbSession, question: Question) -> bool:
    """A question put on the badge or taken off, or one on it made, changed or deleted."""
    if question not in db.dirty:
        return question.on_badge
    if _changed(question, ("on_badge",)):
        return True
    return question.on_badge and _changed(question, QUESTION_FIELDS)


def _note_changes(db: DbSession, _context: Any, _instances: Any) -> None:
    events: set[int] = set()
    for obj in [*db.new, *db.dirty]:
        if isinstance(obj, Registration):
            if obj.status == RegistrationStatus.CONFIRMED and (
                obj in db.new or _changed(obj, REGISTRATION_FIELDS)
            ):
                events.add(obj.event_id or (obj.event.id if obj.event else 0))
        elif isinstance(obj, Event) and obj not in db.new and _changed(obj, EVENT_FIELDS):
            events.add(obj.id)
    for obj in [*db.new, *db.dirty, *db.deleted]:
        if isinstance(obj, Question) and _badge_question_changed(db, obj):
            events.add(obj.event_id or (obj.event.id if obj.event else 0))
        elif isinstance(obj, Answer):  # an answer the badge prints
            with db.no_autoflush:
                question = db.get(Question, obj.question_id) if obj.question_id else obj.question
            if question is not None and question.on_badge:
                events.add(question.event_id)
    events.discard(0)
    if not events:
        return
    pending: set[int] | None = db.info.get(PENDING_KEY)
    if pending is None:
        pending = db.info[PENDING_KEY] = set()

        def enqueue() -> None:
            for event_id in sorted(db.info.pop(PENDING_KEY, set())):
                try:
                    queue(event_id)
                except Exception:
                    log.exception("could not queue the badges of event %s", event_id)

        after_commit(db, enqueue)
    pending.update(events)


def _forget_changes(db: DbSession, _previous: Any = None) -> None:
    db.info.pop(PENDING_KEY, None)


def init_app(app: Flask) -> None:
    """Note badge changes in the app's sessions, when BADGES_AHEAD is on."""
    if app.config["BADGES_AHEAD"]:
        factory = app.extensions["db"].sessionmaker
        sa_event.listen(factory, "before_flush", _note_changes)
        sa_event.listen(factory, "after_soft_rollback", _forget_changes)
