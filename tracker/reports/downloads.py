"""The organiser's download of an export: GET /events/<slug>/export?what=...&format=...
(the same Export classes as `tracker export`)."""

from __future__ import annotations

from flask import Blueprint, Response, request

from tracker.auth.access import MANAGE, event_for, require
from tracker.db import get_db
from tracker.reports.exports import parse_options

bp = Blueprint("exports", __name__)


@bp.route("/events/<slug>/export")
@require(MANAGE)
def download(slug: str) -> Response:
    """query: what (headcount, attendees, checkins, signin), format (csv, xlsx, pdf),
    session (an id, sign-in sheet only), bom (1: CSV with a byte-order mark),
    separator ("," or ";", CSV). A bad value is a 400 that says which."""
    event = event_for(slug, MANAGE)
    args = request.args
    export, options = parse_options(
        args.get("what"),
        args.get("format"),
        session=args.get("session"),
        bom=args.get("bom"),
        separator=args.get("separator"),
    )
    filename, mimetype, body = export.render(get_db(), event, options)
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
