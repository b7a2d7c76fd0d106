"""/healthz and /readyz: JSON, 200 or 503, open to anyone, and saying nothing secret."""

from __future__ import annotations

import pytest

from tracker import create_app, health
from tracker.cli import upgrade_database


def test_healthz_answers_anyone(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ready_with_the_database_at_head(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "queue": "ok"},
    }


def test_readyz_says_when_the_task_queue_is_unreachable(client, monkeypatch):
    from tracker import jobs

    def down() -> int:
        raise ConnectionError("Error 111 connecting to 10.0.0.5:6379. Connection refused.")

    monkeypatch.setattr(jobs.huey, "pending_count", down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "queue": "unreachable",
    }
    assert "10.0.0.5" not in response.get_data(as_text=True)


@pytest.fixture
def sqlite_app(tmp_path):
    def make(path):
        app = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{path}"})
        return app

    return make


def test_readyz_says_when_the_migrations_are_behind(sqlite_app, tmp_path):
    app = sqlite_app(tmp_path / "old.sqlite3")
    engine = app.extensions["db"].engine
    upgrade_database(engine, "e00783bf17c7")  # the first schema: behind
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {
        "status": "unready",
        "checks": {"database": "ok", "migrations": "not at head", "queue": "ok"},
    }
    upgrade_database(engine)
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_says_when_the_database_is_unreachable(sqlite_app, tmp_path):
    path = tmp_path / "missing-folder" / "tracker.sqlite3"
    app = sqlite_app(path)
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unready"
    assert body["checks"]["database"] == "unreachable"
    # Nothing about where the database is, nor the error's text.
    assert "missing-folder" not in response.get_data(as_text=True)
    assert app.test_client().get("/healthz").status_code == 200  # the process still answers


def test_a_database_server_that_is_down_is_unready_without_secrets():
    pytest.importorskip("psycopg")
    url = "postgresql+psycopg://tracker:hunter2-secret@127.0.0.1:9/tracker"
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": url})
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["database"] == "unreachable"
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "127.0.0.1" not in text


def test_each_check_is_one_entry_of_the_list(client, monkeypatch):
    def disk() -> None:
        raise health.NotReady("full")

    monkeypatch.setattr(health, "READY_CHECKS", [*health.READY_CHECKS, ("disk", disk)])
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["checks"] == {
        "database": "ok",
        "migrations": "ok",
        "queue": "ok",
        "disk": "full",
    }


def test_health_answers_are_neither_rate_limited_nor_behind_a_login(client):
    answers = {client.get(path).status_code for path in ["/healthz", "/readyz"] * 30}
    assert answers == {200}
