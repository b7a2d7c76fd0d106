"""registration_counts: maintained counts of registrations, check-ins and arrivals

Revision ID: 3d8b6f0e2c71
Revises: b9d2e4f6a813
Create Date: 2026-12-04 23:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3d8b6f0e2c71"
down_revision: str | None = "b9d2e4f6a813"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "registration_counts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=160), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_registration_counts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "key", name=op.f("pk_registration_counts")),
    )
    # Counted once from the rows there are (tracker.reports.counts keeps them from now on).
    for statement in counting(op.get_bind().dialect.name):
        op.execute(statement)


def counting(dialect: str) -> list[str]:
    """The statements that count every event's registrations, check-ins and arrivals."""
    statements: list[str] = []
    statements.append(
        "INSERT INTO registration_counts (event_id, key, count) "
        "SELECT event_id, organisation_type || ':' || status, COUNT(*) FROM registrations "
        "GROUP BY event_id, organisation_type, status"
    )
    statements.append(
        "INSERT INTO registration_counts (event_id, key, count) "
        "SELECT r.event_id, 's' || CAST(rs.session_id AS VARCHAR(20)) || ':' "
        "|| r.organisation_type || ':' || r.status, COUNT(*) "
        "FROM registration_sessions rs JOIN registrations r ON r.id = rs.registration_id "
        "GROUP BY r.event_id, rs.session_id, r.organisation_type, r.status"
    )
    statements.append(
        "INSERT INTO registration_counts (event_id, key, count) "
        "SELECT c.event_id, 'e:' || r.organisation_type || ':' || r.status, COUNT(*) "
        "FROM checkins c JOIN registrations r ON r.id = c.registration_id "
        "WHERE c.scope = 0 GROUP BY c.event_id, r.organisation_type, r.status"
    )
    statements.append(
        "INSERT INTO registration_counts (event_id, key, count) "
        "SELECT c.event_id, 'p' || CAST(c.scope AS VARCHAR(20)) || ':' "
        "|| r.organisation_type || ':' || r.status || ':' "
        "|| CASE WHEN rs.session_id IS NULL THEN '0' ELSE '1' END, COUNT(*) "
        "FROM checkins c JOIN registrations r ON r.id = c.registration_id "
        "LEFT JOIN registration_sessions rs "
        "ON rs.registration_id = c.registration_id AND rs.session_id = c.scope "
        "WHERE c.scope > 0 "
        "GROUP BY c.event_id, c.scope, r.organisation_type, r.status, "
        "CASE WHEN rs.session_id IS NULL THEN '0' ELSE '1' END"
    )
    # Seconds since 1970 rounded to the nearest, as tracker.reports.services counts them.
    if dialect == "sqlite":
        seconds = "CAST(ROUND((julianday(checked_in_at) - 2440587.5) * 86400) AS INTEGER)"
    else:
        seconds = "CAST(EXTRACT(EPOCH FROM checked_in_at) AS BIGINT)"
    statements.append(
        "INSERT INTO registration_counts (event_id, key, count) "
        f"SELECT event_id, 't' || CAST({seconds} / 600 AS VARCHAR(20)) || ':' || door, "
        "COUNT(*) FROM checkins WHERE scope = 0 "
        f"GROUP BY event_id, {seconds} / 600, door"
    )
    return statements


def downgrade() -> None:
    op.drop_table("registration_counts")
