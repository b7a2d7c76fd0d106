"""Database plumbing: declarative base, engine set-up, one session per request.

Services flush; the request commits once at the end (or rolls back on error).
On SQLite every transaction starts with BEGIN IMMEDIATE, so that a transaction
that will write holds the write lock from its first statement instead of failing
with "database is locked" when a deferred read transaction tries to upgrade.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g
from sqlalchemy import DateTime, Engine, MetaData, Table, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC on every backend, hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime}


WRITE_LOCK_TIMEOUT = 30.0  # seconds a writer waits for the SQLite write lock
WRITE_LOCK_POLL = 0.0005


def _begin_immediate(conn: Any) -> None:
    """BEGIN IMMEDIATE, waiting for the write lock in short steps. SQLite's own busy
    handler sleeps 1, 2, 5, 10, 15, 20, 25, 25... ms between tries: a writer that
    arrives while another holds the lock for 2 ms often sleeps 10-25 ms, and under a
    steady load of short transactions (check-ins, registrations) the processes spend
    their time asleep. Polling every half millisecond hands the lock on at once."""
    dbapi_conn = conn.connection.dbapi_connection
    dbapi_conn.execute("PRAGMA busy_timeout=0")
    deadline = time.monotonic() + WRITE_LOCK_TIMEOUT
    try:
        while time.monotonic() < deadline:
            try:
                dbapi_conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e):
                    break
            time.sleep(WRITE_LOCK_POLL)
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # once more, to fail as SQLAlchemy does
    finally:
        dbapi_conn.execute("PRAGMA busy_timeout=30000")


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, echo=echo, pool_pre_ping=True)

    engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (not the driver) decide when transactions begin.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if parsed.database and parsed.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # A read-only request reads a snapshot beside the writer (WAL) instead of
        # holding the write lock while it aggregates: the doors keep checking in.
        if conn.get_execution_options().get(READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            _begin_immediate(conn)

    return engine


READ_ONLY = "tracker_read_only"


_INSERT_OR_IGNORE: dict[tuple[str, str], Any] = {}


def insert_or_ignore(db: Session, table: Table, values: dict[str, Any]) -> Any | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when a
    row with the same unique key was already there. One statement, where an INSERT in a
    savepoint that catches the IntegrityError takes three (SQLite 3.35+, PostgreSQL).
    The statement is built once per table and the values are parameters: building a
    statement with its values (coercing each, computing its cache key) at every scan
    costs more than running it."""
    dialect = db.get_bind().dialect.name
    statement = _INSERT_OR_IGNORE.get((dialect, table.name))
    if statement is None:
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table).on_conflict_do_nothing().returning(table.c.id)
        _INSERT_OR_IGNORE[dialect, table.name] = statement
    return db.execute(statement, values).scalar_one_or_none()


def release_write_lock(db: Session) -> None:
    """End the transaction if it holds SQLite's write lock (taken at BEGIN IMMEDIATE):
    a request that read what it needs and now does slow work of its own (checking a
    form) lets other writers on meanwhile. On PostgreSQL reads lock nothing and the
    transaction goes on (ending it would cost a commit, a new connection check-out and
    a new BEGIN)."""
    if db.get_bind().dialect.name == "sqlite":
        db.commit()


def read_only(view: Callable[..., Any]) -> Callable[..., Any]:
    """Marks a view that never writes: its request's session reads without taking the
    SQLite write lock (PostgreSQL is unchanged), and refuses to flush any change."""
    view.read_only = True  # type: ignore[attr-defined]
    return view


def _refuse_writes(db: Session, _context: Any, _instances: Any) -> None:
    if db.new or db.dirty or db.deleted:
        raise RuntimeError("a read-only request tried to write to the database")


# Work to run once the surrounding transaction has committed (e-mails, mostly):
# nothing is sent for a registration that ends up rolled back.
AFTER_COMMIT_KEY = "tracker.after_commit"


def after_commit(db: Session, fn: Callable[[], None]) -> None:
    db.info.setdefault(AFTER_COMMIT_KEY, []).append(fn)


COMMITTED_KEY = "tracker.committed"


def _run_after_commit(db: Session) -> None:
    if db.in_nested_transaction():  # a savepoint released: the work waits for the real commit
        return
    # Run once the transaction has ended and given its connection back to the pool: work
    # that opens a session of its own (a job run at once) must not hold two connections.
    db.info[COMMITTED_KEY] = db.info.pop(AFTER_COMMIT_KEY, [])


def _run_committed(db: Session, transaction: Any) -> None:
    if transaction.parent is None:
        for fn in db.info.pop(COMMITTED_KEY, []):
            fn()


def _drop_after_commit(db: Session, previous: Any = None) -> None:
    if previous is not None and previous.nested:
        return  # a savepoint rolled back: what the transaction queued before it still holds
    db.info.pop(AFTER_COMMIT_KEY, None)


def install_session_hooks(factory: sessionmaker[Session]) -> None:
    event.listen(factory, "after_commit", _run_after_commit)
    event.listen(factory, "after_transaction_end", _run_committed)
    event.listen(factory, "after_soft_rollback", _drop_after_commit)


class Database:
    """The app's engine and session factory (app.extensions["db"])."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessionmaker = sessionmaker(bind=engine, expire_on_commit=False)
        install_session_hooks(self.sessionmaker)

    def read_session(self) -> Session:
        """A session for reading only: on SQLite it reads a snapshot beside the writer
        instead of taking the write lock; a flush in it is refused."""
        db = self.sessionmaker()
        db.connection(execution_options={READ_ONLY: True})  # begins the transaction
        event.listen(db, "before_flush", _refuse_writes)
        return db

    def init_app(self, app: Flask) -> None:
        app.extensions["db"] = self

        @app.after_request
        def _commit(response: Any) -> Any:
            db = g.pop("db", None)
            if db is not None:
                try:
                    if response.status_code < 400:
                        db.commit()
                    else:
                        db.rollback()
                finally:
                    db.close()
            return response

        @app.teardown_request
        def _close(_exc: BaseException | None) -> None:
            db = g.pop("db", None)
            if db is not None:  # an exception skipped after_request
                db.rollback()
                db.close()


def get_db() -> Session:
    """The request's session, opened on first use."""
    if "db" not in g:
        from flask import current_app, request

        database = current_app.extensions["db"]
        view = current_app.view_functions.get(request.endpoint or "")
        read = getattr(view, "read_only", False)
        g.db = database.read_session() if read else database.sessionmaker()
    return g.db
