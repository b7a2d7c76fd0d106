"""The maintained counts of registrations (tracker.reports.counts) that the dashboard's
live refresh reads: a randomised sequence of every kind of change (hypothesis) must
leave them equal to a fresh count, and the live figures equal to the figures counted
from the rows, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update

from tests.conftest import attendance_event, make_event, registration_data
from tests.random_changes import CHANGES, _change, _event, _pick, rolled_back
from tracker.checkin.services import check_in, undo_check_in
from tracker.errors import DomainError
from tracker.events.services import delete_session
from tracker.models import (
    OrganisationType,
    Registration,
    RegistrationCount,
    RegistrationStatus,
)
from tracker.registration import services as registrations
from tracker.reports import counts
from tracker.reports.services import figures, live_figures

MORE = ("check_in_session", "undo", "undo_session", "delete", "drop_session")


def _more(db, event, kind: str, a: int, b: int) -> None:
    person = _pick(db, event, b)
    if person is None:
        return
    session = event.sessions[a % len(event.sessions)] if event.sessions else None
    if kind == "check_in_session" and session is not None:
        check_in(db, event, actor=None, door="B", code=person.checkin_code, session_id=session.id)
    elif kind == "undo":
        undo_check_in(db, event, actor=None, door="A", code=person.checkin_code)
    elif kind == "undo_session" and session is not None:
        undo_check_in(
            db, event, actor=None, door="B", code=person.checkin_code, session_id=session.id
        )
    elif kind == "delete":
        db.delete(person)
        db.flush()
    elif kind == "drop_session" and session is not None and len(event.sessions) > 1:
        delete_session(db, session)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    changes=st.lists(
        st.tuples(st.sampled_from(CHANGES + MORE), st.integers(0, 1000), st.integers(0, 1000)),
        min_size=1,
        max_size=25,
    )
)
def test_counts_and_live_figures_equal_a_fresh_count_after_any_changes(app, changes):
    with rolled_back(app) as db:
        event = _event(db)
        for kind, a, b in changes:
            try:
                with db.begin_nested():  # a refused change leaves nothing, as a request
                    if kind in MORE:
                        _more(db, event, kind, a, b)
                    else:
                        _change(db, event, kind, a, b)
            except DomainError:
                pass
            assert counts.stored_counts(db, event) == counts.fresh_counts(db, event), kind
            assert live_figures(db, event) == figures(db, event, organisations=False), kind


def test_the_live_figures_of_the_known_event(db, app_ctx):
    event = attendance_event(db)
    assert live_figures(db, event) == figures(db, event, organisations=False)
    stored = counts.split(counts.stored_counts(db, event))
    cluster = (OrganisationType.CLUSTER, RegistrationStatus.CONFIRMED)
    assert (stored.people[cluster], stored.entrance[cluster]) == (3, 2)  # A and B came
    assert sorted(stored.slots.values()) == [1, 1, 1]  # E's check-in was undone
    assert stored.sessions == {
        (event.sessions[1].id, *cluster, True): 1,  # A in RT1
        (event.sessions[2].id, OrganisationType.AGENCY, RegistrationStatus.CONFIRMED, False): 1,
    }


def test_a_deleted_session_takes_its_counts_with_it(db, app_ctx):
    event = make_event(db)
    gone = event.sessions[0]
    person = registrations.register(db, event, registration_data(session_ids=[gone.id]))
    registrations.cancel_registration(db, person)  # cancelled people simply lose it
    prefix = f"s{gone.id}:"
    assert any(k.startswith(prefix) for k in counts.stored_counts(db, event))
    delete_session(db, gone)
    db.flush()
    assert not any(k.startswith(prefix) for k in counts.stored_counts(db, event))
    assert counts.stored_counts(db, event) == counts.fresh_counts(db, event)


def test_recompute_after_a_bulk_statement(db, app_ctx):
    """A bulk UPDATE bypasses the counts; recompute counts them again and says what it
    changed."""
    event = make_event(db)
    first = event.sessions[0].id
    people = [
        registrations.register(db, event, registration_data(session_ids=[first])) for _ in range(2)
    ]
    db.execute(
        update(Registration)
        .where(Registration.id == people[0].id)
        .values(status=RegistrationStatus.WAITLISTED)
    )
    db.execute(delete(RegistrationCount).where(RegistrationCount.key == "cluster:confirmed"))
    assert counts.recompute(db, event) == {
        "cluster:confirmed": (0, 1),
        "cluster:waitlisted": (0, 1),
        f"s{first}:cluster:confirmed": (2, 1),
        f"s{first}:cluster:waitlisted": (0, 1),
    }
    assert counts.recompute(db, event) == {}
    assert live_figures(db, event) == figures(db, event, organisations=False)


def test_the_recompute_command_corrects_the_counts_too(app, monkeypatch):
    from tracker.models import Event
    from tracker.registration.cli import capacity_group

    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    factory = app.extensions["db"].sessionmaker
    with app.app_context(), factory.begin() as db:
        event = make_event(db, slug="recount-figures")
        registrations.register(db, event, registration_data())
        registrations.register(db, event, registration_data())
        event_id = event.id
        db.execute(
            update(RegistrationCount).where(RegistrationCount.event_id == event_id).values(count=7)
        )
    try:
        result = app.test_cli_runner().invoke(capacity_group, ["recompute", "recount-figures"])
        assert result.exit_code == 0, result.output
        assert result.output.splitlines() == [
            "recount-figures: cluster:confirmed was 7, counted 2.",
            "Events checked: 1, corrected: 1.",
        ]
    finally:
        with factory.begin() as db:
            db.execute(delete(Event).where(Event.id == event_id))


def test_the_migration_counts_the_rows_there_are(db, app_ctx):
    """The statements of the migration that adds the counts give the fresh count of
    an event with cancellations, the waitlist, session and entrance check-ins."""
    import importlib.util
    from pathlib import Path

    from sqlalchemy import text

    versions = Path(__file__).resolve().parent.parent / "migrations" / "versions"
    path = next(versions.glob("*_3d8b6f0e2c71_registration_counts.py"))
    spec = importlib.util.spec_from_file_location("registration_counts_migration", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    event = attendance_event(db)
    db.flush()
    db.execute(delete(RegistrationCount))
    for statement in migration.counting(db.get_bind().dialect.name):
        db.execute(text(statement))
    assert counts.stored_counts(db, event) == counts.fresh_counts(db, event)


def test_check_ins_added_and_deleted_as_objects_are_counted(db, app_ctx):
    from tracker.models import CheckIn

    event = attendance_event(db)
    person = registrations.register(db, event, registration_data())
    arrival = CheckIn(event_id=event.id, registration_id=person.id, scope=0, door="Side")
    db.add(arrival)
    db.flush()
    assert counts.stored_counts(db, event) == counts.fresh_counts(db, event)
    db.delete(arrival)
    db.flush()
    assert counts.stored_counts(db, event) == counts.fresh_counts(db, event)
    assert live_figures(db, event) == figures(db, event, organisations=False)


def test_an_earlier_offline_scan_taking_the_place_of_a_check_in_moves_its_arrival(db, app_ctx):
    """Two doors offline: the scan made first, sent last, takes the recorded check-in's
    place (an UPDATE of its time and door): the arrivals per slot and door follow it."""
    from datetime import timedelta

    from tracker.db import utcnow

    event = attendance_event(db)
    person = registrations.register(db, event, registration_data())
    db.flush()
    now = utcnow().replace(microsecond=0)
    later = check_in(db, event, actor=None, door="South", registration_id=person.id, scanned_at=now)
    earlier = check_in(
        db,
        event,
        actor=None,
        door="North",
        registration_id=person.id,
        scanned_at=now - timedelta(minutes=40),
    )
    assert (later.result, earlier.result) == ("ok", "ok")  # the earlier one stands
    db.flush()
    stored = counts.split(counts.stored_counts(db, event)).slots
    assert stored == counts.split(counts.fresh_counts(db, event)).slots
    doors = {door for _slot, door in stored}
    assert "North" in doors and "South" not in doors
    assert live_figures(db, event) == figures(db, event, organisations=False)
