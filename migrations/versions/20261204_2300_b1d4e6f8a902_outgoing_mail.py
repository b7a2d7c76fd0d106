"""outgoing_mail: the e-mails to send, sent by the worker

Revision ID: b1d4e6f8a902
Revises: a7c3e9f14b52
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b1d4e6f8a902"
down_revision: str | None = "a7c3e9f14b52"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("message", sa.LargeBinary(), nullable=True),
        sa.Column(
            "state",
            sa.Enum(
                "queued",
                "sent",
                "failed",
                name="outgoing_mail_state",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_outgoing_mail_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_mail")),
    )
    op.create_index(
        "ix_outgoing_mail_state_next", "outgoing_mail", ["state", "next_attempt_at"], unique=False
    )
    op.create_index(
        "ix_outgoing_mail_registration", "outgoing_mail", ["registration_id", "id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_outgoing_mail_registration", table_name="outgoing_mail")
    op.drop_index("ix_outgoing_mail_state_next", table_name="outgoing_mail")
    op.drop_table("outgoing_mail")
