"""badges rendered ahead and kept: renders (PDFs of one badge a page) and their pages

Revision ID: b4d9e2a61c37
Revises: b1d4e6f8a902
Create Date: 2026-12-04 23:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "b4d9e2a61c37"
down_revision: str | None = "b1d4e6f8a902"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "badge_renders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_badge_renders_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_renders")),
    )
    op.create_index(op.f("ix_badge_renders_event_id"), "badge_renders", ["event_id"])
    op.create_table(
        "badge_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("registration_id", sa.Integer(), nullable=False),
        sa.Column("render_id", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=False),
        sa.Column("layout", sa.String(length=16), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_badge_pages_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["render_id"],
            ["badge_renders.id"],
            name=op.f("fk_badge_pages_render_id_badge_renders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_badge_pages")),
    )
    op.create_index(
        "ix_badge_pages_registration", "badge_pages", ["registration_id", "layout", "locale"]
    )
    op.create_index(op.f("ix_badge_pages_render_id"), "badge_pages", ["render_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_badge_pages_render_id"), table_name="badge_pages")
    op.drop_index("ix_badge_pages_registration", table_name="badge_pages")
    op.drop_table("badge_pages")
    op.drop_index(op.f("ix_badge_renders_event_id"), table_name="badge_renders")
    op.drop_table("badge_renders")
