"""events: retention period, warned and anonymised times; registrations: consent version

Revision ID: b9d2e4f6a813
Revises: b1d4e6f8a902
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b9d2e4f6a813"
down_revision: str | None = "b1d4e6f8a902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The notice in place before versions were recorded.
FIRST_VERSION = "1"


def upgrade() -> None:
    # Nullable columns without constraints: SQLite adds them in place (ALTER TABLE ADD
    # COLUMN), without copying the tables.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("retention_warned_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("anonymised_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("consent_version", sa.String(length=40), nullable=True))
    registrations = sa.table("registrations", sa.column("consent_version", sa.String))
    op.execute(registrations.update().values(consent_version=FIRST_VERSION))


def downgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("consent_version")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("anonymised_at")
        batch_op.drop_column("retention_warned_at")
        batch_op.drop_column("retention_days")
