"""accounts: session version; registrations: when the link was last sent again

Revision ID: f5f8e275a140
Revises: 9c3e51a7d2b4
Create Date: 2026-12-04 20:10:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "f5f8e275a140"
down_revision: str | None = "9c3e51a7d2b4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("link_sent_at", sa.DateTime(), nullable=True))
    # Disabling an account now revokes its tokens, so that enabling it again does not
    # bring them back: the tokens of accounts disabled before are revoked here.
    users = sa.table("users", sa.column("id", sa.Integer), sa.column("active", sa.Boolean))
    tokens = sa.table(
        "api_tokens", sa.column("user_id", sa.Integer), sa.column("revoked_at", sa.DateTime)
    )
    op.execute(
        tokens.update()
        .where(
            tokens.c.revoked_at.is_(None),
            tokens.c.user_id.in_(sa.select(users.c.id).where(users.c.active == sa.false())),
        )
        .values(revoked_at=datetime.now(UTC).replace(tzinfo=None))
    )


def downgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_column("link_sent_at")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("session_version")
