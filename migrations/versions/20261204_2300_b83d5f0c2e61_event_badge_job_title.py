"""events: badge_job_title (badges print the job title, and the door shows it, or not)

Revision ID: b83d5f0c2e61
Revises: 90a52d0ca4ed
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b83d5f0c2e61"
down_revision: str | None = "90a52d0ca4ed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing events keep printing the job title, as they did.
    op.add_column(
        "events",
        sa.Column("badge_job_title", sa.Boolean(), nullable=False, server_default=sa.true()),
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # DROP COLUMN itself, rather than Alembic's copy of the table: dropping the old
        # copy would delete (ON DELETE CASCADE) the registrations of every event whenever
        # foreign keys are enforced.
        op.execute("ALTER TABLE events DROP COLUMN badge_job_title")
        return
    op.drop_column("events", "badge_job_title")
