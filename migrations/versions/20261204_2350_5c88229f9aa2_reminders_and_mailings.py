"""events: reminder_days; registrations: reminder_sent_at; mailings

Revision ID: 5c88229f9aa2
Revises: c81f4d7e2a90
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "5c88229f9aa2"
down_revision: str | None = "c81f4d7e2a90"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both (nullable columns, no copy of the table on SQLite, whose
    # copy would delete the registrations of every event when foreign keys are enforced).
    # Existing events get the default reminder, two days before: an event that has
    # already started is sent none.
    op.add_column("events", sa.Column("reminder_days", sa.Integer(), nullable=True))
    op.execute("UPDATE events SET reminder_days = 2")
    op.add_column("registrations", sa.Column("reminder_sent_at", sa.DateTime(), nullable=True))
    op.create_table(
        "mailings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "message",
                "certificate",
                name="mailing_kind",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("recipient_ids", sa.JSON(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_mailings_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_mailings_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mailings")),
        sa.UniqueConstraint("nonce", name=op.f("uq_mailings_nonce")),
    )
    op.create_index("ix_mailings_event_at", "mailings", ["event_id", "created_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_mailings_event_at", table_name="mailings")
    op.drop_table("mailings")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE registrations DROP COLUMN reminder_sent_at")
        op.execute("ALTER TABLE events DROP COLUMN reminder_days")
        return
    op.drop_column("registrations", "reminder_sent_at")
    op.drop_column("events", "reminder_days")
