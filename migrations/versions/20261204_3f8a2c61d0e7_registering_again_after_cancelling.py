"""registering again after cancelling: one address per event among the registrations
that are not cancelled

Revision ID: 3f8a2c61d0e7
Revises: f5f8e275a140
Create Date: 2026-12-04 20:10:00

A person who cancelled and registers again gets a new registration (a new private link
and check-in code); the cancelled one stays as it was. The unique constraint on
(event_id, email_key) becomes a unique index over the registrations that are not
cancelled, beside a plain index for the lookups that include cancelled ones.
Downgrading fails while an address has a cancelled and a live registration at one event.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "3f8a2c61d0e7"
down_revision: str | None = "f5f8e275a140"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_CANCELLED = "status <> 'cancelled'"


def upgrade() -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint("uq_registrations_event_id_email_key", type_="unique")
    op.create_index(
        "uq_registrations_event_email_active",
        "registrations",
        ["event_id", "email_key"],
        unique=True,
        sqlite_where=sa.text(NOT_CANCELLED),
        postgresql_where=sa.text(NOT_CANCELLED),
    )
    op.create_index("ix_registrations_event_email", "registrations", ["event_id", "email_key"])


def downgrade() -> None:
    op.drop_index("ix_registrations_event_email", table_name="registrations")
    op.drop_index("uq_registrations_event_email_active", table_name="registrations")
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.create_unique_constraint(
            "uq_registrations_event_id_email_key", ["event_id", "email_key"]
        )
