"""events: retention period, warned and anonymised times; registrations: consent version

Revision ID: b9d2e4f6a813
Revises: 5c88229f9aa2
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b9d2e4f6a813"
down_revision: str | None = "5c88229f9aa2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The notice in place before versions were recorded.
FIRST_VERSION = "1"


EVENT_COLUMNS = ("retention_days", "retention_warned_at", "anonymised_at")


def upgrade() -> None:
    # Nullable columns without constraints, added in place (ALTER TABLE ADD COLUMN): on
    # SQLite, a copy of the table would delete (ON DELETE CASCADE) the registrations of
    # every event when dropping the old one with foreign keys enforced.
    op.add_column("events", sa.Column("retention_days", sa.Integer(), nullable=True))
    op.add_column("events", sa.Column("retention_warned_at", sa.DateTime(), nullable=True))
    op.add_column("events", sa.Column("anonymised_at", sa.DateTime(), nullable=True))
    op.add_column(
        "registrations", sa.Column("consent_version", sa.String(length=40), nullable=True)
    )
    registrations = sa.table("registrations", sa.column("consent_version", sa.String))
    op.execute(registrations.update().values(consent_version=FIRST_VERSION))


def downgrade() -> None:
    # In place too (SQLite 3.35+ drops a column without constraints without a copy; a
    # copy would also turn the visibility column's CHECK into the table's).
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE registrations DROP COLUMN consent_version")
        for name in EVENT_COLUMNS:
            op.execute(f"ALTER TABLE events DROP COLUMN {name}")
        return
    op.drop_column("registrations", "consent_version")
    for name in EVENT_COLUMNS:
        op.drop_column("events", name)
