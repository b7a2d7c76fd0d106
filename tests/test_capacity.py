"""The capacity rule (tracker.registration.capacity) and its maintained counters.

The counters decide whether a place is free without counting the registrations: a
randomised sequence of every kind of change (hypothesis) must leave them equal to a
fresh count, on SQLite and on PostgreSQL alike.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from tests.conftest import make_event, registration_data
from tests.random_changes import CHANGES, _change, _event, rolled_back
from tracker.db import utcnow
from tracker.door.services import EventFull, WalkInData, register_walk_in
from tracker.errors import DomainError, SessionFull
from tracker.models import (
    Event,
    OrganisationType,
    PlaceCount,
    Registration,
    RegistrationStatus,
)
from tracker.organiser import services as organiser
from tracker.registration import capacity
from tracker.registration import services as registrations


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(CHANGES), st.integers(0, 1000), st.integers(0, 1000)),
        min_size=1,
        max_size=30,
    )
)
def test_counters_equal_a_fresh_count_after_any_changes(app, changes):
    with rolled_back(app) as db:
        event = _event(db)
        for kind, a, b in changes:
            try:
                with db.begin_nested():  # a refused change leaves nothing, as a request
                    _change(db, event, kind, a, b)
            except DomainError:
                pass
            assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event), kind


def test_a_limit_is_read_from_the_counters_not_the_rows(db, app_ctx):
    """The decision reads the counters: a counter that says the event is full makes
    the next person wait although the rows say otherwise (and recompute mends it)."""
    event = make_event(db, capacity=2)
    registrations.register(db, event, registration_data())
    db.execute(
        update(PlaceCount)
        .where(PlaceCount.event_id == event.id, PlaceCount.scope == capacity.EVENT_SCOPE)
        .values(confirmed=2)
    )
    assert registrations.register(db, event, registration_data()).status == "waitlisted"
    changed = capacity.recompute(db, event)
    assert changed["event"] == (2, 1)
    assert registrations.register(db, event, registration_data()).status == "confirmed"
    assert capacity.stored_counts(db, event) == capacity.fresh_counts(db, event)


def test_every_path_refuses_with_the_same_words(db, app_ctx):
    """The event, a type's quota and a session are full in the same words everywhere;
    each path adds what its reader can do."""
    event = make_event(db, capacity=1, type_quotas={"ministry": 0})
    event.sessions[0].capacity = 0
    db.flush()
    session = event.sessions[0]

    with pytest.raises(SessionFull) as public:
        registrations.register(db, event, registration_data(session_ids=[session.id]))
    assert str(public.value.message) == f"“{session.title}” is full. Choose another session."

    with pytest.raises(EventFull) as door:
        register_walk_in(
            db,
            event,
            WalkInData("Paul", "Durand", "DGE", OrganisationType.MINISTRY),
            actor=None,
            door="A",
        )
    assert str(door.value.message) == (
        "No places are left for this type of organisation. Tick “Register although the "
        "event is full” to let this person in over capacity."
    )

    first = registrations.register(db, event, registration_data())
    waiting = registrations.register(db, event, registration_data())
    assert (first.status, waiting.status) == ("confirmed", "waitlisted")
    with pytest.raises(registrations.NoRoom) as organiser_refusal:
        registrations.confirm_registration(db, waiting, actor=None)
    assert str(organiser_refusal.value.message) == (
        "The event is full (1 confirmed for 1 places). Tick “Allow going over capacity” "
        "to go ahead anyway."
    )


def test_a_deleted_session_takes_its_counter_with_it(db, app_ctx):
    event = make_event(db)
    session = event.sessions[2]
    person = registrations.register(db, event, registration_data(session_ids=[session.id]))
    registrations.cancel_registration(db, person)
    scope = capacity.session_scope(session.id)
    assert capacity.places(db, event).counts[scope] == 0
    organiser.delete_session(db, session, actor=None)
    assert scope not in capacity.places(db, event).counts


def test_deleting_a_registration_gives_its_place_back(db, app_ctx):
    event = make_event(db, capacity=3)
    person = registrations.register(db, event, registration_data())
    db.delete(person)
    db.flush()
    assert capacity.stored_counts(db, event) == {} == capacity.fresh_counts(db, event)


def test_recompute_after_a_bulk_statement(db, app_ctx):
    """A bulk UPDATE bypasses the counters; recompute counts them again and says what
    it changed."""
    event = make_event(db)
    people = [
        registrations.register(db, event, registration_data(session_ids=[event.sessions[0].id]))
        for _ in range(3)
    ]
    db.execute(
        update(Registration)
        .where(Registration.id == people[0].id)
        .values(status=RegistrationStatus.CANCELLED, cancelled_at=utcnow())
    )
    db.execute(delete(PlaceCount).where(PlaceCount.scope == "type:cluster"))
    changed = capacity.recompute(db, event)
    assert changed == {
        "event": (3, 2),
        f"org:{people[0].organisation_id}": (3, 2),
        f"session:{event.sessions[0].id}": (3, 2),
        "type:cluster": (0, 2),
    }
    assert capacity.recompute(db, event) == {}


def test_counts_survive_a_rolled_back_change(db, app_ctx):
    event = make_event(db, capacity=3)
    person = registrations.register(db, event, registration_data())
    with pytest.raises(RuntimeError):
        with db.begin_nested():
            registrations.register(db, event, registration_data())
            raise RuntimeError
    assert capacity.stored_counts(db, event) == {
        "event": 1,
        "type:cluster": 1,
        f"org:{person.organisation_id}": 1,
    }


def test_recompute_command_prints_what_it_changed(app, monkeypatch):
    from tracker.registration.cli import capacity_group

    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    monkeypatch.delenv("LC_ALL", raising=False)
    monkeypatch.delenv("LC_MESSAGES", raising=False)
    monkeypatch.delenv("LANGUAGE", raising=False)
    runner = app.test_cli_runner()
    factory = app.extensions["db"].sessionmaker
    with app.app_context(), factory.begin() as db:
        event = make_event(db, slug="recount")
        registrations.register(db, event, registration_data())
        registrations.register(db, event, registration_data())
        event_id = event.id
        db.execute(
            update(PlaceCount)
            .where(PlaceCount.event_id == event_id, PlaceCount.scope == "event")
            .values(confirmed=7)
        )
    try:
        result = runner.invoke(capacity_group, ["recompute", "recount"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == [
            "recount: event was 7, counted 2.",
            "Events checked: 1, corrected: 1.",
        ]
        again = runner.invoke(capacity_group, ["recompute"])
        assert again.exit_code == 0, again.output
        assert again.output.endswith("corrected: 0.\n")
        unknown = runner.invoke(capacity_group, ["recompute", "nowhere"])
        assert unknown.exit_code != 0 and "No event has the slug nowhere." in unknown.output
    finally:
        with factory.begin() as db:
            db.execute(delete(Event).where(Event.id == event_id))
