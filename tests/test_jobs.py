"""The queue of background jobs (tracker.jobs): where it is kept, queuing after the
commit only, and running queued jobs in a test without a worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Flask, current_app
from sqlalchemy import text
from sqlalchemy.orm import Session as DbSession

from tracker import jobs

done: list[tuple[str, str]] = []


@jobs.task()
def remember(value: str) -> None:
    done.append((value, current_app.name))


@pytest.fixture(autouse=True)
def _forget() -> None:
    done.clear()


def test_a_job_queued_in_a_transaction_waits_for_the_commit(
    app: Flask, db: DbSession, queued: None
) -> None:
    jobs.enqueue_after_commit(db, remember, "kept")
    assert jobs.huey.pending_count() == 0  # not before the commit
    db.commit()
    assert jobs.huey.pending_count() == 1
    assert done == []
    assert jobs.run_pending() == 1
    assert done == [("kept", app.name)]  # ran inside the app's context
    assert jobs.run_pending() == 0


def test_a_rolled_back_transaction_queues_nothing(db: DbSession, queued: None) -> None:
    db.execute(text("SELECT 1"))  # the transaction has begun, as in a service
    jobs.enqueue_after_commit(db, remember, "lost")
    db.rollback()
    db.commit()
    assert jobs.run_pending() == 0
    assert done == []


def test_a_savepoint_released_or_rolled_back_waits_for_the_real_commit(
    app: Flask, db: DbSession, queued: None
) -> None:
    db.execute(text("SELECT 1"))
    jobs.enqueue_after_commit(db, remember, "before the savepoint")
    with db.begin_nested():
        jobs.enqueue_after_commit(db, remember, "in a savepoint")
    assert jobs.huey.pending_count() == 0  # released, but nothing is committed yet
    savepoint = db.begin_nested()
    db.execute(text("SELECT 1"))
    savepoint.rollback()
    db.commit()
    assert jobs.run_pending() == 2
    assert sorted(value for value, _ in done) == ["before the savepoint", "in a savepoint"]


def test_a_job_runs_outside_any_app_context_in_the_worker_s_app(app: Flask, queued: None) -> None:
    remember("from a command")
    assert jobs.run_pending() == 1
    assert done == [("from a command", app.name)]


def test_the_queue_is_where_the_setting_says(app: Flask, tmp_path: Path) -> None:
    jobs.configure(f"sqlite:///{tmp_path / 'queue.sqlite3'}", app.instance_path)
    assert Path(jobs.huey.storage.filename) == tmp_path / "queue.sqlite3"
    jobs.configure("sqlite:///queue.sqlite3", tmp_path / "instance")
    assert Path(jobs.huey.storage.filename) == tmp_path / "instance" / "queue.sqlite3"
    jobs.configure("redis://127.0.0.1:6379/6", app.instance_path)
    assert type(jobs.huey.storage).__name__ == "RedisStorage"
    with pytest.raises(RuntimeError, match="TRACKER_QUEUE_URL"):
        jobs.configure("amqp://localhost", app.instance_path)


def test_the_default_queue_is_a_sqlite_file_in_the_instance_folder() -> None:
    import config

    assert config.Config.QUEUE_URL == f"sqlite:///{config.INSTANCE_DIR / 'queue.sqlite3'}"


@pytest.mark.parametrize("value", ["0", "two", "-1"])
def test_a_bad_number_of_worker_threads_is_refused(value: str) -> None:
    from tracker import create_app

    with pytest.raises(RuntimeError, match="TRACKER_WORKER_THREADS"):
        create_app({"ENV_NAME": "testing", "WORKER_THREADS": value})


def test_a_redis_queue_keeps_the_jobs_for_the_worker(app: Flask, redis_url: str) -> None:
    jobs.configure(redis_url, app.instance_path)
    jobs.huey.flush()
    try:
        remember("through redis")
        assert jobs.huey.pending_count() == 1  # in Redis, for any worker of any host
        assert jobs.run_pending() == 1
        assert done == [("through redis", app.name)]
    finally:
        jobs.huey.flush()
