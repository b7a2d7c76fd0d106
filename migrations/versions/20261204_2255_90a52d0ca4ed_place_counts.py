"""place_counts: maintained counts of confirmed registrations per event, type, session

Revision ID: 90a52d0ca4ed
Revises: a7c3e9f14b52
Create Date: 2026-12-04 22:55:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "90a52d0ca4ed"
down_revision: str | None = "a7c3e9f14b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "place_counts",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=40), nullable=False),
        sa.Column("confirmed", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_place_counts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "scope", name=op.f("pk_place_counts")),
    )
    # Counted once from the registrations there are (tracker.registration.capacity
    # keeps them from now on).
    op.execute(
        "INSERT INTO place_counts (event_id, scope, confirmed) "
        "SELECT event_id, 'event', COUNT(*) FROM registrations "
        "WHERE status = 'confirmed' GROUP BY event_id"
    )
    op.execute(
        "INSERT INTO place_counts (event_id, scope, confirmed) "
        "SELECT event_id, 'type:' || organisation_type, COUNT(*) FROM registrations "
        "WHERE status = 'confirmed' GROUP BY event_id, organisation_type"
    )
    op.execute(
        "INSERT INTO place_counts (event_id, scope, confirmed) "
        "SELECT r.event_id, 'session:' || CAST(rs.session_id AS VARCHAR(20)), COUNT(*) "
        "FROM registration_sessions rs JOIN registrations r ON r.id = rs.registration_id "
        "WHERE r.status = 'confirmed' GROUP BY r.event_id, rs.session_id"
    )


def downgrade() -> None:
    op.drop_table("place_counts")
