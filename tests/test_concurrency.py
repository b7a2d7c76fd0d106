"""Exact counts under real concurrent connections (a SQLite file or PostgreSQL)."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from tests.conftest import assert_counters_exact, race, registration_data
from tracker.models import Event, Registration
from tracker.registration.services import cancel_registration, register

pytestmark = pytest.mark.concurrency


def test_200_concurrent_registrations_against_capacity_20(app, committed_event):
    event_id, _ = committed_event(capacity=20)
    factory = app.extensions["db"].sessionmaker

    def job(i):
        with factory.begin() as db:
            event = db.get(Event, event_id)
            return register(db, event, registration_data(email=f"racer{i}@example.org")).status

    statuses = Counter(race(app, 200, 20, job))
    assert statuses == {"confirmed": 20, "waitlisted": 180}
    with factory() as db:
        stored = dict(
            db.execute(
                select(Registration.status, func.count())
                .where(Registration.event_id == event_id)
                .group_by(Registration.status)
            ).all()
        )
    assert stored == {"confirmed": 20, "waitlisted": 180}
    assert_counters_exact(factory, event_id)


def test_concurrent_cancellations_promote_exactly_as_many(app, committed_event):
    event_id, _ = committed_event(capacity=10)
    factory = app.extensions["db"].sessionmaker
    with factory.begin() as db:
        event = db.get(Event, event_id)
        regs = [
            register(db, event, registration_data(email=f"p{i}@example.org")) for i in range(30)
        ]
        confirmed_ids = [r.id for r in regs if r.status == "confirmed"]

    def job(i):
        with factory.begin() as db:
            return len(cancel_registration(db, db.get(Registration, confirmed_ids[i])))

    promoted = sum(race(app, 10, 10, job))
    assert promoted == 10
    with factory() as db:
        confirmed = db.scalar(
            select(func.count()).where(
                Registration.event_id == event_id, Registration.status == "confirmed"
            )
        )
    assert confirmed == 10
    assert_counters_exact(factory, event_id)


def test_the_same_address_sent_concurrently_registers_once(app, committed_event):
    event_id, _ = committed_event(capacity=None)
    factory = app.extensions["db"].sessionmaker
    from tracker.errors import AlreadyRegistered

    def job(_i):
        try:
            with factory.begin() as db:
                register(db, db.get(Event, event_id), registration_data(email="twin@example.org"))
            return "registered"
        except AlreadyRegistered:
            return "already"

    assert Counter(race(app, 20, 10, job)) == {"registered": 1, "already": 19}
