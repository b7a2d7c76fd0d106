"""registrations: the calendar file's SEQUENCE, counting changes of status

Revision ID: c4e7a9d21f08
Revises: 136e4d8a7b74
Create Date: 2026-12-04 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "c4e7a9d21f08"
down_revision: str | None = "136e4d8a7b74"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # ADD COLUMN with a default: no copy of the table, on SQLite either.
    op.add_column(
        "registrations",
        sa.Column("calendar_sequence", sa.Integer(), nullable=False, server_default="0"),
    )


def downgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("calendar_sequence")
