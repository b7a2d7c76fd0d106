"""places per organisation and delegations: an event's cap of confirmed people per
organisation (overall and per organisation type), and people registered together by
one contact

Revision ID: b7d1f3a5c902
Revises: e2a4c6b8d0f1
Create Date: 2026-12-05 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b7d1f3a5c902"
down_revision: str | None = "e2a4c6b8d0f1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TYPES = ("cluster", "ministry", "region", "agency", "other")


def upgrade() -> None:
    # Plain ADD COLUMN, never Alembic's copy of the table on SQLite: dropping the old
    # copy of events would delete (ON DELETE CASCADE) what hangs from it whenever
    # foreign keys are enforced. Who a delegation registered is a table of its own, for
    # the same reason (no new column with a foreign key in registrations).
    op.add_column("events", sa.Column("per_organisation", sa.Integer(), nullable=True))
    op.add_column(
        "events",
        sa.Column("per_organisation_types", sa.JSON(), nullable=False, server_default="{}"),
    )
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=200), nullable=False),
        sa.Column("contact_email", sa.String(length=254), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column(
            "organisation_type",
            sa.Enum(
                *TYPES,
                name="delegation_organisation_type",
                native_enum=False,
                create_constraint=True,
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_delegations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["organisation_id"],
            ["organisations.id"],
            name=op.f("fk_delegations_organisation_id_organisations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
        sa.UniqueConstraint("token", name=op.f("uq_delegations_token")),
    )
    op.create_index(op.f("ix_delegations_event_id"), "delegations", ["event_id"])
    op.create_table(
        "delegation_members",
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("delegation_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["delegation_id"],
            ["delegations.id"],
            name=op.f("fk_delegation_members_delegation_id_delegations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_delegation_members_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("registration_id", name=op.f("pk_delegation_members")),
    )
    op.create_index(
        op.f("ix_delegation_members_delegation_id"), "delegation_members", ["delegation_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_delegation_members_delegation_id"), table_name="delegation_members")
    op.drop_table("delegation_members")
    op.drop_index(op.f("ix_delegations_event_id"), table_name="delegations")
    op.drop_table("delegations")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE events DROP COLUMN per_organisation_types")
        op.execute("ALTER TABLE events DROP COLUMN per_organisation")
        return
    op.drop_column("events", "per_organisation_types")
    op.drop_column("events", "per_organisation")
