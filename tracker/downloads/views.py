"""A download made by the worker: its page (a progress bar that moves, then the file),
its state as JSON for the page's script, and the file, for the event's organisers."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, send_file, url_for
from werkzeug.wrappers import Response

from tracker.auth.access import MANAGE, event_for, require
from tracker.db import get_db, read_only
from tracker.downloads.services import file_of, get_download
from tracker.models import Download, Event

bp = Blueprint("downloads", __name__)


def _found(slug: str, token: str) -> tuple[Event, Download]:
    event = event_for(slug, MANAGE)
    download = get_download(get_db(), event, token)
    if download is None:
        abort(404)
    return event, download


def state(event: Event, download: Download) -> dict[str, object]:
    ready = download.state == "done"
    return {
        "state": download.state,
        "done": download.done,
        "total": download.total,
        "unit": download.unit,
        "error": download.error,
        "file": url_for("downloads.file", slug=event.slug, token=download.token) if ready else None,
    }


@bp.route("/events/<slug>/downloads/<token>")
@read_only
@require(MANAGE)
def show(slug: str, token: str) -> str:
    event, download = _found(slug, token)
    return render_template(
        "downloads/show.html", event=event, download=download, state=state(event, download)
    )


@bp.route("/events/<slug>/downloads/<token>.json")
@read_only
@require(MANAGE)
def progress(slug: str, token: str) -> Response:
    event, download = _found(slug, token)
    return jsonify(state(event, download))


@bp.route("/events/<slug>/downloads/<token>/file")
@read_only
@require(MANAGE)
def file(slug: str, token: str) -> Response:
    _event, download = _found(slug, token)
    path = file_of(download)
    if download.state != "done" or not path.is_file():
        abort(404)
    return send_file(
        path, mimetype=download.mimetype, as_attachment=True, download_name=download.filename
    )
