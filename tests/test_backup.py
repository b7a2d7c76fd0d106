"""`tracker backup` while registrations and check-ins are being written, and `tracker
restore` into an empty database: every row acknowledged before the backup is there, and
the counts agree (SQLite file or PostgreSQL, as the suite runs)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import MetaData, func, select, text
from sqlalchemy.engine import make_url

from tests.conftest import make_event, registration_data, scratch_postgresql
from tracker import create_app
from tracker.checkin.services import check_in
from tracker.cli import upgrade_database
from tracker.models import CheckIn, Event, Registration
from tracker.registration.services import register

pytestmark = pytest.mark.concurrency


@contextmanager
def empty_database(tmp_path: Path, label: str) -> Iterator[str]:
    url = os.environ.get("TRACKER_TEST_DATABASE_URL")
    if url and make_url(url).get_backend_name() == "postgresql":
        with scratch_postgresql(url, label) as scratch:
            yield scratch
    else:
        yield f"sqlite:///{tmp_path / f'{label}.sqlite3'}"


def app_on(url: str):
    return create_app({"ENV_NAME": "testing", "DATABASE_URL": url})


def counts(app) -> dict[str, int]:
    """Rows per table (Alembic's included)."""
    engine = app.extensions["db"].engine
    meta = MetaData()
    meta.reflect(bind=engine)
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table))
            for name, table in meta.tables.items()
        }


class Writers:
    """Threads registering a person, then checking them in, each in its own committed
    transaction; what was acknowledged (committed) is kept with the time it was."""

    def __init__(self, app, event_id: int, threads: int = 3) -> None:
        self.app = app
        self.event_id = event_id
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.registered: list[tuple[float, int]] = []
        self.checked_in: list[tuple[float, int]] = []
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self.run, args=(n,), daemon=True) for n in range(threads)
        ]

    def run(self, n: int) -> None:
        factory = self.app.extensions["db"].sessionmaker
        i = 0
        try:
            while not self.stop.is_set():
                i += 1
                with self.app.app_context():
                    with factory.begin() as db:
                        event = db.get(Event, self.event_id)
                        person = register(
                            db, event, registration_data(email=f"w{n}.{i}@example.org")
                        )
                        registration_id, code = person.id, person.checkin_code
                    with self.lock:
                        self.registered.append((time.monotonic(), registration_id))
                    with factory.begin() as db:
                        event = db.get(Event, self.event_id)
                        outcome = check_in(db, event, actor=None, door="Hall", code=code)
                        assert outcome.result == "ok"
                    with self.lock:
                        self.checked_in.append((time.monotonic(), registration_id))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.errors.append(e)

    def __enter__(self) -> Writers:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def before(self, moment: float) -> tuple[set[int], set[int]]:
        with self.lock:
            return (
                {i for t, i in self.registered if t < moment},
                {i for t, i in self.checked_in if t < moment},
            )


def wait_for(writers: Writers, rows: int) -> None:
    deadline = time.monotonic() + 120
    while len(writers.checked_in) < rows:
        assert not writers.errors, writers.errors
        assert time.monotonic() < deadline, "the writers wrote too slowly"
        time.sleep(0.05)


def test_a_backup_taken_while_writing_restores_every_acknowledged_row(tmp_path):
    with (
        empty_database(tmp_path, "source") as source_url,
        empty_database(tmp_path, "restored") as target_url,
        empty_database(tmp_path, "quiet") as quiet_url,
    ):
        source = app_on(source_url)
        upgrade_database(source.extensions["db"].engine)
        with source.app_context(), source.extensions["db"].sessionmaker.begin() as db:
            event_id = make_event(db, capacity=None).id
        runner = source.test_cli_runner()
        backup_file = tmp_path / "tracker.backup"

        with Writers(source, event_id) as writers:
            wait_for(writers, 20)
            started = time.monotonic()
            result = runner.invoke(args=["backup", "-o", str(backup_file)])
            assert result.exit_code == 0, result.output
            wait_for(writers, len(writers.checked_in) + 10)  # still writing after it
        assert not writers.errors, writers.errors
        assert "database backed up to" in result.output
        assert backup_file.stat().st_mode & 0o777 == 0o600  # personal data

        target = app_on(target_url)
        result = target.test_cli_runner().invoke(args=["restore", str(backup_file)])
        assert result.exit_code == 0, result.output
        registered_before, checked_in_before = writers.before(started)
        engine = target.extensions["db"].engine
        with engine.connect() as connection:
            restored = set(connection.scalars(select(Registration.id)))
            restored_checkins = set(connection.scalars(select(CheckIn.registration_id)))
            # Every row acknowledged before the backup began is there...
            assert registered_before and registered_before <= restored
            assert checked_in_before <= restored_checkins
            # ... nothing else, and the copy is one moment's: at most one registration
            # per writer not yet checked in.
            assert restored <= {i for _t, i in writers.registered}
            assert len(restored) - len(restored_checkins) <= len(writers.threads)
            assert restored_checkins <= restored
            head = connection.scalar(text("SELECT version_num FROM alembic_version"))
        assert head is not None
        assert target.test_client().get("/readyz").status_code == 200  # at head, usable

        # Once the writers have stopped, a backup and its restore agree table by table.
        runner.invoke(args=["backup", "-o", str(backup_file)])
        quiet = app_on(quiet_url)
        result = quiet.test_cli_runner().invoke(args=["restore", str(backup_file)])
        assert result.exit_code == 0, result.output
        assert counts(quiet) == counts(source)
        assert counts(source)["registrations"] == len(writers.registered)
        for app in (source, target, quiet):
            app.extensions["db"].engine.dispose()


def test_restore_refuses_a_database_that_is_not_empty(tmp_path, app):
    with empty_database(tmp_path, "full") as url:
        full = app_on(url)
        upgrade_database(full.extensions["db"].engine)
        backup_file = tmp_path / "tracker.backup"
        assert full.test_cli_runner().invoke(args=["backup", "-o", str(backup_file)]).exit_code == 0
        before = counts(full)
        result = full.test_cli_runner().invoke(args=["restore", str(backup_file)])
        assert result.exit_code == 1
        assert "the database is not empty" in result.output
        assert "Traceback" not in result.output
        assert counts(full) == before
        full.extensions["db"].engine.dispose()


def test_restore_refuses_what_is_not_a_backup(tmp_path):
    with empty_database(tmp_path, "empty") as url:
        empty = app_on(url)
        runner = empty.test_cli_runner()
        other = tmp_path / "notes.txt"
        other.write_text("not a database")
        result = runner.invoke(args=["restore", str(other)])
        assert result.exit_code == 1 and "is not a backup made by tracker backup" in result.output
        result = runner.invoke(args=["restore", str(tmp_path / "missing.backup")])
        assert result.exit_code == 1 and "does not exist" in result.output
        wrong = tmp_path / "wrong.backup"
        if empty.extensions["db"].engine.dialect.name == "sqlite":
            wrong.write_bytes(b"PGDMP" + b"\0" * 100)
            expected = "is a backup of a PostgreSQL database"
        else:
            wrong.write_bytes(b"SQLite format 3\0" + b"\0" * 100)
            expected = "is a backup of a SQLite database"
        result = runner.invoke(args=["restore", str(wrong)])
        assert result.exit_code == 1 and expected in result.output
        empty.extensions["db"].engine.dispose()


def test_the_postgresql_tools_missing_is_said_clearly(tmp_path, monkeypatch):
    url = os.environ.get("TRACKER_TEST_DATABASE_URL")
    if not url or make_url(url).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only (TRACKER_TEST_DATABASE_URL)")
    monkeypatch.setenv("PATH", str(tmp_path))  # neither pg_dump nor pg_restore
    app = app_on(url)
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(tmp_path / "x.backup")])
    assert result.exit_code == 1
    assert "pg_dump is not installed" in result.output
    assert not (tmp_path / "x.backup").exists()
    app.extensions["db"].engine.dispose()


def test_an_in_memory_database_cannot_be_backed_up(tmp_path):
    app = app_on("sqlite://")
    result = app.test_cli_runner().invoke(args=["backup", "-o", str(tmp_path / "x.backup")])
    assert result.exit_code == 1 and "in-memory" in result.output
    assert list(tmp_path.iterdir()) == []  # no half-written file left
