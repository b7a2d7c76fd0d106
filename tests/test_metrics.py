"""/metrics: Prometheus figures that add up over gunicorn's workers, for this machine or
the holder of the token only."""

from __future__ import annotations

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import bearer, form_data, make_event, make_registration
from tests.servers import gunicorn, workers
from tracker import create_app
from tracker.auth.services import create_user
from tracker.cli import upgrade_database
from tracker.models import Role

PASSWORD = "a long enough password"  # noqa: S105 - tests only


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def figure(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, tuple(sorted(labels.items()))), 0.0)


def scrape(client) -> str:
    response = client.get("/metrics")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/plain"
    return response.get_data(as_text=True)


def test_this_machine_reads_the_metrics_without_a_token(client):
    text = scrape(client)
    assert "tracker_http_requests_total" in text
    assert figure(text, "tracker_database_up") == 1.0


@pytest.mark.parametrize(
    ("environ", "headers"),
    [
        ({"REMOTE_ADDR": "192.0.2.10"}, {}),
        ({}, {"X-Forwarded-For": "192.0.2.10"}),  # a proxy on this machine passed it on
        ({}, {"Forwarded": "for=192.0.2.10"}),
    ],
)
def test_anyone_else_needs_the_token(client, environ, headers):
    response = client.get("/metrics", environ_base=environ, headers=headers)
    assert response.status_code == 403
    assert response.get_json()["error"] == "forbidden"
    assert "tracker_" not in response.get_data(as_text=True)


def test_with_a_token_set_only_its_holder_reads(client, app, monkeypatch):
    monkeypatch.setitem(app.config, "METRICS_TOKEN", "s3cret-metrics-token")
    assert client.get("/metrics").status_code == 403  # not even from this machine
    wrong = {"Authorization": "Bearer s3cret-metrics-tokem"}
    assert client.get("/metrics", headers=wrong).status_code == 403
    right = {"Authorization": "Bearer s3cret-metrics-token"}
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    assert client.get("/metrics", headers=right, environ_base=remote).status_code == 200


def test_requests_registrations_and_check_ins_are_counted(client, db, app):
    event = make_event(db, capacity=1)
    door = _door(app, db, event)
    before = scrape(client)

    for _ in range(3):
        assert client.get(f"/events/{event.slug}").status_code == 200
    assert client.post(f"/events/{event.slug}/register", data=form_data(event)).status_code in (
        200,
        303,
    )
    assert client.post(f"/events/{event.slug}/register", data=form_data(event)).status_code in (
        200,
        303,
    )
    person = make_registration(db, event)  # waitlisted: not checked in
    headers = bearer(db, door)
    url = f"/api/v1/events/{event.slug}/checkins"
    confirmed = [r for r in event.registrations if r.status.value == "confirmed"][0]
    client.post(url, json={"code": confirmed.checkin_code}, headers=headers)
    client.post(url, json={"code": confirmed.checkin_code}, headers=headers)
    client.post(url, json={"code": person.checkin_code}, headers=headers)
    client.post(url, json={"code": "Z" * 26}, headers=headers)
    db.commit()  # the service call above is counted once committed
    after = scrape(client)

    def delta(name: str, **labels: str) -> float:
        return figure(after, name, **labels) - figure(before, name, **labels)

    labels = {"endpoint": "events.show", "method": "GET", "status": "200"}
    assert delta("tracker_http_requests_total", **labels) == 3
    assert delta("tracker_http_request_duration_seconds_count", endpoint="events.show") == 3
    assert delta("tracker_registrations_total", status="confirmed") == 1
    assert delta("tracker_registrations_total", status="waitlisted") == 2
    assert delta("tracker_checkins_total", result="ok") == 1
    assert delta("tracker_checkins_total", result="already_checked_in") == 1
    assert delta("tracker_checkins_total", result="not_confirmed") == 1
    assert delta("tracker_checkins_total", result="unknown") == 1


def test_a_registration_rolled_back_is_not_counted(db, app):
    event = make_event(db)
    before = figure(scrape(app.test_client()), "tracker_registrations_total", status="confirmed")
    nested = db.begin_nested()
    make_registration(db, event)
    nested.rollback()
    after = figure(scrape(app.test_client()), "tracker_registrations_total", status="confirmed")
    assert after == before


def test_the_database_figures_are_read_at_each_scrape(client, db):
    event = make_event(db)
    before = figure(scrape(client), "tracker_registrations_stored", status="confirmed")
    make_registration(db, event)
    make_registration(db, event)
    db.flush()
    after = figure(scrape(client), "tracker_registrations_stored", status="confirmed")
    assert after - before == 2


def _door(app, db, event):
    with app.app_context():
        return create_user(
            db, f"door.{time.monotonic_ns()}@example.org", PASSWORD, Role.DOOR, [event]
        )


# --- several gunicorn workers ------------------------------------------------------------


def healthz_answered_by(folder, pid: int) -> float:
    """How many /healthz requests the worker `pid` counted, read from its own file."""
    path = folder / f"counter_{pid}.db"
    if not path.exists():
        return 0.0
    return sum(
        value
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path))
        if "tracker_http_requests_total" in key and "health.healthz" in key
    )


def test_the_counts_of_two_gunicorn_workers_add_up(tmp_path, own_database):
    """Requests answered by two workers: every scrape, whichever worker answers it,
    counts all of them; and still after a worker is killed and replaced."""
    setup = create_app({"ENV_NAME": "testing", "DATABASE_URL": own_database})
    upgrade_database(setup.extensions["db"].engine)
    setup.extensions["db"].engine.dispose()
    metrics_dir = tmp_path / "metrics"
    with gunicorn(
        tmp_path / "server",
        own_database,
        TRACKER_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
    ) as server:

        def hit(_n: int) -> int:
            with httpx.Client(base_url=server.base, timeout=30) as http:  # a new connection
                return http.get("/healthz").status_code

        def healthz_count() -> float:
            text = httpx.get(f"{server.base}/metrics", timeout=30).text
            return figure(
                text,
                "tracker_http_requests_total",
                endpoint="health.healthz",
                method="GET",
                status="200",
            )

        start = healthz_count()  # the readiness polls of the start
        pids = workers(server.process.pid)
        assert len(pids) == 2
        # Batches of 20 at once until both workers have answered some (each keeps its
        # figures in a file of its own).
        sent = 0
        while sent < 400:
            with ThreadPoolExecutor(8) as pool:
                assert set(pool.map(hit, range(20))) == {200}
            sent += 20
            if all(healthz_answered_by(metrics_dir, pid) for pid in pids):
                break
        assert all(healthz_answered_by(metrics_dir, pid) for pid in pids)

        assert [healthz_count() for _ in range(6)] == [start + sent] * 6

        os.kill(pids[0], signal.SIGKILL)
        deadline = time.monotonic() + 30
        while len(workers(server.process.pid)) < 2 or pids[0] in workers(server.process.pid):
            assert time.monotonic() < deadline, server.log_text()[-2000:]
            time.sleep(0.2)
        assert [healthz_count() for _ in range(6)] == [start + sent] * 6


def test_the_outbox_and_the_queue_are_read_at_each_scrape(client, db):
    event = make_event(db)
    before = scrape(client)
    assert client.post(f"/events/{event.slug}/register", data=form_data(event)).status_code in (
        200,
        303,
    )
    after = scrape(client)
    sent = figure(after, "tracker_emails", state="sent") - figure(
        before, "tracker_emails", state="sent"
    )
    assert sent == 1  # the confirmation (the tests' queue runs each job at once)
    assert ("tracker_emails", (("state", "failed"),)) in samples(after)
    assert figure(after, "tracker_queue_jobs", kind="queued") == 0
    assert ("tracker_queue_jobs", (("kind", "scheduled"),)) in samples(after)
