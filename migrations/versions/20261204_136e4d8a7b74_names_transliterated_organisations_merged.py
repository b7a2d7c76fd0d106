"""names folded by transliteration: keys recomputed, organisations that become one merged

Revision ID: 136e4d8a7b74
Revises: 8d41b7e9a2f3
Create Date: 2026-12-04 21:00:00

Organisation names and the search keys were folded by removing accents only, so
"Cœur de France" and "Coeur de France", or "Ville-d'Avray" and "Ville d’Avray", were
two organisations, and "oeuvray" did not find "Œuvray". Names are now transliterated
(anyascii), casefolded, and apostrophes, hyphens and spaces count as one space.

This recomputes organisations.name_key and registrations.search_key with that folding,
frozen below (it must not follow later changes of the app's). The organisations whose
names now fold alike are merged into one: the listed one if any of them is listed,
else the oldest; every registration of the others moves to it, and it takes their
region if it had none; the others are deleted. A merge cannot be undone: the downgrade
only recomputes the keys the old way.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from anyascii import anyascii

revision: str = "136e4d8a7b74"
down_revision: str | None = "8d41b7e9a2f3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY_LENGTH = 200  # organisations.name_key
BATCH = 1000

organisations = sa.table(
    "organisations",
    sa.column("id", sa.Integer),
    sa.column("name", sa.String),
    sa.column("name_key", sa.String),
    sa.column("region", sa.String),
    sa.column("listed", sa.Boolean),
    sa.column("created_at", sa.DateTime),
)
registrations = sa.table(
    "registrations",
    sa.column("id", sa.Integer),
    sa.column("first_name", sa.String),
    sa.column("last_name", sa.String),
    sa.column("email", sa.String),
    sa.column("organisation_id", sa.Integer),
    sa.column("search_key", sa.Text),
)

_SEPARATORS = re.compile(r"[\s'`\-]+")


def _fold(text: str) -> str:
    # tracker.text.fold as of this revision, frozen here.
    return _SEPARATORS.sub(" ", anyascii(text).casefold()).strip()


def _old_fold(text: str) -> str:
    # The accents-only folding of the revisions before, frozen here.
    decomposed = unicodedata.normalize("NFKD", re.sub(r"\s+", " ", text).strip())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def upgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(
            organisations.c.id,
            organisations.c.name,
            organisations.c.region,
            organisations.c.listed,
            organisations.c.created_at,
        )
    ).all()
    groups: dict[str, list] = {}
    for row in rows:
        groups.setdefault(_fold(row.name)[:KEY_LENGTH], []).append(row)
    keys: dict[int, str] = {}
    for key, group in groups.items():
        group.sort(key=lambda o: (not o.listed, o.created_at, o.id))
        keeper, others = group[0], group[1:]
        keys[keeper.id] = key
        if not others:
            continue
        other_ids = [o.id for o in others]
        conn.execute(
            registrations.update()
            .where(registrations.c.organisation_id.in_(other_ids))
            .values(organisation_id=keeper.id)
        )
        region = next((o.region for o in group if o.region), None)
        if keeper.region is None and region is not None:
            conn.execute(
                organisations.update()
                .where(organisations.c.id == keeper.id)
                .values(region=region)
            )
        conn.execute(organisations.delete().where(organisations.c.id.in_(other_ids)))
    _set_name_keys(conn, keys)
    _set_search_keys(conn, _fold)


def _set_name_keys(conn: sa.Connection, keys: dict[int, str]) -> None:
    """name_key is unique: every key is first made a temporary one that no folded key
    can be (folded keys have no upper-case letters), then its own."""
    update = (
        organisations.update()
        .where(organisations.c.id == sa.bindparam("oid"))
        .values(name_key=sa.bindparam("key"))
    )
    for step in ("temporary", "final"):
        values = [
            {"oid": id_, "key": f"MERGING {id_}" if step == "temporary" else key}
            for id_, key in keys.items()
        ]
        for start in range(0, len(values), BATCH):
            conn.execute(update, values[start : start + BATCH])


def _set_search_keys(conn: sa.Connection, fold) -> None:
    rows = conn.execute(
        sa.select(
            registrations.c.id,
            registrations.c.first_name,
            registrations.c.last_name,
            registrations.c.email,
            organisations.c.name,
        ).join(organisations, organisations.c.id == registrations.c.organisation_id)
    ).all()
    update = (
        registrations.update()
        .where(registrations.c.id == sa.bindparam("rid"))
        .values(search_key=sa.bindparam("key"))
    )
    values = [
        {"rid": r.id, "key": fold(f"{r.first_name} {r.last_name} {r.email} {r.name}")}
        for r in rows
    ]
    for start in range(0, len(values), BATCH):
        conn.execute(update, values[start : start + BATCH])


def downgrade() -> None:
    conn = op.get_bind()
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for row in conn.execute(
        sa.select(organisations.c.id, organisations.c.name).order_by(organisations.c.id)
    ):
        key = _old_fold(row.name)[:KEY_LENGTH]
        if key in taken:  # two names the old folding made one, the new one did not
            key = f"{key[: KEY_LENGTH - 20]} ({row.id})"
        keys[row.id] = key
        taken.add(key)
    _set_name_keys(conn, keys)
    _set_search_keys(conn, _old_fold)
