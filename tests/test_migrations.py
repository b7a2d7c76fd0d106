"""The Alembic migrations build exactly the schema that models.py describes."""

from __future__ import annotations

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

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


def test_tokens_of_accounts_disabled_before_the_session_version_are_revoked(tmp_path):
    """Disabling now revokes an account's tokens; the upgrade revokes those of the
    accounts disabled before it, so that enabling them again brings no token back."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade_database(engine, "9c3e51a7d2b4")
    with engine.begin() as connection:
        for id_, active in ((1, True), (2, False)):
            connection.execute(
                text(
                    "INSERT INTO users (id, email, email_key, password_hash, role, active,"
                    " created_at) VALUES (:id, :email, :email, 'x', 'door', :active,"
                    " '2026-11-30 10:00:00')"
                ),
                {"id": id_, "email": f"door{id_}@example.org", "active": active},
            )
            connection.execute(
                text(
                    "INSERT INTO api_tokens (user_id, name, token_hash, created_at)"
                    " VALUES (:id, 'Door', :hash, '2026-11-30 10:00:00')"
                ),
                {"id": id_, "hash": f"{id_:064d}"},
            )
    upgrade_database(engine)
    with engine.connect() as connection:
        revoked = dict(connection.execute(text("SELECT user_id, revoked_at FROM api_tokens")).all())
        versions = connection.execute(text("SELECT session_version FROM users")).scalars().all()
    assert revoked[1] is None and revoked[2] is not None
    assert versions == [0, 0]
    engine.dispose()
