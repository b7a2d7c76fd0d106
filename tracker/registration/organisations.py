"""Organisations: one per name (case, accents and spacing ignored), made when first
named, and suggested once an organiser or the door has vouched for them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session as DbSession

from tracker.models import Organisation, OrganisationType
from tracker.registration.identity import clean_name, organisation_key
from tracker.text import fold, sort_key

_ORGANISATION_BY_KEY = select(Organisation).where(Organisation.name_key == bindparam("key"))


def find_or_create_organisation(
    db: DbSession, name: str, type_: OrganisationType, *, listed: bool = False
) -> Organisation:
    """The organisation of this name (case, accents and spacing ignored), made if new.
    `listed`: an organiser or door staff names it, so it is suggested from now on (a
    name typed on the public form alone is not)."""
    key = organisation_key(name)
    organisation = db.scalar(_ORGANISATION_BY_KEY, {"key": key})
    if organisation is None:
        organisation = Organisation(name=clean_name(name), name_key=key, type=type_, listed=listed)
        try:
            with db.begin_nested():
                db.add(organisation)
        except IntegrityError:  # created meanwhile by another transaction
            organisation = db.scalar(_ORGANISATION_BY_KEY, {"key": key})
            if organisation is None:
                raise
    if listed:
        list_organisation(organisation)
    return organisation


def list_organisation(organisation: Organisation) -> None:
    """Suggest this organisation from now on: an organiser has vouched for it."""
    if not organisation.listed:
        organisation.listed = True


def suggest_organisations(db: DbSession, prefix: str = "", limit: int = 500) -> list[Any]:
    """Listed organisations as (name, type, id) rows, for suggestions while typing, the
    first `limit` in French alphabetical order (sorted here: the database's order is
    not French; the listed organisations are a bounded list)."""
    query = select(Organisation.name, Organisation.type, Organisation.id).where(
        Organisation.listed.is_(True)
    )
    if prefix:
        query = query.where(Organisation.name_key.startswith(fold(prefix), autoescape=True))
    rows = sorted(db.execute(query), key=lambda row: (sort_key(row.name), row.id))
    return rows[:limit]
