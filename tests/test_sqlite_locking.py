"""SQLite's write lock: read-only pages and exports do not take it (the statistics,
refreshed every few seconds by every organiser watching, never make a door wait), and
a writer waits for it, then gets it, or fails clearly after WRITE_LOCK_TIMEOUT. (A real
SQLite file and real connections: the rolled-back test transaction would hide it.)"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text

import tracker.auth
from tests.conftest import make_event
from tracker import create_app
from tracker.auth.services import create_user
from tracker.cli import upgrade_database
from tracker.db import get_db, read_only
from tracker.models import Role


@pytest.fixture
def file_app(tmp_path):
    app = create_app({"ENV_NAME": "testing", "DATABASE_URL": f"sqlite:///{tmp_path}/t.db"})
    upgrade_database(app.extensions["db"].engine)
    with app.app_context(), app.extensions["db"].sessionmaker.begin() as db:
        event = make_event(db)
        user = create_user(db, "org@example.org", "a long password", Role.ORGANISER, [event])
        app.config["TEST_IDS"] = (event.slug, user.id)
    yield app
    app.extensions["db"].engine.dispose()


def logged_in(app):
    client = app.test_client()
    with client.session_transaction() as s:
        s["_user_id"] = str(app.config["TEST_IDS"][1])
        s["_fresh"] = True
        s[tracker.auth.LAST_SEEN_KEY] = int(time.time())
        s[tracker.auth.VERSION_KEY] = 0  # a new account's
    return client


def test_the_dashboard_answers_while_a_door_holds_the_write_lock(file_app):
    slug, _ = file_app.config["TEST_IDS"]
    client = logged_in(file_app)
    door = file_app.extensions["db"].engine.connect()
    # A check-in in the middle of its transaction (which begins IMMEDIATE: the lock).
    door.execute(text("UPDATE events SET title = title"))
    answers = []
    pages = [f"/events/{slug}/stats", f"/events/{slug}/export?what=headcount&format=csv"]
    reader = threading.Thread(target=lambda: answers.extend(client.get(p) for p in pages))
    reader.start()
    reader.join(timeout=10)
    finished = not reader.is_alive()
    door.rollback()
    door.close()
    reader.join()
    assert finished, "the statistics waited for the write lock"
    assert [a.status_code for a in answers] == [200, 200]


def test_an_export_from_the_shell_runs_while_a_door_holds_the_write_lock(file_app, tmp_path):
    from tracker.reports.cli import export_command

    slug, _ = file_app.config["TEST_IDS"]
    out = tmp_path / "attendees.csv"
    door = file_app.extensions["db"].engine.connect()
    door.execute(text("UPDATE events SET title = title"))  # BEGIN IMMEDIATE: the lock
    results = []
    args = [slug, "--what", "attendees", "--format", "csv", "-o", str(out)]
    runner = file_app.test_cli_runner()
    shell = threading.Thread(target=lambda: results.append(runner.invoke(export_command, args)))
    shell.start()
    shell.join(timeout=10)
    finished = not shell.is_alive()
    door.rollback()
    door.close()
    shell.join()
    assert finished, "the export waited for the write lock"
    assert results[0].exit_code == 0, results[0].output
    assert out.read_text(encoding="utf-8").startswith("ID,")


def test_a_read_only_view_that_writes_is_stopped(file_app):
    @file_app.route("/__write", endpoint="test_write")
    @read_only
    def write_something():
        db = get_db()
        db.execute(text("SELECT 1"))
        from tracker.models import Event

        db.query(Event).first().title = "changed"
        db.flush()
        return "written"

    with pytest.raises(RuntimeError, match="read-only request tried to write"):
        logged_in(file_app).get("/__write")  # (testing: the error reaches the test)
    with file_app.extensions["db"].engine.connect() as conn:
        assert (
            conn.execute(text("SELECT count(*) FROM events WHERE title = 'changed'")).scalar() == 0
        )


def test_a_writer_waits_for_the_lock_then_gets_it_or_fails_clearly(file_app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import tracker.db

    engine = file_app.extensions["db"].engine
    door = engine.connect()
    door.execute(text("UPDATE events SET title = title"))  # holds the write lock
    released = threading.Timer(0.3, door.rollback)
    released.start()
    with engine.connect() as other:  # waits, then writes once the door is done
        other.execute(text("UPDATE events SET title = title || ''"))
        other.commit()
    released.join()

    monkeypatch.setattr(tracker.db, "WRITE_LOCK_TIMEOUT", 0.2)
    door.execute(text("UPDATE events SET title = title"))
    try:
        with engine.connect() as other, pytest.raises(OperationalError, match="locked"):
            other.execute(text("UPDATE events SET title = title"))
    finally:
        door.rollback()
        door.close()
