"""Background jobs: one Huey queue for the app, run by `tracker worker`.

Declare a task at the top level of a module, and list that module in TASK_MODULES
below (the worker imports them all, so that it knows every task by name)::

    from tracker import jobs

    @jobs.task(retries=3, retry_delay=60)
    def render_badge(registration_id: int) -> None:
        with jobs.session() as db:          # commits at the end, rolls back on error
            registration = db.get(Registration, registration_id)
            ...

A task runs inside an app context (current_app, render_template, force_locale work)
and takes plain arguments (ids, strings: they are pickled into the queue), never ORM
objects. Enqueue it from a service, in the transaction that causes it::

    jobs.enqueue_after_commit(db, render_badge, registration.id)

It is queued once `db` commits, never if it rolls back. Outside a transaction (the
worker, a command) `render_badge(registration.id)` queues it at once, and
`render_badge.schedule(args=(registration.id,), delay=60)` in a minute. Periodic::

    @jobs.periodic_task(jobs.crontab(minute="*/5"), at_start=True)  # and when a worker starts
    def sweep() -> None: ...

Where the queue lives is TRACKER_QUEUE_URL: unset, a SQLite file in the instance folder
(nothing to install); `redis://127.0.0.1:6379/0` in production; `memory://` keeps jobs
in this process until `run_pending()` runs them; `immediate://` runs each job as soon as
it is queued (TestConfig's). Tests run queued jobs with `jobs.run_pending()`, and a
periodic task's body with `sweep.call_local()`.

Huey hands a job to one worker and forgets it: a queued job survives restarts of the
web and the worker (it is in the SQLite file or Redis), but a worker killed in the
middle of a job loses that job. Work that must not be lost keeps its state in a table,
a periodic sweep queues again what is still to do, and the task claims its row with a
conditional UPDATE so that it is done once (tracker.mail's outbox is the example).
"""

from __future__ import annotations

import functools
import importlib
import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import urlsplit

from flask import Flask, current_app, has_app_context
from huey import Huey, crontab
from huey.api import TaskWrapper
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage
from sqlalchemy.orm import Session as DbSession

from tracker.db import after_commit

__all__ = [
    "AT_START",
    "TASK_MODULES",
    "crontab",
    "enqueue_after_commit",
    "huey",
    "init_app",
    "periodic_task",
    "run_pending",
    "session",
    "task",
]

log = logging.getLogger(__name__)

# Every module that declares tasks: `tracker worker` imports them before it starts.
TASK_MODULES: tuple[str, ...] = (
    "tracker.mail",
    "tracker.registration.notify",
    "tracker.badges.jobs",
    "tracker.downloads.services",
    "tracker.mailings.services",
    "tracker.privacy.tasks",
)

# The one queue. Its storage is set by init_app from TRACKER_QUEUE_URL; results are not
# kept (a job records what it did in the database).
huey = Huey("tracker", results=False, utc=True, storage_class=MemoryStorage)

_app: Flask | None = None  # the app the worker's jobs run in (the last one set up)

P = ParamSpec("P")
R = TypeVar("R")


def configure(url: str, instance_path: str | Path) -> None:
    """Point the queue at `url` (see the module's docstring)."""
    parts = urlsplit(url)
    scheme = parts.scheme
    huey.immediate = False
    storage_class: type[Any]
    kwargs: dict[str, Any]
    if scheme == "immediate":
        huey.storage_class, huey.storage_kwargs = MemoryStorage, {}
        huey.immediate = True  # with a memory storage of its own
        return
    if scheme == "memory":
        storage_class, kwargs = MemoryStorage, {}
    elif scheme in ("redis", "rediss", "unix"):
        storage_class, kwargs = RedisStorage, {"url": url}
    elif scheme == "sqlite":
        # sqlite:///relative/to/instance or sqlite:////absolute/path, as SQLAlchemy writes
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        filename = Path(path) if Path(path).is_absolute() else Path(instance_path) / path
        filename.parent.mkdir(parents=True, exist_ok=True)
        storage_class, kwargs = SqliteStorage, {"filename": str(filename), "timeout": 30}
    else:
        raise RuntimeError(
            "TRACKER_QUEUE_URL must start with sqlite://, redis://, rediss://, unix://, "
            f"memory:// or immediate://, not {url!r}"
        )
    huey.storage_class, huey.storage_kwargs = storage_class, kwargs
    huey.storage = huey.create_storage()


def init_app(app: Flask) -> None:
    """Set the queue up from app.config["QUEUE_URL"]; the app's jobs run in this app."""
    global _app
    configure(app.config["QUEUE_URL"], app.instance_path)
    _app = app
    app.extensions["jobs"] = huey


def _app_context() -> AbstractContextManager[Any]:
    """The app context a job runs in: the caller's when there is one (a job run at once,
    or by run_pending), else the worker's app."""
    if has_app_context():
        return nullcontext()
    if _app is None:
        raise RuntimeError("no app is set up for the jobs (tracker.jobs.init_app)")
    return _app.app_context()


def _in_app(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        with _app_context():
            return fn(*args, **kwargs)

    return run


def task(
    *, retries: int = 0, retry_delay: int = 0, priority: int | None = None, **options: Any
) -> Callable[[Callable[..., Any]], TaskWrapper]:
    """Declare a job (Huey's `task`, run inside an app context); the queue knows it by
    its module and function's name."""

    def decorate(fn: Callable[..., Any]) -> TaskWrapper:
        return huey.task(retries=retries, retry_delay=retry_delay, priority=priority, **options)(
            _in_app(fn)
        )

    return decorate


# Periodic tasks queued once more by each worker as it starts (periodic_task(at_start=True)).
AT_START: list[TaskWrapper] = []


def periodic_task(
    when: Callable[[Any], bool], *, at_start: bool = False, **options: Any
) -> Callable[[Callable[..., Any]], TaskWrapper]:
    """Declare a job the worker runs on a schedule: `when` is a `jobs.crontab(...)`
    (a minute at the finest). `at_start`: also when a worker starts (a sweep that
    catches up on what was left while no worker ran)."""

    def decorate(fn: Callable[..., Any]) -> TaskWrapper:
        wrapper = huey.periodic_task(when, **options)(_in_app(fn))
        if at_start:
            AT_START.append(wrapper)
        return wrapper

    return decorate


def enqueue_after_commit(db: DbSession, job: TaskWrapper, *args: Any, **kwargs: Any) -> None:
    """Queue `job(*args, **kwargs)` once `db` commits; nothing if it rolls back.

    Queuing is not allowed to turn a saved change into an error page: if the queue
    cannot be reached the failure is logged, and work kept in a table (e-mails) is
    queued again by its sweep."""

    def enqueue() -> None:
        try:
            job(*args, **kwargs)
        except Exception:
            log.exception("could not queue %s%r", job.name, args)

    after_commit(db, enqueue)


@contextmanager
def session() -> Iterator[DbSession]:
    """A database session for a job: committed at the end, rolled back on error."""
    db: DbSession = current_app.extensions["db"].sessionmaker()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


def import_task_modules() -> None:
    for module in TASK_MODULES:
        importlib.import_module(module)


def run_pending() -> int:
    """Run here, now, every queued job and every scheduled one already due, until none
    is left (jobs that queue others included); returns how many ran. For tests, and
    for a command that must finish its jobs without a worker."""
    ran = 0
    while True:
        due = huey.read_schedule()
        for job in due:
            huey.execute(job)
        next_job = huey.dequeue()
        if next_job is not None:
            huey.execute(next_job)
        ran += len(due) + (next_job is not None)
        if not due and next_job is None:
            return ran


def create_consumer(threads: int) -> Any:
    """The worker: `threads` threads running jobs, and the periodic tasks' scheduler.
    An idle worker looks at a SQLite queue at least once a second (Redis wakes it)."""
    import_task_modules()
    for job in AT_START:
        job()
    return huey.create_consumer(
        workers=threads,
        worker_type="thread",
        periodic=True,
        initial_delay=0.1,
        backoff=1.15,
        max_delay=1.0,
        check_worker_health=True,
    )
