"""covering indexes for the statistics

Revision ID: 5b1d0c2e9a41
Revises: 0712747c8ff2
Create Date: 2026-11-27 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "5b1d0c2e9a41"
down_revision: str | None = "0712747c8ff2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHECKINS_BEFORE = ["event_id", "scope"]
CHECKINS_AFTER = ["event_id", "scope", "registration_id", "checked_in_at", "door"]


def upgrade() -> None:
    op.create_index(
        "ix_registrations_event_counts",
        "registrations",
        ["event_id", "organisation_type", "status", "organisation_id"],
    )
    op.create_index(
        "ix_registrations_id_counts",
        "registrations",
        ["id", "organisation_type", "status", "organisation_id"],
    )
    op.drop_index("ix_checkins_event_scope", table_name="checkins")
    op.create_index("ix_checkins_event_scope", "checkins", CHECKINS_AFTER)


def downgrade() -> None:
    op.drop_index("ix_checkins_event_scope", table_name="checkins")
    op.create_index("ix_checkins_event_scope", "checkins", CHECKINS_BEFORE)
    op.drop_index("ix_registrations_id_counts", table_name="registrations")
    op.drop_index("ix_registrations_event_counts", table_name="registrations")
