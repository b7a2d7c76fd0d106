"""events: visibility (draft, unlisted, public)

Revision ID: a7c3e9f14b52
Revises: c4e7a9d21f08
Create Date: 2026-12-04 21:10:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "a7c3e9f14b52"
down_revision: str | None = "c4e7a9d21f08"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


VALUES = ("draft", "unlisted", "public")


def upgrade() -> None:
    # Existing events stay listed, as they were: "public".
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN with its CHECK, rather than Alembic's copy of the table: dropping the
        # old copy would delete (ON DELETE CASCADE) the registrations of every event
        # whenever foreign keys are enforced.
        op.execute(
            "ALTER TABLE events ADD COLUMN visibility VARCHAR(20) DEFAULT 'public' NOT NULL "
            "CONSTRAINT ck_events_event_visibility "
            "CHECK (visibility IN ('draft', 'unlisted', 'public'))"
        )
        return
    op.add_column(
        "events",
        sa.Column(
            "visibility",
            sa.Enum(
                *VALUES,
                name="event_visibility",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
            server_default="public",
        ),
    )


def downgrade() -> None:
    # The column's CHECK goes with it (SQLite: a column constraint, no copy of the table).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE events DROP COLUMN visibility")
        return
    op.drop_column("events", "visibility")
