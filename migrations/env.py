"""Alembic environment: the app's models, and its engine (or the one handed in)."""

from __future__ import annotations

from alembic import context

from tracker.db import UTCDateTime, make_engine
from tracker.models import Base

target_metadata = Base.metadata


def _render_item(type_, obj, autogen_context):  # type: ignore[no-untyped-def]
    # UTCDateTime is a plain DATETIME in the database (naive UTC).
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    return False


def _configure_and_run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(connection)
        return
    import config

    engine = make_engine(config.config_from_env().DATABASE_URL)
    with engine.begin() as connection:
        _configure_and_run(connection)


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported: run `tracker db upgrade`")
run_migrations_online()
