"""organisations: listed (suggested while typing) once an organiser vouched for them

Revision ID: 8d41b7e9a2f3
Revises: 3f8a2c61d0e7
Create Date: 2026-12-04 20:30:00

Only listed organisations are suggested. Those already here are listed when a
registration with them was added by an organiser, imported or registered at the door
(source manual, import or walk_in), or edited or confirmed by an organiser (audit
actions registration.update and registration.confirm). Names typed only on the public
form are not: an organiser lists one by using it.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "8d41b7e9a2f3"
down_revision: str | None = "3f8a2c61d0e7"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

organisations = sa.table("organisations", sa.column("id"), sa.column("listed", sa.Boolean))
registrations = sa.table(
    "registrations", sa.column("id"), sa.column("organisation_id"), sa.column("source")
)
audit_log = sa.table("audit_log", sa.column("registration_id"), sa.column("action"))


def upgrade() -> None:
    op.add_column(
        "organisations",
        sa.Column("listed", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    by_staff = sa.select(registrations.c.organisation_id).where(
        registrations.c.source.in_(["manual", "import", "walk_in"])
    )
    vouched = (
        sa.select(registrations.c.organisation_id)
        .join(audit_log, audit_log.c.registration_id == registrations.c.id)
        .where(audit_log.c.action.in_(["registration.update", "registration.confirm"]))
    )
    op.execute(
        organisations.update()
        .where(sa.or_(organisations.c.id.in_(by_staff), organisations.c.id.in_(vouched)))
        .values(listed=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("listed")
