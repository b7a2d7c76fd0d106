"""The Alembic migrations build exactly the schema that models.py describes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, insert, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

from tests.conftest import scratch_postgresql
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


@pytest.fixture
def empty_engine(database_url, tmp_path):
    """An empty database of the suite's kind: a SQLite file, or a scratch PostgreSQL
    database beside the suite's own."""
    parsed = make_url(database_url)
    if parsed.get_backend_name() != "postgresql":
        engine = make_engine(f"sqlite:///{tmp_path / 'migrated.sqlite3'}")
        yield engine
        engine.dispose()
        return
    with scratch_postgresql(database_url, "mig") as url:
        engine = make_engine(url)
        try:
            yield engine
        finally:
            engine.dispose()


def _row(n: int, status: str, email: str, now: datetime, **overrides: object) -> dict:
    code = f"CODE{n:022d}"
    return {
        "event_id": 1,
        "first_name": "Anne",
        "last_name": f"Moreau {n}",
        "email": email,
        "email_key": email,
        "organisation_id": 1,
        "organisation_type": "cluster",
        "source": "online",
        "search_key": "anne",
        "status": status,
        "checkin_code": code,
        "manage_token": f"token-{code}",
        "qr_png": b"",
        "locale": "fr",
        "consent_at": now,
        "created_at": now,
        "updated_at": now,
        "badge_print_count": 0,
        **overrides,
    }


def test_upgrade_keeps_everything_and_lets_a_cancelled_address_register_again(
    empty_engine,
):
    """On a database of the revision before: a cancelled and a live registration, with
    what refers to them (a check-in, a chosen session, history), and an organisation
    typed online beside one an organiser imported."""
    with empty_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "9c3e51a7d2b4")
    meta = MetaData()
    meta.reflect(bind=empty_engine)
    events, organisations, registrations, sessions, chosen, checkins, audit = (
        meta.tables[n]
        for n in (
            "events",
            "organisations",
            "registrations",
            "sessions",
            "registration_sessions",
            "checkins",
            "audit_log",
        )
    )
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)
    with empty_engine.begin() as connection:
        connection.execute(
            insert(events).values(
                id=1,
                slug="ancien",
                title="Atelier",
                timezone="Europe/Paris",
                starts_at=now,
                ends_at=now,
                registration_opens_at=now,
                registration_closes_at=now,
                edit_deadline=now,
                type_quotas={},
                badge_colours={},
                created_at=now,
            )
        )
        connection.execute(
            insert(organisations).values(
                id=1, name="Vegepolys", name_key="vegepolys", type="cluster", created_at=now
            )
        )
        connection.execute(
            insert(organisations).values(
                id=2, name="Pôle Mer", name_key="pole mer", type="cluster", created_at=now
            )
        )
        connection.execute(insert(registrations).values(_row(1, "cancelled", "a@x.example", now)))
        connection.execute(
            insert(registrations).values(
                _row(2, "confirmed", "b@x.example", now, organisation_id=2, source="import")
            )
        )
        connection.execute(insert(sessions).values(id=1, event_id=1, title="Plénière", position=0))
        connection.execute(insert(chosen).values(registration_id=2, session_id=1))
        connection.execute(
            insert(checkins).values(
                event_id=1, registration_id=2, scope=0, checked_in_at=now, door="Hall"
            )
        )
        connection.execute(
            insert(audit).values(at=now, event_id=1, registration_id=1, action="x", changes={})
        )

    upgrade_database(empty_engine)
    with empty_engine.connect() as connection:
        assert _differences(connection) == []
        stored = connection.execute(
            text("SELECT email_key, status FROM registrations ORDER BY id")
        ).all()
        kept = [
            connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("registration_sessions", "checkins", "audit_log")
        ]
        listed = connection.execute(text("SELECT id, listed FROM organisations ORDER BY id")).all()
    assert [tuple(r) for r in stored] == [
        ("a@x.example", "cancelled"),
        ("b@x.example", "confirmed"),
    ]
    assert kept == [1, 1, 1]  # nothing referring to a registration went with the old table
    assert [(i, bool(v)) for i, v in listed] == [(1, False), (2, True)]
    # The cancelled address registers again; a live one still cannot twice.
    with empty_engine.begin() as connection:
        connection.execute(insert(registrations).values(_row(3, "confirmed", "a@x.example", now)))
    with pytest.raises(IntegrityError), empty_engine.begin() as connection:
        connection.execute(insert(registrations).values(_row(4, "waitlisted", "b@x.example", now)))
    with empty_engine.begin() as connection:  # cancelled ones may be any number
        connection.execute(insert(registrations).values(_row(5, "cancelled", "b@x.example", now)))


def test_upgrade_merges_the_organisations_that_transliteration_makes_one(empty_engine):
    """On a database of the revision before: "Cœur de France" and "Coeur de France",
    and three ways of typing Ville-d'Avray, were different organisations; they become
    one each (the listed one, else the oldest), and every registration is kept."""
    with empty_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "8d41b7e9a2f3")
    meta = MetaData()
    meta.reflect(bind=empty_engine)
    events, organisations, registrations = (
        meta.tables[n] for n in ("events", "organisations", "registrations")
    )
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)
    day = timedelta(days=1)
    with empty_engine.begin() as connection:
        connection.execute(
            insert(events).values(
                id=1,
                slug="ancien",
                title="Atelier",
                timezone="Europe/Paris",
                starts_at=now,
                ends_at=now,
                registration_opens_at=now,
                registration_closes_at=now,
                edit_deadline=now,
                type_quotas={},
                badge_colours={},
                created_at=now,
            )
        )
        for id_, name, key, listed, created_at, region in [
            (1, "Cœur de France", "cœur de france", False, now - 2 * day, None),
            (2, "Coeur de France", "coeur de france", True, now - day, None),
            (3, "Ville-d'Avray", "ville-d'avray", False, now - 3 * day, None),
            (4, "Ville d’Avray", "ville d’avray", True, now - day, "Île-de-France"),
            (5, "ville d avray", "ville d avray", False, now - 2 * day, None),
            # A key that an older folding left behind, which the next one's new key is.
            (6, "Végépolys", "végépolys", True, now, None),
            (7, "Moveo", "vegepolys", True, now, None),
        ]:
            connection.execute(
                insert(organisations).values(
                    id=id_,
                    name=name,
                    name_key=key,
                    type="cluster",
                    listed=listed,
                    created_at=created_at,
                    region=region,
                )
            )
        for n, organisation_id in enumerate([1, 1, 2, 3, 4, 5, 5, 6, 7], start=1):
            connection.execute(
                insert(registrations).values(
                    _row(
                        n,
                        "confirmed",
                        f"p{n}@x.example",
                        now,
                        organisation_id=organisation_id,
                        first_name="Władysław",
                        last_name="Œuvray",
                    )
                )
            )

    upgrade_database(empty_engine)
    with empty_engine.connect() as connection:
        assert _differences(connection) == []
        kept = connection.execute(
            text("SELECT id, name, name_key, listed, region FROM organisations ORDER BY id")
        ).all()
        moved = connection.execute(
            text("SELECT id, organisation_id, search_key FROM registrations ORDER BY id")
        ).all()
    assert [(i, name, key, bool(listed), region) for i, name, key, listed, region in kept] == [
        (2, "Coeur de France", "coeur de france", True, None),  # the listed one
        (4, "Ville d’Avray", "ville d avray", True, "Île-de-France"),  # the listed one
        (6, "Végépolys", "vegepolys", True, None),
        (7, "Moveo", "moveo", True, None),
    ]
    assert [(i, org) for i, org, _key in moved] == [
        (1, 2), (2, 2), (3, 2), (4, 4), (5, 4), (6, 4), (7, 4), (8, 6), (9, 7)
    ]  # fmt: skip
    assert moved[0][2] == "wladyslaw oeuvray p1@x.example coeur de france"
    assert moved[3][2] == "wladyslaw oeuvray p4@x.example ville d avray"

    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "8d41b7e9a2f3")
    with empty_engine.connect() as connection:
        keys = connection.execute(text("SELECT name_key FROM organisations ORDER BY id")).all()
        searched = connection.execute(text("SELECT search_key FROM registrations WHERE id = 1"))
        assert [k for (k,) in keys] == ["coeur de france", "ville d’avray", "vegepolys", "moveo"]
        assert searched.scalar() == "władysław œuvray p1@x.example coeur de france"
    upgrade_database(empty_engine)


def test_upgrade_without_organisations_to_merge(empty_engine):
    upgrade_database(empty_engine)
    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "8d41b7e9a2f3")
    upgrade_database(empty_engine)
    with empty_engine.connect() as connection:
        assert _differences(connection) == []


def test_upgrade_counts_the_confirmed_places_there_are(empty_engine):
    """On a database of the revision before the place counters: they start from the
    confirmed registrations per event, type and session; the others count nowhere."""
    with empty_engine.begin() as connection:
        command.upgrade(alembic_config(connection), "a7c3e9f14b52")
    meta = MetaData()
    meta.reflect(bind=empty_engine)
    events, organisations, registrations, sessions, chosen = (
        meta.tables[n]
        for n in ("events", "organisations", "registrations", "sessions", "registration_sessions")
    )
    now = datetime(2026, 12, 1, tzinfo=UTC).replace(tzinfo=None)
    with empty_engine.begin() as connection:
        connection.execute(
            insert(events).values(
                id=1,
                slug="ancien",
                title="Atelier",
                timezone="Europe/Paris",
                starts_at=now,
                ends_at=now,
                registration_opens_at=now,
                registration_closes_at=now,
                edit_deadline=now,
                type_quotas={},
                badge_colours={},
                created_at=now,
            )
        )
        connection.execute(
            insert(organisations).values(
                id=1, name="Vegepolys", name_key="vegepolys", type="cluster", created_at=now
            )
        )
        for id_, title in ((1, "Plénière"), (2, "Table ronde")):
            connection.execute(
                insert(sessions).values(id=id_, event_id=1, title=title, position=id_)
            )
        people = [
            (1, "confirmed", "cluster", [1, 2]),
            (2, "confirmed", "ministry", [1]),
            (3, "confirmed", "cluster", []),
            (4, "waitlisted", "cluster", [1, 2]),
            (5, "cancelled", "region", [2]),
        ]
        for n, status, kind, seats in people:
            connection.execute(
                insert(registrations).values(
                    _row(n, status, f"p{n}@x.example", now, id=n, organisation_type=kind)
                )
            )
            for session_id in seats:
                connection.execute(insert(chosen).values(registration_id=n, session_id=session_id))

    upgrade_database(empty_engine)
    with empty_engine.connect() as connection:
        assert _differences(connection) == []
        counts = dict(connection.execute(text("SELECT scope, confirmed FROM place_counts")).all())
    assert counts == {
        "event": 3,
        "type:cluster": 2,
        "type:ministry": 1,
        "session:1": 2,
        "session:2": 1,
    }
    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "a7c3e9f14b52")
    assert "place_counts" not in inspect(empty_engine).get_table_names()
