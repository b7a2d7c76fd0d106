"""scan log: the session's title at the scan

Revision ID: 9c3e51a7d2b4
Revises: 5b1d0c2e9a41
Create Date: 2026-11-27 06:05:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "9c3e51a7d2b4"
down_revision: str | None = "5b1d0c2e9a41"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("scan_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_title", sa.String(length=300), nullable=True))
    # The scans of sessions that still exist get their title; those of sessions deleted
    # before this revision have lost it already.
    op.execute(
        "UPDATE scan_log SET session_title = "
        "(SELECT sessions.title FROM sessions WHERE sessions.id = scan_log.session_id) "
        "WHERE session_id IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("scan_log", schema=None) as batch_op:
        batch_op.drop_column("session_title")
