"""offline door: check-ins keep the device's and the server's times; conflicts

Revision ID: d8b1f3a6c2e4
Revises: b83d5f0c2e61
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "d8b1f3a6c2e4"
down_revision: str | None = "b83d5f0c2e61"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: a plain ADD COLUMN on SQLite too (no copy of the tables, whose
    # drop would cascade to the rows that refer to them).
    op.add_column("checkins", sa.Column("recorded_at", sa.DateTime(), nullable=True))
    op.add_column("scan_log", sa.Column("scanned_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_registrations_event_updated", "registrations", ["event_id", "updated_at"]
    )
    op.create_table(
        "checkin_conflicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("session_title", sa.String(length=300), nullable=True),
        sa.Column("scope", sa.Integer(), nullable=False),
        sa.Column("kept_door", sa.String(length=100), nullable=False),
        sa.Column("kept_at", sa.DateTime(), nullable=False),
        sa.Column("duplicate_door", sa.String(length=100), nullable=False),
        sa.Column("duplicate_at", sa.DateTime(), nullable=False),
        sa.Column("duplicate_user_id", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["registration_id"], ["registrations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["session_id"], ["sessions.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["duplicate_user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_checkin_conflicts_event", "checkin_conflicts", ["event_id", "recorded_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_checkin_conflicts_event", table_name="checkin_conflicts")
    op.drop_table("checkin_conflicts")
    op.drop_index("ix_registrations_event_updated", table_name="registrations")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE scan_log DROP COLUMN scanned_at")
        op.execute("ALTER TABLE checkins DROP COLUMN recorded_at")
        return
    op.drop_column("scan_log", "scanned_at")
    op.drop_column("checkins", "recorded_at")
