"""Badges rendered ahead of printing, and batches imposed from them.

Each badge is rendered on a page of its own, the size of its layout's badge (cut guides
included), and kept: a BadgeRender holds a PDF of such pages, a BadgePage says which
page is whose, in which layout and language, under the digest of what was rendered. The
digest is a SHA-256 of the badge's own HTML (tracker's template filled with the person's
names, organisation, job title, type, the answers printed on it, the event's title and
date, and the QR image's bytes), of the layout's stylesheet (sizes, band colours,
fonts), of the badge fonts found on this machine and of the renderer's version: a change
to anything that would print differently gives another digest, and the kept page is
then stale, never printed.

A batch computes the digest of each badge it prints, renders in one go (one document per
rendering process) the badges with no kept page of that digest, keeps them, and imposes
all the pages onto the layout's sheets with pikepdf (qpdf): each badge becomes a form
XObject placed at its position, and the fonts and images of one render are copied once
into the batch. Imposing 1,000 kept badges is merging, not layout: a second or so,
against several for WeasyPrint (benchmarks/badges.py).

The worker keeps the badges of confirmed people ready (`prepare_event`, queued when a
registration is made or changed; tracker.badges.jobs): in the layout a4-8 and the app's
default language, and in each layout and language an organiser has printed the event's
badges in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import metadata

from flask import current_app
from flask_babel import force_locale, get_locale
from sqlalchemy import delete, exists, insert, select
from sqlalchemy.orm import Session as DbSession

from tracker.badges import fonts
from tracker.badges.layouts import DEFAULT_LAYOUT, LAYOUTS, Layout
from tracker.i18n import local_date
from tracker.models import BadgePage, BadgeRender, Event, Registration
from tracker.pdf import pdf_processes, render_pdf_documents

log = logging.getLogger(__name__)

KEEP_FORMAT = "1"  # raised when the way a kept page is made changes: every page is stale
MIN_BADGES_PER_PROCESS = 80  # below this, another rendering process costs more than it saves
PREPARE_RUN = 500  # badges rendered and kept in one transaction by the worker
MM = 72 / 25.4  # PDF points per millimetre
TEMPLATES = ("pdf/badge.html", "pdf/badges.html", "pdf/badges.css")


def single(layout: Layout) -> Layout:
    """The layout's badge alone on a page of its size: how a badge is kept."""
    return dataclasses.replace(
        layout,
        page_width=layout.badge_width,
        page_height=layout.badge_height,
        columns=1,
        rows=1,
    )


@dataclass
class Placed:
    """Where a badge of a batch comes from: page `page` of render `render_id`."""

    registration: Registration
    digest: str
    render_id: int | None = None
    page: int = 0
    fresh: bool = False  # rendered by this batch (not kept before)


@cache
def _renderer_key() -> str:
    """The renderer's version and the badge templates' text, once per process."""
    loader = current_app.jinja_loader
    sources = []
    for name in TEMPLATES:
        source = loader.get_source(current_app.jinja_env, name)[0] if loader else ""
        sources.append(source)
    return "\x00".join([KEEP_FORMAT, metadata.version("weasyprint"), *sources])


def digests(event: Event, registrations: Sequence[Registration], layout: Layout) -> list[str]:
    """The digest of each badge as it would print now, in this layout and language."""
    from tracker.badges.services import badge_stylesheet, badge_view

    kept_layout = single(layout)
    template = current_app.jinja_env.get_template("pdf/badge.html")
    date = local_date(event.starts_at, event.timezone, "long")
    shared = hashlib.sha256()
    for part in (
        _renderer_key(),
        str(get_locale()),
        badge_stylesheet(event, kept_layout),
        repr(fonts.faces()),
    ):
        shared.update(part.encode("utf-8", "surrogatepass") + b"\x00")
    found = []
    for registration in registrations:
        # The QR image by its bytes' digest: what the badge embeds is made from them.
        qr = hashlib.sha256(registration.qr_png or registration.checkin_code.encode()).hexdigest()
        html = template.render(
            badge=badge_view(registration, layout, qr=qr), date=date, event=event, index=0
        )
        digest = shared.copy()
        digest.update(html.encode("utf-8", "surrogatepass"))
        found.append(digest.hexdigest())
    return found


def place(
    db: DbSession,
    event: Event,
    registrations: Sequence[Registration],
    layout: Layout,
    *,
    load: bool = True,
) -> tuple[list[Placed], dict[int, bytes]]:
    """Each badge's kept page, the ones missing or stale rendered and kept first; and
    (unless `load` is false) the PDF of every render the pages are on."""
    locale = str(get_locale())
    placed = [
        Placed(r, d)
        for r, d in zip(registrations, digests(event, registrations, layout), strict=True)
    ]
    by_id = {p.registration.id: p for p in placed}
    kept = db.execute(
        select(
            BadgePage.registration_id, BadgePage.digest, BadgePage.render_id, BadgePage.page
        ).where(
            BadgePage.registration_id.in_(list(by_id)),
            BadgePage.layout == layout.name,
            BadgePage.locale == locale,
        )
    )
    for registration_id, digest, render_id, page in kept:
        wanted = by_id[registration_id]
        if wanted.digest == digest:
            wanted.render_id, wanted.page = render_id, page
    missing = [p for p in placed if p.render_id is None]
    pdfs = keep(db, event, missing, layout) if missing else {}
    needed = {p.render_id for p in placed} - pdfs.keys()
    if needed and load:
        rows = db.execute(select(BadgeRender.id, BadgeRender.pdf).where(BadgeRender.id.in_(needed)))
        pdfs.update((render_id, pdf) for render_id, pdf in rows)
    return placed, pdfs


def keep(
    db: DbSession, event: Event, missing: Sequence[Placed], layout: Layout
) -> dict[int, bytes]:
    """Render the missing badges (split over the rendering processes when there are
    many), keep them in place of their stale pages, and give the new renders' PDFs."""
    from tracker.badges.services import badge_stylesheet, sheets_html

    kept_layout = single(layout)
    processes = max(1, min(pdf_processes(), len(missing) // MIN_BADGES_PER_PROCESS))
    per_part = math.ceil(len(missing) / processes)
    parts = [missing[i : i + per_part] for i in range(0, len(missing), per_part)]
    pdfs = render_pdf_documents(
        (sheets_html(event, kept_layout, [p.registration for p in part]) for part in parts),
        css=badge_stylesheet(event, kept_layout),
    )
    locale = str(get_locale())
    db.execute(
        delete(BadgePage).where(
            BadgePage.registration_id.in_([p.registration.id for p in missing]),
            BadgePage.layout == layout.name,
            BadgePage.locale == locale,
        )
    )
    made: dict[int, bytes] = {}
    for part, whole in zip(parts, pdfs, strict=True):
        pdf = trimmed(whole)
        render = BadgeRender(event_id=event.id, pdf=pdf)
        db.add(render)
        db.flush()
        made[render.id] = pdf
        for number, wanted in enumerate(part):
            wanted.render_id, wanted.page, wanted.fresh = render.id, number, True
        db.execute(
            insert(BadgePage),
            [
                {
                    "registration_id": p.registration.id,
                    "render_id": render.id,
                    "page": p.page,
                    "layout": layout.name,
                    "locale": locale,
                    "digest": p.digest,
                }
                for p in part
            ],
        )
    forget_unused(db, event)
    return made


def trimmed(pdf: bytes) -> bytes:
    """The PDF with each page's resources cut down to what the page draws. WeasyPrint
    gives every page of a document one shared dictionary naming every image and pattern
    of the document: a badge placed on a sheet would carry the names of all of them."""
    import pikepdf

    with pikepdf.open(io.BytesIO(pdf)) as document:
        for page in document.pages:
            page.remove_unreferenced_resources()
        out = io.BytesIO()
        document.save(out)
    return out.getvalue()


def forget_unused(db: DbSession, event: Event) -> None:
    """Delete the event's renders that no kept page points to any more."""
    db.execute(
        delete(BadgeRender).where(
            BadgeRender.event_id == event.id,
            ~exists().where(BadgePage.render_id == BadgeRender.id),
        )
    )


def impose(
    layout: Layout, placed: Sequence[Placed], pdfs: dict[int, bytes], *, title: str = ""
) -> bytes:
    """The kept pages on the layout's sheets, in order: each at its badge's position."""
    import pikepdf

    sources = {render_id: pikepdf.open(io.BytesIO(pdf)) for render_id, pdf in pdfs.items()}
    out = pikepdf.new()
    width, height = layout.badge_width * MM, layout.badge_height * MM
    per_page = layout.per_page
    for start in range(0, len(placed), per_page):
        out.add_blank_page(page_size=(layout.page_width * MM, layout.page_height * MM))
        sheet = out.pages[-1]
        for index, badge in enumerate(placed[start : start + per_page]):
            assert badge.render_id is not None
            left, top = layout.position(index)
            x, y = left * MM, (layout.page_height - top - layout.badge_height) * MM
            page = sources[badge.render_id].pages[badge.page]
            sheet.add_overlay(page, pikepdf.Rectangle(x, y, x + width, y + height))
    if title:
        out.docinfo["/Title"] = title
    body = io.BytesIO()
    out.save(body)
    for source in sources.values():
        source.close()
    return body.getvalue()


def kept_layouts(db: DbSession, event: Event) -> list[tuple[str, str]]:
    """The (layout, language) pairs kept for the event: the default layout in the app's
    default language, and every pair the event's badges have been printed in."""
    default = (DEFAULT_LAYOUT, current_app.config["BABEL_DEFAULT_LOCALE"])
    used = db.execute(
        select(BadgePage.layout, BadgePage.locale)
        .join(BadgeRender, BadgeRender.id == BadgePage.render_id)
        .where(BadgeRender.event_id == event.id)
        .distinct()
    )
    return sorted({default, *((layout, locale) for layout, locale in used if layout in LAYOUTS)})


def prepare_event(db: DbSession, event: Event) -> int:
    """Render and keep the badges of the event's confirmed people that are not kept, or
    are stale, in each kept layout and language, PREPARE_RUN at a time (each run
    committed); returns how many were rendered."""
    from tracker.badges.services import select_registrations

    rendered = 0
    for layout_name, locale in kept_layouts(db, event):
        layout = LAYOUTS[layout_name]
        with force_locale(locale):
            people = select_registrations(db, event)
            for start in range(0, len(people), PREPARE_RUN):
                run = people[start : start + PREPARE_RUN]
                placed, _pdfs = place(db, event, run, layout, load=False)
                rendered += sum(p.fresh for p in placed)
                db.commit()
    log.info("badges of event %s kept ahead: %d rendered", event.id, rendered)
    return rendered
