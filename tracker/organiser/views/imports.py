"""Importing a list of registrations: upload, preview, confirm."""

from __future__ import annotations

import hashlib
import secrets
import time
from pathlib import Path

from flask import (
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response as BaseResponse

from tracker.auth.access import MANAGE, event_for, require
from tracker.db import get_db
from tracker.models import (
    Event,
)
from tracker.organiser.views import bp
from tracker.organiser.views.common import (
    IMPORT_MAX_AGE,
    IMPORT_TOKEN_RE,
    INVALID,
    PENDING_IMPORT,
    _actor,
    _common,
)
from tracker.registration import importer

# --- import -------------------------------------------------------------------------------


def _import_folder(*, create: bool = False) -> Path:
    """Where uploaded lists wait between the preview and the import."""
    folder = Path(
        current_app.config.get("IMPORT_FOLDER") or Path(current_app.instance_path) / "imports"
    )
    if create:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return folder


def _remove_stale_uploads(folder: Path) -> None:
    limit = time.time() - IMPORT_MAX_AGE
    for path in folder.glob("*.upload"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            pass  # removed meanwhile by another request


def _limit_text() -> str:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or 0
    return f"{limit / (1024 * 1024):.0f} MB" if limit >= 1024 * 1024 else f"{limit // 1024} kB"


def _import_page(event: Event, status: int = 200, error: object | None = None) -> tuple[str, int]:
    return render_template(
        "organiser/import.html",
        event=event,
        error=error,
        limit=_limit_text(),
        columns=importer.COLUMNS,
        max_rows=importer.MAX_ROWS,
    ), status


@bp.route("/events/<slug>/import", methods=["GET", "POST"])
@require(MANAGE)
def import_upload(slug: str) -> tuple[str, int]:
    event = event_for(slug, MANAGE)
    if request.method == "GET":
        return _import_page(event)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _import_page(event, INVALID, _("Choose a file to import."))
    filename = Path(upload.filename.replace("\\", "/")).name[:200]
    if not filename.lower().endswith(importer.EXTENSIONS):
        return _import_page(event, INVALID, _("Choose a .csv or .xlsx file."))
    content = upload.read()
    if not content:
        return _import_page(event, INVALID, _("The file is empty."))
    try:
        report = importer.import_file(
            get_db(), event, filename, content, actor=_actor(), dry_run=True
        )
    except importer.ImportFileError as e:
        return _import_page(event, INVALID, e.message)

    folder = _import_folder(create=True)
    _remove_stale_uploads(folder)
    token = secrets.token_urlsafe(24)
    (folder / f"{token}.upload").write_bytes(content)
    session[PENDING_IMPORT] = {
        "token": token,
        "event": event.id,
        "filename": filename,
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    return render_template(
        "organiser/import_report.html",
        event=event,
        report=report,
        filename=filename,
        token=token,
        **_common(),
    ), 200


@bp.route("/events/<slug>/import/confirm", methods=["POST"])
@require(MANAGE)
def import_confirm(slug: str) -> BaseResponse | tuple[str, int]:
    event = event_for(slug, MANAGE)
    token = request.form.get("token", "")
    pending = session.get(PENDING_IMPORT) or {}
    path = _import_folder() / f"{token}.upload"
    if (
        not IMPORT_TOKEN_RE.match(token)
        or pending.get("token") != token
        or pending.get("event") != event.id
        or not path.is_file()
    ):
        flash(_("This import has expired or was already done: upload the file again."), "error")
        return redirect(url_for(".import_upload", slug=event.slug), code=303)
    content = path.read_bytes()
    if hashlib.sha256(content).hexdigest() != pending.get("sha256"):
        flash(_("This import has expired or was already done: upload the file again."), "error")
        return redirect(url_for(".import_upload", slug=event.slug), code=303)
    filename = str(pending.get("filename") or "import")
    try:
        report = importer.import_file(
            get_db(),
            event,
            filename,
            content,
            actor=_actor(),
            send_emails=request.form.get("send_emails") in {"y", "1", "on"},
        )
    except importer.ImportFileError as e:
        return _import_page(event, INVALID, e.message)
    session.pop(PENDING_IMPORT, None)
    path.unlink(missing_ok=True)
    return render_template(
        "organiser/import_report.html",
        event=event,
        report=report,
        filename=filename,
        token=None,
        **_common(),
    ), 200


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_error: RequestEntityTooLarge) -> tuple[str, int]:
    if request.endpoint != "organiser.import_upload":
        return render_template(
            "errors/error.html",
            status=413,
            title=_("Request too large"),
            message=_("What you sent is too large."),
        ), 413
    message = _(
        "The file is larger than %(limit)s: split the list into several files, or save it "
        "as .xlsx, which is smaller.",
        limit=_limit_text(),
    )
    return render_template(
        "errors/error.html", status=413, title=_("The file is too large"), message=message
    ), 413
