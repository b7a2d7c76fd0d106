"""Organiser pages of the statistics: the live dashboard and the downloads.

GET /events/<slug>/stats is the whole page. With ?part=figures it is only the headline
figures and the small tables (by type, by session, the arrivals), which the page's script
fetches again every few seconds to stay live without reloading: read from maintained
counts (reports.counts), they cost the same however large the event; with ?part=organisations
it is only the table of every organisation (sorted by ?sort=...&order=...), which the
script reloads on demand: it is by far the largest part of the page.
GET /events/<slug>/stats/charts/<name>.svg is one of its charts, as an image.
GET /events/<slug>/export is a download (the same Export classes as `tracker export`).
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_login import current_user
from werkzeug.wrappers import Response as BaseResponse

from tracker.auth.access import MANAGE, event_for, require
from tracker.checkin import conflicts
from tracker.db import get_db, read_only, utcnow
from tracker.downloads.services import start
from tracker.questions import answers as qa
from tracker.registration.forms import TYPE_SHORT_LABELS
from tracker.reports import charts
from tracker.reports.exports import EXPORTS, parse_options
from tracker.reports.services import (
    ORGANISATION_SORTS,
    default_descending,
    figures,
    live_figures,
)

bp = Blueprint("reports", __name__)


@bp.route("/events/<slug>/stats")
@read_only
@require(MANAGE)
def dashboard(slug: str) -> str:
    event = event_for(slug, MANAGE)
    sort = request.args.get("sort", "registered")
    sort = sort if sort in ORGANISATION_SORTS else "registered"
    order = request.args.get("order")
    descending = {"asc": False, "desc": True}.get(order or "", default_descending(sort))
    now = utcnow()
    part = request.args.get("part")
    if part == "figures":  # every few seconds: from the maintained counts
        result = live_figures(get_db(), event, now=now)
    else:
        result = figures(
            get_db(),
            event,
            sessions=part != "organisations",
            arrivals=part != "organisations",
            sort=sort,
            descending=descending,
            now=now,
        )
    context = {
        "event": event,
        "figures": result,
        # Translated once here, not once per organisation row (1,500 on a large event).
        "type_labels": {kind: str(label) for kind, label in TYPE_SHORT_LABELS.items()},
        "sort": sort,
        "descending": descending,
        "now": now,
    }
    if part == "organisations":
        return render_template("reports/_organisations.html", **context)
    context["charts"] = charts.all_charts(result)
    if part == "figures":
        return render_template("reports/_figures.html", **context)
    refresh = current_app.config.get("STATS_REFRESH_SECONDS", 15)
    context["conflicts"] = conflicts.conflicts(get_db(), event)
    context["answer_counts"] = qa.option_counts(get_db(), event)
    return render_template("reports/dashboard.html", refresh=refresh, exports=EXPORTS, **context)


@bp.route("/events/<slug>/stats/charts/<name>.svg")
@read_only
@require(MANAGE)
def chart(slug: str, name: str) -> Response:
    """One chart of the dashboard as an SVG image. Its address carries the chart's key
    (?v=...): an answer to the current key is kept by the browser, which asks again only
    when the figures, hence the key, have changed."""
    event = event_for(slug, MANAGE)
    if name not in charts.CHARTS:
        abort(404)
    # Asked again whenever the live figures change: from the same maintained counts.
    result = live_figures(get_db(), event)
    made = charts.all_charts(result).get(name)
    if made is None:  # no session, or nobody checked in yet: no such chart
        abort(404)
    response = Response(made.svg, mimetype="image/svg+xml")
    current = request.args.get("v") == made.key
    response.headers["Cache-Control"] = "private, max-age=86400" if current else "no-store"
    return response


@bp.route("/events/<slug>/export")
@read_only
@require(MANAGE)
def download(slug: str) -> BaseResponse:
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
    db = get_db()
    size = export.size(db, event, options)
    limit = current_app.config[
        "DOWNLOAD_JOB_PDF_PEOPLE" if options.format == "pdf" else "DOWNLOAD_JOB_ROWS"
    ]
    if size > limit:
        export.check(event, options)
        # This request only reads: the download is written by a session of its own.
        with current_app.extensions["db"].sessionmaker.begin() as writing:
            download = start(
                writing,
                event,
                current_user,
                export.identifier,
                {key: args.get(key) for key in ("format", "session", "bom", "separator")},
                str(get_locale()),
            )
            token = download.token
        return redirect(url_for("downloads.show", slug=slug, token=token), code=303)
    filename, mimetype, body = export.render(db, event, options)
    # As the export states it: a mimetype would have "; charset=utf-8" added once more.
    response = Response(body, content_type=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
