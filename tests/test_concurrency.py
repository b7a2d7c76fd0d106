"""Exact counts under real concurrent connections (a SQLite file or PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import make_event, registration_data
from tracker.models import Event, Registration
from tracker.registration import capacity
from tracker.registration.services import cancel_registration, register

pytestmark = pytest.mark.concurrency


@pytest.fixture
def committed_event(app):
    """An event in its own committed transaction, removed afterwards."""
    factory = app.extensions["db"].sessionmaker
    created = []

    def build(**overrides):
        with factory.begin() as db:
            event = make_event(db, **overrides)
            created.append(event.id)
            return event.id, [s.id for s in event.sessions]

    yield build
    with factory.begin() as db:
        db.execute(delete(Event).where(Event.id.in_(created)))


def _race(app, n_requests: int, n_threads: int, job):
    barrier = threading.Barrier(n_threads)

    def worker(indices):
        barrier.wait()
        results = []
        for i in indices:
            with app.app_context():
                results.append(job(i))
        return results

    chunks = [range(t, n_requests, n_threads) for t in range(n_threads)]
    with ThreadPoolExecutor(n_threads) as pool:
        return [r for chunk in pool.map(worker, chunks) for r in chunk]


def test_200_concurrent_registrations_against_capacity_20(app, committed_event):
    event_id, _ = committed_event(capacity=20)
    factory = app.extensions["db"].sessionmaker

    def job(i):
        with factory.begin() as db:
            event = db.get(Event, event_id)
            return register(db, event, registration_data(email=f"racer{i}@example.org")).status

    statuses = Counter(_race(app, 200, 20, job))
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
    _assert_counters_exact(factory, event_id)


def _assert_counters_exact(factory, event_id: int) -> None:
    """The place counters moved by the concurrent transactions equal a fresh count."""
    with factory() as db:
        event = db.get(Event, event_id)
        assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)


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

    promoted = sum(_race(app, 10, 10, job))
    assert promoted == 10
    with factory() as db:
        confirmed = db.scalar(
            select(func.count()).where(
                Registration.event_id == event_id, Registration.status == "confirmed"
            )
        )
    assert confirmed == 10
    _assert_counters_exact(factory, event_id)


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

    assert Counter(_race(app, 20, 10, job)) == {"registered": 1, "already": 19}
