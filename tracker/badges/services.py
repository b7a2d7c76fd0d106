"""Badges: choose the people, lay their badges out on sheets, render one PDF, record
the printing. One document per batch (not one per badge), QR images made once at
registration and embedded as data: URLs."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from flask import current_app, render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload

from tracker.badges.layouts import DEFAULT_LAYOUT, LAYOUTS, Layout
from tracker.db import utcnow
from tracker.errors import DomainError
from tracker.models import (
    Event,
    OrganisationType,
    Registration,
    RegistrationStatus,
    registration_sessions,
)
from tracker.pdf import SafeFetcher, render_pdf
from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.registration.services import qr_png

DEFAULT_COLOURS = {
    "cluster": "#00695c",
    "ministry": "#000091",
    "region": "#7b1fa2",
    "agency": "#b34000",
    "other": "#4b5563",
}
_COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
_GLYPH_WIDTH = 0.7  # average advance of a bold sans-serif glyph, in em (generous)


def layout_for(name: str | None) -> Layout:
    try:
        return LAYOUTS[name or DEFAULT_LAYOUT]
    except KeyError:
        raise DomainError(
            _l(
                "Unknown layout %(name)s: choose one of %(names)s.",
                name=name,
                names=", ".join(LAYOUTS),
            ),
            field="layout",
        ) from None


def select_registrations(
    db: DbSession,
    event: Event,
    *,
    types: Sequence[str] = (),
    session_id: int | None = None,
    statuses: Sequence[str] = (RegistrationStatus.CONFIRMED,),
    not_printed: bool = False,
) -> list[Registration]:
    query = (
        select(Registration)
        .where(Registration.event_id == event.id, Registration.status.in_(list(statuses)))
        .options(selectinload(Registration.sessions))
        .order_by(Registration.last_name, Registration.first_name, Registration.id)
    )
    if types:
        query = query.where(
            Registration.organisation_type.in_([OrganisationType(t) for t in types])
        )
    if session_id is not None:
        query = query.where(
            Registration.id.in_(
                select(registration_sessions.c.registration_id).where(
                    registration_sessions.c.session_id == session_id
                )
            )
        )
    if not_printed:
        query = query.where(Registration.badge_print_count == 0)
    return list(db.scalars(query))


def name_size(name: str, layout: Layout) -> float:
    """The largest font size (mm) at which the name fits on at most two lines."""
    width = layout.badge_width - 10
    size = min(layout.badge_height * 0.14, 11.0)
    words = name.split() or [""]
    while size > 3.0:
        per_line = width / (size * _GLYPH_WIDTH)
        if max(len(w) for w in words) <= per_line and _lines(words, per_line) <= 2:
            return round(size, 2)
        size -= 0.25
    return 3.0


def _lines(words: list[str], per_line: float) -> int:
    lines, current = 1, 0
    for word in words:
        needed = len(word) if current == 0 else current + 1 + len(word)
        if needed <= per_line:
            current = needed
        else:
            lines, current = lines + 1, len(word)
    return lines


def _badge(registration: Registration, layout: Layout, colours: dict[str, str]) -> dict[str, Any]:
    png = registration.qr_png or qr_png(registration.checkin_code)
    type_ = registration.organisation_type.value
    colour = colours.get(type_, "")
    if not _COLOUR_RE.fullmatch(colour):
        colour = DEFAULT_COLOURS[type_]
    return {
        "registration": registration,
        "name_size": name_size(registration.full_name, layout),
        "colour": colour,
        "type_label": TYPE_SHORT_LABELS[registration.organisation_type],
        "qr": "data:image/png;base64," + base64.b64encode(png).decode("ascii"),
    }


def render_badges(
    event: Event,
    registrations: Sequence[Registration],
    layout_name: str | None = None,
    *,
    fetcher: SafeFetcher | None = None,
) -> bytes:
    """One PDF with every badge, in the given layout."""
    layout = layout_for(layout_name)
    if not registrations:
        raise DomainError(_l("No badge to print with these filters."))
    limit = current_app.config["BADGE_MAX_BATCH"]
    if len(registrations) > limit:
        raise DomainError(_l("At most %(n)d badges at a time: narrow the filters.", n=limit))
    colours = {**DEFAULT_COLOURS, **(event.badge_colours or {})}
    badges = [_badge(r, layout, colours) for r in registrations]
    pages = [badges[i : i + layout.per_page] for i in range(0, len(badges), layout.per_page)]
    html = render_template("pdf/badges.html", event=event, layout=layout, pages=pages)
    css = render_template("pdf/badges.css", layout=layout)
    return render_pdf(html, css=css, fetcher=fetcher)


def record_printed(registrations: Sequence[Registration], *, now: datetime | None = None) -> None:
    now = now or utcnow()
    for registration in registrations:
        registration.badge_printed_at = now
        registration.badge_print_count = (registration.badge_print_count or 0) + 1
