"""The door offline, server side: the snapshot and its deltas, check-ins sent after a
network cut (`scanned_at`), and the duplicate rule when two offline doors let the same
person in."""

from __future__ import annotations

import gzip
import json
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.conftest import bearer, checkins_url, make_event, make_registration, row_count
from tracker.api.answers import checkin_answer
from tracker.auth.services import create_user
from tracker.checkin import conflicts, services, snapshot
from tracker.db import utcnow
from tracker.models import AuditEntry, CheckIn, CheckInConflict, Registration, Role, ScanLog
from tracker.registration.services import cancel_registration


def snapshot_url(event, since=None):
    url = f"/api/v1/events/{event.slug}/door-snapshot"
    return url if since is None else f"{url}?since={since}"


@pytest.fixture
def event(db):
    return make_event(db)


@pytest.fixture
def headers(app, db, event):
    with app.app_context():
        user = create_user(
            db, "door-offline@example.org", "a long door password", Role.DOOR, [event]
        )
    return bearer(db, user)


def test_the_snapshot_holds_what_the_door_shows_and_never_the_code_or_an_address(
    client, db, event, headers
):
    people = [make_registration(db, event) for _ in range(3)]
    people[0].sessions = [event.sessions[1]]
    services.check_in(db, event, actor=None, door="North", registration_id=people[1].id)
    db.flush()
    response = client.get(snapshot_url(event), headers=headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["full"] is True
    assert body["cursor"].startswith("v1.")
    assert [s["title"] for s in body["sessions"]] == [s.title for s in event.sessions]
    by_id = {p["id"]: p for p in body["people"]}
    assert set(by_id) == {p.id for p in people}
    first = by_id[people[0].id]
    assert first["first_name"] == people[0].first_name
    assert first["organisation"] == "Vegepolys"
    assert first["organisation_type"] == "cluster"
    assert first["status"] == "confirmed"
    assert first["sessions"] == [event.sessions[1].id]
    assert first["code_sha256"] == snapshot.code_hash(people[0].checkin_code)
    assert by_id[people[1].id]["checkins"]["0"]["door"] == "North"
    text = response.get_data(as_text=True)
    for p in people:
        assert p.checkin_code not in text
        assert p.email not in text
    assert "@" not in text


def test_a_delta_holds_only_who_changed_cancellations_and_newcomers_included(
    client, db, event, headers
):
    hour_ago = utcnow() - timedelta(hours=1)
    stays = make_registration(db, event, now=hour_ago)
    cancelled = make_registration(db, event, now=hour_ago)
    db.flush()
    # As if made an hour ago, their audit entries too.
    db.execute(
        update(Registration).values(updated_at=hour_ago).where(Registration.event_id == event.id)
    )
    db.execute(update(AuditEntry).values(at=hour_ago).where(AuditEntry.event_id == event.id))
    first = client.get(snapshot_url(event), headers=headers).get_json()
    assert len(first["people"]) == 2
    # Nobody changed since: nobody is sent again.
    assert (
        client.get(snapshot_url(event, first["cursor"]), headers=headers).get_json()["people"] == []
    )
    later = utcnow() + timedelta(seconds=5)
    cancel_registration(db, cancelled, now=later)
    newcomer = make_registration(db, event, now=later)
    services.check_in(db, event, actor=None, door="S", registration_id=stays.id, now=later)
    db.flush()
    delta = snapshot.snapshot(db, event, first["cursor"], now=later + timedelta(seconds=1))
    assert delta.full is False
    changed = {p["id"]: p for p in delta.people}
    assert set(changed) >= {cancelled.id, newcomer.id, stays.id}
    assert changed[cancelled.id]["status"] == "cancelled"
    assert "0" in changed[stays.id]["checkins"]


def test_a_cursor_not_given_by_the_server_is_refused_and_other_events_are_not_shown(
    client, db, event, headers
):
    for bad in ("nonsense", "v1.abc", "v1." + "9" * 19, "v1.99999999999999999"):
        response = client.get(snapshot_url(event, bad), headers=headers)
        assert response.status_code == 422, bad
        assert response.get_json()["field"] == "since"
    other = make_event(db)
    assert client.get(snapshot_url(other), headers=headers).status_code == 403


def test_the_snapshot_is_gzipped_for_a_client_that_takes_it(client, db, event, headers):
    for _ in range(20):
        make_registration(db, event)
    db.flush()
    response = client.get(snapshot_url(event), headers={**headers, "Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    body = json.loads(gzip.decompress(response.get_data()))
    assert len(body["people"]) == 20


def test_scanned_at_is_the_check_in_time_and_the_server_keeps_its_own(client, db, event, headers):
    person = make_registration(db, event)
    db.flush()
    scanned = (utcnow() - timedelta(minutes=20)).replace(microsecond=0)
    response = client.post(
        checkins_url(event),
        json={
            "registration": person.id,
            "door": "North",
            "nonce": "n-1",
            "scanned_at": scanned.isoformat(),
        },
        headers=headers,
    )
    assert response.status_code == 201
    assert response.get_json()["result"] == "ok"
    db.expire_all()
    checkin = db.scalar(select(CheckIn).where(CheckIn.registration_id == person.id))
    assert checkin.checked_in_at == scanned
    assert checkin.recorded_at > scanned + timedelta(minutes=19)
    log = db.scalar(select(ScanLog).where(ScanLog.nonce == "n-1"))
    assert log.scanned_at == scanned
    assert log.at > scanned + timedelta(minutes=19)


@pytest.mark.parametrize(
    "value",
    [
        "yesterday",
        "2026-05-04T08:00:00",  # no time zone
        12,
        "",
    ],
)
def test_a_scanned_at_that_is_not_a_time_is_refused(client, db, event, headers, value):
    person = make_registration(db, event)
    db.flush()
    response = client.post(
        checkins_url(event),
        json={"registration": person.id, "door": "N", "scanned_at": value},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.get_json()["field"] == "scanned_at"
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 0


@pytest.mark.parametrize("delta", [timedelta(hours=24, minutes=1), -timedelta(minutes=10)])
def test_a_scan_more_than_a_day_old_or_in_the_future_is_refused(client, db, event, headers, delta):
    person = make_registration(db, event)
    db.flush()
    response = client.post(
        checkins_url(event),
        json={"registration": person.id, "door": "N", "scanned_at": (utcnow() - delta).isoformat()},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.get_json()["field"] == "scanned_at"
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 0


def _offline(db, event, person, door, minutes_ago, nonce):
    return services.check_in(
        db,
        event,
        actor=None,
        door=door,
        registration_id=person.id,
        nonce=nonce,
        scanned_at=(utcnow() - timedelta(minutes=minutes_ago)).replace(microsecond=0),
        answer=checkin_answer,
    )


def test_two_offline_doors_the_first_by_time_stands_whichever_arrives_first(db, event):
    early_first, late_first = make_registration(db, event), make_registration(db, event)
    db.flush()
    # Sent in the order of the scans.
    assert _offline(db, event, early_first, "North", 30, "a1").result == services.ScanResult.OK
    assert _offline(db, event, early_first, "South", 20, "b1").result == services.ScanResult.ALREADY
    # The later scan reaches the server first: the earlier one takes its place.
    assert _offline(db, event, late_first, "South", 20, "b2").result == services.ScanResult.OK
    assert _offline(db, event, late_first, "North", 30, "a2").result == services.ScanResult.OK
    db.flush()
    for person in (early_first, late_first):
        rows = db.scalars(select(CheckIn).where(CheckIn.registration_id == person.id)).all()
        assert len(rows) == 1
        assert rows[0].door == "North"
    found = conflicts.conflicts(db, event)
    assert len(found) == 2
    for c in found:
        assert (c.kept_door, c.duplicate_door) == ("North", "South")
        assert c.kept_at < c.duplicate_at


def test_a_resent_offline_check_in_counts_once_and_is_no_conflict(db, event):
    person = make_registration(db, event)
    db.flush()
    first = _offline(db, event, person, "North", 5, "same")
    again = _offline(db, event, person, "North", 5, "same")
    assert first.result == again.result == services.ScanResult.OK
    assert again.answer == first.answer
    assert row_count(db, CheckIn, CheckIn.registration_id == person.id) == 1
    assert row_count(db, CheckInConflict) == 0


def test_an_online_scan_after_an_offline_one_is_the_usual_already_checked_in(db, event):
    person = make_registration(db, event)
    db.flush()
    _offline(db, event, person, "North", 5, "x")
    online = services.check_in(db, event, actor=None, door="South", registration_id=person.id)
    assert online.result == services.ScanResult.ALREADY
    assert row_count(db, CheckInConflict) == 0


# --- the organiser's report --------------------------------------------------------------


def test_conflicts_are_in_the_check_in_log_export_and_on_the_statistics_page(
    app, client, db, event
):
    from tests.conftest import Tables, csv_tables, login, make_user, render_export

    person = make_registration(db, event, first_name="Aïssa", last_name="Offline")
    db.flush()
    _offline(db, event, person, "South", 20, "s")
    _offline(db, event, person, "North", 30, "n")
    db.flush()
    tables = csv_tables(render_export(db, event, "checkins", "csv").body)
    log = tables["Check-in log"]
    assert log[0][-1] == "Scanned on the device"
    assert all(row[-1] for row in log[1:]), "every scan here was sent after a cut"
    conflict = tables["Checked in twice offline"]
    assert conflict[0][3:7] == [
        "Door that stands",
        "Time at that door",
        "Duplicate door",
        "Time at the duplicate door",
    ]
    assert conflict[1][:4] == [str(person.id), "Aïssa Offline", "Entrance", "North"]
    assert conflict[1][5] == "South"
    assert conflict[1][4] < conflict[1][6]

    user = make_user(app, db, Role.ORGANISER, [event], email="org-offline@example.org")
    db.commit()
    login(client, user)
    page = client.get(f"/events/{event.slug}/stats")
    assert page.status_code == 200
    rows = Tables(page.get_data(as_text=True)).tables["table-conflicts"]
    assert rows[1][0] == "Aïssa Offline"
    assert rows[1][2].startswith("North · ") and rows[1][3].startswith("South · ")


def test_no_conflict_no_second_table_and_no_report(app, client, db, event):
    from tests.conftest import csv_rows, render_export

    person = make_registration(db, event)
    services.check_in(db, event, actor=None, door="N", registration_id=person.id)
    db.flush()
    rows = csv_rows(render_export(db, event, "checkins", "csv").body)
    assert len(rows) == 1 and rows[0]["Scanned on the device"] == ""


# --- the door screen as an installable web app ----------------------------------------------


def test_the_door_screen_has_a_manifest_and_a_service_worker_for_its_staff_only(
    app, client, db, event
):
    from tests.conftest import login, make_user

    page = f"/events/{event.slug}/door"
    assert client.get(f"{page}/sw.js").status_code in (302, 303, 401)
    user = make_user(app, db, Role.DOOR, [event], email="door-sw@example.org")
    db.commit()
    login(client, user)
    html = client.get(page).get_data(as_text=True)
    assert f'href="{page}/manifest.webmanifest"' in html
    assert f'data-service-worker="{page}/sw.js"' in html
    assert 'type="module"' in html
    manifest = client.get(f"{page}/manifest.webmanifest")
    assert manifest.mimetype == "application/manifest+json"
    assert manifest.get_json()["start_url"] == page
    worker = client.get(f"{page}/sw.js")
    assert worker.status_code == 200
    assert worker.mimetype == "text/javascript"
    assert worker.headers["Service-Worker-Allowed"] == page
    script = worker.get_data(as_text=True)
    assert f"const PAGE = {json.dumps(page)};" in script
    for kept in ("/static/js/door.js", "/static/js/door/queue.js", "/static/vendor/jsqr/jsQR.js"):
        assert json.dumps(kept) in script
    # Every file it keeps is there (an install with a missing one would fail).
    assets = json.loads(script.split("const ASSETS = ", 1)[1].split(";\n", 1)[0])
    for url in assets:
        assert client.get(url).status_code == 200, url
    other = make_event(db)
    db.commit()
    assert client.get(f"/events/{other.slug}/door/sw.js").status_code in (403, 404)
