"""The Alembic migrations build exactly the schema that models.py describes."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from tracker.cli import alembic_config, upgrade_database
from tracker.db import make_engine
from tracker.models import Base


def _differences(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return compare_metadata(context, Base.metadata)


def test_upgraded_test_database_matches_the_models(engine):
    # The session's database was wiped and upgraded to head by the `app` fixture.
    with engine.connect() as connection:
        assert _differences(connection) == []


def test_upgrade_from_empty_downgrade_and_again(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    upgrade_database(engine)
    with engine.connect() as connection:
        assert _differences(connection) == []
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "base")
    assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    upgrade_database(engine)
    assert {"events", "sessions", "registrations", "organisations"} <= set(
        inspect(engine).get_table_names()
    )
    engine.dispose()
