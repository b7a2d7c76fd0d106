"""Badge pages: the organiser's batch page with its preview, one badge on demand from a
registration, and the door's reprint. Printing is a POST: it is recorded."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from tracker.auth.access import DOOR, MANAGE, event_for, require
from tracker.badges.layouts import DEFAULT_LAYOUT, LAYOUTS
from tracker.badges.services import record_printed, render_badges, select_registrations
from tracker.db import get_db
from tracker.downloads.services import BADGES, start
from tracker.errors import DomainError
from tracker.events.services import session_filter
from tracker.i18n import lazy_gettext as _l
from tracker.models import Event, OrganisationType, Role
from tracker.organiser.services import get_registration
from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.text import shown

bp = Blueprint("badges", __name__)
PREVIEW_COUNT = 8


def _pdf(body: bytes, filename: str, *, inline: bool = False) -> Response:
    response = Response(body, mimetype="application/pdf")
    disposition = "inline" if inline else "attachment"
    response.headers["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    return response


class BadFilter(DomainError):
    code = "invalid_filter"
    status = 400


TYPES = frozenset(t.value for t in OrganisationType)


def _filters(event: Event) -> dict:
    """The batch filters from the query string or the form, checked: a session of
    another event, an unknown type or layout is refused (a 400 that says which), never
    read as "every session", "every type" or the default layout."""
    values = request.values
    layout = values.get("layout") or DEFAULT_LAYOUT
    if layout not in LAYOUTS:
        raise BadFilter(_l("“%(value)s” is not a badge layout.", value=shown(layout)))
    types = [t for t in values.getlist("type") if t]
    for unknown in (t for t in types if t not in TYPES):
        raise BadFilter(_l("“%(value)s” is not an organisation type.", value=shown(unknown)))
    return {
        "layout": layout,
        "types": types,
        "session_id": session_filter(event, values.get("session")),
        "not_printed": values.get("not_printed") == "y",
    }


def _query(chosen: dict) -> dict[str, Any]:
    """The checked filters as the batch page's query string (never what else was posted:
    a field named `slug` or `_external` is not url_for's to read)."""
    return {
        "layout": chosen["layout"],
        "type": chosen["types"],
        "session": chosen["session_id"],  # None: left out
        "not_printed": "y" if chosen["not_printed"] else None,
    }


@bp.route("/events/<slug>/badges", methods=["GET", "POST"])
@require(MANAGE)
def batch(slug: str) -> BaseResponse | tuple[str, int] | str:
    event = event_for(slug, MANAGE)
    db = get_db()
    chosen = _filters(event)
    people = select_registrations(
        db,
        event,
        types=chosen["types"],
        session_id=chosen["session_id"],
        not_printed=chosen["not_printed"],
    )
    if request.method == "POST" and len(people) > current_app.config["DOWNLOAD_JOB_BADGES"]:
        download = start(db, event, current_user, BADGES, chosen, str(get_locale()))
        return redirect(url_for("downloads.show", slug=slug, token=download.token), code=303)
    if request.method == "POST":
        try:
            body = render_badges(db, event, people, chosen["layout"])
        except DomainError as e:
            flash(str(e.message), "error")
            return redirect(url_for(".batch", slug=slug, **_query(chosen)), code=303)
        record_printed(people)
        return _pdf(body, f"badges-{event.slug}-{chosen['layout']}.pdf")
    return render_template(
        "organiser/badges.html",
        event=event,
        layouts=LAYOUTS,
        chosen=chosen,
        count=len(people),
        type_labels=TYPE_SHORT_LABELS,
        preview_count=PREVIEW_COUNT,
    )


@bp.route("/events/<slug>/badges/preview.pdf")
@require(MANAGE)
def preview(slug: str) -> BaseResponse:
    """The first few badges in the chosen layout; nothing is recorded."""
    event = event_for(slug, MANAGE)
    chosen = _filters(event)
    db = get_db()
    people = select_registrations(
        db,
        event,
        types=chosen["types"],
        session_id=chosen["session_id"],
        not_printed=chosen["not_printed"],
    )[:PREVIEW_COUNT]
    try:
        body = render_badges(db, event, people, chosen["layout"])
        return _pdf(body, "preview.pdf", inline=True)
    except DomainError as e:
        flash(str(e.message), "error")
        return redirect(url_for(".batch", slug=slug), code=303)


def _one(slug: str, registration_id: int, roles: frozenset[Role]) -> Response:
    event = event_for(slug, roles)
    db = get_db()
    registration = get_registration(db, event, registration_id)
    layout = request.form.get("layout") or DEFAULT_LAYOUT
    body = render_badges(db, event, [registration], layout if layout in LAYOUTS else DEFAULT_LAYOUT)
    record_printed([registration])
    return _pdf(body, f"badge-{registration.id}.pdf", inline=True)


@bp.route("/events/<slug>/registrations/<int:registration_id>/badge.pdf", methods=["POST"])
@require(MANAGE)
def registration_badge(slug: str, registration_id: int) -> Response:
    return _one(slug, registration_id, MANAGE)


@bp.route("/events/<slug>/door/badge/<int:registration_id>.pdf", methods=["POST"])
@require(DOOR)
def door_badge(slug: str, registration_id: int) -> Response:
    """A walk-in's badge or a reprint, from the door screen."""
    return _one(slug, registration_id, DOOR)
