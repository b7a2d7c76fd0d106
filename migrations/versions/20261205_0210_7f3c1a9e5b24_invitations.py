"""invitations: an event's admission mode, places reserved for invitees, invitations

Revision ID: 7f3c1a9e5b24
Revises: b7d1f3a5c902
Create Date: 2026-12-05 02:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "7f3c1a9e5b24"
down_revision: str | None = "b7d1f3a5c902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ADMISSIONS = ("open", "invitation", "mixed")
STATES = ("created", "sent", "opened", "registered", "declined")
TYPES = ("cluster", "ministry", "region", "agency", "other")


def _enum(values: tuple[str, ...], name: str) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=20)


def upgrade() -> None:
    # Existing events keep today's behaviour: open, nothing reserved.
    if op.get_bind().dialect.name == "sqlite":
        # ADD COLUMN with its CHECK rather than a copy of the table (dropping the old
        # copy would delete the registrations of every event: ON DELETE CASCADE).
        op.execute(
            "ALTER TABLE events ADD COLUMN admission VARCHAR(20) DEFAULT 'open' NOT NULL "
            "CONSTRAINT ck_events_event_admission "
            "CHECK (admission IN ('open', 'invitation', 'mixed'))"
        )
    else:
        op.add_column(
            "events",
            sa.Column(
                "admission",
                _enum(ADMISSIONS, "event_admission"),
                nullable=False,
                server_default="open",
            ),
        )
    op.add_column(
        "events",
        sa.Column("reserved_for_invitees", sa.Integer(), server_default="0", nullable=False),
    )
    op.add_column(
        "registrations",
        sa.Column("invited", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("email_key", sa.String(length=254), nullable=False),
        sa.Column("organisation", sa.String(length=200), nullable=False),
        sa.Column(
            "organisation_type", _enum(TYPES, "invitation_organisation_type"), nullable=False
        ),
        sa.Column("job_title", sa.String(length=200), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("state", _enum(STATES, "invitation_state"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("opened_at", sa.DateTime(), nullable=True),
        sa.Column("answered_at", sa.DateTime(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.Column("registration_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_invitations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_invitations_registration_id_registrations"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint(
            "event_id", "email_key", name=op.f("uq_invitations_event_id_email_key")
        ),
        sa.UniqueConstraint("token", name=op.f("uq_invitations_token")),
    )
    op.create_index(
        "ix_invitations_event_state", "invitations", ["event_id", "state", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_invitations_event_state", table_name="invitations")
    op.drop_table("invitations")
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE registrations DROP COLUMN invited")
        op.execute("ALTER TABLE events DROP COLUMN reserved_for_invitees")
        op.execute("ALTER TABLE events DROP COLUMN admission")
        return
    op.drop_column("registrations", "invited")
    op.drop_column("events", "reserved_for_invitees")
    op.drop_column("events", "admission")
