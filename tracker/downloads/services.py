"""Long work off the request: a badge batch or an export too large to make within about
a second is made by the worker as a Download. The organiser's page shows its progress
(pages or rows done of the total) and offers the file when it is ready; the file is kept
in the instance folder (downloads/), for the organisers of the event only, for a day.

Small batches and exports stay immediate: the thresholds are DOWNLOAD_JOB_BADGES badges,
DOWNLOAD_JOB_ROWS rows of a CSV or XLSX export and DOWNLOAD_JOB_PDF_PEOPLE people on a
sign-in sheet.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import current_app
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from tracker import jobs
from tracker.db import utcnow
from tracker.errors import DomainError
from tracker.models import Download, Event, User

log = logging.getLogger(__name__)

KEPT_FOR = timedelta(days=1)
BADGES = "badges"


def folder() -> Path:
    path = Path(current_app.instance_path) / "downloads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def file_of(download: Download) -> Path:
    return folder() / download.token


def start(
    db: DbSession, event: Event, user: User | None, what: str, options: dict[str, Any], locale: str
) -> Download:
    """A download to be made by the worker, queued once `db` commits."""
    download = Download(
        token=secrets.token_urlsafe(24),
        event_id=event.id,
        user_id=user.id if user is not None else None,
        what=what,
        options={**options, "locale": locale},
        unit="pages" if what == BADGES else "rows",
    )
    db.add(download)
    db.flush()
    jobs.enqueue_after_commit(db, make_download, download.id)
    return download


def get_download(db: DbSession, event: Event, token: str) -> Download | None:
    """The event's download of that token, if it has not expired."""
    download = db.scalar(
        select(Download).where(Download.token == token, Download.event_id == event.id)
    )
    if download is None or download.created_at < utcnow() - KEPT_FOR:
        return None
    return download


@jobs.task(retries=1, retry_delay=10)
def make_download(download_id: int) -> None:
    """Make the file, telling its progress as it goes (each report committed)."""
    with jobs.session() as db:
        download = db.get(Download, download_id)
        event = db.get(Event, download.event_id) if download is not None else None
        if download is None or event is None or download.state == "done":
            return  # (a deleted event takes its downloads with it)
        download.state = "running"
        db.commit()
        try:
            with force_locale(download.options.get("locale") or "fr"):
                filename, mimetype, body = _make(db, event, download)
        except DomainError as error:
            db.rollback()
            download.state, download.error = "failed", str(error.message)
            download.finished_at = utcnow()
            return
        file_of(download).write_bytes(body)
        download.filename, download.mimetype = filename, mimetype
        download.state, download.done = "done", max(download.total, download.done)
        download.finished_at = utcnow()


def _make(db: DbSession, event: Event, download: Download) -> tuple[str, str, bytes]:
    def progress(done: int, total: int) -> None:
        download.done, download.total = done, total
        db.commit()

    options = download.options
    if download.what == BADGES:
        from tracker.badges.services import record_printed, render_badges, select_registrations

        people = select_registrations(
            db,
            event,
            types=options.get("types") or (),
            session_id=options.get("session_id"),
            not_printed=bool(options.get("not_printed")),
        )
        body = render_badges(db, event, people, options.get("layout"), progress=progress)
        record_printed(people)
        return f"badges-{event.slug}-{options.get('layout')}.pdf", "application/pdf", body
    from tracker.reports.exports import parse_options

    export, parsed = parse_options(
        download.what,
        options.get("format"),
        session=options.get("session"),
        bom=options.get("bom"),
        separator=options.get("separator"),
    )
    return tuple(export.render(db, event, parsed, progress=progress))  # type: ignore[return-value]


LOST_AFTER = timedelta(minutes=10)  # far beyond any download's time limit


@jobs.periodic_task(jobs.crontab(minute="*/5"))
def requeue_lost() -> None:
    """Every five minutes: queue again the downloads a stopped worker left unfinished."""
    with jobs.session() as db:
        for download_id in lost(db):
            make_download(download_id)


def lost(db: DbSession) -> list[int]:
    """The downloads queued or running for longer than LOST_AFTER (and not expired):
    their job was lost with a worker stopped in the middle of it."""
    now = utcnow()
    return list(
        db.scalars(
            select(Download.id).where(
                Download.state.in_(("queued", "running")),
                Download.created_at < now - LOST_AFTER,
                Download.created_at >= now - KEPT_FOR,
            )
        )
    )


@jobs.periodic_task(jobs.crontab(minute="17"))
def delete_expired() -> None:
    """Every hour: the downloads older than a day, their files with them."""
    with jobs.session() as db:
        delete_old(db)


def delete_old(db: DbSession) -> int:
    old = db.scalars(select(Download).where(Download.created_at < utcnow() - KEPT_FOR)).all()
    for download in old:
        file_of(download).unlink(missing_ok=True)
        db.delete(download)
    return len(old)
