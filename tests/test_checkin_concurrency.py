"""Several doors at once, through the API, on real concurrent database connections
(a SQLite file or PostgreSQL): one code scanned 200 times is checked in exactly once.

The data is committed (not inside the `db` fixture's rolled-back transaction, which
on SQLite would hold the write lock) and removed afterwards.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import delete, func, select

from tests.conftest import make_event, make_registration
from tracker.auth.services import create_token, create_user
from tracker.models import CheckIn, Event, Organisation, Role, ScanLog, User

pytestmark = pytest.mark.concurrency

CLIENTS = 10
ORGANISATION = "Concurrent check-in test organisation"


@pytest.fixture
def door_setup(app):
    """An event with one confirmed person and one door account with a token per client,
    all committed; everything is deleted afterwards."""
    factory = app.extensions["db"].sessionmaker
    created: dict[str, list[int]] = {"events": [], "users": []}

    def build():
        with app.app_context(), factory.begin() as db:
            event = make_event(db)
            person = make_registration(db, event, organisation=ORGANISATION)
            staff = create_user(
                db,
                f"door.{event.slug}@example.org",
                "a long door password",
                Role.DOOR,
                [event],
            )
            created["events"].append(event.id)
            created["users"].append(staff.id)
            tokens = [create_token(db, staff, f"Door {n}")[0] for n in range(CLIENTS)]
            return event.slug, event.id, person.checkin_code, person.id, tokens

    yield build
    with factory.begin() as db:
        db.execute(delete(Event).where(Event.id.in_(created["events"])))
        db.execute(delete(User).where(User.id.in_(created["users"])))
        db.execute(delete(Organisation).where(Organisation.name == ORGANISATION))


def race(app, tokens, n_requests, request_for):
    """n_requests spread over one test client per token, all starting together."""
    barrier = threading.Barrier(len(tokens))

    def client_run(index):
        headers = {"Authorization": f"Bearer {tokens[index]}", "Accept-Language": "en"}
        answers = []
        with app.test_client() as client:
            barrier.wait()
            for i in range(index, n_requests, len(tokens)):
                path, body = request_for(i)
                response = client.post(path, json=body, headers=headers)
                answers.append((response.status_code, response.get_data(as_text=True)))
        return answers

    with ThreadPoolExecutor(len(tokens)) as pool:
        return [a for answers in pool.map(client_run, range(len(tokens))) for a in answers]


def stored(app, event_id, registration_id):
    with app.extensions["db"].sessionmaker() as db:
        checkins = db.scalar(select(func.count()).where(CheckIn.registration_id == registration_id))
        scans = db.scalar(select(func.count()).where(ScanLog.event_id == event_id))
        ok = db.scalar(
            select(func.count()).where(
                ScanLog.registration_id == registration_id, ScanLog.result == "ok"
            )
        )
    return checkins, scans, ok


def test_200_concurrent_check_ins_of_one_code_give_one_ok(app, door_setup):
    slug, event_id, code, registration_id, tokens = door_setup()
    path = f"/api/v1/events/{slug}/checkins"

    answers = race(app, tokens, 200, lambda i: (path, {"code": code, "door": f"Door {i % 10}"}))

    statuses = Counter(status for status, _body in answers)
    assert statuses == {201: 1, 409: 199}, [b for s, b in answers if s not in (201, 409)][:3]
    results = Counter(json.loads(body)["result"] for _status, body in answers)
    assert results == {"ok": 1, "already_checked_in": 199}
    # Every "already" names the one door that got the "ok".
    ok = next(json.loads(b) for s, b in answers if s == 201)
    doors = {json.loads(b)["door"] for s, b in answers if s == 409}
    assert len(doors) == 1
    assert ok["registration"]["checked_in_at"] is not None
    assert stored(app, event_id, registration_id) == (1, 200, 1)


def test_concurrent_retries_with_one_nonce_count_once(app, door_setup):
    slug, event_id, code, registration_id, tokens = door_setup()
    path = f"/api/v1/events/{slug}/checkins"
    body = {"code": code, "door": "Door 1", "nonce": "door-1:0001"}

    answers = race(app, tokens, 60, lambda _i: (path, body))

    assert {status for status, _body in answers} == {201}
    assert len({body for _status, body in answers}) == 1  # the first answer, every time
    checkins, scans, ok = stored(app, event_id, registration_id)
    assert (checkins, scans, ok) == (1, 1, 1)


def test_offline_doors_sending_the_same_person_at_once_keep_the_earliest_scan(app, door_setup):
    """Ten doors that each let the same person in while offline send their check-ins at
    once: one check-in stands, the earliest by the device's time, and each of the nine
    others is recorded once as a duplicate."""
    from datetime import timedelta

    from tracker.db import utcnow
    from tracker.models import CheckInConflict

    slug, event_id, _code, registration_id, tokens = door_setup()
    base = utcnow().replace(microsecond=0) - timedelta(hours=1)
    # Door n scanned at base + n minutes: door 0 was first.
    times = {f"Door {n}": base + timedelta(minutes=n) for n in range(CLIENTS)}

    def request_for(i):
        door = f"Door {i}"
        body = {
            "registration": registration_id,
            "door": door,
            "nonce": f"offline-{event_id}-{i}",
            "scanned_at": times[door].isoformat(),
        }
        return f"/api/v1/events/{slug}/checkins", body

    answers = race(app, tokens, CLIENTS, request_for)
    assert all(status in (201, 409) for status, _body in answers), answers
    with app.extensions["db"].sessionmaker() as db:
        rows = db.scalars(select(CheckIn).where(CheckIn.registration_id == registration_id)).all()
        assert len(rows) == 1
        assert (rows[0].door, rows[0].checked_in_at) == ("Door 0", times["Door 0"])
        found = db.scalars(
            select(CheckInConflict).where(CheckInConflict.event_id == event_id)
        ).all()
    assert len(found) == CLIENTS - 1
    # Each later door is the duplicate once: when it arrived after an earlier one, or
    # when an earlier one arrived and took its place.
    assert Counter(c.duplicate_door for c in found) == Counter(
        f"Door {n}" for n in range(1, CLIENTS)
    )
    assert all(c.kept_at < c.duplicate_at for c in found)
