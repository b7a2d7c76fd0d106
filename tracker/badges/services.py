"""Badges: choose the people, lay their badges out on sheets, make one PDF, record the
printing. A batch is the badges kept ahead (tracker.badges.ahead) imposed on the layout's
sheets; those not kept yet, or stale, are rendered first, one document per rendering
process (not one per badge), with QR images made once at registration and embedded as
data: URLs.

What makes a badge cheap to lay out: no inline styles (position, colour and name size are
classes of the batch's stylesheet) and a QR image of one pixel per module, which
WeasyPrint embeds as it is, drawn without smoothing (`image-rendering: pixelated`)."""

from __future__ import annotations

import base64
import io
import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from flask import current_app, render_template
from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import selectinload, undefer

from tracker.badges import ahead, fonts
from tracker.badges.layouts import CUT_GUIDE, DEFAULT_LAYOUT, LAYOUTS, NAME_MARGIN, Layout
from tracker.db import utcnow
from tracker.errors import DomainError
from tracker.i18n import lazy_gettext as _l
from tracker.models import (
    Event,
    OrganisationType,
    Registration,
    RegistrationStatus,
    registration_sessions,
)
from tracker.questions import answers as qa
from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.registration.identity import QR_SCALE, name_order, qr_png

DEFAULT_COLOURS = {
    "cluster": "#00695c",
    "ministry": "#000091",
    "region": "#7b1fa2",
    "agency": "#b34000",
    "other": "#4b5563",
}
_COLOUR_RE = re.compile(r"#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3}")
NAME_STEP = 0.25  # mm: name sizes are multiples of it, one stylesheet class each
MIN_NAME_SIZE = 3.0
NAME_FIT = 0.999  # of the name's width: room for rounding (the measure is the renderer's)


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
        .options(selectinload(Registration.sessions), undefer(Registration.qr_png))
    )
    if any(q.on_badge for q in event.questions):  # what the badges print of the answers
        query = query.options(selectinload(Registration.answers))
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
    return sorted(db.scalars(query), key=name_order)


def name_size(name: str, layout: Layout) -> float:
    """The largest font size (mm, a multiple of NAME_STEP) at which the name fits on at
    most two lines of the badge, measured in the badge's own font (tracker.badges.fonts).

    Lines break where the renderer may break them: at spaces and after a hyphen followed
    by a letter ("MONTMORENCY-" / "LAVAL"). Breaking at no other place can only make the
    printed name take fewer lines than counted here, never more."""
    width = layout.name_width * NAME_FIT
    pieces = _pieces(name)
    size = largest_name_size(layout)
    while size > MIN_NAME_SIZE and _lines(pieces, width / size) > 2:
        size -= NAME_STEP
    return max(size, MIN_NAME_SIZE)


def largest_name_size(layout: Layout) -> float:
    return math.floor(min(layout.badge_height * 0.14, 11.0) / NAME_STEP) * NAME_STEP


_SPACES = re.compile(r"[ \t\r\n]+")  # where a line may break (not a no-break space)
_AFTER_HYPHEN = re.compile(r"(?<=-)(?=[^\W\d_])")  # "Marie-|Amélie", not "n°-|2"


def _pieces(name: str) -> list[tuple[float, float]]:
    """The name's unbreakable pieces, each as (width, width of the space before it), in
    em of the bold badge font."""
    space = fonts.bold_width(" ")
    pieces = []
    for number, word in enumerate(w for w in _SPACES.split(name.strip()) if w):
        for part, piece in enumerate(_AFTER_HYPHEN.split(word)):
            gap = space if number and not part else 0.0
            pieces.append((fonts.bold_width(piece), gap))
    return pieces


def _lines(pieces: list[tuple[float, float]], line_width: float) -> float:
    """How many lines the pieces take when each line holds as many as fit (as the
    renderer fills them); infinite when one piece is wider than a line."""
    lines, current = 1, 0.0
    for number, (width, gap) in enumerate(pieces):
        if width > line_width:
            return math.inf
        if number == 0:
            current = width
        elif current + gap + width <= line_width:
            current += gap + width
        else:
            lines, current = lines + 1, width
    return lines


def badge_qr(png: bytes) -> bytes:
    """The stored QR image (QR_SCALE pixels per module, black and white) as one pixel
    per module in 8-bit grey: WeasyPrint embeds such a PNG without converting and
    re-compressing a large image for every badge. Sampled at the modules' centres."""
    image = Image.open(io.BytesIO(png))
    small = image.resize(
        (image.width // QR_SCALE, image.height // QR_SCALE), Image.Resampling.NEAREST
    ).convert("L")
    out = io.BytesIO()
    small.save(out, format="PNG")
    return out.getvalue()


def badge_view(
    registration: Registration, layout: Layout, *, qr: str | None = None
) -> dict[str, Any]:
    """What templates/pdf/badge.html prints of a person; `qr` in place of the QR image's
    data: URL (tracker.badges.ahead's digest names the image by its bytes' digest)."""
    if qr is None:
        png = badge_qr(registration.qr_png or qr_png(registration.checkin_code))
        qr = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
    return {
        "registration": registration,
        "name_step": round(name_size(registration.full_name, layout) / NAME_STEP),
        "type": registration.organisation_type.value,
        "type_label": TYPE_SHORT_LABELS[registration.organisation_type],
        # The answers to the questions marked for the badge (a digest of the HTML holds
        # them: a changed answer makes the kept badge stale).
        "answers": qa.on_badge(registration),
        "qr": qr,
    }


def badge_colours(event: Event) -> dict[str, str]:
    """The band colour of each organisation type: the event's where valid, else ours."""
    chosen = event.badge_colours or {}
    return {
        type_: colour if _COLOUR_RE.fullmatch(str(colour := chosen.get(type_, ""))) else default
        for type_, default in DEFAULT_COLOURS.items()
    }


Progress = Callable[[int, int], None]  # (pages done, pages in all)
PROGRESS_RUN = 200  # badges made ready between two reports of progress


def render_badges(
    db: DbSession,
    event: Event,
    registrations: Sequence[Registration],
    layout_name: str | None = None,
    *,
    progress: Progress | None = None,
) -> bytes:
    """One PDF with every badge, in the given layout: the badges kept ahead
    (tracker.badges.ahead) imposed on the layout's sheets, those missing or stale
    rendered (and kept) first. `progress(done, total)` is told, in pages, how far it
    is: a page is done when its badges are ready, the PDF when they are imposed."""
    layout = layout_for(layout_name)
    if not registrations:
        raise DomainError(_l("No badge to print with these filters."))
    limit = current_app.config["BADGE_MAX_BATCH"]
    if len(registrations) > limit:
        raise DomainError(_l("At most %(n)d badges at a time: narrow the filters.", n=limit))
    pages = math.ceil(len(registrations) / layout.per_page)
    run = len(registrations) if progress is None else PROGRESS_RUN
    placed: list[ahead.Placed] = []
    pdfs: dict[int, bytes] = {}
    for start in range(0, len(registrations), run):
        more, more_pdfs = ahead.place(db, event, registrations[start : start + run], layout)
        placed += more
        pdfs.update(more_pdfs)
        if progress is not None:
            progress(min(len(placed) // layout.per_page, pages - 1), pages)
    body = ahead.impose(layout, placed, pdfs, title=event.title)
    if progress is not None:
        progress(pages, pages)
    return body


def sheets_html(event: Event, layout: Layout, registrations: Sequence[Registration]) -> str:
    badges = [badge_view(r, layout) for r in registrations]
    pages = [badges[i : i + layout.per_page] for i in range(0, len(badges), layout.per_page)]
    return render_template("pdf/badges.html", event=event, layout=layout, pages=pages)


def badge_stylesheet(event: Event, layout: Layout) -> str:
    return render_template(
        "pdf/badges.css",
        layout=layout,
        colours=badge_colours(event),
        name_steps=range(
            round(MIN_NAME_SIZE / NAME_STEP), round(largest_name_size(layout) / NAME_STEP) + 1
        ),
        name_step=NAME_STEP,
        name_margin=NAME_MARGIN,
        cut_guide=CUT_GUIDE,
        font_families=fonts.FAMILIES,
    )


def record_printed(registrations: Sequence[Registration], *, now: datetime | None = None) -> None:
    now = now or utcnow()
    for registration in registrations:
        registration.badge_printed_at = now
        registration.badge_print_count = (registration.badge_print_count or 0) + 1
